"""Charts for the overview chapter."""

from __future__ import annotations

import altair as alt
import pandas as pd


def params_scatter(models: pd.DataFrame) -> alt.Chart:
    """Total against active parameters (B, log axes), one labelled point per model.

    ``models`` is :func:`costmodel.catalog.model_table` output.
    """
    data = models.reset_index()
    base = alt.Chart(data).encode(
        x=alt.X("params total (B):Q", scale=alt.Scale(type="log"), title="parameters, total (billions, log)"),
        y=alt.Y("params active (B):Q", scale=alt.Scale(type="log"), title="parameters active per token (billions, log)"),
    )
    points = base.mark_circle(size=90).encode(
        color=alt.Color("experts (top-k):N", title="experts (top-k)", legend=alt.Legend(orient="bottom", columns=4)),
        tooltip=["id", "params total (B)", "params active (B)", "experts (top-k)", "KV per token, BF16 (KB)"],
    )
    # llama-2-70b and llama-3-70b nearly coincide: label the pair once, from the dense side
    labels = base.transform_filter(alt.datum.id != "llama-2-70b").mark_text(align="left", dx=8, dy=-6, fontSize=11
                                                                              ).encode(text="id")
    return (points + labels).properties(
        title=alt.Title("Bundled models: total vs. active parameters",
                        subtitle="MoE models touch a small share of their weights per token; the seed '10B' model is 0.29 B as stated"),
        width=460, height=320,
    )
