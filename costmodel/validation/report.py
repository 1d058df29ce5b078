"""The validation report: errors by group, hardware, framework and dataset; rows that beat the
roofline; prediction intervals and their coverage; consistency checks of the measurements."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..display import ReaderTable
from .predict import predict
from .scenario import Scenario

GROUPS = ("throughput_max_load", "throughput_online", "throughput_serving", "ttft", "itl", "tpot")
"""Metric groups: max-load (offline and QPS=INF) throughput, online throughput at a finite request
rate, closed-loop serving throughput per (decode) GPU, TTFT, inter-token latency (published rows) and
TPOT (serving rows)."""

THROUGHPUT_METRICS = ("output_tokens_per_s_per_gpu",)
"""Metrics where more is better (the rest are latencies, where less is better)."""

INTERVAL_LEVEL = 0.9
"""Central coverage of the prediction intervals."""


def error_table(predictions: pd.DataFrame, split: str | None = "held-out", by: str = "hardware") -> pd.DataFrame:
    """Median and p90 absolute % error per metric group and ``by`` (hardware, framework, dataset, ...),
    plus 'all'. p90 is numpy's linear-interpolated 90th percentile; ``split`` filters rows (None: all)."""
    rows = predictions if split is None else predictions[predictions["split"] == split]
    out = []
    for group in GROUPS:
        g = rows[rows["group"] == group]
        for value in sorted(g[by].astype(str).unique()) + ["all"]:
            sel = g if value == "all" else g[g[by].astype(str) == value]
            if len(sel):
                out.append({"group": group, by: value, "rows": len(sel),
                            "median_ape_pct": 100 * float(np.median(sel["ape"])),
                            "p90_ape_pct": 100 * float(np.percentile(sel["ape"], 90))})
    return ReaderTable(out)


def beats_bound(predictions: pd.DataFrame) -> pd.Series:
    """True where the measurement is better than the prediction: more throughput, or lower latency.

    Applied to the roofline bound (100 % efficiency, uniform routing, optimistic MTP acceptance), a
    True row is a real system beating the bound: a modelling error or an assumption the engine does
    not share.
    """
    throughput = predictions["metric"].isin(THROUGHPUT_METRICS)
    return pd.Series(np.where(throughput, predictions["measured"] > predictions["predicted"],
                              predictions["measured"] < predictions["predicted"]), index=predictions.index)


def roofline(scenarios: list[Scenario]) -> pd.DataFrame:
    """Predictions of the optimistic bound: datasheet efficiency, uniform routing, optimistic acceptance."""
    return predict(scenarios, "datasheet", routing="uniform", acceptance="bound")


def bound_violations(scenarios: list[Scenario]) -> pd.DataFrame:
    """The rows whose measurement beats the roofline bound (see :func:`beats_bound`)."""
    table = roofline(scenarios)
    return table[beats_bound(table)].reset_index(drop=True)


def prediction_intervals(predictions: pd.DataFrame, level: float = INTERVAL_LEVEL) -> pd.DataFrame:
    """Multiplicative intervals per metric group from the TRAINING rows' residuals.

    r = ln(measured / predicted); the interval for a new prediction p is
    [p exp(q_lo), p exp(q_hi)] with q_lo, q_hi the (1 - level) / 2 and (1 + level) / 2 empirical
    quantiles of r (numpy linear interpolation). Coverage is then checked on held-out rows.
    """
    train = predictions[predictions["split"] == "train"]
    out = []
    for group in GROUPS:
        r = np.log(train.loc[train["group"] == group, "measured"] / train.loc[train["group"] == group, "predicted"])
        if len(r):
            out.append({"group": group, "train_rows": len(r),
                        "factor_lo": float(np.exp(np.quantile(r, (1 - level) / 2))),
                        "factor_hi": float(np.exp(np.quantile(r, (1 + level) / 2)))})
    return ReaderTable(out)


def interval_coverage(predictions: pd.DataFrame, intervals: pd.DataFrame, split: str = "held-out") -> pd.DataFrame:
    """Share of ``split`` rows whose measurement lies inside [p x factor_lo, p x factor_hi], per group."""
    rows = predictions[predictions["split"] == split].merge(intervals, on="group")
    inside = (rows["measured"] >= rows["predicted"] * rows["factor_lo"]) & (
        rows["measured"] <= rows["predicted"] * rows["factor_hi"])
    rows = rows.assign(inside=inside)
    return ReaderTable(rows.groupby("group", sort=False)
                       .agg(rows=("inside", "size"), covered=("inside", "sum"), coverage=("inside", "mean"))
                       .reset_index())


def largest_errors(predictions: pd.DataFrame, n: int = 10, split: str = "held-out") -> pd.DataFrame:
    """The ``n`` rows of ``split`` with the largest absolute % error (what drives the p90)."""
    rows = predictions[predictions["split"] == split]
    columns = ["id", "dataset", "model", "hardware", "framework", "plan", "isl", "osl", "qps", "concurrency",
               "group", "measured", "predicted", "ape"]
    return ReaderTable(rows.nlargest(n, "ape")[columns].reset_index(drop=True))


def split_counts(predictions: pd.DataFrame) -> pd.DataFrame:
    """Rows per metric group and hardware on each side of the split."""
    counts = predictions.groupby(["group", "hardware", "split"]).size().unstack("split", fill_value=0)
    return ReaderTable(counts.reindex(columns=["train", "held-out"], fill_value=0).reset_index())


def profile_comparison(scenarios: list[Scenario], profiles=("datasheet", "scenario", "calibrated"),
                       split: str = "held-out") -> pd.DataFrame:
    """Median absolute % error per metric group under each efficiency profile (on ``split`` rows)."""
    out = {}
    for name in profiles:
        table = error_table(predict(scenarios, name), split)
        out[name] = table[table["hardware"] == "all"].set_index("group")["median_ape_pct"]
    return ReaderTable(pd.DataFrame(out).reindex([g for g in GROUPS if g in out[profiles[0]].index]).reset_index())


def max_load_consistency(scenarios: list[Scenario]) -> pd.DataFrame:
    """Online QPS=INF runs checked against themselves, from the measurements alone.

    If all N requests run together, the run lasts about as long as one request:
    run time implied by the throughput, N S_out / tokens per s, should be close to the mean
    request latency TTFT + (S_out - 1) ITL. A ratio well above 1 means requests ran in waves or
    the lengths vary (a tail of long requests), which one S_in / S_out per run cannot represent.
    """
    runs = {}
    for sc in scenarios:
        if sc.regime == "online" and math.isinf(sc.qps):
            runs.setdefault((sc.model_id, sc.hardware_id, sc.input_len, sc.output_len, sc.requests, sc.plan.gpus),
                            {})[sc.metric] = sc.measured
    out = []
    for (model, hw, isl, osl, n, gpus), m in runs.items():
        run_s = n * osl / (m["output_tokens_per_s_per_gpu"] * gpus)
        latency_s = m["ttft_s"] + (osl - 1) * m["itl_s"]
        out.append({"model": model, "hardware": hw, "isl": isl, "osl": osl, "requests": n,
                    "run_time_from_throughput_s": run_s, "mean_request_latency_s": latency_s,
                    "ratio": run_s / latency_s})
    return ReaderTable(out)


def ratio_by_lengths(predictions: pd.DataFrame) -> pd.DataFrame:
    """Median predicted / measured of the offline max-load rows per ISL/OSL pair and hardware."""
    rows = predictions[(predictions["group"] == "throughput_max_load") & predictions["qps"].isna()]
    rows = rows.assign(isl_osl=rows["isl"].astype(str) + "/" + rows["osl"].astype(str))
    return ReaderTable(rows.pivot_table(index="isl_osl", columns="hardware", values="ratio", aggfunc="median")
                       .reset_index().rename_axis(columns=None))


def hardware_pair_ratios(predictions: pd.DataFrame, faster: str = "h200-sxm", slower: str = "h100-sxm") -> pd.DataFrame:
    """Max-load throughput of ``faster`` over ``slower`` for the same model, plan and lengths:
    measured ratio and predicted ratio, per model (medians over the length pairs)."""
    rows = predictions[predictions["group"] == "throughput_max_load"]
    key = ["model", "plan", "isl", "osl"]
    a = rows[rows["hardware"] == faster].set_index(key)
    b = rows[rows["hardware"] == slower].set_index(key)
    both = pd.DataFrame({"measured_ratio": a["measured"] / b["measured"],
                         "predicted_ratio": a["predicted"] / b["predicted"]}).dropna().reset_index()
    return ReaderTable(both.groupby(["model", "plan"])[["measured_ratio", "predicted_ratio"]].median()
                       .assign(pairs=both.groupby(["model", "plan"]).size()).reset_index())




TARGETS = (
    # (metric group, subset, target median APE %, source of the target)
    ("throughput_max_load", "all", 15, "validation chapter (published rows)"),
    ("tpot", "ep", 20, "expert-parallelism issue: held-out EP rows"),
    ("throughput_serving", "ep", 20, "expert-parallelism issue: held-out EP rows"),
    ("tpot", "all", 20, "serving issue: held-out rows"),
    ("throughput_serving", "all", 20, "serving issue: held-out rows"),
    ("ttft", "all", 30, "serving issue: held-out rows"),
)
"""The targets the validation is held to: (metric group, rows: all or ep (expert parallel), median APE %)."""


def targets(predictions: pd.DataFrame, split: str = "held-out") -> pd.DataFrame:
    """Each target of :data:`TARGETS` with the median absolute % error reached on ``split`` rows."""
    rows = predictions[predictions["split"] == split]
    out = []
    for group, subset, target, source in TARGETS:
        sel = rows[rows["group"] == group]
        if subset == "ep":
            sel = sel[sel["ep"] > 1]
        median = 100 * float(np.median(sel["ape"])) if len(sel) else float("nan")
        out.append({"metric group": group, "rows": f"{subset} ({len(sel)})", "target median APE (%)": target,
                    "reached (%)": median, "met": bool(median <= target), "target from": source})
    return ReaderTable(out)


def optimistic_share(roofline_table: pd.DataFrame) -> pd.DataFrame:
    """Share of rows, per dataset and metric group, where the roofline is at least as fast as the measurement."""
    ok = ~beats_bound(roofline_table)
    table = roofline_table.assign(optimistic=ok).groupby(["dataset", "group"], sort=False)["optimistic"]
    return ReaderTable(table.agg(rows="size", optimistic="sum", share="mean").reset_index())


def ratio_by(predictions: pd.DataFrame, column: str, split: str = "held-out") -> pd.DataFrame:
    """Median predicted / measured per metric group (rows) and ``column`` (columns): the sign of the error."""
    rows = predictions[predictions["split"] == split] if split else predictions
    table = rows.pivot_table(index="group", columns=column, values="ratio", aggfunc="median")
    return ReaderTable(table.reset_index().rename_axis(columns=None))
