"""Routing statistics, plans as engines write them, redundant experts and memory headroom, by hand."""

import numpy as np
import pytest

import costmodel as cm
from costmodel import moe

DSV3 = cm.load_model("deepseek-v3")
H200 = cm.load_hardware("h200-sxm")


def test_expected_max_of_normals_blom():
    # Blom: z(n) = Phi^-1((n - 3/8) / (n + 1/4)); z(2) = Phi^-1(0.722222) = 0.589456, z(32) = Phi^-1(0.98062) = 2.06673
    assert moe.expected_max_normal(1) == 0.0
    assert moe.expected_max_normal(2) == pytest.approx(0.589456, abs=1e-6)
    assert moe.expected_max_normal(32) == pytest.approx(2.06673, abs=1e-5)
    assert list(moe.expected_max_normal(np.array([1, 2]))) == [0.0, pytest.approx(0.589456, abs=1e-6)]


def test_measured_skew_reproduces_the_published_imbalance():
    # TensorRT-LLM tech blog "Scaling Expert Parallelism, Part 1", Table 1, DeepSeek-R1 on 32 GB200:
    # (max - mean) / mean per rank 1.564 at EP32 without EPLB, 0.109 with 288 slots; 1024 routed tokens per rank,
    # i.e. T = 1024 x 32 / k 8 = 4096 tokens a step. The fitted profile gives them back to the rounding of its
    # two parameters (2.14, 0.042).
    no_eplb = moe.load_imbalance(4096, 8, 32, 256, moe.MEASURED, False)
    eplb = moe.load_imbalance(4096, 8, 32, 288, moe.MEASURED, True)
    assert no_eplb - 1 == pytest.approx(1.564, rel=0.01)
    assert eplb - 1 == pytest.approx(0.109, rel=0.02)


def test_uniform_routing_imbalance_by_hand():
    # ep 8, 64 tokens x k 8 = 512 assignments: mean 64 per rank; 1 + z(8) / sqrt(64) = 1 + 1.43420 / 8 = 1.179275
    assert moe.load_imbalance(64, 8, 8, 256, moe.UNIFORM, False) == pytest.approx(1 + 1.434200 / 8, rel=1e-6)
    # ep 1: every rank holds every expert
    assert moe.load_imbalance(64, 8, 1, 256, moe.MEASURED, False) == 1.0
    # one token, k 2, ep 16, 1 slot a rank: the busiest rank can get at most min(k, 1) x 16 / 2 = 8 x the mean
    assert moe.load_imbalance(1, 2, 16, 16, moe.MEASURED, False) == pytest.approx(8.0)


def test_imbalance_falls_with_tokens_and_with_eplb():
    tokens = np.array([8, 64, 512, 4096])
    skewed = moe.load_imbalance(tokens, 8, 32, 256, moe.MEASURED, False)
    uniform = moe.load_imbalance(tokens, 8, 32, 256, moe.UNIFORM, False)
    assert np.all(np.diff(skewed) < 0) and np.all(np.diff(uniform) < 0)
    assert np.all(uniform < skewed)
    assert np.all(moe.load_imbalance(tokens, 8, 32, 288, moe.MEASURED, True) < skewed)


def test_routing_profile_names():
    assert moe.routing_skew("uniform") is moe.UNIFORM and moe.routing_skew(None) is moe.MEASURED
    with pytest.raises(cm.CostModelError, match="routing: 'zipf' is not one of measured, uniform"):
        moe.routing_skew("zipf")
    with pytest.raises(cm.CostModelError, match="routing.expert_cv"):
        moe.RoutingSkew(-1, 0)


def test_engine_default_expert_tensor_parallel():
    # vLLM / SGLang "TP2" shards every expert over both GPUs: etp = tp x dp / ep = 2
    assert cm.Plan(tp=2).etp == 2
    # DP-attention with EP 8 over the same 8 GPUs: one whole expert group per GPU
    assert cm.Plan(tp=1, dp=8, ep=8).etp == 1
    # tp x dp not divisible by ep: no whole default, etp 1 (the plan then breaks expert_group_not_dividing)
    assert cm.Plan(tp=2, dp=2, ep=16).etp == 1
    # Mixtral TP2 with no expert flags: 46.7 B params in bf16 split over 2 GPUs, not every expert on both
    mixtral = cm.load_model("mixtral-8x7b")
    wl = cm.Workload(1, 128, 128, "bf16", "bf16")
    per_gpu = cm.weight_bytes_per_gpu(mixtral, cm.Plan(tp=2), "bf16")
    assert per_gpu == pytest.approx(mixtral.params_total * 2 / 2, rel=0.01)
    assert cm.estimate(mixtral, H200, cm.Plan(tp=2), wl).valid


def test_plan_parse_and_label():
    assert cm.Plan.parse("tp=1,dp=8,ep=8") == cm.Plan(1, 8, 1, 8, 1)
    assert cm.Plan.parse("tp=4 pp=2 mb=4 redundant=32 ep=8") == cm.Plan(tp=4, pp=2, ep=8, microbatches=4,
                                                                        redundant_experts=32)
    assert cm.Plan(4, 4, 1, 16).label() == "TP4·DP4·EP16"
    assert cm.Plan(tp=8).label() == "TP8"
    assert cm.Plan(tp=1, dp=72, ep=72, redundant_experts=32).label() == "TP1·DP72·EP72+32"
    assert cm.Plan(2, 2, 1, 2, etp=1).label() == "TP2·DP2·EP2·ETP1"
    # the label a plan prints reads back as the same plan
    for plan in (cm.Plan(4, 4, 1, 16), cm.Plan(tp=1, dp=72, ep=72, redundant_experts=32),
                 cm.Plan(2, 2, 1, 2, etp=1), cm.Plan(tp=4, pp=2, ep=8, microbatches=4)):
        assert cm.Plan.parse(plan.label()) == plan
    assert cm.Plan.parse("TP4 DP2 EP8") == cm.Plan.parse("tp4,dp=2,ep=8") == cm.Plan(4, 2, 1, 8)
    for bad, message in (("tpx", "plan: 'tpx' is neither key=value nor a label part"),
                         ("tp=x", "plan: tp='x' is not a whole number"), ("tp=2,tp=4", "given twice"),
                         ("TP2·TP4", "given twice"), ("EP8+1 redundant=2", "'redundant_experts' is given twice"),
                         ("", "names no degree"), ("zz=1", "'zz=1' is neither key=value"), ("ZZ1", "'ZZ1' is neither")):
        with pytest.raises(cm.CostModelError, match=message):
            cm.Plan.parse(bad)


def test_redundant_experts_divide_and_cost_memory():
    # DeepSeek-V3: 256 experts do not split over EP72, 256 + 32 = 288 do (4 slots per GPU)
    wl = cm.Workload(72, 1024, 1024, "fp8", "fp8")
    plain = cm.estimate(DSV3, H200, cm.Plan(tp=1, dp=72, ep=72), wl)
    assert "experts_not_divisible_by_ep" in [v.name for v in plain.violations]
    slots = cm.estimate(DSV3, H200, cm.Plan(tp=1, dp=72, ep=72, redundant_experts=32), wl)
    assert "experts_not_divisible_by_ep" not in [v.name for v in slots.violations]
    # expert weights per GPU: 58 MoE layers x 288 / 72 = 4 experts x 3 x 7168 x 2048 params x 1 B = 10.2 GB
    expert_bytes = 58 * 4 * 3 * 7168 * 2048
    experts = cm.memory.weight_elements_per_gpu(DSV3, cm.Plan(tp=1, dp=72, ep=72, redundant_experts=32))["experts"]
    assert experts == pytest.approx(expert_bytes)


def test_memory_headroom_decides_fits():
    # a plan at 95 % of memory fits with no headroom but not with the default 10 %
    m = cm.load_model("llama-3.1-8b")
    wl = cm.Workload(1, 1024, 1024, "bf16", "bf16")
    e = cm.estimate(m, H200, cm.Plan(), wl, memory_headroom=0.0)
    need = e.memory_bytes_per_gpu
    capacity = H200.memory_bytes
    assert e.memory_usable_bytes_per_gpu == capacity
    tight = cm.estimate(m, H200, cm.Plan(), wl, memory_headroom=1 - need / capacity * 0.99)
    assert not tight.fits_memory and "memory_exceeds_capacity" in [v.name for v in tight.violations]
    default = cm.estimate(m, H200, cm.Plan(), wl)
    assert default.memory_usable_bytes_per_gpu == pytest.approx(0.9 * capacity)
