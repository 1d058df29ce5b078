"""Times, throughput, memory feasibility and plan validity against hand-derived values."""

import pytest

import costmodel as cm

SEED = cm.load_model("seed-moe-10b")
GPU = cm.load_hardware("seed-gpu")
PEAK = cm.Efficiency(mfu=1.0, bw_util=1.0, name="datasheet")


def one_gpu(batch=1, input_len=1024, output_len=2):
    return cm.estimate(SEED, GPU, cm.Plan(1, 1, 1, 1), cm.Workload(batch, input_len, output_len, "fp16", "fp16"),
                       "datasheet")


def test_decode_step_roofline_by_hand():
    # Seed model, 1 GPU at 100 %, B = 1, mean context 1024 + 2/2 = 1025. Each class is memory bound:
    # dense: non-expert weights (16 x 1,048,576 + 16,896 + 16 x 8,192) x 2 B = 33,850,368 B / 1.8e12 = 1.880576e-5 s
    # attention: KV read 1 x 1025 x 32,768 B = 33,587,200 B / 1.8e12 = 1.865956e-5 s
    # experts: 16 x 16 x 1,048,576 x 2 B = 536,870,912 B x (1 - 14/16) active = 67,108,864 B -> 3.728270e-5 s
    e = one_gpu()
    assert e.decode_step_s == pytest.approx(1.880576e-5 + 1.865956e-5 + 3.728270e-5, rel=1e-6)
    assert e.comm_s == 0 and e.decode_comm_s == 0
    # throughput: 1 token per step on 1 GPU
    assert e.output_tokens_per_s_per_gpu == pytest.approx(1 / e.decode_step_s)


def test_prefill_roofline_by_hand():
    # Same, prefill of S = 1024: dense 1024 x 33,816,576 FLOP / 4e14 = 8.6570435e-5 s (compute bound);
    # attention 32,768 x (1024 x 1025 / 2) = 17,196,646,400 FLOP / 4e14 = 4.2991616e-5 s;
    # experts: all 256 expert matrices are read (1 - (7/8)^1024 = 1): 536,870,912 B / 1.8e12 = 2.9826162e-4 s
    # (above their 1024 x 67,108,864 / 4e14 = 1.718e-4 s of compute)
    e = one_gpu()
    assert e.ttft_s == pytest.approx(8.6570435e-5 + 4.2991616e-5 + 2.9826162e-4, rel=1e-6)
    assert e.ttft_single_request_s == pytest.approx(e.ttft_s)
    assert e.input_tokens_per_s_per_gpu == pytest.approx(1024 / e.ttft_s)


def test_pipeline_fill_by_hand():
    # pp 2 with 2 micro-batches of one sequence each: every stage holds 8 of 16 layers, so a stage costs half of
    # the one-GPU prefill above (4.2782367e-4 / 2) plus a p2p of 1024 x 512 x 2 B = 1,048,576 B inside the node:
    # 2 us + 1,048,576 / 450e9 = 4.3301689e-6 s. TTFT = (mb + pp - 1) = 3 stage times.
    e = cm.estimate(SEED, GPU, cm.Plan(1, 1, 2, 1, microbatches=2), cm.Workload(2, 1024, 2, "fp16", "fp16"), PEAK)
    stage = 4.2782367e-4 / 2 + 4.3301689e-6
    assert e.ttft_s == pytest.approx(3 * stage, rel=1e-6)
    assert e.comm_s == pytest.approx(3 * 4.3301689e-6, rel=1e-6)
    # one request: both stages in turn for one sequence
    assert e.ttft_single_request_s == pytest.approx(2 * stage, rel=1e-6)


def test_pipeline_bubble_in_decode():
    # one micro-batch and pp 2: each token still crosses both stages: TPOT = max(mb, pp) x stage time
    wl = cm.Workload(2, 1024, 2, "fp16", "fp16")
    e1 = cm.estimate(SEED, GPU, cm.Plan(1, 1, 2, 1, microbatches=1), wl, PEAK)
    assert "pipeline_bubble" in [v.name for v in e1.violations]
    e2 = cm.estimate(SEED, GPU, cm.Plan(1, 1, 2, 1, microbatches=2), wl, PEAK)
    assert e2.output_tokens_per_s_per_gpu > e1.output_tokens_per_s_per_gpu


def test_tp_all_reduce_in_prefill_by_hand():
    # tp 2 on one node, B = 1, S = 1024: 16 layers x 1 all-reduce (attention; no dense layers, no shared experts)
    # of 1024 x 512 x 2 B = 1,048,576 B: 2 x 1/2 x 1,048,576 / 450e9 + 2 x 2e-6 = 6.3301689e-6 s each
    e = cm.estimate(SEED, GPU, cm.Plan(2, 1, 1, 1, etp=1), cm.Workload(1, 1024, 2, "fp16", "fp16"), PEAK)
    assert e.comm_s == pytest.approx(16 * 6.3301689e-6, rel=1e-6)


def test_ep_all_to_all_in_prefill_by_hand():
    # tp 1, dp 2, ep 2, B = 2 (1 per replica), S = 1024, uniform routing: per MoE layer a dispatch and a combine of
    # 1024 tokens x 512 x 2 B (fp16 weights: no FP8 dispatch); the other rank holds one of a token's k = 2 experts
    # with p = 1 - (1/2)^2 = 0.75, so 0.75 copies a token: 786,432 B over NVLink. Busiest of 2 ranks: 2048 tokens
    # x k 2 / 2 = 2048 per rank, imbalance 1 + z(2) / sqrt(2048) = 1 + 0.589456 / 45.2548 = 1.0130253.
    # 2e-6 + 1.0130253 x 786,432 / 450e9 = 3.7703900e-6 s per exchange; 16 layers x 2 = 32 exchanges; no tp traffic
    e = cm.estimate(SEED, GPU, cm.Plan(1, 2, 1, 2), cm.Workload(2, 1024, 2, "fp16", "fp16"), PEAK, routing="uniform")
    assert e.comm_s == pytest.approx(32 * 3.7703900e-6, rel=1e-6)


def test_expert_tp_reduction_sums_k_outputs_first_when_ep_is_1():
    # tp 2, etp 2, ep 1, B = 1, S = 1024: per layer an attention all-reduce of 1024 x 512 x 2 B = 1,048,576 B
    # (1,048,576 / 450e9 + 2 x 2 us = 6.3301689e-6 s) and, every expert being local, the expert-TP all-reduce of the
    # summed output: 1024 / tp 2 x etp 2 x 512 x 2 B = 1,048,576 B, the same 6.3301689e-6 s (not k = 2 times more)
    e = cm.estimate(SEED, GPU, cm.Plan(2, 1, 1, 1, etp=2), cm.Workload(1, 1024, 2, "fp16", "fp16"), PEAK)
    assert e.comm_s == pytest.approx(16 * 2 * 6.3301689e-6, rel=1e-6)


def test_expert_tp_reduction_of_k_copies_when_ep_above_1():
    # tp 2, dp 2, ep 2, etp 2, B = 2 (one sequence per replica), S = 1024, uniform routing, per layer:
    #   attention all-reduce: 6.3301689e-6 s (as above)
    #   dispatch + combine: each rank sends 1024 / tp 2 = 512 tokens x 512 x 2 B x 0.75 copies = 393,216 B
    #     (the ep ranks sit etp = 2 apart, both in the 8-GPU domain); imbalance 1.0130253 as above:
    #     2 us + 1.0130253 x 393,216 / 450e9 = 2.8851950e-6 s, twice
    #   expert-TP all-reduce of the k copies: 1024 / 2 x 2 x 512 x 2 B x k 2 = 2,097,152 B:
    #     2,097,152 / 450e9 + 4 us = 8.6603378e-6 s
    # 16 layers x 2.0760897e-5 s = 3.3217435e-4 s
    e = cm.estimate(SEED, GPU, cm.Plan(2, 2, 1, 2, etp=2), cm.Workload(2, 1024, 2, "fp16", "fp16"), PEAK,
                    routing="uniform")
    assert e.comm_s == pytest.approx(3.3217435e-4, rel=1e-6)


def test_two_batch_overlap_hides_communication_but_rereads_weights():
    wl = cm.Workload(64, 2048, 256, "fp8", "fp8")
    m = cm.load_model("qwen3-235b-a22b")
    plan = cm.Plan(4, 4, 1, 16)
    serial = cm.estimate(m, GPU, plan, wl)
    assert serial.ttft_s == pytest.approx(serial.prefill_compute_s + serial.prefill_comm_s)
    hidden = cm.estimate(m, GPU, plan, wl, overlap="two-batch")
    # prefill is compute-bound: two halves cost the same compute, and the communication hides behind it
    assert hidden.ttft_s == pytest.approx(max(serial.prefill_compute_s, serial.prefill_comm_s), rel=0.02)
    # decode of 16 sequences per replica reads the weights once per half: two halves take longer than one
    # batch when the step is weight-bound and communication is small
    small = cm.Workload(16, 2048, 256, "fp8", "fp8")
    one, two = (cm.estimate(m, GPU, cm.Plan(4, 1, 1, 1), small, overlap=o) for o in ("none", "two-batch"))
    assert two.decode_step_s > one.decode_compute_s
    # a decode batch of one sequence per replica cannot split
    single = cm.Workload(1, 2048, 256, "fp8", "fp8")
    a, b = (cm.estimate(m, GPU, cm.Plan(4, 1, 1, 1), single, overlap=o) for o in ("none", "two-batch"))
    assert a.decode_step_s == b.decode_step_s
    with pytest.raises(cm.CostModelError, match="overlap: 'full' is not one of none, two-batch"):
        cm.estimate(m, GPU, plan, wl, overlap="full")


def test_efficiency_scales_compute_bound_prefill():
    # the documents' scenario (MFU 60 %) makes compute-bound prefill 1/0.6 slower than 100 %
    wl = cm.Workload(128, 8192, 16, "fp16", "fp16")
    m = cm.load_model("llama-3-70b")
    full = cm.estimate(m, GPU, cm.Plan(8, 1, 1, 1), wl, "datasheet")
    doc = cm.estimate(m, GPU, cm.Plan(8, 1, 1, 1), wl, mfu=0.6, bw_util=1.0)
    assert doc.prefill_compute_s / full.prefill_compute_s == pytest.approx(1 / 0.6, rel=1e-3)


def test_memory_feasibility_is_a_result_not_a_crash():
    # Qwen3-235B in FP8 is 236.3 GB of weights (235.09 B parameters at 1 B, the embedding and the LM head,
    # 151,936 x 4,096 each, at 2 B: + 1.245 GB): one 64 GB GPU cannot hold it
    e = cm.estimate(cm.load_model("qwen3-235b-a22b"), GPU, cm.Plan(1, 1, 1, 1), cm.Workload(1, 2048, 2048, "fp8", "fp8"))
    assert not e.fits_memory and not e.valid
    assert [v.name for v in e.violations] == ["memory_exceeds_capacity"]
    assert e.weight_bytes_per_gpu == pytest.approx(235.09e9 + 2 * 151_936 * 4_096, rel=1e-3)


@pytest.mark.parametrize("plan, rule", [
    (cm.Plan(3, 1, 1, 1), "heads_not_divisible_by_tp"),
    (cm.Plan(1, 3, 1, 3), "experts_not_divisible_by_ep"),
    (cm.Plan(2, 1, 1, 4), "expert_group_not_dividing"),
    (cm.Plan(1, 1, 32, 1, microbatches=4), "pp_exceeds_layers"),
    (cm.Plan(1, 1, 3, 1, microbatches=4), "uneven_pp_stages"),
    (cm.Plan(16, 1, 1, 1), "tp_spans_domains"),
    (cm.Plan(1, 3, 1, 1), "batch_not_divisible_by_dp"),
    (cm.Plan(1, 1, 1, 1, microbatches=5), "microbatches_not_dividing"),
    (cm.Plan(1, 2, 1, 1, etp=2), "etp_not_dividing_expert_width"),
])
def test_each_rule_is_named(plan, rule):
    wl = cm.Workload(8, 128, 16, "fp16", "fp16")
    model = cm.model_from_hf_config({"num_hidden_layers": 16, "hidden_size": 512, "num_attention_heads": 16,
                                     "vocab_size": 0, "num_experts": 16, "num_experts_per_tok": 2,
                                     "moe_intermediate_size": 1023}) if rule.startswith("etp") else SEED
    assert rule in [v.name for v in cm.validate(model, GPU, plan, wl)]


def test_kv_head_replication_warning_and_dense_ep():
    wl = cm.Workload(8, 128, 16, "fp8", "fp8")
    found = cm.validate(cm.load_model("qwen3-235b-a22b"), GPU, cm.Plan(8, 1, 1, 8), wl)
    assert [(v.name, v.severity) for v in found if v.name == "kv_heads_replicated"] == [("kv_heads_replicated", "warning")]
    assert "ep_on_dense_model" in [v.name for v in cm.validate(cm.load_model("llama-3-70b"), GPU, cm.Plan(2, 1, 1, 2), wl)]


def test_valid_plan_has_no_errors():
    e = cm.estimate(SEED, GPU, cm.Plan(4, 4, 1, 16), cm.Workload(128, 10240, 512, "fp16", "fp16"))
    assert e.valid and e.violations == [] and e.gpus_total == 16


def test_bad_workload_and_plan_fields_raise_one_line():
    with pytest.raises(cm.CostModelError, match="batch: 0 must be a whole number >= 1"):
        cm.Workload(0, 1, 1)
    with pytest.raises(cm.CostModelError, match="weight_dtype: 'int4' is not one of fp4, mxfp4, fp8, bf16, fp16"):
        cm.Workload(1, 1, 1, "int4")
    with pytest.raises(cm.CostModelError, match="tp: 2.5"):
        cm.Plan(2.5, 1, 1, 1)
    with pytest.raises(cm.CostModelError, match="mfu"):
        cm.estimate(SEED, GPU, cm.Plan(1, 1, 1, 1), cm.Workload(1, 8, 8), mfu=1.5)
    with pytest.raises(cm.CostModelError, match="efficiency: 'fast' is not one of"):
        cm.estimate(SEED, GPU, cm.Plan(1, 1, 1, 1), cm.Workload(1, 8, 8), "fast")


def test_as_dict_has_cli_keys():
    d = one_gpu().as_dict()
    for key in ("gpus_total", "weight_bytes_per_gpu", "kv_bytes_per_gpu", "activation_bytes_per_gpu",
                "memory_bytes_per_gpu", "fits_memory", "violations", "prefill_flops", "ttft_s",
                "ttft_single_request_s", "decode_step_s", "output_tokens_per_s_per_gpu",
                "input_tokens_per_s_per_gpu", "comm_s"):
        assert key in d
