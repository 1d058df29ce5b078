"""Charts for the corrected-strategies chapter: feasible region, Pareto frontiers, sensitivity.

The region shows only valid plans (no rule of severity ``error`` broken), thinned to one point per
cell of a log-scale grid so that a search of tens of thousands of plans stays a light chart; the
frontiers and the documents' plans are drawn in full on top.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..search import CONSTRAINTS, SearchResult
from ..search_views import plan_label
from ..units import GB

MEETS, MISSES, FRONTIER, DOCUMENT = "meets the requirements", "misses a requirement", "Pareto frontier", \
    "document's plan"
STATUS_COLORS = {MEETS: "#4c78a8", MISSES: "#c7c7c7", FRONTIER: "#f58518", DOCUMENT: "#222222"}

TOOLTIP = [
    alt.Tooltip("plan:N"), alt.Tooltip("GPUs:Q"), alt.Tooltip("memory/GPU (GB):Q", format=".1f"),
    alt.Tooltip("TTFT (s):Q", format=".3g"), alt.Tooltip("output tok/s/GPU:Q", format=",.0f"),
    alt.Tooltip("input tok/s/GPU:Q", format=",.0f"), alt.Tooltip("tok/s/user:Q", format=".3g"),
]


def _round(values, digits: int = 4) -> np.ndarray:
    """Values to ``digits`` significant digits: the chart's data stays small and its text stable."""
    v = np.asarray(values, dtype=float)
    return np.array([float(f"{x:.{digits}g}") for x in v]) if len(v) else v


def _display(rows: pd.DataFrame, status: str) -> pd.DataFrame:
    """Result rows with the chart's column names (display units, 4 significant digits)."""
    return pd.DataFrame({
        "plan": [plan_label(r) for _, r in rows.iterrows()],
        "GPUs": rows["gpus_total"].to_numpy(),
        "memory/GPU (GB)": _round(rows["memory_bytes_per_gpu"] / GB, 3),
        "TTFT (s)": _round(rows["ttft_s"]),
        "output tok/s/GPU": _round(rows["output_tokens_per_s_per_gpu"]),
        "input tok/s/GPU": _round(rows["input_tokens_per_s_per_gpu"]),
        "tok/s/user": _round(rows["tokens_per_s_per_user"]),
        "status": status,
    })


def region_points(result: SearchResult, x: str, y: str, cells: int = 25) -> pd.DataFrame:
    """Valid plans thinned to one per cell of a cells x cells grid over log10(x), log10(y).

    Within a cell a plan that meets the requirements wins over one that misses, then the order
    of :meth:`SearchResult.best`'s ranking metric (highest first). Columns as the chart's tooltips.
    """
    valid = result.plans[result.plans["valid"]]
    if valid.empty:
        return _display(valid, MEETS)
    metric = result.requirements["throughput_metric"]
    valid = valid.sort_values(["feasible", metric], ascending=[False, False], kind="mergesort")
    lx, ly = np.log10(valid[x].to_numpy(float)), np.log10(valid[y].to_numpy(float))

    def cell(v):
        span = max(v.max() - v.min(), 1e-12)
        return np.floor((v - v.min()) / span * (cells - 1e-9)).astype(int)

    key = pd.Series(cell(lx) * cells + cell(ly), index=valid.index)
    kept = valid[~key.duplicated()]
    out = pd.concat([_display(kept[kept["feasible"]], MEETS), _display(kept[~kept["feasible"]], MISSES)])
    return out.reset_index(drop=True)


def document_points(estimates: dict) -> pd.DataFrame:
    """{label: Estimate} of the documents' plans as chart rows (column ``document`` = the label)."""
    rows = []
    for label, e in estimates.items():
        x = e.metrics
        values = _round([x["memory_bytes_per_gpu"] / GB, x["ttft_s"], x["output_tokens_per_s_per_gpu"],
                         x["input_tokens_per_s_per_gpu"], x["tokens_per_s_per_user"]])
        rows.append({"document": label, "plan": e.plan.label(), "GPUs": x["gpus_total"],
                     "memory/GPU (GB)": values[0], "TTFT (s)": values[1], "output tok/s/GPU": values[2],
                     "input tok/s/GPU": values[3], "tok/s/user": values[4], "status": DOCUMENT, "valid": e.valid})
    return pd.DataFrame(rows)


def _color():
    return alt.Color("status:N", title=None, scale=alt.Scale(domain=list(STATUS_COLORS),
                                                               range=list(STATUS_COLORS.values())),
                     legend=alt.Legend(orient="bottom"))


def _panel(points, frontier, documents, x, y, x_title, y_title, x_scale, y_scale, rule=None, title=""):
    x_axis = alt.Axis(format="d") if x == "GPUs" else alt.Axis(format="~s", labelOverlap="greedy")
    enc = dict(x=alt.X(f"{x}:Q", title=x_title, scale=x_scale, axis=x_axis),
               y=alt.Y(f"{y}:Q", title=y_title, scale=y_scale, axis=alt.Axis(labelOverlap="greedy")))
    layers = [
        alt.Chart(points).mark_circle(size=28, opacity=0.7).encode(**enc, color=_color(), tooltip=TOOLTIP),
        alt.Chart(frontier).mark_line(color=STATUS_COLORS[FRONTIER], interpolate="step-after"
                                      if x == "GPUs" else "linear").encode(**enc, order=f"{x}:Q"),
        alt.Chart(frontier).mark_circle(size=60).encode(**enc, color=_color(), tooltip=TOOLTIP),
    ]
    if rule is not None:
        value, text = rule
        layers.append(alt.Chart(pd.DataFrame({"v": [value], "t": [text]})).mark_rule(strokeDash=[6, 4])
                      .encode(y="v:Q"))
        layers.append(alt.Chart(pd.DataFrame({"v": [value], "t": [text]})).mark_text(
            align="left", baseline="bottom", dx=4, dy=-2, fontSize=11, x=2).encode(y="v:Q", text="t:N"))
    if documents is not None and len(documents):
        doc_tip = [alt.Tooltip("document:N"), *TOOLTIP]
        layers.append(alt.Chart(documents).mark_point(shape="diamond", size=130, filled=True)
                      .encode(**enc, color=_color(), tooltip=doc_tip))
        layers.append(alt.Chart(documents).mark_text(align="left", dx=8, dy=-8, fontSize=11)
                      .encode(**enc, text="document:N"))
    return alt.layer(*layers).properties(width=440, height=260, title=title)


METRIC_COLUMNS = {
    "output_tokens_per_s_per_gpu": ("output tok/s/GPU", "output tokens/s per GPU (decode, log)"),
    "input_tokens_per_s_per_gpu": ("input tok/s/GPU", "input tokens/s per GPU (prefill, log)"),
}


def frontier_chart(result: SearchResult, documents: pd.DataFrame | None = None, title: str = "",
                   subtitle: str = "", floor: float | None = None) -> alt.VConcatChart:
    # (configured: the chart is final and cannot be composed further)
    """Two panels, one above the other (they fit the book's text column): throughput per GPU (the requirement's reading) against tokens/s per user, and
    TTFT against GPUs.

    Valid plans are grey (miss a requirement) or blue (meet them all); the Pareto frontier of the
    feasible plans is orange; the documents' plans (:func:`document_points`) are black diamonds.
    Dashed lines: the TTFT limit and the throughput floor (``floor``, default the result's own).
    """
    req = result.requirements
    metric = req["throughput_metric"]
    column, axis_title = METRIC_COLUMNS[metric]
    floor = req.get("min_tokens_per_s_per_gpu") if floor is None else floor
    log = alt.Scale(type="log")
    front = _display(result.frontier("throughput"), FRONTIER)
    left = _panel(region_points(result, "tokens_per_s_per_user", metric), front, documents,
                  "tok/s/user", column, "tokens/s per user (1 / TPOT, log)", axis_title, log, log,
                  rule=(floor, "required") if floor else None, title="throughput per GPU vs. speed per user")
    gpus = alt.Scale(type="log", base=2)
    right = _panel(region_points(result, "gpus_total", "ttft_s"), _display(result.frontier("ttft"), FRONTIER),
                   documents, "GPUs", "TTFT (s)", "GPUs (log 2)", "TTFT, whole batch (s, log)", gpus, log,
                   rule=(req["ttft_max_s"], "TTFT limit") if req.get("ttft_max_s") else None,
                   title="GPUs vs. time to first token")
    chart = alt.vconcat(left, right).properties(title=alt.Title(title, subtitle=subtitle) if subtitle else title)
    return chart.configure(aria=False)  # no per-point aria labels: they tripled the SVG's size


def sensitivity_chart(table: pd.DataFrame, metric: str = "output_tokens_per_s_per_gpu",
                      metric_title: str = "best plan: output tokens/s per GPU", title: str = "") -> alt.FacetChart:
    """One panel per input of :func:`costmodel.search_views.sensitivity` output (rows of several inputs
    concatenated): the best plan's ``metric`` against the input's value, coloured by the plan.
    Values where no plan is feasible (plan ``none``) are left out."""
    data = table[table["plan"] != "none"]
    data = data[["heading", "display_value", "plan", metric, "gpus_total", "ttft_s"]].rename(columns={
        "display_value": "value", metric: "metric", "gpus_total": "GPUs", "ttft_s": "TTFT (s)"})
    enc = dict(x=alt.X("value:Q", title=None, scale=alt.Scale(zero=False)),
               y=alt.Y("metric:Q", title=metric_title, scale=alt.Scale(zero=False)))
    line = alt.Chart().mark_line(color="#999").encode(**enc)
    points = alt.Chart().mark_point(size=80, filled=True).encode(
        **enc, color=alt.Color("plan:N", title="best plan", legend=alt.Legend(orient="bottom", columns=3)),
        tooltip=[alt.Tooltip("heading:N", title="input"), alt.Tooltip("value:Q", format=".3g"), "plan:N",
                 "GPUs:Q", alt.Tooltip("TTFT (s):Q", format=".3g"), alt.Tooltip("metric:Q", format=",.0f")])
    return alt.layer(line, points, data=data).properties(width=260, height=190).facet(
        facet=alt.Facet("heading:N", title=None, sort=list(dict.fromkeys(data["heading"]))), columns=2
    ).resolve_scale(x="independent").properties(title=title)


REQUIREMENT_WORDS = {"ttft_max_s": "the TTFT limit", "min_tokens_per_s_per_gpu": "the throughput floor",
                     "min_tokens_per_s_per_user": "the per-user floor"}


def requirement_set_chart(rs, result: SearchResult) -> alt.VConcatChart:
    """:func:`frontier_chart` of a requirement set (:class:`costmodel.search.RequirementSet`) with
    the documents' plans. When no plan meets every requirement, the chart shows the plans that meet
    the rest (see :meth:`SearchResult.corrected`) and keeps the missed floor as a dashed line."""
    _, dropped = result.corrected()
    shown = result.relaxed(*dropped) if dropped else result
    kept = [REQUIREMENT_WORDS[c] for c in CONSTRAINTS if shown.requirements.get(c)]
    blue = f"blue: meets {' and '.join(kept)}" if kept else "blue: valid"
    subtitle = f"{result.plans_evaluated:,} plans up to {result.requirements['max_gpus']} GPUs; {blue}"
    if dropped:
        subtitle += f"; no plan meets {' and '.join(REQUIREMENT_WORDS[c] for c in dropped)}"
    return frontier_chart(shown, document_points(rs.document_estimates()), title=rs.title, subtitle=subtitle,
                          floor=result.requirements.get("min_tokens_per_s_per_gpu"))


CLOUD_CELLS = 12
"""Cells per decade of the log grid that thins the faint cloud of feasible deployment points."""

SERVING_COLORS = {"agg": "#4c78a8", "disagg": "#e45756", "document": "#222222"}


def serving_frontier_chart(result, placed: list[dict] | None = None, title: str = "") -> alt.LayerChart:
    """Output tokens/s per GPU against tokens/s per user (AIConfigurator's picture): every feasible
    deployment point faint, the frontier of :meth:`costmodel.sla.ServingSearch.frontier` by serving mode
    (aggregated, disaggregated), and the ``placed`` deployments (:meth:`ServingSearch.place`) as crosses."""
    feasible = result.feasible
    thin = feasible.assign(  # one point per serving mode and cell of a log grid, CLOUD_CELLS per decade
        _x=np.floor(np.log10(feasible["tokens_per_s_per_user"]) * CLOUD_CELLS),
        _y=np.floor(np.log10(feasible["output_tokens_per_s_per_gpu"]) * CLOUD_CELLS),
    ).sort_values("output_tokens_per_s_per_gpu", ascending=False).drop_duplicates(["serving", "_x", "_y"])

    def shown(rows, kind):
        return pd.DataFrame({
            "serving": rows["serving"].to_numpy() if kind != "document" else "document",
            "deployment": rows["deployment"].to_numpy(), "GPUs": rows["gpus_total"].to_numpy(),
            "in flight": rows["concurrency"].to_numpy(), "TTFT (s)": _round(rows["ttft_s"]),
            "TPOT (ms)": _round(rows["tpot_s"] * 1e3), "output tok/s/GPU": _round(rows["output_tokens_per_s_per_gpu"]),
            "tok/s/user": _round(rows["tokens_per_s_per_user"]),
            "label": rows["label"].to_numpy() if "label" in rows else rows["serving"].to_numpy()})
    tooltip = ["serving", "deployment", "GPUs", "in flight", alt.Tooltip("TTFT (s):Q", format=".3g"),
               alt.Tooltip("TPOT (ms):Q", format=".3g"), alt.Tooltip("output tok/s/GPU:Q", format=",.0f"),
               alt.Tooltip("tok/s/user:Q", format=".3g")]
    x = alt.X("tok/s/user:Q", scale=alt.Scale(type="log"), title="tokens/s per user (log)")
    y = alt.Y("output tok/s/GPU:Q", scale=alt.Scale(type="log"), title="output tokens/s per GPU (log)")
    color = alt.Color("serving:N", scale=alt.Scale(domain=list(SERVING_COLORS), range=list(SERVING_COLORS.values())),
                      legend=alt.Legend(orient="bottom", title=None))
    cloud = alt.Chart(shown(thin, "point")).mark_point(size=18, opacity=0.25, filled=True, aria=False).encode(
        x=x, y=y, color=color, tooltip=tooltip)
    front = alt.Chart(shown(result.frontier(), "frontier")).mark_line(point=True, aria=False).encode(
        x=x, y=y, color=color, detail="serving:N", tooltip=tooltip)
    layers = [cloud, front]
    if placed:
        docs = shown(pd.DataFrame(placed), "document")
        layers.append(alt.Chart(docs).mark_point(shape="cross", size=160, filled=True, color="#222222").encode(
            x=x, y=y, tooltip=["label"] + tooltip[1:]))
        # by throughput, the 1st, 3rd, ... cross is labelled below and the 2nd, 4th, ... above: two crosses close
        # together (a pair in that order) print their labels apart instead of over each other
        below = np.argsort(np.argsort(docs["output tok/s/GPU"].to_numpy(), kind="stable")) % 2 == 0
        for rows, dy in ((docs[~below], -8), (docs[below], 14)):
            if len(rows):
                layers.append(alt.Chart(rows).mark_text(dx=8, dy=dy, align="left", fontSize=11).encode(
                    x=x, y=y, text="label"))
    return alt.layer(*layers).properties(title=title, width=520, height=320)