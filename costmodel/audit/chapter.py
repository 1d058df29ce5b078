"""Numbers for an audit chapter's charts and its corrected strategy.

The ledger's optional ``charts`` block names the claims behind the memory chart and the scaling charts;
``corrected`` names the scenarios whose plan the search replaces. Everything here returns DataFrames in
display units (GB, s, ms, tokens/s) with full precision; :mod:`costmodel.charts.audit` draws them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from ..display import ReaderTable
from ..search import plan_of
from .concepts import SEARCH_MAX_GPUS, requirement_misses, scenario_search
from .ledger import MEMORY_PARTS, load_ledger
from .scenario import scenario_estimate

WHOLE_SYSTEM_QUANTITIES = ("weight_bytes_total", "kv_bytes_total", "throughput_total", "memory_bytes_all_gpus",
                           "memory_capacity_bytes_total", "effective_flops_per_s_total", "peak_flops_per_s_total")
"""Quantities that count all GPUs (or the whole model): a chart of per-GPU values divides them by the GPUs."""
MEMORY_METRICS = ("weight_bytes_per_gpu", "kv_bytes_per_gpu", "activation_bytes_per_gpu", "reserved_bytes_per_gpu")
"""The Estimate metric of each of :data:`MEMORY_PARTS`, in order."""


def claim_value_per_gpu(ledger: dict, c: dict, end: str = "hi") -> tuple[float, str]:
    """A claim's value in SI for a per-GPU chart (the upper end of a range by default, the finite end of a
    bound) and a note: whole-system quantities are divided by the GPUs of the claim's scenario."""
    first, second = (c["hi"], c["lo"]) if end == "hi" else (c["lo"], c["hi"])
    value = first if math.isfinite(first) else second
    if c["quantity"] in WHOLE_SYSTEM_QUANTITIES:
        gpus = ledger["scenarios"][c["scenario"]].plan.gpus
        return value / gpus, f" (whole system / {gpus} GPUs)"
    return value, ""


def memory_breakdown(ref) -> pd.DataFrame:
    """Memory per GPU by part (GB), as the document claims it and as recomputed for each chart scenario.

    The ledger's ``charts.memory`` maps each part to the claim that states it (a range counts at its
    upper end); ``charts.memory_scenarios`` lists the scenarios to recompute.
    """
    ledger = load_ledger(ref)
    spec = ledger.get("charts") or {}
    claims = {c["id"]: c for c in ledger["claims"]}
    rows = []
    for part, cid in (spec.get("memory") or {}).items():
        value, note = claim_value_per_gpu(ledger, claims[cid])
        rows.append({"source": "document", "part": part, "GB": value / 1e9, "claim": cid + note})
    for name in spec.get("memory_scenarios") or []:
        x = scenario_estimate(ledger["scenarios"][name]).metrics
        for part, key in zip(MEMORY_PARTS, MEMORY_METRICS):
            rows.append({"source": f"cost model: {name}", "part": part, "GB": x[key] / 1e9, "claim": ""})
    return pd.DataFrame(rows, columns=["source", "part", "GB", "claim"])


def scaling_table(ref, scenario: str, dps=(1, 2, 4, 8, 16, 32)) -> pd.DataFrame:
    """The scenario's plan with attention DP scaled: GPUs, TTFT, throughput per GPU (both readings), memory.

    ep stays the plan's unless it no longer divides tp x dp, then it drops to the largest divisor of E
    that does (the plan stays valid under the convention).
    """
    sc = load_ledger(ref)["scenarios"][scenario]
    rows = []
    for dp in dps:
        group = sc.plan.tp * dp
        ep = max(d for d in range(1, sc.plan.ep + 1) if sc.model.num_experts % d == 0 and group % (d * sc.plan.etp)
                 == 0) if group % sc.plan.etp == 0 else 1
        plan = replace(sc.plan, dp=dp, ep=ep, etp=sc.plan.etp if group % sc.plan.etp == 0 else 1)
        e = scenario_estimate(replace(sc, plan=plan))
        x = e.metrics
        rows.append({"plan": plan.label(), "GPUs": x["gpus_total"], "TTFT (s)": x["ttft_s"],
                     "output tokens/s/GPU": x["output_tokens_per_s_per_gpu"],
                     "input tokens/s/GPU": x["input_tokens_per_s_per_gpu"],
                     "memory/GPU (GB)": x["memory_bytes_per_gpu"] / 1e9, "valid": e.valid})
    return pd.DataFrame(rows)


def interconnect_sensitivity(ref, scenario: str, domain_gpus=(4, 8, 16)) -> ReaderTable:
    """The scenario's plan on scale-up domains (nodes) of other sizes: decode step, TTFT, the share of
    communication in each, and decode output per GPU. The scenario's own domain is marked; the links'
    bandwidths stay the hardware's (only the node size changes)."""
    sc = load_ledger(ref)["scenarios"][scenario]
    rows = []
    for n in sorted({*domain_gpus, sc.hardware.scale_up_gpus}):
        x = scenario_estimate(replace(sc, hardware=sc.hardware.with_interconnect(scale_up_gpus=n))).metrics
        rows.append({"GPUs per node": n, "scenario's node": n == sc.hardware.scale_up_gpus,
                     "plan": sc.plan.label(), "TTFT (s)": x["ttft_s"],
                     "prefill comm (% of TTFT)": 100 * x["prefill_comm_s"] / x["ttft_s"],
                     "decode step (ms)": x["decode_step_s"] * 1e3,
                     "decode comm (% of step)": 100 * x["decode_comm_s"] / x["decode_step_s"],
                     "output tokens/s/GPU": x["output_tokens_per_s_per_gpu"]})
    return ReaderTable(rows)


def _strategy_row(name: str, sc, who: str, plan, x, meets: bool) -> dict:
    return {"scenario": name, "reading": sc.throughput_reading, "who": who, "plan": plan.label(),
            "GPUs": int(x["gpus_total"]), "memory/GPU (GB)": float(x["memory_bytes_per_gpu"]) / 1e9,
            "TTFT (s)": float(x["ttft_s"]), "TPOT (ms)": float(x["decode_step_s"]) * 1e3,
            "output tokens/s/GPU": float(x["output_tokens_per_s_per_gpu"]),
            "input tokens/s/GPU": float(x["input_tokens_per_s_per_gpu"]), "meets all": bool(meets)}


def corrected_strategy(ref, max_gpus: int = SEARCH_MAX_GPUS) -> ReaderTable:
    """For each scenario in the ledger's ``corrected.scenarios``: the document's plan and the best plan found.

    The search (:func:`costmodel.search.search`) covers every power-of-two plan up to ``max_gpus`` GPUs
    under the scenario's workload, TTFT limit and throughput floor (in the scenario's reading). When no
    plan meets the throughput floor, the row shows the plan closest to it that meets everything else and
    says so in ``meets all``.
    """
    ledger = load_ledger(ref)
    spec = ledger.get("corrected") or {}
    max_gpus = int(spec.get("max_gpus", max_gpus))
    rows = []
    for name in spec.get("scenarios") or []:
        sc = ledger["scenarios"][name]
        r = scenario_search(sc, max_gpus)
        best = r.best(1)
        meets = len(best) > 0
        if not meets:
            best = r.relaxed("min_tokens_per_s_per_gpu").best(1)
        rows.append(_strategy_row(name, sc, "document", sc.plan, scenario_estimate(sc).metrics,
                                  not requirement_misses(sc)))
        if not best.empty:
            top = best.iloc[0]
            rows.append(_strategy_row(name, sc, "corrected", plan_of(top), top, meets))
    return ReaderTable(rows)
