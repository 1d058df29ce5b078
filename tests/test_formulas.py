"""FLOPs, bytes per GPU and collectives against hand-derived values."""

import numpy as np
import pytest

import costmodel as cm
from costmodel import comm

SEED = cm.load_model("seed-moe-10b")
GPU = cm.load_hardware("seed-gpu")


def test_hardware_units_converted_to_si():
    # 400 TFLOPS -> 4e14 FLOP/s; 1.8 TB/s -> 1.8e12 B/s; 64 GB -> 6.4e10 B; 450 GB/s -> 4.5e11 B/s; 2 us -> 2e-6 s
    assert GPU.peak_flops_per_s("fp16") == 4e14 and GPU.hbm_bandwidth_bytes_per_s == 1.8e12
    assert GPU.memory_bytes == 64e9 and GPU.scale_up_bandwidth_bytes_per_s == 450e9
    assert GPU.scale_up_latency_s == pytest.approx(2e-6)
    assert (GPU.efficiency.mfu, GPU.efficiency.bw_util) == (0.6, 0.8)
    h100 = cm.load_hardware("h100-sxm")
    assert h100.peak_flops_per_s("fp8") == 1979e12 and h100.memory_bytes == 81559 * 2**20
    # A100 has no FP8 tensor cores: FP8 compute falls back to the BF16 rate
    assert cm.load_hardware("a100-sxm-80gb").peak_flops_per_s("fp8") == 312e12


def test_unknown_hardware_lists_allowed():
    with pytest.raises(cm.CostModelError, match="hardware: 'tpu' is not one of a100-sxm-80gb"):
        cm.load_hardware("tpu")


def test_decode_flops_seed_by_hand():
    # per token: dense 2 x 16 x (1,048,576 attention + 8,192 router) = 33,816,576;
    # experts 2 x 16 x 2 x 1,048,576 = 67,108,864; attention over c = 1024 positions:
    # 2 x n_h 16 x (d_qk 32 + d_v 32) x 1024 x L 16 = 33,554,432; no vocabulary -> no LM head
    assert cm.decode_flops(SEED, 1, 1024) == 33_816_576 + 67_108_864 + 33_554_432


def test_prefill_flops_causal_half_square():
    # S = 4: causal positions 1 + 2 + 3 + 4 = 10 (not 16): attention 2 x 16 x 64 x 10 x 16 = 327,680;
    # linear 4 x (33,816,576 + 67,108,864) = 403,701,760
    assert cm.prefill_flops(SEED, 1, 4) == 403_701_760 + 327_680
    assert cm.attention_core_flops(SEED, 4) == 327_680


def test_moe_flops_scale_with_top_k_not_experts():
    # Qwen3-235B routed experts: 94 x 8 x 3 x 4096 x 1536 x 2 FLOP = 2 x 14,193,524,736 per token
    assert cm.linear_flops_per_token(cm.load_model("qwen3-235b-a22b"))["experts"] == 2 * 94 * 8 * 18_874_368


def test_dense_prefill_by_hand_with_lm_head_once():
    # Llama-3-70B, B = 1, S = 8. Per token: 2 x 80 x (attention 2 x 8192 x 8192 + 2 x 8192 x 1024 = 150,994,944
    # + MLP 3 x 8192 x 28672 = 704,643,072) = 136,902,082,560 FLOP; attention core 2 x 64 x (128 + 128)
    # x (8 x 9 / 2 = 36) x 80 = 94,371,840; LM head once for the last position 2 x 128,256 x 8192 = 2,101,346,304
    expected = 8 * 136_902_082_560 + 94_371_840 + 2_101_346_304
    assert cm.prefill_flops(cm.load_model("llama-3-70b"), 1, 8) == expected == 1_097_412_378_624


def test_weight_bytes_per_gpu_seed_by_hand():
    # tp 4, dp 4, ep 16: attention (q,o 524,288 / 4) + (k,v 524,288 / min(4, 16)) = 262,144 per layer
    # x 16 = 4,194,304; norms 16,896; router 131,072; experts 16 layers x 1 expert x 1,048,576 = 16,777,216
    # = 21,119,488 parameters x 2 B = 42,238,976 B
    plan = cm.Plan(tp=4, dp=4, pp=1, ep=16)
    assert cm.weight_bytes_per_gpu(SEED, plan, "fp16") == 42_238_976


def test_kv_bytes_per_gpu_seed_by_hand():
    # ceil(128 / 4) = 32 sequences x (10240 + 1) tokens x 32,768 B / min(tp 4, n_kv 16) = 2,684,616,704 B
    wl = cm.Workload(128, 10240, 1, "fp16", "fp16")
    assert cm.kv_bytes_per_gpu(SEED, cm.Plan(4, 4, 1, 16), wl) == 32 * 10241 * 32_768 / 4


def test_kv_replicated_when_tp_exceeds_kv_heads():
    # Qwen3-235B has 4 KV heads: tp 8 still splits the cache 4 ways (each KV head held twice)
    m, wl = cm.load_model("qwen3-235b-a22b"), cm.Workload(8, 1024, 1024, "fp8", "fp8")
    assert cm.kv_bytes_per_gpu(m, cm.Plan(8, 1, 1, 8), wl) == cm.kv_bytes_per_gpu(m, cm.Plan(4, 1, 1, 4), wl)


def test_mla_cache_not_split_by_tp():
    m, wl = cm.load_model("deepseek-v3"), cm.Workload(8, 1024, 1024, "bf16", "bf16")
    # 8 sequences x 2048 tokens x 70,272 B on every tp rank
    assert cm.kv_bytes_per_gpu(m, cm.Plan(8, 1, 1, 8), wl) == 8 * 2048 * 70_272


def test_activation_bytes_seed_by_hand():
    # tp 4, dp 4, B 128, S_in 1024: 32 sequences x 1024 = 32,768 prompt tokens per replica, but one iteration
    # prefills a chunk of at most 8,192 tokens; per token 2 x 512 + (16 + 32) x 32 / 4
    # + max(0, k 2 x (512 x 1 + 1 x 1024) / 4) = 1024 + 384 + 768 = 2,176 elements x 2 B; no vocabulary
    wl = cm.Workload(128, 1024, 16, "fp16", "fp16")
    assert cm.activation_bytes_per_gpu(SEED, cm.Plan(4, 4, 1, 16), wl) == 8_192 * 2_176 * 2
    # a larger chunk budget holds the whole 32,768 tokens
    assert cm.activation_bytes_per_gpu(SEED, cm.Plan(4, 4, 1, 16), wl, chunk_tokens=1e6) == 32_768 * 2_176 * 2
    # a decode pool carries one token per sequence: 32 x 2,176 x 2 B
    assert cm.activation_bytes_per_gpu(SEED, cm.Plan(4, 4, 1, 16), wl, phase="decode") == 32 * 2_176 * 2


def test_all_reduce_by_hand():
    # 1 GB over 8 GPUs at 450 GB/s, 2 us per step: 2 x 7/8 x 1e9 / 450e9 + 14 x 2e-6 = 3.9168889e-3 s
    assert cm.all_reduce_s(1e9, 8, 450e9, 2e-6) == pytest.approx(3.9168889e-3)


def test_hierarchical_all_reduce_by_hand():
    # 1 GB over 16 GPUs in two 8-GPU domains (seed-gpu): ring in the domain 2 x 7/8 x 1e9 / 450e9 + 14 x 2 us
    # = 3.9168889e-3 s, then each GPU's 1/8 slice (125 MB) across 2 domains: 2 x 1/2 x 1.25e8 / 50e9 + 2 x 8 us
    # = 2.516e-3 s; total 6.4328889e-3 s (a flat ring at NIC speed would take 2 x 15/16 x 1e9 / 50e9 = 37.5 ms)
    assert comm.hierarchical_all_reduce_s(1e9, 16, GPU) == pytest.approx(3.9168889e-3 + 2.516e-3)
    # inside one domain it is the plain ring
    assert comm.hierarchical_all_reduce_s(1e9, 8, GPU) == pytest.approx(cm.all_reduce_s(1e9, 8, 450e9, 2e-6))
    assert comm.hierarchical_all_reduce_s(1e9, 1, GPU) == 0


def test_all_to_all_two_tiers_by_hand():
    # 1 GB payload over 16 GPUs, 8 per domain: inside 7/16 x 1e9 / 450e9 = 9.72e-4 s, across 8/16 x 1e9 / 50e9
    # = 0.01 s (the bound); the peers are reached concurrently: one scale-out latency 8 us -> 0.010008 s
    assert cm.all_to_all_s(1e9, 16, GPU) == pytest.approx(0.010008)
    # inside one domain: 7/8 x 1e9 / 450e9 + 2e-6 = 1.946444e-3 s
    assert cm.all_to_all_s(1e9, 8, GPU) == pytest.approx(1.9464444e-3)


def test_ep_exchange_copies_by_hand():
    # k 8 over ep 8 in one domain: another rank is hit with p = 1 - (7/8)^8 = 0.656391; 7 p = 4.594737 copies,
    # nothing crosses the network
    up, out = comm.ep_exchange_copies(8, 8, 8)
    assert up == pytest.approx(7 * (1 - (7 / 8) ** 8)) and out == 0
    # ep 16 over two domains of 8: p = 1 - (15/16)^8 = 0.4032805; remote domains (2 - 1)(1 - (1/2)^8) = 0.996094;
    # NVLink: own domain 7 p = 2.822964 + forwarded inside the other 8 p x 7/8 = 2.822964 -> 5.645927
    up, out = comm.ep_exchange_copies(8, 16, 8)
    assert out == pytest.approx(1 - 0.5**8)
    assert up == pytest.approx(5.645927, rel=1e-6)
    # one rank per domain (ep 4 across 4 domains): all traffic crosses the network, 3 (1 - (3/4)^2) for k 2
    up, out = comm.ep_exchange_copies(2, 4, 1)
    assert up == 0 and out == pytest.approx(3 * (1 - 0.75**2))


def test_ep_exchange_time_by_hand():
    # 1000 tokens x 1000 B over ep 16 (2 domains of 8) with k 8 on seed-gpu: NVLink 5.645927 x 1e6 B / 450e9
    # = 1.25465e-5 s; network 0.996094 x 1e6 / 50e9 = 1.99219e-5 s (the bound); + 8 us latency = 2.79219e-5 s;
    # an imbalance of 2 doubles the bandwidth part: 8e-6 + 3.98438e-5 = 4.78438e-5 s
    assert comm.ep_exchange_s(1000, 1000, 8, 16, GPU) == pytest.approx(8e-6 + 0.99609375e6 / 50e9)
    assert comm.ep_exchange_s(1000, 1000, 8, 16, GPU, imbalance=2.0) == pytest.approx(8e-6 + 2 * 0.99609375e6 / 50e9)
    # ep 1: no exchange
    assert comm.ep_exchange_s(1000, 1000, 8, 1, GPU) == 0


def test_fp4_weight_bytes_count_block_scales():
    # NVFP4: 4 bits + one FP8 scale per 16 values = 0.5 + 1/16 = 0.5625 B; MXFP4: 0.5 + 1/32 = 0.53125 B
    assert cm.units.dtype_bytes("fp4") == 0.5625 and cm.units.dtype_bytes("mxfp4") == 0.53125
    # Llama-3.1-8B in NVFP4 on one GPU: the block weights at 0.5625 B, the input embedding and the untied LM head
    # (128,256 x 4,096 each = 1,050,673,152 elements) kept in BF16 as quantised checkpoints keep them
    plan = cm.Plan()
    m = cm.load_model("llama-3.1-8b")
    table = 2 * 128_256 * 4_096
    assert cm.weight_bytes_per_gpu(m, plan, "fp4") == pytest.approx((m.params_total - table) * 0.5625 + table * 2)
    # BF16 weights: every class at 2 B
    assert cm.weight_bytes_per_gpu(m, plan, "bf16") == pytest.approx(m.params_total * 2)


def test_experts_only_checkpoints_keep_attention_in_bf16():
    # gpt-oss-120b's MXFP4 checkpoint quantises only the routed experts (its config leaves self_attn, the router,
    # the embedding and the LM head unconverted): experts at 0.53125 B, everything else at 2 B; OpenAI's
    # checkpoint is about 65 GB (the Hugging Face repository's safetensors)
    m = cm.load_model("gpt-oss-120b")
    assert m.quantized_layers == "experts"
    elems = cm.memory.weight_elements_per_gpu(m, cm.Plan())
    expected = elems["experts"] * 0.53125 + (elems["non_expert"] + elems["embeddings"]) * 2
    assert cm.weight_bytes_per_gpu(m, cm.Plan(), "mxfp4") == pytest.approx(expected)
    assert 64e9 < expected < 66e9
    # 36 layers x 128 experts x 3 x 2880 x 2880 weights + biases: the experts hold about 114.7 B of 116.8 B
    assert elems["experts"] == pytest.approx(36 * 128 * (3 * 2880 * 2880 + 2 * 2880 + 2880), rel=1e-9)


def test_decode_streams_the_lm_head_not_the_input_embedding():
    # Llama-3.1-8B, B = 1, bf16, datasheet H100 (3.35e12 B/s): the dense class reads the block weights and the LM
    # head (V d = 525,336,576 elements), not the input embedding: bytes = (params - V d) x 2
    m, hw = cm.load_model("llama-3.1-8b"), cm.load_hardware("h100-sxm")
    wl = cm.Workload(1, 16, 16, "bf16", "bf16")
    part = cm.perf.decode_stage(m, hw, cm.Plan(), wl, cm.efficiency.DATASHEET)
    streamed = (m.params_total - 128_256 * 4_096) * 2
    assert part["dense"] == pytest.approx(streamed / hw.hbm_bandwidth_bytes_per_s, rel=1e-9)


def test_mla_absorbed_decode_attention_by_hand():
    # DeepSeek-V3 decode, one token over a context of 1000 (itself included): absorbed widths (512 + 64, 512):
    # 2 x 128 heads x (576 + 512) x 1000 positions x 61 layers = 1.6990208e10 FLOP; as written (192, 128):
    # 2 x 128 x 320 x 1000 x 61 = 4.99712e9 FLOP
    m = cm.load_model("deepseek-v3")
    assert cm.attention_core_flops(m, 1, 999, absorbed=True) == pytest.approx(2 * 128 * 1088 * 1000 * 61)
    assert cm.attention_core_flops(m, 1, 999) == pytest.approx(2 * 128 * 320 * 1000 * 61)
    # GQA is unchanged by the flag
    q = cm.load_model("qwen3-235b-a22b")
    assert cm.attention_core_flops(q, 1, 99, absorbed=True) == cm.attention_core_flops(q, 1, 99)


def test_link_tiers():
    bw, lat = comm.link(GPU, np.array([8, 16]))
    assert list(bw) == [450e9, 50e9] and list(lat) == pytest.approx([2e-6, 8e-6])


def test_p2p_by_hand():
    # 1 MiB at 450 GB/s + 2 us = 2.3301689e-6 + 2e-6
    assert cm.p2p_s(2**20, 450e9, 2e-6) == pytest.approx(4.3301689e-6)


def test_experts_active_fraction():
    # top-2 of 16 with one token: 2/16 = 0.125; with 2 tokens 1 - (7/8)^2 = 0.234375
    assert cm.experts_active_fraction(SEED, 1) == pytest.approx(0.125)
    assert cm.experts_active_fraction(SEED, 2) == pytest.approx(0.234375)
