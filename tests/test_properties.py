"""Invariants that must hold for any model, plan and workload (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel as cm
from costmodel.perf import stage_time

MODELS = {i: cm.load_model(i) for i in cm.model_ids()}
GPU = cm.load_hardware("seed-gpu")
pow2 = st.sampled_from([1, 2, 4, 8])
model_ids = st.sampled_from(sorted(MODELS))
settings.register_profile("ci", max_examples=60, deadline=None)
settings.load_profile("ci")


@given(model_ids, pow2, pow2, st.sampled_from([1, 2]), pow2, st.sampled_from([1, 2, 4]), st.sampled_from([128, 1000]))
def test_total_prefill_flops_do_not_depend_on_the_plan(model_id, tp, dp, pp, ep, mb, input_len):
    # per-GPU FLOPs of one micro-batch on one stage, summed over tp x dp GPUs, pp stages and mb micro-batches,
    # plus the LM head (only on the last stage), give the plan-free whole-batch total
    m = MODELS[model_id]
    if m.num_layers % pp:
        return
    batch = dp * mb * 2
    plan = cm.Plan(tp, dp, pp, ep, microbatches=mb)
    wl = cm.Workload(batch, input_len, 8)
    s = stage_time(m, GPU, plan, wl, GPU.efficiency, seqs_per_replica=batch / dp / mb, seqs_all_replicas=batch / mb,
                   new_tokens=input_len, past_tokens=0, decode=False)
    summed = (s["flops"] * pp + s["lm_head_flops"]) * tp * dp * mb
    assert summed == pytest.approx(cm.prefill_flops(m, batch, input_len), rel=1e-9)


@given(model_ids, pow2, pow2, st.sampled_from([1, 2]))
def test_weight_bytes_do_not_grow_with_tp_or_ep(model_id, tp, ep, etp):
    m = MODELS[model_id]
    ep = ep if m.is_moe else 1
    w = cm.weight_bytes_per_gpu(m, cm.Plan(tp, 8, 1, ep, etp), "bf16")
    assert cm.weight_bytes_per_gpu(m, cm.Plan(tp * 2, 8, 1, ep, etp), "bf16") <= w
    if m.is_moe:
        assert cm.weight_bytes_per_gpu(m, cm.Plan(tp, 8, 1, ep * 2, etp), "bf16") <= w


@given(st.floats(1.0, 1e10), st.integers(1, 512), st.floats(1e9, 1e12), st.floats(0.0, 1e-4))
def test_all_reduce_is_reduce_scatter_plus_all_gather(nbytes, n, bw, lat):
    rs, ag = cm.reduce_scatter_s(nbytes, n, bw, lat), cm.all_gather_s(nbytes, n, bw, lat)
    assert cm.all_reduce_s(nbytes, n, bw, lat) == pytest.approx(rs + ag)
    # and matches the ring closed form 2(n-1) latency + 2(n-1)/n bytes / bandwidth
    assert cm.all_reduce_s(nbytes, n, bw, lat) == pytest.approx(2 * (n - 1) * lat + 2 * (n - 1) / n * nbytes / bw)


@given(st.floats(1.0, 1e10), st.floats(1e9, 1e12), st.floats(0.0, 1e-4))
def test_a_one_gpu_group_communicates_nothing(nbytes, bw, lat):
    for collective in (cm.all_reduce_s, cm.reduce_scatter_s, cm.all_gather_s):
        assert collective(nbytes, 1, bw, lat) == 0
    assert cm.all_to_all_s(nbytes, 1, GPU) == 0


@given(model_ids)
def test_a_one_gpu_plan_has_no_communication(model_id):
    e = cm.estimate(MODELS[model_id], GPU, cm.Plan(1, 1, 1, 1), cm.Workload(2, 64, 8))
    assert e.comm_s == 0 and e.decode_comm_s == 0


@given(model_ids, st.sampled_from([(1, 1, 1, 1), (2, 2, 1, 2), (4, 2, 2, 8)]), st.integers(1, 64), st.integers(1, 4096),
       st.integers(1, 4096))
def test_times_grow_with_batch_and_length(model_id, degrees, batch, input_len, output_len):
    m = MODELS[model_id]
    tp, dp, pp, ep = degrees
    plan = cm.Plan(tp, dp, pp, ep if m.is_moe else 1)
    base = cm.estimate(m, GPU, plan, cm.Workload(batch, input_len, output_len))
    for bigger in (cm.Workload(batch + 1, input_len, output_len), cm.Workload(batch, input_len + 64, output_len),
                   cm.Workload(batch, input_len, output_len + 64)):
        e = cm.estimate(m, GPU, plan, bigger)
        assert e.ttft_s >= base.ttft_s * (1 - 1e-12)
        assert e.decode_step_s >= base.decode_step_s * (1 - 1e-12)
        assert e.memory_bytes_per_gpu >= base.memory_bytes_per_gpu


def test_vectorised_evaluate_equals_scalar_estimate():
    m, wl = MODELS["qwen3-235b-a22b"], cm.Workload(128, 2048, 2048, "fp8", "fp8")
    plans = [cm.Plan(1, 32, 1, 32), cm.Plan(4, 2, 4, 8, microbatches=4), cm.Plan(8, 4, 1, 16)]

    class Grid:
        tp, dp, pp, ep, etp, microbatches = (np.array([getattr(p, f) for p in plans])
                                             for f in ("tp", "dp", "pp", "ep", "etp", "microbatches"))

    grid = cm.evaluate(m, GPU, Grid, wl, GPU.efficiency)
    for i, plan in enumerate(plans):
        single = cm.estimate(m, GPU, plan, wl).metrics
        for key, value in single.items():
            assert grid[key][i] == pytest.approx(value), key
