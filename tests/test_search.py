"""Strategy search: agreement with estimate, rule flags, Pareto frontiers, requirement filters, CLI."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel as cm
from costmodel import plansearch as S
from costmodel import search_views as V
from costmodel.cli import main

REL = 1e-9  # same code path as estimate: only float rounding may differ


@pytest.fixture(scope="module")
def qwen():
    """Qwen3-235B on the documents' GPU, B=128, 2048 in / 2048 out, FP8: documents 002 and 004's scenario."""
    wl = cm.Workload(128, 2048, 2048, "fp8", "fp8")
    return S.search(cm.load_model("qwen3-235b-a22b"), cm.load_hardware("seed-gpu"), wl, 512, ttft_max_s=30.0)


@pytest.fixture(scope="module")
def seed10b():
    """The seed "10B" model as stated, B=128, 2048/2048, FP16, up to 64 GPUs, with both requirements."""
    wl = cm.Workload(128, 2048, 2048, "fp16", "fp16")
    return S.search(cm.load_model("seed-moe-10b"), cm.load_hardware("seed-gpu"), wl, 64, ttft_max_s=10.0,
                    min_tokens_per_s_per_gpu=2000.0)


def assert_agrees(result, rows):
    """Every metric and every rule name of each row equals what estimate() gives for that plan alone."""
    assert len(rows) > 0
    for _, row in rows.iterrows():
        e = result.estimate(row)
        for name, value in e.metrics.items():
            assert row[name] == pytest.approx(value, rel=REL, abs=0), (V.plan_label(row), name)
        names = {sev: ",".join(v.name for v in e.violations if v.severity == sev) for sev in ("error", "warning")}
        assert row["errors"] == names["error"], V.plan_label(row)
        assert row["warnings"] == names["warning"], V.plan_label(row)
        assert bool(row["valid"]) == e.valid


@pytest.mark.parametrize("fixture", ["qwen", "seed10b"])
def test_best_and_frontiers_agree_with_estimate(fixture, request):
    r = request.getfixturevalue(fixture)
    assert_agrees(r, r.best(5))
    assert_agrees(r, r.frontier("throughput"))
    assert_agrees(r, r.frontier("ttft"))


@pytest.mark.parametrize("fixture", ["qwen", "seed10b"])
def test_random_sample_agrees_with_estimate(fixture, request):
    r = request.getfixturevalue(fixture)
    assert_agrees(r, r.plans.sample(150, random_state=1))
    # invalid plans too: a sample of those with errors
    assert_agrees(r, r.plans[~r.plans["valid"]].sample(60, random_state=2))


def test_several_batches_agree_with_estimate():
    wl = cm.Workload(64, 1024, 512, "fp8", "fp8")
    r = S.search(cm.load_model("qwen3-30b-a3b"), cm.load_hardware("h100-sxm"), wl, 16, batches=[16, 64, 256])
    assert set(r.plans["batch"]) == {16, 64, 256}
    assert_agrees(r, r.plans.sample(100, random_state=3))


def test_enumeration_count_by_hand():
    # max_gpus 2, B = 2, powers of two: (tp, dp, pp) with product <= 2: (1,1,1) (2,1,1) (1,2,1) (1,1,2).
    # (ep, etp) with ep etp <= tp dp: one pair when tp dp = 1, three ((1,1) (1,2) (2,1)) when tp dp = 2.
    # micro-batches <= ceil(B / dp): {1, 2} for dp = 1, {1} for dp = 2.
    # (1,1,1): 1 x 2 = 2; (2,1,1): 3 x 2 = 6; (1,2,1): 3 x 1 = 3; (1,1,2): 1 x 2 = 2  -> 13 plans.
    plans = S.enumerate_plans(cm.Workload(2, 8, 8), 2)
    assert len(plans["tp"]) == 13
    assert len({tuple(int(plans[k][i]) for k in S.PLAN_COLUMNS) for i in range(13)}) == 13
    gpus = plans["tp"] * plans["dp"] * plans["pp"]
    assert gpus.max() == 2


def test_enumeration_widened_degrees():
    # tp from {3, 6} only: with max_gpus 6 the pairs (tp, dp, pp) are (3,1,1) (3,2,1) (3,1,2) (6,1,1).
    plans = S.enumerate_plans(cm.Workload(1, 8, 8), 6, degrees={"tp": [6, 3], "ep": [1], "etp": [1]})
    assert sorted(zip(plans["tp"].tolist(), plans["dp"].tolist(), plans["pp"].tolist())) == [
        (3, 1, 1), (3, 1, 2), (3, 2, 1), (6, 1, 1)]


def test_powers_of_two():
    assert S.powers_of_two(12) == [1, 2, 4, 8]  # 16 > 12
    assert S.powers_of_two(1) == [1]


def test_invalid_plans_flagged_by_name():
    # seed-moe-10b: 16 heads = 16 KV heads, 16 experts, 16 layers, expert width 1024.
    m, hw = cm.load_model("seed-moe-10b"), cm.load_hardware("seed-gpu")
    wl = cm.Workload(6, 64, 64, "fp16", "fp16")
    r = S.search(m, hw, wl, 128, degrees={"tp": [1, 3, 32], "dp": [1, 4], "pp": [1, 32], "ep": [1, 32],
                                           "etp": [1], "microbatches": [1]})
    p = r.plans.set_index(["tp", "dp", "pp", "ep"])
    # tp 3: 16 heads % 3 != 0, and neither 16 % 3 nor 3 % 16 is 0 for the KV heads
    assert p.loc[(3, 1, 1, 1), "errors"] == "heads_not_divisible_by_tp,kv_heads_not_divisible_by_tp"
    # tp 32 > 16 heads: heads not divisible; KV heads replicated (32 % 16 == 0) is only a warning;
    # ep 32: 16 experts % 32 != 0; a 32-GPU tp group spans 4 eight-GPU nodes
    row = p.loc[(32, 1, 1, 32)]
    assert row["errors"] == "heads_not_divisible_by_tp,experts_not_divisible_by_ep"
    assert row["warnings"] == "kv_heads_replicated,tp_spans_domains"
    # dp 4: batch 6 % 4 != 0; 6 // 4 = 1 sequence per replica, which one micro-batch still divides
    assert p.loc[(1, 4, 1, 1), "errors"] == "batch_not_divisible_by_dp"
    # pp 32 > 16 layers (and 16 % 32 != 0: uneven stages; mb 1 < pp: bubble)
    assert p.loc[(1, 1, 32, 1), "errors"] == "pp_exceeds_layers"
    assert p.loc[(1, 1, 32, 1), "warnings"] == "uneven_pp_stages,pipeline_bubble"
    assert p.loc[(1, 1, 1, 1), "errors"] == "" and bool(p.loc[(1, 1, 1, 1), "valid"])
    assert not r.plans.loc[r.plans["errors"] != "", "valid"].any()


def test_memory_rule_flags_too_small_plans(qwen):
    # Qwen3-235B in FP8 holds 235 GB of weights: on one or two 64 GB GPUs it cannot fit.
    small = qwen.plans[qwen.plans["gpus_total"] <= 2]
    assert len(small) > 0
    assert small["errors"].str.contains("memory_exceeds_capacity").all()
    assert not small["valid"].any() and not small["fits_memory"].any()


def test_constraints_filter(seed10b):
    p = seed10b.plans
    ok_ttft = p["ttft_s"] <= 10.0
    ok_tput = p["output_tokens_per_s_per_gpu"] >= 2000.0
    assert (p["feasible"] == (p["valid"] & ok_ttft & ok_tput)).all()
    assert (p["unmet"].str.contains("ttft_max_s") == ~ok_ttft).all()
    assert (p["unmet"].str.contains("min_tokens_per_s_per_gpu") == ~ok_tput).all()
    # both sides are non-empty, so the filter is really exercised
    assert p["feasible"].any() and (p["valid"] & ~p["feasible"]).any()


def test_input_throughput_reading_and_user_floor():
    m, hw = cm.load_model("seed-moe-10b"), cm.load_hardware("seed-gpu")
    wl = cm.Workload(128, 2048, 2048, "fp16", "fp16")
    r = S.search(m, hw, wl, 32, min_tokens_per_s_per_gpu=1e5, throughput_metric="input_tokens_per_s_per_gpu",
                 min_tokens_per_s_per_user=100.0)
    f = r.feasible
    assert len(f) > 0
    assert (f["input_tokens_per_s_per_gpu"] >= 1e5).all() and (f["tokens_per_s_per_user"] >= 100.0).all()
    best = r.best(1).iloc[0]
    assert best["input_tokens_per_s_per_gpu"] == f["input_tokens_per_s_per_gpu"].max()


def test_impossible_limit_leaves_nothing(qwen):
    # the lowest TTFT in the space is positive: a limit below it admits no plan
    floor = qwen.plans.loc[qwen.plans["valid"], "ttft_s"].min()
    r = S.search(qwen.model, qwen.hardware, qwen.workload, 512, ttft_max_s=floor * 0.5)
    assert r.feasible.empty and r.best().empty and r.frontier().empty


def test_best_is_the_highest_throughput(qwen):
    best = qwen.best(3)
    assert best.iloc[0]["output_tokens_per_s_per_gpu"] == qwen.feasible["output_tokens_per_s_per_gpu"].max()
    assert best["output_tokens_per_s_per_gpu"].is_monotonic_decreasing
    assert (best["ttft_s"] <= 30.0).all() and best["valid"].all()


def test_pareto_by_hand():
    # maximise both: (3,1) (2,2) (1,3) trade off; (1,1) is beaten by (2,2); (2,2) repeated keeps the first.
    x = [3, 2, 1, 1, 2]
    y = [1, 2, 3, 1, 2]
    assert S.pareto_mask(x, y).tolist() == [True, True, True, False, False]
    # minimise both (GPUs, TTFT): 8 GPUs at 5 s, 16 at 3 s, 16 at 4 s (beaten), 32 at 3 s (beaten)
    assert S.pareto_mask([8, 16, 16, 32], [5, 3, 4, 3], (False, False)).tolist() == [True, True, False, False]


def dominates(a, b):
    return a[0] >= b[0] and a[1] >= b[1] and (a[0] > b[0] or a[1] > b[1])


points = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=25)


@settings(max_examples=200, deadline=None)
@given(points)
def test_pareto_front_is_non_dominated_and_covers(pts):
    mask = S.pareto_mask([p[0] for p in pts], [p[1] for p in pts])
    front = [p for p, keep in zip(pts, mask) if keep]
    for f in front:  # nothing beats a frontier point
        assert not any(dominates(q, f) for q in pts)
    for p in pts:  # every point is on the frontier or beaten by / equal to a frontier point
        assert any(dominates(f, p) or f == p for f in front)
    assert len(set(front)) == len(front)  # duplicates kept once


@settings(max_examples=100, deadline=None)
@given(points)
def test_pareto_minimise_is_the_mirror(pts):
    x = np.array([p[0] for p in pts], dtype=float)
    y = np.array([p[1] for p in pts], dtype=float)
    assert (S.pareto_mask(x, y, (False, False)) == S.pareto_mask(-x, -y, (True, True))).all()


def test_frontiers_of_a_search_are_non_dominated(qwen):
    f = qwen.frontier("throughput")
    a = qwen.feasible[["output_tokens_per_s_per_gpu", "tokens_per_s_per_user"]].to_numpy()
    for x, y in f[["output_tokens_per_s_per_gpu", "tokens_per_s_per_user"]].to_numpy():
        assert not ((a[:, 0] >= x) & (a[:, 1] >= y) & ((a[:, 0] > x) | (a[:, 1] > y))).any()
    g = qwen.frontier("ttft")
    assert g["gpus_total"].is_monotonic_increasing and g["ttft_s"].is_monotonic_decreasing
    assert g["gpus_total"].is_unique


@pytest.mark.parametrize("kwargs, field", [
    (dict(throughput_metric="tokens"), "throughput_metric"),
    (dict(ttft_max_s=-1.0), "ttft_max_s"),
    (dict(degrees={"cp": [1]}), "degrees"),
    (dict(degrees={"tp": [0]}), "degrees['tp']"),
    (dict(max_gpus=0), "max_gpus"),
])
def test_bad_input_is_one_line_error(kwargs, field):
    args = dict(max_gpus=8) | kwargs
    with pytest.raises(cm.CostModelError, match=f"^{__import__('re').escape(field)}") as info:
        S.search(cm.load_model("seed-moe-10b"), cm.load_hardware("seed-gpu"), cm.Workload(8, 8, 8), **args)
    assert "\n" not in str(info.value)


def test_cli_json(capsys):
    code = main(["search", "--model", "qwen3-235b-a22b", "--hardware", "seed-gpu", "--batch", "128",
                 "--input-len", "2048", "--output-len", "2048", "--weight-dtype", "fp8", "--kv-dtype", "fp8",
                 "--max-gpus", "64", "--ttft-max", "30", "--top", "3", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plans_evaluated"] > 0 and len(out["best"]) == 3
    one = cm.estimate(cm.load_model("qwen3-235b-a22b"), cm.load_hardware("seed-gpu"), cm.Plan(1, 1, 1, 1),
                      cm.Workload(128, 2048, 2048, "fp8", "fp8"))
    assert set(out["best"][0]) == set(json.loads(json.dumps(one.as_dict())))
    assert all(p["ttft_s"] <= 30 and p["gpus_total"] <= 64 for p in out["best"])
    assert set(out["frontier"]) == {"throughput_vs_user", "gpus_vs_ttft"}


def test_cli_table_and_bad_input(capsys):
    code = main(["search", "--model", "seed-moe-10b", "--hardware", "seed-gpu", "--batch", "128",
                 "--input-len", "2048", "--output-len", "2048", "--max-gpus", "16", "--top", "2"])
    text = capsys.readouterr().out
    assert code == 0 and "TTFT (s)" in text and "output tok/s/GPU" in text and "frontier" in text
    with pytest.raises(SystemExit) as info:
        main(["search", "--model", "seed-moe-10b", "--hardware", "seed-gpu", "--batch", "0",
              "--input-len", "8", "--output-len", "8"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--batch" in err


def test_relaxed_and_corrected():
    # a floor of 1e9 output tokens/s/GPU is out of reach: corrected() drops it and returns the best
    # plan that meets the TTFT limit alone
    m, hw = cm.load_model("seed-moe-10b"), cm.load_hardware("seed-gpu")
    wl = cm.Workload(128, 2048, 2048, "fp16", "fp16")
    r = S.search(m, hw, wl, 16, ttft_max_s=10.0, min_tokens_per_s_per_gpu=1e9)
    assert r.feasible.empty
    relaxed = r.relaxed("min_tokens_per_s_per_gpu")
    p = relaxed.plans
    assert (p["feasible"] == (p["valid"] & (p["ttft_s"] <= 10.0))).all()
    assert not p["unmet"].str.contains("min_tokens").any()
    best, dropped = r.corrected()
    assert dropped == ["min_tokens_per_s_per_gpu"]
    assert best["output_tokens_per_s_per_gpu"] == relaxed.feasible["output_tokens_per_s_per_gpu"].max()
    ok = S.search(m, hw, wl, 16, ttft_max_s=10.0)
    assert ok.corrected()[1] == [] and ok.corrected()[0].name == ok.best(1).index[0]


def test_fastest(qwen):
    f = qwen.feasible
    assert qwen.fastest("user").iloc[0]["tokens_per_s_per_user"] == f["tokens_per_s_per_user"].max()
    assert qwen.fastest("ttft").iloc[0]["ttft_s"] == f["ttft_s"].min()


def test_change_path_reaches_the_end_and_agrees_with_estimate():
    m, hw = cm.load_model("qwen3-235b-a22b"), cm.load_hardware("seed-gpu")
    wl = cm.Workload(128, 2048, 2048, "fp8", "fp8")
    start, end = cm.Plan(1, 32, 1, 32), cm.Plan(4, 2, 1, 4, 2)
    path = V.change_path(m, hw, wl, start, end)
    assert path["plan"].iloc[0] == start.label() and path["plan"].iloc[-1] == end.label()
    e = cm.estimate(m, hw, end, wl)
    assert path["TTFT (s)"].iloc[-1] == pytest.approx(e.ttft_s, rel=REL)
    assert path["output tok/s/GPU"].iloc[-1] == pytest.approx(e.output_tokens_per_s_per_gpu, rel=REL)
    # each step is one move of MOVES: its fields take their final values and never change again
    changed = [tuple(part.split()[0] for part in c.split(", ")) for c in path["change"].iloc[1:]]
    assert all(fields in V.MOVES for fields in changed)
    flat = [f for fields in changed for f in fields]
    assert sorted(flat) == sorted(f for f in S.DEGREE_FIELDS if getattr(start, f) != getattr(end, f))
    assert V.change_path(m, hw, wl, end, end)["step"].tolist() == [0]


def test_sensitivity_markdown_by_hand():
    # MFU 0.2, 0.6, 1.0 with best plans A, A, B at 10, 20, 40 tokens/s/GPU: A over 0.2 to 0.6, B at 1,
    # 10 to 40 (x4); HBM 0.5 has no feasible plan, C at 1.0 gives 50: one value, so 50 to 50 (x1)
    t = pd.DataFrame({"parameter": ["mfu"] * 3 + ["bw_util"] * 2, "heading": ["MFU"] * 3 + ["HBM"] * 2,
                      "display_value": [0.2, 0.6, 1.0, 0.5, 1.0], "plan": ["A", "A", "B", "none", "C"],
                      "output_tokens_per_s_per_gpu": [10.0, 20.0, 40.0, np.nan, 50.0]})
    assert V.sensitivity_markdown(t).splitlines() == [
        "- **MFU**: A at 0.2 to 0.6; B at 1; output tokens/s per GPU 10 to 40 (x4).",
        "- **HBM**: no feasible plan at 0.5; C at 1; output tokens/s per GPU 50 to 50 (x1)."]
    t["plan"] = "A"
    assert V.sensitivity_markdown(t.iloc[:3]).startswith("- **MFU**: A over the whole range (0.2 to 1)")
    with pytest.raises(cm.CostModelError, match="metric"):
        V.sensitivity_markdown(t, "speed")


def test_sensitivity_rows_match_searches():
    m, hw = cm.load_model("qwen3-235b-a22b"), cm.load_hardware("seed-gpu")
    wl = cm.Workload(128, 2048, 2048, "fp8", "fp8")
    table = V.sensitivity(m, hw, wl, 64, "mfu", [0.3, 0.6], ttft_max_s=30.0)
    assert table["value"].tolist() == [0.3, 0.6]
    for _, row in table.iterrows():
        best = S.search(m, hw, wl, 64, ttft_max_s=30.0, mfu=row["value"]).best(1).iloc[0]
        assert row["plan"] == V.plan_label(best)
    # the hardware's own inter-node bandwidth (50 GB/s) gives the plain search's best plan
    same = V.sensitivity(m, hw, wl, 64, "scale_out_bandwidth", [50e9], ttft_max_s=30.0)
    assert same["plan"].iloc[0] == V.plan_label(S.search(m, hw, wl, 64, ttft_max_s=30.0).best(1).iloc[0])
    assert same["display_value"].iloc[0] == pytest.approx(50.0)  # shown in GB/s
    none = V.sensitivity(m, hw, wl, 64, "bw_util", [0.8], ttft_max_s=1e-6)
    assert none["plan"].tolist() == ["none"]
    with pytest.raises(cm.CostModelError, match="^parameter"):
        V.sensitivity(m, hw, wl, 64, "clock", [1.0])


def test_unmet_requirements_and_summary_row():
    # Qwen3-235B on 8 GPUs (TP1 DP8 EP8) takes about 7 s to prefill 128 x 2048 tokens: a 1 s limit fails
    m, hw = cm.load_model("qwen3-235b-a22b"), cm.load_hardware("seed-gpu")
    e = cm.estimate(m, hw, cm.Plan(1, 8, 1, 8), cm.Workload(128, 2048, 2048, "fp8", "fp8"))
    assert e.ttft_s > 1.0
    assert V.unmet_requirements(e, {"ttft_max_s": 1.0}) == ["ttft_max_s"]
    assert V.unmet_requirements(e, {"ttft_max_s": 1e3}) == []
    row = V.summary_row(e, {"ttft_max_s": 1.0, "min_tokens_per_s_per_gpu": 1e9}, document="x")
    assert row["document"] == "x" and row["GPUs"] == 8
    assert row["problems"] == "ttft_max_s, min_tokens_per_s_per_gpu"
    assert row["memory/GPU (GB)"] == pytest.approx(e.memory_bytes_per_gpu / 1e9)
    met = V.summary_row(e, {"ttft_max_s": 1e3})  # nothing unmet: an empty cell, shown as the reader's dash
    assert met["problems"] == "" and cm.display.table(pd.DataFrame([met]))["problems"][0] == "—"


def test_requirement_sets_come_from_the_ledgers():
    # the sets are data (costmodel/data/audits/requirement_sets.yaml): each names a ledger scenario for the
    # requirements and the ledger scenarios whose plans it compares
    import yaml

    from costmodel.audit import load_ledger, requirements

    raw = yaml.safe_load((Path(cm.__file__).parent / "data" / "audits" / "requirement_sets.yaml").read_text())
    sets = requirements.requirement_sets()
    assert set(sets) == set(raw)
    for name, rs in sets.items():
        doc, scen = raw[name]["from"].split("/")
        sc = load_ledger(doc)["scenarios"][scen]
        assert rs.scenario.workload == sc.workload and rs.scenario.model == sc.model
        kw = rs.search_kwargs()
        assert kw["ttft_max_s"] == sc.requirements.get("ttft_s")
        assert kw["throughput_metric"].startswith(sc.throughput_reading)
        for label, ref in raw[name]["documents"].items():
            d, s = ref.split("/")
            assert rs.documents[label] == load_ledger(d)["scenarios"][s].plan
    rs = sets["qwen-b128"]
    table = requirements.comparison(rs, rs.search(64))
    assert table["role"].tolist() == ["document", "corrected"] * len(rs.documents)
    assert V.why_markdown(table).count("- **") == len(rs.documents)
    with pytest.raises(cm.CostModelError, match="^requirement set: 'nope'"):
        requirements.requirement_sets(["nope"])


def test_search_does_not_import_the_audit():
    # one-way imports: search comes before audit
    source = (Path(cm.__file__).parent / "search.py").read_text()
    assert "audit" not in "".join(line for line in source.splitlines() if "import" in line)


def test_frontier_gap(qwen):
    # a frontier plan has gain 1; document 002's TP1 DP32 EP32 (68 output tok/s/GPU at 17 tok/s/user) is
    # beaten by the best plan (572 at 36 tok/s/user): gain = best's throughput / its own
    on = qwen.frontier("throughput").iloc[2]
    doc = cm.estimate(qwen.model, qwen.hardware, cm.Plan(1, 32, 1, 32), qwen.workload)
    gap = V.frontier_gap(qwen, {"on": qwen.estimate(on), "002": doc})
    assert gap.loc[0, "gain"] == pytest.approx(1.0, rel=REL)
    faster = qwen.feasible[qwen.feasible["tokens_per_s_per_user"] >= doc.tokens_per_s_per_user]
    assert gap.loc[1, "its tok/s/GPU"] == faster["output_tokens_per_s_per_gpu"].max()
    assert gap.loc[1, "gain"] == pytest.approx(faster["output_tokens_per_s_per_gpu"].max()
                                               / doc.output_tokens_per_s_per_gpu)
    assert gap.loc[1, "gain"] > 1


def test_rule_counts(qwen):
    counts = qwen.rule_counts().set_index("rule")["plans"]
    p = qwen.plans
    assert counts["memory_exceeds_capacity"] == p["errors"].str.contains("memory_exceeds_capacity").sum()
    assert counts["tp_spans_domains"] == (p["tp"] > 8).sum()  # 8 GPUs per node on seed-gpu
    assert counts["ttft_max_s"] == (p["valid"] & (p["ttft_s"] > 30.0)).sum()
