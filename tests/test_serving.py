"""Serving: closed-loop steady state, disaggregated pools, KV transfer, MTP, by hand."""

import numpy as np
import pytest

import costmodel as cm
from costmodel import serving

DSV3 = cm.load_model("deepseek-v3")
H200 = cm.load_hardware("h200-sxm")
PEAK = cm.efficiency.DATASHEET


def test_published_acceptance():
    # DeepSeek-V3 report: 85-90 % for the second token -> 1.85; SGLang MTP blog: 2.18 (3-token window), 2.44 (4)
    assert [serving.published_acceptance(n) for n in (1, 2, 3)] == [1.85, 2.18, 2.44]
    # beyond 3: p with 1 + p + p^2 + p^3 = 2.44 is 0.67549; tau(4) = 2.44 + p^4 = 2.64820
    p = 0.675492
    assert 1 + p + p**2 + p**3 == pytest.approx(2.44, abs=1e-4)
    assert serving.published_acceptance(4) == pytest.approx(2.44 + p**4, abs=1e-4)
    assert serving.Speculation(2).acceptance == 2.18
    with pytest.raises(cm.CostModelError, match=r"acceptance: 3.5 must be a number of tokens in \[1, 3\]"):
        serving.Speculation(2, 3.5)
    with pytest.raises(cm.CostModelError, match="mtp: 0 must be a whole number >= 1"):
        serving.Speculation(0)


def test_kv_transfer_by_hand():
    # DeepSeek-V3, FP8 KV, 1024-token prompt: 1024 x (512 + 64) x 61 layers x 1 B = 35,979,264 B; MLA keeps one
    # latent per token replicated over tp, so one GPU of the TP8 prefill worker sends it:
    # over the NIC 8 us + 35,979,264 / 50e9 = 7.27585e-4 s; over NVLink 2 us + 35,979,264 / 450e9 = 8.1954e-5 s
    wl = cm.Workload(1, 1024, 128, "fp8", "fp8")
    assert serving.kv_transfer_s(DSV3, H200, cm.Plan(tp=8), wl, PEAK, False) == pytest.approx(8e-6 + 35979264 / 50e9)
    assert serving.kv_transfer_s(DSV3, H200, cm.Plan(tp=8), wl, PEAK, True) == pytest.approx(2e-6 + 35979264 / 450e9)
    # only the last chunk of a long prompt adds to TTFT: 20,000 tokens send 8192 after the prefill ends
    long = cm.Workload(1, 20_000, 128, "fp8", "fp8")
    assert serving.kv_transfer_s(DSV3, H200, cm.Plan(tp=8), long, PEAK, False) == pytest.approx(
        8e-6 + 8192 * 576 * 61 / 50e9)


def stub(monkeypatch, step=lambda b: 0.01 + 0.001 * b, mu=10.0, t_1=0.1, cap=1e9):
    """Replace the physics with simple stand-ins so the steady state can be solved by hand."""
    def decode_step(model, hw, plan, wl, eff, batch, speculation, options):
        s = step(np.asarray(batch, dtype=float))
        if speculation is None:
            return s, s
        n = speculation.draft_tokens
        return s, (1.5 * s + n * 0.002) / speculation.acceptance  # verify 1.5 s(B), draft 2 ms each
    monkeypatch.setattr(serving, "decode_step", decode_step)
    monkeypatch.setattr(serving, "prefill_rate", lambda *a, **k: (mu, t_1))
    monkeypatch.setattr(serving, "max_decode_batch", lambda *a, **k: cap)


def solve_by_scan(n, s_out, step, mu, t_1, disagg_capacity=None):
    """Independent scalar solution of the module's equations: scan B finely, keep the best N(B) = n."""
    best = None
    for b in np.linspace(1e-3, n, 400_001):
        s = step(b)
        if disagg_capacity is None:
            a = b / (s_out * s * mu)
            rho = a / (1 + a)
            tpot = s / (1 - rho)
            x = b / (s_out * tpot)
            ttft = t_1 + s / 2 + rho / (2 * mu * (1 - rho))
        else:
            tpot, x = s, b / (s_out * s)
            rho = x / disagg_capacity
            ttft = t_1 + rho / (2 * mu * (1 - rho))
        gap = abs(b + x * ttft - n)
        if best is None or gap < best[0]:
            best = (gap, b, tpot, x, ttft)
    return best[1:]


def test_aggregated_steady_state_by_hand(monkeypatch):
    # s(B) = 10 ms + 1 ms x B, prefill 10 requests/s when busy, 0.1 s alone, S_out = 101, N = 20:
    # rho = a / (1 + a), a = B / (100 s mu); TPOT = s / (1 - rho); X = B / (100 TPOT);
    # TTFT = 0.1 + s/2 + rho / (2 mu (1 - rho)); N = B + X TTFT
    stub(monkeypatch)
    wl = cm.Workload(1, 1000, 101)
    out = serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), wl, PEAK, 20)
    b, tpot, x, ttft = solve_by_scan(20, 100, lambda b: 0.01 + 0.001 * b, 10.0, 0.1)
    assert float(out["decode_batch"]) == pytest.approx(b, rel=2e-3)
    assert float(out["tpot_s"]) == pytest.approx(tpot, rel=2e-3)
    assert float(out["ttft_s"]) == pytest.approx(ttft, rel=2e-3)
    assert float(out["requests_per_s"]) == pytest.approx(x, rel=2e-3)
    # Little's law over the whole loop and the per-GPU rates: 8 GPUs, S_in 1000, S_out 101
    assert float(out["requests_per_s"] * (out["ttft_s"] + 100 * out["tpot_s"])) == pytest.approx(20, rel=1e-3)
    assert float(out["output_tokens_per_s_per_gpu"]) == pytest.approx(x * 101 / 8, rel=2e-3)
    assert float(out["input_tokens_per_s_per_gpu"]) == pytest.approx(x * 1000 / 8, rel=2e-3)
    # two workers share the load: each sees N = 10, throughput doubles over twice the GPUs
    two = serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8), 2), wl, PEAK, 40)
    assert float(two["tpot_s"]) == pytest.approx(float(out["tpot_s"]), rel=1e-3)


def test_slot_wait_when_memory_caps_the_batch(monkeypatch):
    # cap B at 5 with N = 20: X = B (1 - rho) / (100 s(5)), and the 20 - 5 - X TTFT requests wait for a slot:
    # TTFT = N / X - 100 TPOT (Little's law over the loop)
    stub(monkeypatch, cap=5.0)
    out = serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), cm.Workload(1, 1000, 101), PEAK, 20)
    assert float(out["decode_batch"]) == pytest.approx(5.0)
    s = 0.015
    a = 5 / (100 * s * 10)
    rho = a / (1 + a)
    x = 5 * (1 - rho) / (100 * s)
    assert float(out["requests_per_s"]) == pytest.approx(x, rel=1e-9)
    assert float(out["ttft_s"]) == pytest.approx(20 / x - 100 * s / (1 - rho), rel=1e-9)


def test_disaggregated_rate_matching_by_hand(monkeypatch):
    # one prefill worker (10 requests/s), two decode workers, N = 30: per decode worker s(B) = 10 ms + 1 ms B,
    # X = 2 B / (100 s(B)), rho = X / 10, TTFT = 0.1 + rho / (2 x 10 (1 - rho)) + KV transfer
    stub(monkeypatch)
    wl = cm.Workload(1, 1000, 101, "fp8", "fp8")
    out = serving.disaggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), serving.Pool(cm.Plan(tp=8), 2), wl, PEAK,
                                30)
    transfer = float(out["kv_transfer_s"])
    # 3 workers x 8 GPUs = 24 > one 8-GPU domain: over the NIC, 1000 x 576 x 61 B from one sender
    assert transfer == pytest.approx(8e-6 + 1000 * 576 * 61 / 50e9)
    b, tpot, x, ttft = solve_by_scan(15, 100, lambda b: 0.01 + 0.001 * b, 10.0, 0.1 + transfer, disagg_capacity=5.0)
    assert float(out["decode_batch"]) == pytest.approx(b, rel=2e-3)
    assert float(out["requests_per_s"]) == pytest.approx(2 * x, rel=2e-3)
    assert float(out["matched_prefill_workers"]) == pytest.approx(2 * x / 10, rel=2e-3)
    assert float(out["output_tokens_per_s_per_decode_gpu"]) == pytest.approx(2 * x * 101 / 16, rel=2e-3)
    assert float(out["input_tokens_per_s_per_prefill_gpu"]) == pytest.approx(2 * x * 1000 / 8, rel=2e-3)
    assert float(out["output_tokens_per_s_per_gpu"]) == pytest.approx(2 * x * 101 / 24, rel=2e-3)


def test_a_worker_below_one_sequence_steps_one_when_busy(monkeypatch):
    # one request over four decode workers: the mean batch per worker is below 1/4, but the worker that holds
    # the request steps one sequence, so TPOT = s(1) = 10 ms + 1 ms = 11 ms (disaggregated TPOT is the step),
    # and X = 4 B / (100 x 11 ms) by Little's law over the decode pool
    stub(monkeypatch)
    wl = cm.Workload(1, 1000, 101, "fp8", "fp8")
    out = serving.disaggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), serving.Pool(cm.Plan(tp=8), 4), wl, PEAK, 1)
    b = float(out["decode_batch"])
    assert b < 0.25
    assert float(out["tpot_s"]) == pytest.approx(0.011, rel=1e-12)
    assert float(out["requests_per_s"]) == pytest.approx(4 * b / (100 * 0.011), rel=1e-9)


def test_mtp_divides_the_step_by_the_accepted_tokens(monkeypatch):
    # with n = 1 and tau = 1.85: s_eff(B) = (1.5 s(B) + 2 ms) / 1.85 per output token; one request in flight
    # gives a mean batch B < 1, and a busy worker steps one sequence: s = s(1)
    stub(monkeypatch)
    wl = cm.Workload(1, 1000, 101)
    plain = serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), wl, PEAK, 1, options={})
    mtp = serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), wl, PEAK, 1, speculation=serving.Speculation(1))
    b = float(mtp["decode_batch"])
    assert b < 1
    s = 0.01 + 0.001 * 1
    a = b / (100 * (1.5 * s + 0.002) / 1.85 * 10)
    rho = a / (1 + a)
    assert float(mtp["tpot_s"]) == pytest.approx((1.5 * s + 0.002) / 1.85 / (1 - rho), rel=1e-6)
    assert float(mtp["tpot_s"]) < float(plain["tpot_s"])


def test_step_curve_interpolates_the_library_within_one_percent():
    wl = cm.Workload(1, 1024, 1024, "fp8", "fp8")
    plan = cm.Plan(tp=8, ep=8)
    curve = serving.StepCurve(DSV3, H200, plan, wl, PEAK, 512, None, {})
    for b in (1, 3, 17, 100, 333, 512):
        direct, _ = serving.decode_step(DSV3, H200, plan, wl, PEAK, b, None, {})
        assert float(curve(b)[0]) == pytest.approx(float(direct), rel=0.01)


def test_concurrency_sweep_is_vectorised_and_monotone():
    wl = cm.Workload(1, 1024, 1024, "fp8", "fp8")
    conc = np.array([1, 4, 16, 64, 256])
    out = serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8, ep=8)), wl, PEAK, conc)
    assert np.all(np.diff(out["tpot_s"]) > 0) and np.all(np.diff(out["output_tokens_per_s_per_gpu"]) > 0)
    assert np.all(np.diff(out["tokens_per_s_per_user"]) < 0)


def test_prefill_rate_by_hand(monkeypatch):
    # stand-in stage time: 10 ms + 2 ms per 1,000 tokens of the chunk. C = 8,192 tokens a chunk per replica.
    # S_in = 3,000: c = 8192 / 3000 = 2.7307 prompts a chunk, t = 10 + 2 x 8.192 = 26.384 ms; dp = 2:
    # mu = 2 x 2.7307 / 0.026384 = 206.99 requests/s. S_in = 16,384: c = 0.5 (a prompt spans two chunks), the same
    # 26.384 ms, mu = 2 x 0.5 / 0.026384 = 37.90 requests/s. pp = 2 and 4 micro-batches leave mu alone (the chunk
    # is the pipeline's unit) and make one request alone take t_1 = pp x t(1 prompt) = 2 x (10 + 2 x 3) = 32 ms.
    def stage_time(m, hw, plan, wl, eff, *, seqs_per_replica, seqs_all_replicas, new_tokens, past_tokens, decode,
                   **options):
        assert not decode and past_tokens == 0 and seqs_all_replicas == pytest.approx(
            seqs_per_replica * (plan.dp if seqs_per_replica != 1 else 1))
        return {"total": 0.010 + 0.002 * seqs_per_replica * new_tokens / 1000}
    monkeypatch.setattr(serving, "stage_time", stage_time)
    eff = cm.efficiency.Efficiency(0.5, 0.5)
    mu, t_1 = serving.prefill_rate(DSV3, H200, cm.Plan(tp=4, dp=2), cm.Workload(1, 3000, 10), eff, {})
    assert mu == pytest.approx(2 * (8192 / 3000) / 0.026384, rel=1e-12) and mu == pytest.approx(206.99, abs=0.01)
    mu, _ = serving.prefill_rate(DSV3, H200, cm.Plan(tp=4, dp=2), cm.Workload(1, 16384, 10), eff, {})
    assert mu == pytest.approx(37.90, abs=0.01)
    mu, t_1 = serving.prefill_rate(DSV3, H200, cm.Plan(tp=4, dp=2, pp=2, microbatches=4), cm.Workload(1, 3000, 10),
                                   eff, {})
    assert mu == pytest.approx(206.99, abs=0.01) and t_1 == pytest.approx(0.032, rel=1e-12)


@pytest.mark.parametrize("concurrency", [-1, 0, float("nan"), [], "many", [4, 0]])
def test_bad_concurrency_names_the_field(concurrency):
    wl = cm.Workload(1, 1000, 100, "fp8", "fp8")
    with pytest.raises(cm.CostModelError, match="^concurrency: "):
        serving.aggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), wl, PEAK, concurrency)
    with pytest.raises(cm.CostModelError, match="^concurrency: "):
        serving.disaggregated(DSV3, H200, serving.Pool(cm.Plan(tp=8)), serving.Pool(cm.Plan(tp=8)), wl, PEAK,
                              concurrency)


@pytest.mark.parametrize("kwargs", [{"scale_out_bytes_per_s": -1.0}, {"scale_up_bytes_per_s": 0},
                                    {"scale_up_gpus": 2.5}, {"scale_out_bytes_per_s": "fast"}])
def test_with_interconnect_refuses_what_is_not_a_positive_number(kwargs):
    with pytest.raises(cm.CostModelError, match="scale_"):
        H200.with_interconnect(**kwargs)
    # None keeps the part's value; a positive number replaces it (bytes/s per GPU per direction)
    assert H200.with_interconnect(scale_out_bytes_per_s=100e9).scale_out_bandwidth_bytes_per_s == 100e9
    assert H200.with_interconnect().scale_up_gpus == H200.scale_up_gpus
