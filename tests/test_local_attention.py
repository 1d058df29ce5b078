"""Sliding-window and chunked attention layers: cached positions, attended positions, KV bytes, FLOPs."""

import numpy as np
import pytest

import costmodel as cm
from costmodel.architecture import Model, attended_positions, kv_cache_positions

# L = 4 layers: 1 full, 2 sliding with W = 4, 1 chunked with C = 3 (a mix no real model has, to test each term)
MIX = Model(id="mix", name="mix", num_layers=4, d_model=64, num_heads=4, num_kv_heads=2, head_dim=16, vocab_size=0,
            dense_intermediate=128, sliding_window=4, num_sliding_layers=2, attention_chunk=3, num_chunked_layers=1)
FULL = Model(id="full", name="full", num_layers=4, d_model=64, num_heads=4, num_kv_heads=2, head_dim=16,
             vocab_size=0, dense_intermediate=128)


def test_cached_positions_by_hand():
    # N = 10: full 10, sliding min(10, 4) = 4 (twice), chunked min(10, 3) = 3 -> (10 + 8 + 3) / 4 = 5.25
    assert kv_cache_positions(MIX, 10) == 5.25
    # N = 2 is inside every window: (2 + 2 x 2 + 2) / 4 = 2
    assert kv_cache_positions(MIX, 2) == 2
    # arrays work element-wise; a model without local layers gets N back unchanged
    assert np.array_equal(kv_cache_positions(MIX, np.array([2, 10])), [2, 5.25])
    assert kv_cache_positions(FULL, 10) == 10


def test_attended_positions_prefill_by_hand():
    # q = 6 new tokens, no past. full: 1+2+3+4+5+6 = 21; sliding W=4: 1+2+3+4+4+4 = 18;
    # chunked C=3: 1+2+3+1+2+3 = 12 -> (21 + 2 x 18 + 12) / 4 = 69 / 4 = 17.25
    assert attended_positions(MIX, 6) == 17.25
    assert attended_positions(FULL, 6) == 21


def test_attended_positions_after_a_past_by_hand():
    # q = 2 after p = 3 (tokens 4 and 5): full 4 + 5 = 9; sliding 4 + 4 = 8; chunked: token 4 opens a
    # new chunk (1), token 5 sees 2 -> 3.  (9 + 2 x 8 + 3) / 4 = 28 / 4 = 7
    assert attended_positions(MIX, 2, 3) == 7
    # one decode token at context 10 (p = 9): full 10, sliding 4, chunked ((10 - 1) mod 3) + 1 = 1
    # -> (10 + 8 + 1) / 4 = 4.75; that is also what the step reads from the cache per layer
    assert attended_positions(MIX, 1, 9) == 4.75


def test_attention_flops_use_the_attended_positions():
    # 2 n_h (d_qk + d_v) x positions x L = 2 x 4 x 32 x 17.25 x 4 = 17,664
    assert cm.attention_core_flops(MIX, 6) == 17_664
    # the full-attention model keeps the causal half square: 2 x 4 x 32 x 21 x 4 = 21,504
    assert cm.attention_core_flops(FULL, 6) == 21_504


# --- gpt-oss: 18 sliding (W = 128) and 18 full layers ----------------------------------------------
def test_gpt_oss_120b_reads_its_layer_types():
    m = cm.load_model("gpt-oss-120b")
    assert (m.sliding_window, m.num_sliding_layers, m.num_chunked_layers) == (128, 18, 0)
    assert cm.load_model("gpt-oss-20b").num_sliding_layers == 12


def test_gpt_oss_120b_kv_at_128k_is_half_of_all_full_layers():
    # KV per token per layer, bf16: 2 (K, V) x 8 KV heads x 64 x 2 B = 2,048 B.
    # N = 131,072: 18 full layers hold 131,072 positions, 18 sliding layers 128:
    #   (18 x 131,072 + 18 x 128) x 2,048 B = 2,361,600 x 2,048 = 4,836,556,800 B (4.84 GB)
    # all 36 layers full would hold 36 x 131,072 x 2,048 = 9,663,676,416 B: the ratio is 2,361,600 / 4,718,592
    m = cm.load_model("gpt-oss-120b")
    assert m.kv_bytes_per_sequence(131_072) == 4_836_556_800
    assert m.kv_bytes_per_sequence(131_072) / (36 * 131_072 * 2_048) == pytest.approx(0.500488, abs=1e-6)
    # the same through the plan-level memory function (one GPU, one sequence of 130,048 + 1,024 tokens)
    wl = cm.Workload(batch=1, input_len=130_048, output_len=1_024, kv_dtype="bf16")
    assert cm.kv_bytes_per_gpu(m, cm.Plan(), wl) == 4_836_556_800
    # tp = 8 splits the 8 KV heads: an eighth per GPU
    assert cm.kv_bytes_per_gpu(m, cm.Plan(tp=8), wl) == 4_836_556_800 / 8


def test_gpt_oss_short_context_is_unchanged_by_the_window():
    # N = 100 < W: every layer holds 100 positions: 36 x 100 x 2,048 = 7,372,800 B
    assert cm.load_model("gpt-oss-120b").kv_bytes_per_sequence(100) == 7_372_800


def test_gpt_oss_decode_attention_flops_at_128k():
    # per-layer mean of positions seen by the token at context 131,072: (131,072 + 128) / 2 = 65,600
    # FLOPs = 2 x 64 heads x (64 + 64) x 65,600 x 36 = 38,692,454,400 (all-full: 77,309,411,328)
    m = cm.load_model("gpt-oss-120b")
    assert cm.attention_core_flops(m, 1, 131_071) == 38_692_454_400


def test_gpt_oss_prefill_attention_positions():
    # S = 4,096 prefill: full layer 4,096 x 4,097 / 2 = 8,390,656; sliding layer
    # 128 x 129 / 2 + 128 x (4,096 - 128) = 8,256 + 507,904 = 516,160; mean (8,390,656 + 516,160) / 2 = 4,453,408
    assert attended_positions(cm.load_model("gpt-oss-120b"), 4_096) == 4_453_408


# --- Llama-4: 36 chunked (C = 8192) and 12 global layers --------------------------------------------
def test_llama4_chunked_layers_follow_the_rope_layers():
    # no_rope_layers defaults to every 4th layer global (NoPE), so 48 x 3 / 4 = 36 chunked layers
    m = cm.load_model("llama-4-scout")
    assert (m.attention_chunk, m.num_chunked_layers, m.num_sliding_layers) == (8192, 36, 0)
    # an explicit no_rope_layers list wins: here 1 chunked layer of 2
    cfg = {"model_type": "llama4_text", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
           "vocab_size": 10, "intermediate_size": 32, "num_local_experts": 2, "num_experts_per_tok": 1,
           "attention_chunk_size": 16, "no_rope_layers": [1, 0]}
    assert cm.model_from_hf_config(cfg).num_chunked_layers == 1


def test_llama4_scout_kv_at_1m_context():
    # per token per layer, bf16: 2 x 8 x 128 x 2 B = 4,096 B; N = 1,048,576:
    # 12 global layers x 1,048,576 + 36 chunked x 8,192 = 12,582,912 + 294,912 = 12,877,824 positions
    # x 4,096 B = 52,747,567,104 B (about a quarter of 48 full layers: 206,158,430,208 B)
    assert cm.load_model("llama-4-scout").kv_bytes_per_sequence(1_048_576) == 52_747_567_104


# --- the older config keys for sliding windows -----------------------------------------------------
BASE = {"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 10, "intermediate_size": 32}


@pytest.mark.parametrize("extra, sliding", [
    ({"sliding_window": 8}, 4),                                                  # Mistral-7B-v0.1: every layer
    ({"sliding_window": None}, 0),                                               # Mixtral: none
    ({"sliding_window": 8, "use_sliding_window": False, "max_window_layers": 2}, 0),  # Qwen2 as shipped
    ({"sliding_window": 8, "use_sliding_window": True, "max_window_layers": 3}, 1),   # Qwen2: layers >= 3
    ({"sliding_window": 8, "model_type": "gemma2"}, 2),                          # Gemma-2: layers 0 and 2
    ({"sliding_window": 8, "sliding_window_pattern": 4}, 3),                     # Gemma-3: every 4th is full
    ({"sliding_window": 8, "layer_types": ["full_attention"] * 4}, 0),           # layer_types wins
    ({"sliding_window": 8, "layer_types": ["sliding_attention", "full_attention"] * 2}, 2),
])
def test_sliding_layers_from_config_keys(extra, sliding):
    m = cm.model_from_hf_config({**BASE, **extra})
    assert m.num_sliding_layers == sliding
    assert m.sliding_window == (8 if sliding else 0)
