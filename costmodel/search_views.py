"""Reading a search: result rows as reader tables, how the best plan moves with one input (sensitivity),
the path from a document's plan to the best one with a sentence per change, plans side by side, and how far
a plan sits below the throughput frontier. Everything here reads :class:`costmodel.search.SearchResult` rows
or goes through :func:`costmodel.estimate`; nothing evaluates a formula of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import display
from .architecture import Model
from .hardware import Hardware
from .perf import Estimate, estimate
from .search import THROUGHPUT_METRICS, SearchResult, best_at_least_as_fast, plan_of, search
from .strategy import Plan, Workload, errors
from .units import GB, check_choice

# --- display ------------------------------------------------------------------------------
DISPLAY_COLUMNS = {
    # column: (heading with unit, scale the SI value is divided by)
    "gpus_total": ("GPUs", 1),
    "memory_bytes_per_gpu": ("memory/GPU (GB)", GB),
    "ttft_s": ("TTFT (s)", 1),
    "decode_step_s": ("TPOT (ms)", 1e-3),
    "output_tokens_per_s_per_gpu": ("output tok/s/GPU", 1),
    "input_tokens_per_s_per_gpu": ("input tok/s/GPU", 1),
    "tokens_per_s_per_user": ("tok/s/user", 1),
}


def plan_label(row) -> str:
    """'TP4·DP2·EP8' (+ PP, ETP, micro-batches when they matter) for a result row."""
    return plan_of(row).label()


def display_table(rows: pd.DataFrame, with_batch: bool = False) -> display.ReaderTable:
    """Result rows for readers: the plan as a label, values in the headings' units (GB, s, ms, tokens/s) at full
    precision, shown with 3 significant digits and ``—`` for empty (:class:`costmodel.display.ReaderTable`)."""
    out = pd.DataFrame({"plan": [plan_label(r) for _, r in rows.iterrows()]}, index=rows.index)
    if with_batch:
        out["batch"] = rows["batch"]
    for col, (heading, scale) in DISPLAY_COLUMNS.items():
        out[heading] = rows[col] / scale if scale != 1 else rows[col]
    out["warnings"] = rows["warnings"]
    return display.ReaderTable(out.reset_index(drop=True))


def format_table(rows: pd.DataFrame, with_batch: bool = False) -> str:
    """:func:`display_table` as aligned plain text (for the CLI)."""
    return display.text_table(display.table(display_table(rows, with_batch)), left=("plan", "warnings"))


# --- sensitivity ------------------------------------------------------------------------------
SENSITIVITY_PARAMETERS = {
    # name: (heading with unit, display scale)
    "mfu": ("MFU (fraction of peak FLOP/s)", 1.0),
    "bw_util": ("HBM bandwidth utilisation (fraction)", 1.0),
    "scale_up_bandwidth": ("scale-up bandwidth (GB/s per GPU per direction)", GB),
    "scale_out_bandwidth": ("scale-out bandwidth (GB/s per GPU per direction)", GB),
}


def sensitivity(model: Model, hardware: Hardware, workload: Workload, max_gpus: int, parameter: str, values,
                objective: str = "throughput", **search_kwargs) -> pd.DataFrame:
    """The best plan as one input moves; one row per value.

    objective: ``throughput`` (:meth:`SearchResult.best`), ``user`` or ``ttft``
    (:meth:`SearchResult.fastest`).

    parameter: ``mfu`` or ``bw_util`` (overriding the efficiency, a fraction) or
    ``scale_up_bandwidth`` / ``scale_out_bandwidth`` (bytes/s, through
    :meth:`Hardware.with_interconnect`). Other keywords go to :func:`search` unchanged.
    Columns: parameter, value (SI), display_value (the heading's unit), plan, the best plan's
    columns; a value where no plan is feasible gives a row with plan ``none``.
    """
    check_choice("parameter", parameter, tuple(SENSITIVITY_PARAMETERS))
    check_choice("objective", objective, ("throughput", "user", "ttft"))
    heading, scale = SENSITIVITY_PARAMETERS[parameter]
    rows = []
    for value in values:
        hw, kwargs = hardware, dict(search_kwargs)
        if parameter in ("mfu", "bw_util"):
            kwargs[parameter] = value
        elif parameter == "scale_up_bandwidth":
            hw = hardware.with_interconnect(scale_up_bytes_per_s=value)
        else:
            hw = hardware.with_interconnect(scale_out_bytes_per_s=value)
        result = search(model, hw, workload, max_gpus, **kwargs)
        best = result.best(1) if objective == "throughput" else result.fastest(objective, 1)
        head = {"parameter": parameter, "heading": heading, "value": float(value),
                "display_value": float(value) / scale}
        if best.empty:
            rows.append(head | {"plan": "none"})
        else:
            row = best.iloc[0]
            rows.append(head | {"plan": plan_label(row)} | row.to_dict())
    return pd.DataFrame(rows)


METRIC_WORDS = {"output_tokens_per_s_per_gpu": "output tokens/s per GPU",
                "input_tokens_per_s_per_gpu": "input tokens/s per GPU",
                "tokens_per_s_per_user": "tokens/s per user", "ttft_s": "TTFT (s)"}


def sensitivity_markdown(table: pd.DataFrame, metric: str = "output_tokens_per_s_per_gpu") -> str:
    """One Markdown line per input of a :func:`sensitivity` table: which plan is best over which values (in the
    heading's unit) and how far ``metric`` moves over the range (lowest to highest, and their ratio)."""
    check_choice("metric", metric, tuple(METRIC_WORDS))
    lines = []
    for _, rows in table.groupby("parameter", sort=False):
        values = [f"{v:.3g}" for v in rows["display_value"]]
        runs = []  # (plan, first value, last value) of consecutive values with the same best plan
        for plan, value in zip(rows["plan"].replace("none", "no feasible plan"), values):
            if runs and runs[-1][0] == plan:
                runs[-1][2] = value
            else:
                runs.append([plan, value, value])
        if len(runs) == 1:
            where = f"{runs[0][0]} over the whole range ({values[0]} to {values[-1]})"
        else:
            where = "; ".join(f"{plan} at {a}" + (f" to {b}" if b != a else "") for plan, a, b in runs)
        found = rows[metric].dropna() if metric in rows else pd.Series(dtype=float)
        spread = (f"; {METRIC_WORDS[metric]} {found.min():.3g} to {found.max():.3g} "
                  f"(x{found.max() / found.min():.3g})") if len(found) and found.min() > 0 else ""
        lines.append(f"- **{rows['heading'].iloc[0]}**: {where}{spread}.")
    return "\n".join(lines)


# --- from a document's plan to the best one -----------------------------------------------------
FIELD_ROLES = {
    "pp": "pipeline stages: TTFT pays (mb + pp - 1) stage times, decode max(mb, pp) rounds",
    "microbatches": "micro-batches: fill the pipeline, but each reads the stage's weights again",
    "tp": "attention tensor parallel: splits attention and dense weights, costs two all-reduces per layer",
    "dp": "attention data parallel: each replica holds B / dp sequences and their KV cache",
    "ep": "expert parallel: each GPU holds E / ep experts per layer, tokens cross an all-to-all",
    "etp": "expert tensor parallel: splits each expert's width, costs an all-reduce per MoE layer",
}
MOVES = (("pp",), ("microbatches",), ("tp", "dp"), ("ep", "etp"), ("tp",), ("dp",), ("ep",), ("etp",))
"""Steps of :func:`change_path`: one field, or the pairs (tp, dp) and (ep, etp) that shape the
attention group and the expert group together."""


def _errors(e: Estimate) -> set:
    return {v.name for v in errors(e.violations)}


def _moves(current: Plan, end: Plan) -> list[tuple]:
    """Moves that take some fields of ``current`` to their values in ``end`` (see :data:`MOVES`)."""
    out = []
    for fields in MOVES:
        if all(getattr(current, f) != getattr(end, f) for f in fields):
            out.append(fields)
    return out


def change_path(model: Model, hardware: Hardware, workload: Workload, start: Plan, end: Plan, efficiency=None, *,
                metric: str = "output_tokens_per_s_per_gpu", **options) -> pd.DataFrame:
    """Walk from ``start`` to ``end`` one move at a time and say what each move does.

    A move sets one field, or a pair of :data:`MOVES`, to its value in ``end``. Each step takes
    the move whose plan breaks the fewest divisibility rules, then uses the fewest GPUs beyond
    both ends' counts, then needs the least memory beyond capacity, then has the highest
    ``metric``; every plan on
    the way goes through :func:`costmodel.estimate`. Row 0 is ``start``. Column ``why``: the
    roles of the fields and the measured effect of the step (GPUs, memory per GPU, TTFT, output
    tokens/s/GPU, tokens/s per user) and the rules it fixes or breaks.
    """
    check_choice("metric", metric, THROUGHPUT_METRICS)

    def est(p):
        return estimate(model, hardware, p, workload, efficiency, **options)

    def rank(e: Estimate):
        x = e.metrics
        excess = max(0.0, x["memory_bytes_per_gpu"] - x["memory_capacity_bytes_per_gpu"])
        extra_gpus = max(0, x["gpus_total"] - max(start.gpus, end.gpus))
        return (len(_errors(e) - {"memory_exceeds_capacity"}), extra_gpus, excess, -x[metric])

    current, e = start, est(start)
    rows = [_path_row(0, "start", current, e, "the document's plan")]
    while current != end:
        candidates = []
        for fields in _moves(current, end):
            plan = Plan(**{**current.__dict__, **{f: getattr(end, f) for f in fields}})
            candidates.append((fields, plan, est(plan)))
        fields, plan, new = min(candidates, key=lambda o: rank(o[2]))
        change = ", ".join(f"{f} {getattr(current, f)} -> {getattr(plan, f)}" for f in fields)
        rows.append(_path_row(len(rows), change, plan, new, _why(fields, change, e, new)))
        current, e = plan, new
    return pd.DataFrame(rows)


def _path_row(step, change, plan, e: Estimate, why) -> dict:
    x = e.metrics
    return {"step": step, "change": change,
            "plan": plan.label(), "GPUs": x["gpus_total"], "memory/GPU (GB)": x["memory_bytes_per_gpu"] / GB,
            "TTFT (s)": x["ttft_s"], "output tok/s/GPU": x["output_tokens_per_s_per_gpu"],
            "tok/s/user": x["tokens_per_s_per_user"],
            "errors": ",".join(v.name for v in e.violations if v.severity == "error"), "why": why}


def _why(fields, change, before: Estimate, after: Estimate) -> str:
    a, b = before.metrics, after.metrics
    parts = [f"GPUs {a['gpus_total']} -> {b['gpus_total']}",
             f"memory/GPU {a['memory_bytes_per_gpu'] / GB:.3g} -> {b['memory_bytes_per_gpu'] / GB:.3g} GB",
             f"TTFT {a['ttft_s']:.3g} -> {b['ttft_s']:.3g} s",
             f"output tok/s/GPU {a['output_tokens_per_s_per_gpu']:.4g} -> {b['output_tokens_per_s_per_gpu']:.4g}",
             f"tok/s/user {a['tokens_per_s_per_user']:.3g} -> {b['tokens_per_s_per_user']:.3g}"]
    names_a, names_b = _errors(before), _errors(after)
    fixed, broken = sorted(names_a - names_b), sorted(names_b - names_a)
    roles = "; ".join(FIELD_ROLES[f] for f in fields)
    text = f"{change} ({roles}): " + ", ".join(parts)
    if fixed:
        text += f"; fixes {', '.join(fixed)}"
    if broken:
        text += f"; breaks {', '.join(broken)}"
    return text + "."


# --- plans side by side ---------------------------------------------------------------------------
def unmet_requirements(e: Estimate, requirements: dict) -> list[str]:
    """Names of the requirements (``ttft_max_s``, ``min_tokens_per_s_per_gpu``, ...) a plan misses."""
    x, out = e.metrics, []
    if requirements.get("ttft_max_s") and x["ttft_s"] > requirements["ttft_max_s"]:
        out.append("ttft_max_s")
    metric = requirements.get("throughput_metric", "output_tokens_per_s_per_gpu")
    if requirements.get("min_tokens_per_s_per_gpu") and x[metric] < requirements["min_tokens_per_s_per_gpu"]:
        out.append("min_tokens_per_s_per_gpu")
    if requirements.get("min_tokens_per_s_per_user") and x["tokens_per_s_per_user"] < requirements[
            "min_tokens_per_s_per_user"]:
        out.append("min_tokens_per_s_per_user")
    return out


def summary_row(e: Estimate, requirements: dict | None = None, **labels) -> dict:
    """One plan in display units: ``labels`` first, then plan, GPUs, memory/GPU (GB), TTFT (s),
    output and input tokens/s/GPU, tokens/s per user, and its problems (rules of severity
    ``error`` and unmet requirements; empty when none, shown as a dash)."""
    x = e.metrics
    problems = [v.name for v in e.violations if v.severity == "error"]
    problems += unmet_requirements(e, requirements or {})
    return {**labels, "plan": e.plan.label(), "GPUs": x["gpus_total"],
            "memory/GPU (GB)": x["memory_bytes_per_gpu"] / GB, "TTFT (s)": x["ttft_s"],
            "TPOT (ms)": x["decode_step_s"] / 1e-3, "output tok/s/GPU": x["output_tokens_per_s_per_gpu"],
            "input tok/s/GPU": x["input_tokens_per_s_per_gpu"], "tok/s/user": x["tokens_per_s_per_user"],
            "problems": ", ".join(problems)}


def search_summary(results: dict) -> display.ReaderTable:
    """Per set: plans evaluated, valid and feasible, and the corrected plan (see
    :meth:`SearchResult.corrected`) with the requirements it had to drop."""
    rows = []
    for name, r in results.items():
        best, dropped = r.corrected()
        row = {"set": name, "plans evaluated": r.plans_evaluated, "valid": int(r.plans["valid"].sum()),
               "meet all requirements": int(r.plans["feasible"].sum())}
        if best is not None:
            row |= summary_row(r.estimate(best), r.requirements)
        row["requirements dropped"] = ", ".join(dropped)
        rows.append(row)
    return display.ReaderTable(rows)


def why_markdown(table: pd.DataFrame) -> str:
    """The ``why`` sentences of :func:`costmodel.audit.requirements.comparison` as a Markdown list, one block
    per document."""
    lines = []
    for doc, rows in table.groupby("document", sort=False):
        old = rows.loc[rows["role"] == "document", "plan"].iloc[0]
        new = rows.loc[rows["role"] == "corrected", "plan"].iloc[0]
        lines.append(f"- **{doc}**: {old} → {new}")
        lines += [f"    - {sentence}" for sentence in rows.loc[rows["role"] == "corrected", "why"].iloc[0].split("\n")]
    return "\n".join(lines)


def frontier_gap(result: SearchResult, estimates: dict) -> display.ReaderTable:
    """How far each plan (``{label: Estimate}``) sits below the throughput frontier.

    For a plan with speed u tokens/s per user and throughput t per GPU (the requirement's reading):
    the feasible plan with the highest throughput among those at least as fast per user (u' >= u),
    and ``gain`` = its throughput / t (1 on the frontier; above 1: the plan is dominated).
    """
    metric = result.requirements["throughput_metric"]
    rows = []
    for label, e in estimates.items():
        u, t = e.metrics["tokens_per_s_per_user"], e.metrics[metric]
        best = best_at_least_as_fast(result.feasible, metric, u)
        row = {"document": label, "plan": e.plan.label(), "tok/s/user": u, "tok/s/GPU": t}
        if best is None:
            row |= {"best plan at >= tok/s/user": "none", "its tok/s/GPU": np.nan, "gain": np.nan}
        else:
            row |= {"best plan at >= tok/s/user": plan_label(best), "its tok/s/GPU": best[metric],
                    "gain": best[metric] / t}
        rows.append(row)
    return display.ReaderTable(rows)
