"""Charts for the audit chapters (one per document): verdicts, factors, memory, scaling against GPUs.

Every builder takes a document id (or the audit DataFrame) and draws only numbers that come from
:mod:`costmodel.audit`; nothing is recomputed here.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from .. import audit
from ..units import CostModelError

VERDICT_COLORS = {"correct": "#4c9a2a", "wrong": "#c0392b", "inconsistent": "#e67e22", "unsupported": "#8e8e8e",
                  "invalid": "#7d3c98"}
PART_COLORS = {"weights": "#4e79a7", "kv_cache": "#f28e2b", "activations": "#59a14f", "reserved": "#bab0ac"}


def _verdict_color(title: str = "verdict") -> alt.Color:
    return alt.Color("verdict:N", title=title, sort=list(audit.VERDICTS),
                     scale=alt.Scale(domain=list(VERDICT_COLORS), range=list(VERDICT_COLORS.values())))


def verdict_chart(df: pd.DataFrame) -> alt.Chart:
    """Claims per verdict (one bar per verdict, per document when several are given)."""
    counts = audit.verdict_counts(df).drop(columns="total").reset_index().melt(
        id_vars="doc", var_name="verdict", value_name="claims")
    docs = counts["doc"].unique()
    title = f"Document {docs[0]}: claims by verdict" if len(docs) == 1 else "Claims by verdict"
    return alt.Chart(counts).mark_bar().encode(
        y=alt.Y("verdict:N", sort=list(audit.VERDICTS), title=None),
        x=alt.X("claims:Q", title="claims"),
        color=_verdict_color(),
        row=alt.Row("doc:N", title="document") if len(docs) > 1 else alt.Undefined,
        tooltip=["doc", "verdict", "claims"],
    ).properties(title=title, width=420, height=130)


def factor_chart(df: pd.DataFrame) -> alt.Chart:
    """claimed / recomputed for every numeric claim (log scale; 1 = agreement), coloured by verdict."""
    rows = df[[isinstance(f, float) and math.isfinite(f) and f > 0 for f in df["factor"]]]
    data = pd.DataFrame({"claim": rows["claim_id"], "factor": rows["factor"].astype(float),
                         "verdict": rows["verdict"], "quote": rows["quote"].str.slice(0, 70),
                         "quantity": rows["quantity"]})
    doc = df["doc"].iloc[0]
    points = alt.Chart(data).mark_circle(size=80).encode(
        y=alt.Y("claim:N", sort=list(data["claim"]), title=None),
        x=alt.X("factor:Q", scale=alt.Scale(type="log"), title="claimed / recomputed (log; 1 = agrees)"),
        color=_verdict_color(),
        tooltip=["claim", "quantity", alt.Tooltip("factor:Q", format=".3g"), "verdict", "quote"],
    )
    one = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 3], color="#333").encode(x="x:Q")
    return (one + points).properties(
        title=alt.Title(f"Document {doc}: how far each number is off",
                        subtitle="right of the line: the document claims more than the cost model gives"),
        width=460, height=max(160, 16 * len(data)))


def memory_chart(doc: str, capacity_GB: float | None = None) -> alt.Chart:
    """Memory per GPU as the document claims it and as recomputed, stacked by part (GB)."""
    data = audit.memory_breakdown(doc)
    ledger = audit.load_ledger(doc)
    if capacity_GB is None:
        first = next(iter(ledger["scenarios"].values()))
        capacity_GB = first.hardware.memory_bytes / 1e9
    order = {p: i for i, p in enumerate(audit.MEMORY_PARTS)}
    data = data.assign(order=data["part"].map(order))
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("source:N", sort=list(dict.fromkeys(data["source"])), title=None, axis=alt.Axis(labelAngle=0,
                                                                                                labelLimit=220)),
        y=alt.Y("sum(GB):Q", title="memory per GPU (GB)"),
        color=alt.Color("part:N", sort=list(audit.MEMORY_PARTS),
                        scale=alt.Scale(domain=list(PART_COLORS), range=list(PART_COLORS.values()))),
        order=alt.Order("order:Q"),
        tooltip=["source", "part", alt.Tooltip("GB:Q", format=".3g"), "claim"],
    )
    cap = alt.Chart(pd.DataFrame({"GB": [capacity_GB], "label": [f"capacity {capacity_GB:g} GB"]}))
    rule = cap.mark_rule(strokeDash=[6, 3], color="#c0392b").encode(y="GB:Q")
    label = cap.mark_text(align="left", dx=4, dy=-6, color="#c0392b").encode(y="GB:Q", text="label:N",
                                                                             x=alt.value(0))
    return (bars + rule + label).properties(
        title=alt.Title(f"Document {doc}: memory per GPU, claimed and recomputed",
                        subtitle="stacked by weights / KV cache / activations / reserved"),
        width=360, height=280)


METRICS = {
    # metric: (scaling_table column, axis title, ledger charts key of the claim, requirement key)
    "ttft": ("TTFT (s)", "TTFT, whole batch (s)", "ttft_claim", "ttft_s"),
    "output": ("output tokens/s/GPU", "output tokens/s per GPU (decode)", "throughput_claim",
               "throughput_tokens_per_s_per_gpu"),
    "input": ("input tokens/s/GPU", "input tokens/s per GPU (prefill)", "throughput_claim",
              "throughput_tokens_per_s_per_gpu"),
}


def scaling_chart(doc: str, metric: str = "ttft", scenarios=None) -> alt.Chart:
    """A metric against GPUs for the document's plan with DP scaled (see :func:`costmodel.audit.scaling_table`),
    one line per scenario (reading), the document's claimed point (or range) and the requirement line.

    metric: ``ttft``, ``output`` (decode output tokens/s/GPU) or ``input`` (prefill input tokens/s/GPU).
    """
    if metric not in METRICS:
        raise CostModelError(f"metric: {metric!r} is not one of {', '.join(METRICS)}")
    column, title, claim_key, req_key = METRICS[metric]
    ledger = audit.load_ledger(doc)
    spec = ledger.get("charts") or {}
    base_name = spec.get("scaling_scenario") or next(iter(ledger["scenarios"]))
    scenarios = scenarios or [base_name]
    frames = []
    for name in scenarios:
        t = audit.scaling_table(doc, name)
        frames.append(t.assign(scenario=name))
    data = pd.concat(frames, ignore_index=True)
    data["plan"] = data["plan"].astype(str)
    data["state"] = data["valid"].map({True: "valid plan", False: "invalid plan (violations)"})
    curve = alt.Chart(data).encode(
        x=alt.X("GPUs:Q", scale=alt.Scale(type="log", base=2), title="GPUs (log2)"),
        y=alt.Y(f"{column}:Q", scale=alt.Scale(type="log"), title=title + " (log)"),
        color=alt.Color("scenario:N", title="cost model", legend=alt.Legend(orient="bottom")),
    )
    # an invalid plan (does not fit, breaks a divisibility rule) is drawn as a cross, not a dot
    points = curve.mark_point(size=60, filled=True).encode(
        shape=alt.Shape("state:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=["valid plan", "invalid plan (violations)"], range=["circle", "cross"])),
        tooltip=["scenario", "plan", "GPUs", alt.Tooltip(f"{column}:Q", format=".3g"), "state"],
    )
    layers = [curve.mark_line(), points]
    base = ledger["scenarios"][base_name]
    req = base.requirements.get(req_key)
    if req:
        req_data = pd.DataFrame({"y": [req], "label": [f"requirement {req:,.4g}"]})
        layers.append(alt.Chart(req_data).mark_rule(strokeDash=[6, 3], color="#c0392b").encode(y="y:Q"))
        layers.append(alt.Chart(req_data).mark_text(align="left", dx=4, dy=-6, color="#c0392b").encode(
            y="y:Q", text="label:N", x=alt.value(0)))
    cid = spec.get(claim_key)
    if cid:
        c = next(c for c in ledger["claims"] if c["id"] == cid)
        sc = ledger["scenarios"][c["scenario"]]
        lo, note = audit.claim_value_per_gpu(ledger, c, "lo")
        hi, _ = audit.claim_value_per_gpu(ledger, c, "hi")
        point = pd.DataFrame({"GPUs": [sc.plan.gpus], "lo": [lo], "hi": [hi],
                              "label": [f"document ({cid}{note}): {c['quote'][:40]}"]})
        pt = alt.Chart(point)
        layers.append(pt.mark_rule(color="black", strokeWidth=3).encode(x="GPUs:Q", y="lo:Q", y2="hi:Q"))
        layers.append(pt.mark_point(shape="diamond", size=120, filled=True, color="black").encode(
            x="GPUs:Q", y="hi:Q", tooltip=["label", "lo", "hi"]))
    return alt.layer(*layers).properties(
        title=alt.Title(f"Document {doc}: {title} against GPUs",
                        subtitle="lines: the cost model with DP scaled; black: the document's claim"),
        width=440, height=280)


DRAFT_COLORS = {**VERDICT_COLORS, "unmapped": "#d9d9d9"}
"""Verdict colours plus light grey for the claims an automatic first audit leaves unmapped."""


def draft_verdict_chart(audits: dict) -> alt.Chart:
    """Claims per verdict, ``unmapped`` included, for several audits of one document: ``{label: rows}`` (for
    example the automatic first audit and the reviewed ledger), one bar per verdict and audit."""
    order = [*audit.VERDICTS, "unmapped"]
    frames = []
    for label, rows in audits.items():
        counts = pd.DataFrame(rows)["verdict"].value_counts().reindex(order, fill_value=0)
        frames.append(pd.DataFrame({"audit": label, "verdict": order, "claims": counts.to_numpy()}))
    data = pd.concat(frames, ignore_index=True)
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("verdict:N", sort=order, title=None),
        x=alt.X("claims:Q", title="claims"),
        color=alt.Color("verdict:N", sort=order, legend=None,
                        scale=alt.Scale(domain=list(DRAFT_COLORS), range=list(DRAFT_COLORS.values()))),
        row=alt.Row("audit:N", title=None, sort=list(audits), header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["audit", "verdict", "claims"],
    ).properties(title="Claims by verdict: the automatic first audit and the hand-written ledger", width=380,
                 height=120)
