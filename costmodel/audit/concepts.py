"""General checks of the statements a document makes about parallelism and its plan.

A concept claim carries a ``check`` (data in the ledger); the check says whether the statement holds,
with evidence in numbers. Six kinds, none tied to a document:

- ``feasible: {overrides}``: the scenario, with the overrides applied (``plan: {tp: 1, dp: 8, ep: 8}``,
  ``workload.batch: 256``, ...), is valid and fits in memory (every error rule of the strategy passes);
- ``rule: NAME``: the scenario's plan keeps the strategy rule NAME (see :data:`costmodel.strategy.RULES`);
- ``best: throughput | gpus``: no plan found by the search does better for the requirements (throughput
  per GPU within :data:`OPTIMAL_WITHIN` of the best; or no plan meets them on fewer GPUs);
- ``effect: {vary, values, metric, direction, at}``: as the dotted field ``vary`` takes ``values`` (with the
  overrides ``at``; ``vary: plan`` takes whole plans), ``metric`` moves in ``direction`` (``up``, ``down``,
  ``none``, ``not_up``, ``not_down``).
  Only feasible variants count, so a counterexample is always a plan that could run;
- ``condition: EXPR``: a comparison over quantities (``kv_head_copies > 1``);
- ``reference: TEXT, holds: BOOL, evidence: [quantities]``: a stated reference decides it; the evidence
  quantities are shown with their values.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..search import plan_of, search
from ..strategy import RULES, Plan, errors
from ..units import CostModelError
from . import expressions
from .quantities import Resolver
from .scenario import PLAN_KEYS, Scenario, scenario_estimate

CHECKS = ("feasible", "rule", "best", "effect", "condition", "reference")
DIRECTIONS = ("up", "down", "none", "not_up", "not_down")
OVERRIDE_ROOTS = ("plan", "workload", "efficiency")
OPTIMAL_WITHIN = 0.9
"""A plan counts as optimal when it meets the requirements and reaches 90 % of the best plan's throughput/GPU."""
SEARCH_MAX_GPUS = 256
SAME = 1e-9
"""Relative change below which a metric counts as unchanged (``none``)."""


def with_overrides(sc: Scenario, overrides: dict | None, where: str = "check") -> Scenario:
    """The scenario with ``plan`` (a mapping; etp the engines' default tp x dp / ep unless given) and
    dotted ``plan.X`` / ``workload.X`` / ``efficiency.X`` fields replaced; one-line errors naming the field."""
    if not overrides:
        return sc
    parts = {"plan": sc.plan, "workload": sc.workload, "efficiency": sc.efficiency}
    try:
        for key, value in overrides.items():
            root, _, field = str(key).partition(".")
            if root not in OVERRIDE_ROOTS or (not field and root != "plan"):
                raise CostModelError(f"override {key!r} must be plan or a field of {', '.join(OVERRIDE_ROOTS)}")
            if not field:
                if not isinstance(value, dict) or set(value) - set(PLAN_KEYS):
                    raise CostModelError(f"plan must be a mapping with keys among {', '.join(PLAN_KEYS)}")
                parts["plan"] = Plan(**value)
            elif not hasattr(parts[root], field):
                raise CostModelError(f"override {key!r}: {root} has no field {field!r}")
            else:
                parts[root] = replace(parts[root], **{field: value}, **({"name": "custom"} if root == "efficiency"
                                                                       else {}))
    except (TypeError, CostModelError) as exc:
        raise CostModelError(f"{where}: {exc}") from None
    label = ", ".join(f"{k}={v}" for k, v in overrides.items())
    return replace(sc, name=f"{sc.name}[{label}]", **parts)


def _feasibility(sc: Scenario) -> tuple[bool, str]:
    e = scenario_estimate(sc)
    bad = errors(e.violations)
    need = e.metrics["memory_bytes_per_gpu"] / 1e9
    if bad:
        return False, f"{sc.plan.label()} breaks " + "; ".join(v.message for v in bad)
    return True, f"{sc.plan.label()} is valid and fits ({need:.3g} of {sc.hardware.memory_bytes / 1e9:.3g} GB per GPU)"


def check_feasible(sc: Scenario, spec, extra) -> tuple[bool, str]:
    return _feasibility(with_overrides(sc, spec or {}))


def check_rule(sc: Scenario, name, extra) -> tuple[bool, str]:
    if name not in RULES:
        raise CostModelError(f"rule {name!r} is not one of {', '.join(RULES)}")
    broken = [v for v in scenario_estimate(sc).violations if v.name == name]
    if broken:
        return False, f"{sc.plan.label()} breaks {name}: {broken[0].message}"
    return True, f"{sc.plan.label()} keeps the rule ({name} is not broken)"


def requirement_misses(sc: Scenario) -> list[str]:
    r = Resolver(sc)
    misses = [v.name for v in errors(scenario_estimate(sc).violations)]
    if "ttft_s" in sc.requirements and not r.value("meets_ttft"):
        misses.append("TTFT limit")
    if "throughput_tokens_per_s_per_gpu" in sc.requirements and not r.value("meets_throughput"):
        misses.append(f"throughput floor ({sc.throughput_reading} reading)")
    return misses


_SEARCHES: dict = {}


def scenario_search(sc: Scenario, max_gpus: int = SEARCH_MAX_GPUS):
    """:func:`costmodel.search.search` under the scenario's workload, requirements and reading (cached)."""
    key = repr((sc.model, sc.hardware, sc.workload, sc.efficiency, sc.overlap, sorted(sc.requirements.items()),
                sc.throughput_reading, max_gpus))
    if key not in _SEARCHES:
        _SEARCHES[key] = search(sc.model, sc.hardware, sc.workload, max_gpus,
                                ttft_max_s=sc.requirements.get("ttft_s"),
                                min_tokens_per_s_per_gpu=sc.requirements.get("throughput_tokens_per_s_per_gpu"),
                                throughput_metric=sc.throughput_metric, efficiency=sc.efficiency, overlap=sc.overlap)
    return _SEARCHES[key]


def check_best(sc: Scenario, what, extra) -> tuple[bool, str]:
    if what not in ("throughput", "gpus"):
        raise CostModelError(f"best {what!r} is not one of throughput, gpus")
    missed = requirement_misses(sc)
    misses = "; the plan misses: " + ", ".join(missed) if missed else ""
    result = scenario_search(sc)
    if what == "gpus":
        if result.feasible.empty:
            return False, f"no plan up to {SEARCH_MAX_GPUS} GPUs meets every requirement in this reading"
        fewest = int(result.feasible["gpus_total"].min())
        return not missed and sc.plan.gpus <= fewest, (
            f"{sc.plan.label()} uses {sc.plan.gpus} GPUs; the fewest that meet every requirement: {fewest}{misses}")
    best = result.best(1)
    if best.empty:
        best = result.relaxed("min_tokens_per_s_per_gpu").best(1)
    if best.empty:
        return False, f"no plan up to {SEARCH_MAX_GPUS} GPUs meets the TTFT limit"
    top, metric = best.iloc[0], sc.throughput_metric
    mine, theirs = scenario_estimate(sc).metrics[metric], float(top[metric])
    n = int(top["gpus_total"])
    return not missed and mine >= OPTIMAL_WITHIN * theirs, (
        f"{sc.plan.label()}: {mine:,.4g} {sc.throughput_reading} tokens/s/GPU; best found {plan_of(top).label()} on "
        f"{n} GPU{'s' if n > 1 else ''}: {theirs:,.4g}{misses}")


def _moved(before: float, after: float) -> str:
    if math.isclose(before, after, rel_tol=SAME, abs_tol=1e-30):
        return "none"
    return "up" if after > before else "down"


def check_effect(sc: Scenario, spec, extra) -> tuple[bool, str]:
    keys = {"vary", "values", "metric", "direction", "at"}
    if not isinstance(spec, dict) or set(spec) - keys or not {"vary", "values", "metric", "direction"} <= set(spec):
        raise CostModelError("effect must be a mapping with vary, values, metric, direction (and optional at)")
    if spec["direction"] not in DIRECTIONS:
        raise CostModelError(f"effect direction {spec['direction']!r} is not one of {', '.join(DIRECTIONS)}")
    values = spec["values"]
    if not isinstance(values, list) or len(values) < 2:
        raise CostModelError("effect values must be a list of two or more settings")
    base = with_overrides(sc, spec.get("at"), "effect at")
    metric = spec["metric"]
    shown, feasible, skipped = [], [], []
    for v in values:
        variant = with_overrides(base, {spec["vary"]: v}, "effect vary")
        ok, why = _feasibility(variant)
        if not ok:
            skipped.append(f"{spec['vary']} = {v} ({why})")
            continue
        r = Resolver(variant, extra)
        feasible.append((v, float(r.value(metric))))
        setting = variant.plan.label() if spec["vary"] == "plan" else f"{spec['vary']} = {v} ({variant.plan.label()})"
        shown.append(f"{setting}: {r.show(metric)}")
    if len(feasible) < 2:
        raise CostModelError(f"effect on {metric}: fewer than two feasible settings of {spec['vary']}; "
                             f"infeasible: {'; '.join(skipped)}")
    moves = [_moved(a[1], b[1]) for a, b in zip(feasible, feasible[1:])]
    allowed = {"up": {"up"}, "down": {"down"}, "none": {"none"}, "not_up": {"down", "none"},
               "not_down": {"up", "none"}}[spec["direction"]]
    holds = all(m in allowed for m in moves)
    moving = "from plan to plan" if spec["vary"] == "plan" else f"as {spec['vary']} rises"
    evidence = f"{metric} {moving}: " + "; ".join(shown)
    if skipped:
        evidence += f" (left out as infeasible: {'; '.join(skipped)})"
    return holds, evidence


def check_condition(sc: Scenario, expr, extra) -> tuple[bool, str]:
    r = Resolver(sc, extra)
    value = expressions.evaluate(str(expr), r.value, "condition")
    if not isinstance(value, bool):
        raise CostModelError(f"condition {expr!r} is not a comparison")
    return value, f"{expressions.substitute(expr, str)}: {expressions.substitute(expr, r.show)} is {str(value).lower()}"


def check_reference(sc: Scenario, text, extra, holds=None, evidence=()) -> tuple[bool, str]:
    if not isinstance(holds, bool):
        raise CostModelError("a reference check needs holds: true or false")
    r = Resolver(sc, extra)
    lines = [r.worked(q) for q in evidence or ()]
    return holds, " ".join(str(text).split()) + ("" if not lines else "; " + "; ".join(lines))


def run_check(check: dict, sc: Scenario, extra: dict | None = None) -> tuple[bool, str]:
    """(statement holds, evidence with numbers) of a claim's ``check`` under scenario ``sc``."""
    kind = check_kind(check)
    if kind == "reference":
        return check_reference(sc, check["reference"], extra, check.get("holds"), check.get("evidence"))
    fn = {"feasible": check_feasible, "rule": check_rule, "best": check_best, "effect": check_effect,
          "condition": check_condition}[kind]
    holds, evidence = fn(sc, check[kind], extra)
    return bool(holds), evidence


def check_kind(check) -> str:
    """The kind of a check mapping (one of :data:`CHECKS`); a one-line error when it names none or several."""
    if not isinstance(check, dict):
        raise CostModelError(f"check must be a mapping with one of {', '.join(CHECKS)}")
    kinds = [k for k in CHECKS if k in check]
    extra_keys = set(check) - set(CHECKS) - ({"holds", "evidence"} if kinds == ["reference"] else set())
    if len(kinds) != 1 or extra_keys:
        raise CostModelError(f"check must name exactly one of {', '.join(CHECKS)}"
                             + (f" (unknown key(s) {sorted(extra_keys)})" if extra_keys else ""))
    return kinds[0]
