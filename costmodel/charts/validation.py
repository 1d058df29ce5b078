"""Charts for the validation chapter (predictions against published measurements).

Inputs are :func:`costmodel.validation.predict` and :func:`costmodel.validation.error_table` tables.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .. import moe

GROUP_LABELS = {
    "throughput_max_load": "throughput, max load",
    "throughput_online": "throughput, online",
    "throughput_serving": "throughput, serving",
    "ttft": "TTFT",
    "itl": "inter-token latency",
    "tpot": "TPOT",
}
HARDWARE_ORDER = ["a100-sxm-80gb", "h100-sxm", "h200-sxm", "b200-sxm", "b300-sxm", "gb200-nvl72", "gb300-nvl72",
                  "mi300x", "mi325x", "mi355x"]


def _labelled(predictions: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the charts use (keeps the embedded spec small), with display labels."""
    data = predictions[["id", "model", "hardware", "framework", "plan", "isl", "osl", "qps", "concurrency", "metric",
                        "group", "split", "measured", "predicted", "ratio"]].copy()
    data["metric group"] = data["group"].map(GROUP_LABELS)
    data["isl/osl"] = data["isl"].astype(str) + "/" + data["osl"].astype(str)
    data["qps"] = data["qps"].map(lambda q: "" if pd.isna(q) else ("INF" if q == float("inf") else f"{q:g}"))
    data["concurrency"] = data["concurrency"].map(lambda c: "" if pd.isna(c) else str(int(c)))
    data["error %"] = (100 * (data["predicted"] / data["measured"] - 1)).round(1)
    for column in ("measured", "predicted", "ratio"):  # 4 significant digits are plenty for a chart
        data[column] = data[column].astype(float).map(lambda v: float(f"{v:.4g}"))
    return data.drop(columns=["isl", "osl", "group"])


def _panel(data: pd.DataFrame, title: str, axis: str) -> alt.LayerChart:
    low = float(min(data["measured"].min(), data["predicted"].min())) / 1.3
    high = float(max(data["measured"].max(), data["predicted"].max())) * 1.3
    scale = alt.Scale(type="log", domain=[low, high], nice=False)
    diagonal = alt.Chart(pd.DataFrame({"v": [low, high]})).mark_line(color="#888", strokeDash=[4, 3]).encode(
        x=alt.X("v:Q", scale=scale), y=alt.Y("v:Q", scale=scale))
    # aria=False: no per-point aria-label in the static SVG (the tooltips stay in the interactive chart)
    points = alt.Chart(data).mark_point(filled=True, size=55, opacity=0.75, aria=False).encode(
        x=alt.X("measured:Q", scale=scale, title=f"measured {axis} (log)", axis=alt.Axis(tickCount=5)),
        y=alt.Y("predicted:Q", scale=scale, title=f"predicted {axis} (log)", axis=alt.Axis(tickCount=5)),
        color=alt.Color("hardware:N", sort=HARDWARE_ORDER, title="hardware"),
        shape=alt.Shape("metric group:N", title="metric"),
        tooltip=["id", "model", "hardware", "framework", "plan", "isl/osl", "qps", "concurrency", "split",
                 alt.Tooltip("measured:Q", format=".4g"), alt.Tooltip("predicted:Q", format=".4g"), "error %"],
    )
    return (diagonal + points).properties(title=title, width=330, height=330)


def predicted_vs_measured(predictions: pd.DataFrame, title: str = "Predicted against measured") -> alt.VConcatChart:
    """Log-log scatter, y = x dashed: throughput (tokens/s per GPU) above latency (ms), to fit the text column.

    Colour: hardware; shape: metric group. Points on the diagonal are exact predictions.
    """
    data = _labelled(predictions)
    throughput = data[data["metric"] == "output_tokens_per_s_per_gpu"]
    latency = data[data["metric"] != "output_tokens_per_s_per_gpu"].copy()
    latency[["measured", "predicted"]] = latency[["measured", "predicted"]] * 1e3
    return alt.vconcat(
        _panel(throughput, "Throughput", "output tokens/s per GPU"),
        _panel(latency, "Latency", "ms"),
    ).resolve_scale(color="shared", shape="shared").properties(
        title=alt.Title(title, subtitle="dashed line: prediction = measurement"))


def error_bars(errors: pd.DataFrame, title: str = "Absolute percentage error, held-out rows") -> alt.Chart:
    """Median (bar) and p90 (tick) absolute % error per metric group and hardware."""
    data = errors.copy()
    data["metric group"] = data["group"].map(GROUP_LABELS)
    base = alt.Chart(data).encode(
        x=alt.X("hardware:N", sort=HARDWARE_ORDER + ["all"], title=None),
        tooltip=["metric group", "hardware", "rows", alt.Tooltip("median_ape_pct:Q", format=".1f"),
                 alt.Tooltip("p90_ape_pct:Q", format=".1f")],
    )
    bars = base.mark_bar(aria=False).encode(y=alt.Y("median_ape_pct:Q", title="abs. error (%): bar median, tick p90"),
                                  color=alt.Color("hardware:N", sort=HARDWARE_ORDER + ["all"], legend=None))
    ticks = base.mark_tick(color="black", thickness=2, size=18).encode(y="p90_ape_pct:Q")
    return (bars + ticks).properties(width=150, height=200).facet(
        facet=alt.Facet("metric group:N", sort=[GROUP_LABELS[g] for g in GROUP_LABELS], title=None), columns=3,
    ).resolve_scale(x="independent").properties(title=title)


def imbalance_curve(tokens=None, eps=(8, 32, 72), experts: int = 256, k: int = 8,
                    title: str = "Expert load imbalance: busiest EP rank / mean") -> alt.LayerChart:
    """max / mean routed tokens per rank (:func:`costmodel.moe.load_imbalance`) against the tokens of a step,
    for DeepSeek-V3's 256 experts, top-8, at several EP degrees: the measured skew without and with 32
    redundant slots (EPLB), and uniform routing (the lower bound). The published points of the fit
    (TensorRT-LLM, EP32, 4,096 tokens a step) are marked."""
    tokens = np.unique(np.round(np.geomspace(1, 65536, 49))) if tokens is None else np.asarray(tokens)
    rows = []
    for ep in eps:
        for label, skew, slots, eplb in (("measured skew", moe.MEASURED, experts, False),
                                         ("measured skew, EPLB +32 slots", moe.MEASURED, experts + 32, True),
                                         ("uniform routing", moe.UNIFORM, experts, False)):
            if slots % ep:
                continue
            values = moe.load_imbalance(tokens, k, ep, slots, skew, eplb)
            rows += [{"EP": f"EP{ep}", "routing": label, "tokens per step": float(t), "max / mean": float(f"{v:.4g}")}
                     for t, v in zip(tokens, values)]
    data = pd.DataFrame(rows)
    ref = moe.TRTLLM_EP32
    published = pd.DataFrame({"tokens per step": [float(ref["tokens"])] * 2,
                              "max / mean": [1 + ref["without_eplb"], 1 + ref["eplb_288_slots"]],
                              "routing": ["measured skew", "measured skew, EPLB +32 slots"], "EP": "EP32"})
    scale_x = alt.Scale(type="log")
    lines = alt.Chart(data).mark_line(aria=False).encode(
        x=alt.X("tokens per step:Q", scale=scale_x, title="tokens in one step of the expert group (log)"),
        y=alt.Y("max / mean:Q", scale=alt.Scale(type="log"), title="busiest rank / mean (log)"),
        color=alt.Color("EP:N", legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("routing:N", legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=["EP", "routing", alt.Tooltip("tokens per step:Q", format=",.0f"),
                 alt.Tooltip("max / mean:Q", format=".3g")])
    marks = alt.Chart(published).mark_point(shape="diamond", size=90, filled=True, color="black").encode(
        x="tokens per step:Q", y="max / mean:Q",
        tooltip=["routing", alt.Tooltip("max / mean:Q", format=".3g")])
    return (lines + marks).properties(title=alt.Title(title, subtitle="diamonds: TensorRT-LLM's published EP32 "
                                                                      "figures the skew is fitted to"),
                                      width=520, height=300)
