"""Audit engine pieces: the expression evaluator, dimensions, the quantity vocabulary, the general checks and
the verdict rules. Expected values are derived by hand in the comments."""

from __future__ import annotations

import math

import pytest

import costmodel as cm
from costmodel.audit import concepts, dimensions, expressions, quantities, verdicts
from costmodel.audit.scenario import build_scenario, model_with_params, scenario_estimate
from costmodel.units import CostModelError

QWEN_ONE_GPU = {"model": "qwen3-30b-a3b", "hardware": "seed-gpu", "plan": {"tp": 1, "dp": 1, "pp": 1, "ep": 1},
                "workload": {"batch": 64, "input_len": 2048, "output_len": 16, "weight_dtype": "fp8",
                             "kv_dtype": "fp8"}, "reading": "test"}
SEED = {"model": "seed-moe-10b", "hardware": "seed-gpu", "plan": {"tp": 4, "dp": 4, "pp": 1, "ep": 16},
        "workload": {"batch": 128, "input_len": 10240, "output_len": 1, "weight_dtype": "fp16", "kv_dtype": "fp16"},
        "requirements": {"ttft_s": 10}, "reading": "test"}


@pytest.fixture(scope="module")
def seed():
    return build_scenario("seed", SEED)


# --- expressions -------------------------------------------------------------------------------------------
def test_numbers_only_arithmetic():
    # 16 x 16 x 32 x 2 x 10240 x 2 = 335,544,320 (document 000's KV line)
    assert expressions.own_arithmetic("16 * 16 * 32 * 2 * 10240 * 2") == 335544320.0
    assert expressions.own_arithmetic("max(1, 2) + 2**3 - 7 // 2 + 7 % 4") == 2 + 8 - 3 + 3
    assert expressions.evaluate("ceil(94 / 4) if 3 > 2 else 0") == 24.0


def test_names_resolve_through_the_caller():
    values = {"model.num_layers": 94.0, "plan.pp": 4.0, "ttft_s": 2.0}
    assert expressions.evaluate("model.num_layers / plan.pp", values.__getitem__) == 23.5
    assert expressions.evaluate("ttft_s <= 10 and not ttft_s > 3", values.__getitem__) is True
    assert expressions.names("max(a.b, c) + a.b * 2") == ["a.b", "c"]
    assert expressions.substitute("a.b / c", {"a.b": "12 GB", "c": "64 GB"}.__getitem__) == "12 GB / 64 GB"


@pytest.mark.parametrize("bad,message", [
    ("__import__('os')", "may hold only"), ("x.y()", "may hold only"), ("a[1]", "may hold only"),
    ("'text'", "may hold only"), ("lambda: 1", "may hold only"), ("1 +", "not an arithmetic expression"),
    ("1 / 0", "divides by zero"), ("x + 1", "only numbers"), ("2 ** 10000", "too large"),
])
def test_bad_expressions_are_one_line_errors(bad, message):
    with pytest.raises(CostModelError, match=message) as err:
        expressions.own_arithmetic(bad)
    assert "\n" not in str(err.value)


# --- dimensions --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,dimension", [
    ("kv_bytes_per_gpu", "bytes"), ("ttft_s", "seconds"), ("hardware.hbm_bandwidth_bytes_per_s", "bytes/s"),
    ("output_tokens_per_s_per_gpu", "tokens/s"), ("model.params_total", "params"), ("prefill_flops", "flop"),
    ("gpus_total", "gpus"), ("efficiency.mfu", "ratio"), ("fits_memory", "bool"), ("model.num_layers", "count"),
])
def test_names_carry_their_dimension(name, dimension):
    assert dimensions.dimension_of_name(name) == dimension


def test_worked_values_read_in_display_units():
    # bytes never print as 85520809984.0: 85,520,809,984 B = 85.52 GB
    assert dimensions.show(85520809984.0, "bytes") == "85.52 GB"
    assert dimensions.show(2.097152e6, "bytes") == "2.097 MB"
    assert dimensions.show(0.1673358, "seconds") == "167.3 ms"
    assert dimensions.show(0.0805, "ratio") == "8.05 %"
    assert dimensions.show(4e14, "flops/s") == "400 TFLOPS"
    assert dimensions.show(16.0, "gpus") == "16"
    assert dimensions.show(True, "bool") == "true"


# --- quantities --------------------------------------------------------------------------------------------
def test_dotted_paths_reach_every_part_of_the_scenario(seed):
    r = quantities.Resolver(seed)
    assert r.value("model.num_layers") == 16 and r.value("plan.ep") == 16 and r.value("workload.batch") == 128
    assert r.value("hardware.memory_bytes") == 64e9 and r.value("efficiency.mfu") == 0.6
    assert r.value("requirements.ttft_s") == 10
    # fp16 peak of the seed GPU is 400 TFLOPS; 2 bytes per fp16 weight
    assert r.value("hardware.peak_flops_per_s") == 400e12 and r.value("workload.weight_dtype_bytes") == 2
    # params.*: one expert is 2 x 512 x 1024 = 1,048,576 weights; 16 layers x 16 experts of them
    assert r.value("params.routed_experts") == 16 * 16 * 1048576
    assert r.value("expert_params") == 1048576
    # a bare name is a metric of the estimate
    assert r.value("ttft_s") == scenario_estimate(seed).metrics["ttft_s"]
    assert r.value("estimate.valid") is True


def test_prefill_paths_sum_the_stage_over_its_rounds():
    # pp 2 with 4 micro-batches: (mb + pp - 1) = 5 rounds of the stage's TP time
    sc = build_scenario("pp", {**SEED, "plan": {"tp": 4, "dp": 4, "pp": 2, "ep": 16, "microbatches": 4}})
    stage = cm.perf.prefill_stage(sc.model, sc.hardware, sc.plan, sc.workload, sc.efficiency, sc.overlap)
    assert quantities.Resolver(sc).value("prefill.tp") == pytest.approx(5 * float(stage["tp"]), rel=1e-12)


def test_derived_quantity_and_its_generated_worked_line(seed):
    # memory / capacity: the worked line repeats the expression with every value in place
    r = quantities.Resolver(seed)
    mem = scenario_estimate(seed).metrics["memory_bytes_per_gpu"]
    assert r.value("memory_fraction_per_gpu") == pytest.approx(mem / 64e9, rel=1e-15)
    worked = r.worked("memory_fraction_per_gpu")
    assert worked.startswith("memory_fraction_per_gpu = memory_bytes_per_gpu / hardware.memory_bytes = ")
    assert f"{dimensions.show(mem, 'bytes')} / 64 GB = " in worked
    # a metric shows the identity that explains it, with the parts
    assert r.worked("gpus_total") == "gpus_total = plan.tp * plan.dp * plan.pp = 4 * 4 * 1 = 16"


def test_every_explanation_reproduces_its_metric(seed):
    # the `explain` identities in quantities.yaml hold (else the worked line falls back to the bare value)
    for sc in (seed, build_scenario("one", QWEN_ONE_GPU)):
        r = quantities.Resolver(sc)
        for name, expr in quantities.explanations().items():
            assert r._explains(name, expr), f"{name} = {expr} does not reproduce the metric"


def test_a_ledger_may_add_its_own_quantities(seed):
    local = quantities.ledger_quantities({"kv_share": {"expr": "kv_bytes_per_gpu / memory_bytes_per_gpu",
                                                       "dimension": "ratio", "description": "KV share"}}, "test")
    r = quantities.Resolver(seed, local)
    x = scenario_estimate(seed).metrics
    assert r.value("kv_share") == pytest.approx(x["kv_bytes_per_gpu"] / x["memory_bytes_per_gpu"])
    with pytest.raises(CostModelError, match="already in the bundled vocabulary"):
        quantities.ledger_quantities({"ttft_margin_s": {"expr": "1", "dimension": "seconds"}}, "test")
    with pytest.raises(CostModelError, match="dimension 'furlongs'"):
        quantities.ledger_quantities({"x": {"expr": "1", "dimension": "furlongs"}}, "test")


@pytest.mark.parametrize("name,message", [
    ("model.nonsense", "no such field"), ("nonsense_metric", "not a metric"), ("model.kv_bytes_per_token.x",
                                                                                 "no such field"),
    ("requirements.throughput_tokens_per_s_per_gpu", "is needed by this quantity"),
])
def test_unknown_quantities_are_one_line_errors(seed, name, message):
    with pytest.raises(CostModelError, match=message) as err:
        quantities.Resolver(seed).value(name)
    assert "\n" not in str(err.value)


def test_a_quantity_defined_through_itself_is_an_error(seed):
    local = quantities.ledger_quantities({"a": {"expr": "b + 1", "dimension": "count"},
                                          "b": {"expr": "a * 2", "dimension": "count"}}, "test")
    with pytest.raises(CostModelError, match="defined through itself"):
        quantities.Resolver(seed, local).value("a")


def test_achieved_mfu_equals_mfu_when_everything_is_compute_bound():
    # One GPU, no parallelism, no communication, big prefill batch: every class is compute-bound, so
    # TTFT = prefill FLOPs / (peak x 0.6) and FLOPs / (TTFT x 1 GPU x peak) = 0.6 exactly.
    value, _ = quantities.resolve("prefill_mfu_achieved", build_scenario("one_gpu", QWEN_ONE_GPU))
    assert value == pytest.approx(0.6, rel=1e-9)


def test_model_with_params_widens_the_experts():
    # f_e = (1e10 - 16,925,184 non-expert) / (16 layers x 16 experts x 2 x 512) = 38,082.4 -> 38082.
    m = model_with_params(cm.load_model("seed-moe-10b"), 1e10)
    assert m.moe_intermediate == 38082
    assert abs(m.params_total - 1e10) <= 16 * 16 * 2 * 512 / 2


def test_model_overrides_change_one_architecture_field():
    # head_dim 64 instead of 128 halves attention: q,o 2*4096*64*64 + 2*64 = 33,554,560, k,v 2*4096*4*64 =
    # 2,097,152, per layer 35,651,712, x 94 = 3,351,260,928 fewer parameters than the config's 235,093,634,560.
    spec = {**QWEN_ONE_GPU, "model": "qwen3-235b-a22b", "model_overrides": {"head_dim": 64}}
    sc = build_scenario("hd64", spec)
    assert sc.model.params_total == 235_093_634_560 - 3_351_260_928
    for bad, message in (({"params_total": 1}, "not an architecture field"), ({"head_dim": 64.5}, "must be a int")):
        with pytest.raises(CostModelError, match=message):
            build_scenario("bad", {**spec, "model_overrides": bad})


# --- general checks ----------------------------------------------------------------------------------------
def test_feasible_check_applies_overrides(seed):
    holds, evidence = concepts.run_check({"feasible": {"plan": {"tp": 1, "dp": 8, "ep": 8}}}, seed)
    assert holds and evidence.startswith("TP1·DP8·EP8 is valid and fits")
    # ep 16 does not divide tp x dp = 4: the rule of the strategy names it
    holds, evidence = concepts.run_check({"feasible": {"plan": {"tp": 1, "dp": 4, "ep": 16}}}, seed)
    assert not holds and "does not divide tp x dp = 4" in evidence
    with pytest.raises(CostModelError, match="override 'plan.colour'"):
        concepts.run_check({"feasible": {"plan.colour": 3}}, seed)


def test_rule_check_names_a_strategy_rule(seed):
    assert concepts.run_check({"rule": "heads_not_divisible_by_tp"}, seed)[0]
    three = concepts.with_overrides(seed, {"plan": {"tp": 3, "dp": 1, "ep": 1}})
    holds, evidence = concepts.run_check({"rule": "heads_not_divisible_by_tp"}, three)
    assert not holds and "16 attention heads are not divisible by tp=3" in evidence
    with pytest.raises(CostModelError, match="rule 'nonsense'"):
        concepts.run_check({"rule": "nonsense"}, seed)


def test_effect_check_on_feasible_plans(seed):
    # TP communication exists only when tp > 1: as tp goes 1 -> 4 (ep 4 so both plans are valid) it rises
    check = {"effect": {"vary": "plan.tp", "values": [1, 4], "at": {"plan.ep": 4}, "metric": "prefill.tp",
                        "direction": "none"}}
    holds, evidence = concepts.run_check(check, seed)
    assert not holds and "plan.tp = 1 (TP1·DP4·EP4): 0 µs" in evidence
    check["effect"]["direction"] = "up"
    assert concepts.run_check(check, seed)[0]


def test_effect_counterexample_is_always_a_feasible_plan():
    # Qwen3-235B (235 GB in FP8) on one GPU cannot hold its weights: that setting is left out, so the
    # comparison uses only plans that fit; with a single feasible setting there is no comparison at all.
    sc = build_scenario("qwen", {**QWEN_ONE_GPU, "model": "qwen3-235b-a22b",
                                 "plan": {"tp": 1, "dp": 16, "pp": 1, "ep": 16},
                                 "workload": {**QWEN_ONE_GPU["workload"], "batch": 128}})
    check = {"effect": {"vary": "plan.dp", "values": [1, 16, 32], "metric": "ttft_s", "direction": "not_down"}}
    holds, evidence = concepts.run_check(check, sc)
    assert not holds and "left out as infeasible: plan.dp = 1" in evidence
    for part in evidence.split("; ")[1:]:
        if part.startswith("plan.dp = ") and "left out" not in part:
            dp = int(part.split(" ")[2])
            assert scenario_estimate(concepts.with_overrides(sc, {"plan.dp": dp})).valid
    with pytest.raises(CostModelError, match="fewer than two feasible settings"):
        concepts.run_check({"effect": {**check["effect"], "values": [1, 16]}}, sc)


def test_condition_and_reference_checks(seed):
    # 16 KV heads over tp 4: one copy of each head
    holds, evidence = concepts.run_check({"condition": "kv_head_copies > 1"}, seed)
    assert not holds and evidence == "kv_head_copies > 1: 1 > 1 is false"
    holds, evidence = concepts.run_check({"reference": "A source says so", "holds": False,
                                          "evidence": ["gpus_total"]}, seed)
    assert not holds and evidence == "A source says so; gpus_total = plan.tp * plan.dp * plan.pp = 4 * 4 * 1 = 16"


@pytest.mark.parametrize("check,message", [
    ({}, "exactly one of"), ({"rule": "x", "best": "gpus"}, "exactly one of"), ({"reference": "x"}, "holds"),
    ({"best": "latency"}, "best 'latency'"), ({"effect": {"vary": "plan.tp"}}, "effect must be"),
    ({"effect": {"vary": "plan.tp", "values": [1, 2], "metric": "ttft_s", "direction": "sideways"}}, "direction"),
    ({"condition": "ttft_s + 1"}, "not a comparison"),
])
def test_bad_checks_are_one_line_errors(seed, check, message):
    with pytest.raises(CostModelError, match=message) as err:
        concepts.run_check(check, seed)
    assert "\n" not in str(err.value)


# --- verdict rules on hand-made claims ---------------------------------------------------------------------
def rule(basis, claimed, recomputed, tolerance=0.1, own=None, unit="GB"):
    lo, hi = verdicts.claimed_bounds(claimed, unit)
    scale = dimensions.UNITS[unit][1]
    return verdicts.verdict(basis=basis, claimed=claimed, lo=lo, hi=hi, tolerance=tolerance,
                            recomputed=recomputed if recomputed is None or isinstance(recomputed, bool)
                            else recomputed * scale, own=None if own is None else own * scale, unit=unit)


def test_rule_within_tolerance_is_correct():
    # 10.5 GB against a claimed 10 GB with 10 % tolerance: 10.5 <= 11.
    assert rule("estimate", 10, 10.5).verdict == "correct"


def test_rule_own_arithmetic_that_misses_its_result_is_inconsistent():
    # claimed 12.1 GB, own arithmetic 16 x 12.1 = 193.6 GB, model 5 GB: the document contradicts itself.
    v = rule("derived", 12.1, 5.0, own=193.6)
    assert v.verdict == "inconsistent" and v.factor == pytest.approx(12.1 / 5.0)


def test_rule_input_contradicted_by_other_inputs_is_inconsistent():
    assert rule("input", 10, 0.285, unit="B params").verdict == "inconsistent"


def test_rule_derived_and_off_is_wrong_with_factor():
    # claimed 8 GB, own arithmetic 0.5 x 16 = 8 (reproduces the claim), model 4 GB: wrong, x2.
    v = rule("derived", 8, 4.0, own=8)
    assert (v.verdict, v.factor) == ("wrong", pytest.approx(2.0))


def test_rule_estimate_far_off_is_wrong_and_near_is_unsupported():
    # factor 3 > 2 x 1.1 -> wrong; factor 1.5 < 2.2 -> unsupported (plausible, no derivation).
    assert rule("estimate", 3, 1.0).verdict == "wrong"
    assert rule("estimate", 1.5, 1.0).verdict == "unsupported"
    assert rule("estimate", 1.0, 1.5).verdict == "unsupported"


def test_rule_range_factor_uses_the_nearest_end():
    # claimed 2-3 s, model 0.5 s: nearest end 2 s, factor 2 / 0.5 = 4 -> wrong for an estimate.
    v = rule("estimate", [2, 3], 0.5, unit="s")
    assert (v.verdict, v.factor) == ("wrong", pytest.approx(4.0))
    assert rule("estimate", [2, 3], 2.5, unit="s").verdict == "correct"


def test_rule_bounds():
    # "at least 4000 tokens/ms" against 1.35 tokens/ms: wrong; against 5000: correct.
    assert verdicts.claimed_bounds({"min": 4000}, "tokens/ms") == (4.0e6, math.inf)
    assert rule("estimate", {"min": 4000}, 1.35, unit="tokens/ms").verdict == "wrong"
    assert rule("estimate", {"min": 4000}, 5000, unit="tokens/ms").verdict == "correct"
    assert rule("estimate", {"max": 5}, 4, unit="%").verdict == "correct"


def test_rule_unmodelled_is_unsupported():
    assert rule("estimate", 0.5, None).verdict == "unsupported"


def test_rule_statements():
    # a false conceptual statement is invalid; a failed rule check is wrong; a true statement is correct.
    assert rule("concept", True, False, unit="bool").verdict == "invalid"
    assert rule("rule", True, False, unit="bool").verdict == "wrong"
    assert rule("concept", False, False, unit="bool").verdict == "correct"


def test_rule_boolean_claims():
    # "meets the target ✓" when the model says it does not: wrong (derived); an input: inconsistent.
    assert rule("derived", True, False, unit="bool").verdict == "wrong"
    assert rule("input", True, False, unit="bool").verdict == "inconsistent"
    assert rule("derived", True, True, unit="bool").verdict == "correct"


def test_claimed_bounds_reject_bad_input():
    with pytest.raises(CostModelError, match="unit"):
        verdicts.claimed_bounds(1, "furlongs")
    with pytest.raises(CostModelError, match="lo > hi"):
        verdicts.claimed_bounds([3, 2], "s")
    with pytest.raises(CostModelError, match="true or false"):
        verdicts.claimed_bounds(1, "bool")


# --- structure ---------------------------------------------------------------------------------------------
AUDIT_ORDER = ("expressions", "dimensions", "scenario", "quantities", "figures", "concepts", "verdicts", "ledger",
               "rows", "extract", "settings", "docmath", "mapping", "docconfig", "draft", "draftledger", "pins", "cards",
               "chapter", "narrative", "requirements")
"""The audit package's modules in import order: each imports only modules before it."""


def _imports(path):
    import ast

    tree = ast.parse(path.read_text())
    top = {n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    nested = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and n not in top]
    local = set()
    for n in top:
        if isinstance(n, ast.ImportFrom) and n.level == 1:
            local |= {n.module} if n.module else {a.name for a in n.names}
    return local, nested


def test_audit_modules_import_one_way_and_stay_small():
    from pathlib import Path

    folder = Path(concepts.__file__).parent
    assert {p.stem for p in folder.glob("*.py")} - {"__init__"} == set(AUDIT_ORDER)
    for i, name in enumerate(AUDIT_ORDER):
        path = folder / f"{name}.py"
        local, nested = _imports(path)
        assert not nested, f"{name}.py imports inside a function"
        later = local - set(AUDIT_ORDER[:i])
        assert not later, f"{name}.py imports {sorted(later)}, which come after it"
        assert len(path.read_text().splitlines()) <= 400, f"{name}.py is over 400 lines"
