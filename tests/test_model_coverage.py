"""Llama-4 (multimodal wrapper, shared expert, interleaved MoE), gpt-oss (biases, sinks), DeepSeek-V2-Lite,
and the maximum context with its validity rule. Counts derived by hand from the configs cited in each
data file (costmodel/data/models/*.yaml)."""

from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import costmodel as cm
from costmodel.architecture import _data_files, param_breakdown
from costmodel.strategy import RULES, errors, rule_masks

# --- Llama-4 ---------------------------------------------------------------------------------------
# meta-llama/Llama-4-Scout-17B-16E-Instruct config.json, text_config: L 48, d 5120, 40 heads x 128,
# 8 KV heads, V 202,048, 16 routed experts (top-1) of width 8,192 plus one shared expert of the same
# width in every layer (interleave_moe_layer_step 1), untied embeddings.
#   attention/layer: q, o 2 x 5120 x 5120 = 52,428,800; k, v 2 x 5120 x 1024 = 10,485,760 -> 62,914,560
#   one expert: 3 x 5120 x 8192 = 125,829,120; 16 routed = 2,013,265,920; shared 125,829,120
#   router 5120 x 16 = 81,920 -> layer 2,202,091,520; x 48 = 105,700,392,960
#   norms (2 x 48 + 1) x 5120 = 496,640; embeddings 2 x 202,048 x 5120 = 2,068,971,520
#   total 107,769,861,120 (the card's "109B" adds the vision encoder)
#   active/layer 62,914,560 + 125,829,120 (1 routed) + 125,829,120 (shared) + 81,920 = 314,654,720
#   x 48 = 15,103,426,560; + norms = 15,103,923,200 without embeddings; + 2,068,971,520 = 17,172,894,720
SCOUT_TOTAL, SCOUT_ACTIVE, SCOUT_ACTIVE_NO_EMB = 107_769_861_120, 17_172_894_720, 15_103_923_200


def test_llama4_scout_counts_the_shared_expert():
    m = cm.load_model("llama-4-scout")
    assert (m.num_experts, m.experts_per_token, m.moe_intermediate, m.shared_intermediate) == (16, 1, 8192, 8192)
    assert m.num_dense_layers == 0 and m.dense_intermediate == 0
    assert (m.params_total, m.params_active, m.params_active_without_embeddings) == (
        SCOUT_TOTAL, SCOUT_ACTIVE, SCOUT_ACTIVE_NO_EMB)
    # without the shared expert the count was 107,769,861,120 - 48 x 125,829,120 = 101,730,063,360 (issue 13)
    assert param_breakdown(m)["shared_experts"] == 48 * 125_829_120


def test_llama4_scout_published_figures():
    # model card: 109B total with the vision encoder, which is not counted here: the text model is 1.1 % below
    m = cm.load_model("llama-4-scout")
    assert m.params_total / cm.official_params("llama-4-scout")["params_total"] == pytest.approx(0.9887, abs=1e-4)
    assert round(m.params_active / 1e9) == 17


def test_llama4_maverick_interleaves_dense_and_moe_layers():
    # Llama-4-Maverick-17B-128E: 128 experts, interleave_moe_layer_step 2 -> MoE layers 1, 3, ..., 47 (24);
    # the 24 others are dense with intermediate_size_mlp 16,384.
    #   dense layer: 62,914,560 + 3 x 5120 x 16384 (251,658,240) = 314,572,800; x 24 = 7,549,747,200
    #   MoE layer: 62,914,560 + 128 x 125,829,120 (16,106,127,360) + 125,829,120 + 5120 x 128 (655,360)
    #     = 16,295,526,400; x 24 = 391,092,633,600
    #   + norms 496,640 + embeddings 2,068,971,520 = 400,711,848,960 ("400B")
    #   active: 7,549,747,200 + 24 x (62,914,560 + 2 x 125,829,120 + 655,360) = 24 x 315,228,160
    #     = 7,565,475,840; + 496,640 + 2,068,971,520 = 17,184,691,200 ("17B")
    m = cm.load_model("llama-4-maverick")
    assert (m.num_dense_layers, m.num_moe_layers, m.dense_intermediate) == (24, 24, 16384)
    assert m.params_total == 400_711_848_960 and m.params_active == 17_184_691_200
    assert m.params_total == pytest.approx(cm.official_params("llama-4-maverick")["params_total"], rel=0.002)


def test_llama4_wrapped_and_flat_configs_count_the_same():
    # the text_config keys moved to the top level give the same model (and explicit moe_layers the same layers)
    wrapped = yaml.safe_load(_data_files("models")["llama-4-maverick"].read_text())["config"]
    flat = cm.model_from_hf_config(wrapped["text_config"])
    explicit = cm.model_from_hf_config({**wrapped["text_config"], "moe_layers": list(range(1, 48, 2))})
    assert flat.params_total == explicit.params_total == 400_711_848_960
    assert cm.model_from_hf_config(wrapped).notes[0].startswith("decoder read from 'text_config'")


# --- gpt-oss ---------------------------------------------------------------------------------------
# openai/gpt-oss-120b config.json: L 36, d 2880, 64 heads x 64, 8 KV heads, V 201,088, 128 experts (top-4)
# of width 2880, attention_bias true; model_type gpt_oss: expert and router biases, one sink per head.
#   attention/layer: q 2880 x 4096 = 11,796,480; o the same; k, v 2 x 2880 x 512 = 2,949,120;
#     biases 4096 + 512 + 512 + 2880 = 8,000; sinks 64 -> 26,550,144 (x 36 = 955,805,184: Table 1 "0.96B")
#   one expert: 3 x 2880 x 2880 = 24,883,200 + biases 2 x 2880 + 2880 = 8,640 -> 24,891,840
#   128 experts 3,186,155,520 + router (2880 + 1) x 128 = 368,768 -> MLP 3,186,524,288/layer
#     (x 36 = 114,714,874,368: Table 1 "114.71B")
#   total 36 x 3,213,074,432 = 115,670,679,552 + norms 73 x 2880 = 210,240
#     + embeddings 2 x 201,088 x 2880 = 1,158,266,880 -> 116,829,156,672 (Table 1 "116.83B")
#   active/layer 26,550,144 + 4 x 24,891,840 + 368,768 = 126,486,272; x 36 = 4,553,505,792
#     + norms = 4,553,716,032 without embeddings; + LM head 579,133,440 = 5,132,849,472 (Table 1 "5.13B")
def test_gpt_oss_120b_counts_by_hand():
    m = cm.load_model("gpt-oss-120b")
    assert (m.attention_bias, m.mlp_bias, m.attention_sinks) == (True, True, True)
    p = param_breakdown(m)
    assert p["attention"] == 955_805_184
    assert p["routed_experts"] + p["router"] == 114_714_874_368
    assert m.params_total == 116_829_156_672
    assert m.params_active_without_embeddings == 4_553_716_032
    assert m.params_active_without_embeddings + p["lm_head"] == 5_132_849_472


def test_gpt_oss_20b_counts_by_hand():
    # 24 layers, 32 experts: layer 26,550,144 + 32 x 24,891,840 (796,538,880) + (2880 + 1) x 32 (92,192)
    #   = 823,181,216; x 24 = 19,756,349,184 + norms 49 x 2880 = 141,120 + 1,158,266,880 = 20,914,757,184
    # active: 24 x (26,550,144 + 99,567,360 + 92,192) = 3,029,032,704 + 141,120 + 579,133,440 = 3,608,307,264
    m = cm.load_model("gpt-oss-20b")
    assert m.params_total == 20_914_757_184
    assert m.params_active_without_embeddings + param_breakdown(m)["lm_head"] == 3_608_307_264


def test_attention_and_mlp_bias_keys_on_a_small_config():
    # d 64, 4 heads x 16, 2 KV heads, f 128, 2 layers. attention_bias adds q 64 + k 32 + v 32 + o 64 = 192 per
    # layer; mlp_bias (gated) adds 2 x 128 + 64 = 320 per layer: (192 + 320) x 2 = 1,024
    base = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 100, "intermediate_size": 128}
    plain = cm.model_from_hf_config(base)
    biased = cm.model_from_hf_config({**base, "attention_bias": True, "mlp_bias": True})
    assert biased.params_total - plain.params_total == 1_024


# --- DeepSeek-V2-Lite -------------------------------------------------------------------------------
def test_deepseek_v2_lite_counts_by_hand():
    # deepseek-ai/DeepSeek-V2-Lite config.json: L 27, d 2048, 16 heads, MLA without q_lora (q: d x 16 x 192),
    # r_kv 512, d_rope 64, d_nope 128, d_v 128; first layer dense (f 10,944); 26 MoE layers of 64 routed
    # experts (top-6) and 2 shared, width 1,408; V 102,400.
    #   attention/layer: q 2048 x 16 x 192 = 6,291,456; kv_a 2048 x 576 + 512 = 1,180,160;
    #     kv_b 512 x 16 x 256 = 2,097,152; o 16 x 128 x 2048 = 4,194,304 -> 13,763,072; x 27 = 371,602,944
    #   dense layer 3 x 2048 x 10,944 = 67,239,936; expert 3 x 2048 x 1408 = 8,650,752
    #   MoE layer 64 x 8,650,752 + 2 x 8,650,752 + router 2048 x 64 = 571,080,704; x 26 = 14,848,098,304
    #   norms 55 x 2048 = 112,640; embeddings 2 x 102,400 x 2048 = 419,430,400 -> total 15,706,484,224
    #   active MoE layer 8 x 8,650,752 + 131,072 = 69,337,088; x 26 = 1,802,764,288
    #   -> 2,241,719,808 without embeddings, 2,661,150,208 with (the "2.66 B counted" of issue 13)
    m = cm.load_model("deepseek-v2-lite")
    assert m.params_total == 15_706_484_224
    assert (m.params_active, m.params_active_without_embeddings) == (2_661_150_208, 2_241_719_808)


# --- maximum context -------------------------------------------------------------------------------
BASE = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128}


@pytest.mark.parametrize("extra, expected", [
    ({}, 0),                                                              # unknown
    ({"max_position_embeddings": 40960}, 40960),                          # Qwen3 as shipped
    ({"max_position_embeddings": 32768,                                   # Qwen2.5 with YaRN enabled: 4 x 32,768
      "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}, 131072),
    ({"max_position_embeddings": 131072,                                  # Llama-3.1: 8 x 8,192 is shorter
      "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192}}, 131072),
    ({"max_position_embeddings": 4096, "rope_parameters": {"factor": 2.0, "original_max_position_embeddings": 4096}},
     8192),                                                               # transformers 5 spelling
    ({"max_position_embeddings": 4096, "rope_scaling": {"type": "linear", "factor": 2.0}}, 4096),  # no original
])
def test_max_context_from_config(extra, expected):
    assert cm.model_from_hf_config({**BASE, **extra}).max_context_len == expected


@pytest.mark.parametrize("model_id, expected", [
    ("qwen3-235b-a22b", 40_960), ("deepseek-v3", 163_840), ("llama-3.1-8b", 131_072), ("llama-3-70b", 8_192),
    ("llama-4-scout", 10_485_760), ("gpt-oss-120b", 131_072), ("seed-moe-10b", 0),
])
def test_bundled_max_context(model_id, expected):
    assert cm.load_model(model_id).max_context_len == expected


def test_context_rule_warns_beyond_the_maximum():
    assert RULES["context_exceeds_model"][0] == "warning"
    m, gpu = cm.load_model("qwen3-30b-a3b"), cm.load_hardware("h100-sxm")
    long = cm.estimate(m, gpu, cm.Plan(tp=2), cm.Workload(1, 40_000, 1_000))
    [v] = [v for v in long.violations if v.name == "context_exceeds_model"]
    assert v.message == "S_in + S_out = 41,000 exceeds the model's maximum context 40,960"
    assert "context_exceeds_model" not in {v.name for v in errors(long.violations)}  # a warning only
    at_limit = cm.estimate(m, gpu, cm.Plan(tp=2), cm.Workload(1, 39_960, 1_000))
    assert "context_exceeds_model" not in {v.name for v in at_limit.violations}
    unknown = cm.estimate(cm.load_model("seed-moe-10b"), gpu, cm.Plan(), cm.Workload(1, 10**6, 1))
    assert "context_exceeds_model" not in {v.name for v in unknown.violations}


def test_context_rule_broadcasts_over_plan_arrays():
    m, gpu = cm.load_model("qwen3-30b-a3b"), cm.load_hardware("h100-sxm")
    plans = SimpleNamespace(tp=np.array([1, 2, 4]), dp=np.ones(3, int), pp=np.ones(3, int), ep=np.ones(3, int),
                            etp=np.ones(3, int), microbatches=np.ones(3, int))
    masks = rule_masks(m, gpu, plans, cm.Workload(1, 50_000, 10), np.zeros(3))
    assert masks["context_exceeds_model"].tolist() == [True, True, True]
