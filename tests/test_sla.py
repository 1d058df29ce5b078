"""SLA search over serving deployments (costmodel.sla): its points are :mod:`costmodel.serving` evaluated in
arrays, so each agrees with the same deployment solved alone; feasibility, the best point, the frontier and the
gap of a placed deployment follow from the points by their definitions."""

import numpy as np
import pandas as pd
import pytest

import costmodel as cm
from costmodel import serving, sla

WL = cm.Workload(1, 1024, 256, "fp8", "fp8")
LIMITS = {"ttft_max_s": 2.0, "tpot_max_s": 0.05}


@pytest.fixture(scope="module")
def result():
    return sla.serving_search("qwen3-30b-a3b", "h100-sxm", WL, 8, concurrency=(1, 4, 16, 64), **LIMITS)


KEYS = ("gpus_total", "ttft_s", "tpot_s", "output_tokens_per_s_per_gpu", "tokens_per_s_per_user")


def test_aggregated_points_agree_with_one_deployment_solved_alone(result):
    # the same plan through serving.aggregated over the same concurrencies: the same numbers (the step curve's
    # grid reaches the largest concurrency, so the sweep is passed whole); place() at one concurrency builds its
    # own grid, so it agrees to the step curve's interpolation (within 1 %, tests/test_serving.py)
    conc = np.array([1.0, 4.0, 16.0, 64.0])
    agg = result.points[result.points["serving"] == "agg"]
    assert len(agg) > 20
    for _, row in agg.sample(12, random_state=0).iterrows():
        plan = cm.Plan.parse(row["deployment"])
        alone = serving.aggregated(result.model, result.hardware, serving.Pool(plan, 1), WL, result.efficiency, conc,
                                   options=result.options)
        i = int(np.flatnonzero(conc == row["concurrency"])[0])
        placed = result.place("x", plan, int(row["concurrency"]))
        for key in KEYS:
            value = np.broadcast_to(alone[key], conc.shape)[i]
            assert value == pytest.approx(row[key], rel=1e-12, nan_ok=True), (row["deployment"], key)
            assert placed[key] == pytest.approx(row[key], rel=1e-2, nan_ok=True), (row["deployment"], key)


def test_disaggregated_points_agree_with_the_pair_solved_alone(result):
    # the search hands each pair its decode plan's step curve, built once per plan up to the largest concurrency;
    # solved alone, the pair builds its own: the same steady state to the curve's interpolation (within 1 %)
    d = result.points[result.points["serving"] == "disagg"]
    conc = np.array([1.0, 4.0, 16.0, 64.0])
    for _, row in d.sample(8, random_state=1).iterrows():
        alone = serving.disaggregated(result.model, result.hardware,
                                      serving.Pool(cm.Plan.parse(row["prefill_plan"]), int(row["prefill_workers"])),
                                      serving.Pool(cm.Plan.parse(row["decode_plan"]), int(row["decode_workers"])),
                                      WL, result.efficiency, conc, options=result.options)
        i = int(np.flatnonzero(conc == row["concurrency"])[0])
        for key in KEYS:
            value = np.broadcast_to(alone[key], conc.shape)[i]
            assert value == pytest.approx(row[key], rel=1e-2, nan_ok=True), (row["deployment"], key)


def test_feasible_points_meet_the_limits_and_best_is_their_maximum(result):
    f = result.feasible
    assert len(f) and (f["ttft_s"] <= LIMITS["ttft_max_s"]).all() and (f["tpot_s"] <= LIMITS["tpot_max_s"]).all()
    missed = result.points[~result.points["feasible"]]
    assert ((missed["ttft_s"] > 2.0) | (missed["tpot_s"] > 0.05) | ~np.isfinite(missed["ttft_s"])).all()
    assert result.best(1)["output_tokens_per_s_per_gpu"].iloc[0] == f["output_tokens_per_s_per_gpu"].max()
    assert set(result.points["serving"]) == {"agg", "disagg"}


def test_no_feasible_point_dominates_the_frontier(result):
    f, front = result.feasible, result.frontier()
    for _, p in front.iterrows():
        better = ((f["output_tokens_per_s_per_gpu"] > p["output_tokens_per_s_per_gpu"])
                  & (f["tokens_per_s_per_user"] > p["tokens_per_s_per_user"]))
        assert not better.any(), p["deployment"]


def test_gap_of_a_placed_deployment_by_hand():
    # three feasible points (tokens/s per user, output tokens/s per GPU): A (10, 100), B (20, 50), C (40, 10);
    # D (30, 500) misses a limit and never counts. A deployment placed at 15 tokens/s per user and 25 per GPU:
    # the points at least as fast per user are B and C, B serves the most per GPU: gain 50 / 25 = 2.
    # Placed at 40 per user and 10 per GPU: only C is as fast, gain 10 / 10 = 1 (on the frontier).
    # At 41 per user no point is as fast: no frontier deployment, gain NaN.
    points = pd.DataFrame({"serving": ["agg", "agg", "disagg", "agg"], "deployment": ["A", "B", "C", "D"],
                           "gpus_total": [8, 8, 16, 8], "tokens_per_s_per_user": [10.0, 20.0, 40.0, 30.0],
                           "output_tokens_per_s_per_gpu": [100.0, 50.0, 10.0, 500.0],
                           "feasible": [True, True, True, False]})
    search = sla.ServingSearch(None, None, WL, dict(LIMITS), points)
    placed = [{"label": label, "deployment": label, "gpus_total": 8, "concurrency": 1, "tokens_per_s_per_user": u,
               "output_tokens_per_s_per_gpu": t} for label, u, t in (("p", 15.0, 25.0), ("q", 40.0, 10.0),
                                                                     ("r", 41.0, 1.0))]
    gaps = search.gaps(placed).set_index("label")
    assert gaps.loc["p", "frontier_deployment"] == "B" and gaps.loc["p", "gain"] == pytest.approx(2.0)
    assert gaps.loc["q", "frontier_deployment"] == "C" and gaps.loc["q", "frontier_serving"] == "disagg"
    assert gaps.loc["q", "gain"] == pytest.approx(1.0)
    assert gaps.loc["r", "frontier_deployment"] == "none" and np.isnan(gaps.loc["r", "gain"])


def test_frontier_points_have_no_gap_and_the_others_do(result):
    rows = [dict(r, label=r["deployment"]) for _, r in result.frontier().iterrows()]
    assert (result.gaps(rows)["gain"] == 1.0).all()
    worst = result.feasible.nsmallest(1, "output_tokens_per_s_per_gpu").iloc[0]
    gap = result.gaps([dict(worst, label="worst")]).iloc[0]
    assert gap["gain"] > 1 and gap["frontier_tokens_per_s_per_gpu"] == result.feasible.loc[
        result.feasible["tokens_per_s_per_user"] >= worst["tokens_per_s_per_user"], "output_tokens_per_s_per_gpu"].max()


@pytest.mark.parametrize("kwargs, field", [
    ({"ttft_max_s": -1.0}, "ttft_max_s"), ({"tpot_max_s": "fast"}, "tpot_max_s"), ({"modes": ("hybrid",)}, "serving"),
    ({"concurrency": (0,)}, "concurrency"), ({"max_gpus": 0}, "max_gpus"), ({"concurrency": []}, "concurrency"),
    ({"concurrency": 8}, "concurrency"), ({"ttft_max_s": float("nan")}, "ttft_max_s"),
    ({"memory_headroom": 1.5}, "memory_headroom"), ({"memory_headroom": "x"}, "memory_headroom"),
    ({"reserved_bytes": -1.0}, "reserved_bytes"), ({"speculation": 1}, "speculation")])
def test_bad_input_is_one_line_naming_the_field(kwargs, field):
    with pytest.raises(cm.CostModelError, match=f"^{field}") as err:
        sla.serving_search("qwen3-30b-a3b", "h100-sxm", WL, **({"max_gpus": 8} | kwargs))
    assert "\n" not in str(err.value)


def test_reader_table_headings_and_units(result):
    # TPOT is shown in ms: a point at tpot_s = 0.0123 reads 12.3; columns outside READER_COLUMNS are left out
    rows = result.best(2)
    shown = sla.reader_table(rows)
    assert list(shown.columns) == ["serving", "deployment (prefill / decode)", "GPUs", "in flight", "TTFT (s)",
                                   "TPOT (ms)", "output tok/s/GPU", "tok/s/user"]
    assert shown["TPOT (ms)"].tolist() == pytest.approx((rows["tpot_s"] * 1e3).tolist())
    gaps = sla.reader_table(result.gaps([dict(rows.iloc[0], label="doc")]))
    assert gaps.columns[0] == "document" and gaps["gain (x)"].iloc[0] == 1.0


def test_worker_ratios_are_coprime_pairs_by_hand():
    # up to 2 workers a pool: 1:1, 1:2, 2:1 (2:2 is 1:1 at twice the concurrency); up to 3: those and 1:3, 2:3,
    # 3:1, 3:2 (7 pairs); up to n: 2 (phi(1) + ... + phi(n)) - 1 coprime pairs, for n = 8:
    # 2 (1 + 1 + 2 + 2 + 4 + 2 + 6 + 4) - 1 = 43 of the 64
    assert sorted(map(tuple, sla.worker_ratios(2))) == [(1, 1), (1, 2), (2, 1)]
    assert sorted(map(tuple, sla.worker_ratios(3))) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    assert len(sla.worker_ratios()) == 43


def test_disaggregated_deployments_fit_the_budget_with_bounded_pools(result):
    d = result.points[result.points["serving"] == "disagg"]
    assert (d["gpus_total"] <= 8).all() and d["prefill_workers"].between(1, 8).all()
    assert d["decode_workers"].between(1, 8).all()
    assert (np.gcd(d["prefill_workers"].astype(int), d["decode_workers"].astype(int)) == 1).all()


def test_a_space_past_the_point_limit_is_refused_before_it_is_built():
    with pytest.raises(cm.CostModelError, match=r"^max_gpus: 512 GPUs give .* disaggregated deployments"):
        sla.serving_search("qwen3-235b-a22b", "h200-sxm", cm.Workload(1, 2000, 500, "fp8", "fp8"), 512)


def test_default_concurrency_reaches_128_requests_per_gpu_of_the_budget():
    # 8 GPUs: max(1024, 128 x 8 = 1024) = 2^10, so 1, 2, ..., 1024 (11 levels); 64 GPUs: 128 x 64 = 8192 = 2^13
    # (14 levels); 1 GPU: at least 1024; 24 GPUs: 128 x 24 = 3072, rounded up to 4096 = 2^12 (13 levels)
    assert sla.default_concurrency(8) == tuple(2**i for i in range(11))
    assert sla.default_concurrency(64)[-1] == 8192 and len(sla.default_concurrency(64)) == 14
    assert sla.default_concurrency(1)[-1] == 1024
    assert sla.default_concurrency(24)[-1] == 4096
    with pytest.raises(cm.CostModelError, match="^max_gpus"):
        sla.default_concurrency(0)


def test_serving_chart_labels_neighbouring_documents_above_and_below(result):
    # three placed deployments sorted by output tokens/s per GPU: the 1st and 3rd labelled below (dy 14), the 2nd
    # above (dy -8), so two crosses close together print their labels apart, not over each other
    from costmodel.charts.search import serving_frontier_chart

    ranked = result.feasible.sort_values("output_tokens_per_s_per_gpu")
    rows = ranked.iloc[[0, len(ranked) // 2, -1]]  # three clearly different throughputs
    placed = [dict(row, label=f"d{i}") for i, (_, row) in enumerate(rows.iterrows())]
    spec = serving_frontier_chart(result, placed).to_dict()
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    by_dy = {layer["mark"]["dy"]: sorted(r["label"] for r in spec["datasets"][layer["data"]["name"]]) for layer in texts}
    assert by_dy == {14: ["d0", "d2"], -8: ["d1"]}
