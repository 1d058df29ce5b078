"""The published measurements of dense and TP-only MoE inference (``published_measurements.csv``).

411 rows from three sources (``published_measurements_README.md``): TensorRT-LLM offline max-load
throughput (S1), TensorRT-LLM online serving at fixed request rates (S4) and MLPerf Inference v4.1
(S6). :func:`parse` turns every row into a :class:`~costmodel.validation.scenario.Scenario` or lists
it with the reason the model cannot represent it; no row is dropped silently.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

import pandas as pd

from ..strategy import Plan
from ..units import MS, CostModelError, check_choice
from .predict import max_batch
from .scenario import Scenario, specs

CSV_NAME = "published_measurements.csv"

MODEL_IDS = {
    "Llama-3.1-70B": "llama-3.1-70b",
    "Llama-3.1-8B": "llama-3.1-8b",
    "Llama-2-70B": "llama-2-70b",
    "Mixtral-8x7B": "mixtral-8x7b",
    "Mixtral-8x22B": "mixtral-8x22b",
}
"""CSV model name -> bundled model id."""

HARDWARE_IDS = {"H100-SXM-80GB": "h100-sxm", "H200-SXM-141GB": "h200-sxm", "A100-SXM4-80GB": "a100-sxm-80gb"}
"""CSV hardware name -> bundled hardware id."""

METRICS = {"output_throughput_total": "output_tokens_per_s_per_gpu", "mean_TTFT": "ttft_s", "mean_ITL": "itl_s",
           "mean_TPOT": "itl_s"}
"""CSV metric -> predicted quantity (SI: output tokens/s per GPU, or seconds). MLPerf's mean TPOT
is the mean inter-token latency of a request."""


def load(path: str | Path | None = None) -> pd.DataFrame:
    """The published measurements as a table of strings (the bundled CSV unless ``path`` is given)."""
    if path is None:
        path = Path(str(resources.files("costmodel") / "data" / "validation" / CSV_NAME))
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def parse_precision(text: str) -> tuple[str, str]:
    """(weight dtype, KV dtype) from the CSV's precision text.

    'FP8 weights + FP8 KV ...' -> fp8/fp8; 'FP16 weights + FP16 KV' -> fp16/fp16;
    'BF16 weights/activations' -> bf16/bf16; MLPerf 'FP8 (use_fp8=True)' -> fp8/fp8.
    """
    t = text.upper()
    if t.startswith("FP8"):
        return "fp8", ("fp8" if "FP8 KV" in t or "USE_FP8" in t else "bf16")
    if t.startswith("FP16"):
        return "fp16", "fp16"
    if t.startswith("BF16"):
        return "bf16", "bf16"
    raise CostModelError(f"precision: {text!r} is not one of FP8..., FP16..., BF16...")


def parse_plan(text: str, num_gpus: int, is_moe: bool) -> Plan:
    """Plan from 'TP4 PP1 (experts TP-sharded; no EP)', 'TP1 PP1 x 8 replicas (DP8)', 'TP4'.

    Replicas are attention data parallelism (dp) whose experts are not shared: each replica holds every
    expert, sharded over its own tp GPUs, so ep = 1 and etp = tp (expert data parallel degree dp).
    """
    tp = re.search(r"\bTP(\d+)", text)
    if tp is None:
        raise CostModelError(f"parallel_config: {text!r} has no TP degree (expected 'TP<n> ...')")
    pp = re.search(r"\bPP(\d+)", text)
    replicas = re.search(r"x\s*(\d+)\s*replicas", text)
    tp, pp = int(tp.group(1)), int(pp.group(1)) if pp else 1
    dp = int(replicas.group(1)) if replicas else 1
    if tp * pp * dp != num_gpus:
        raise CostModelError(f"parallel_config: {text!r} gives {tp * pp * dp} GPUs, the row says {num_gpus}")
    return Plan(tp=tp, dp=dp, pp=pp, ep=1, etp=tp)


def run_key(row: dict) -> str:
    """Key of one measured run: source | model | hardware | parallel config | ISL | OSL.

    Every metric and every load level of one serving sweep share it, so they land on the same
    side of the train/held-out split.
    """
    return "|".join(row[k] for k in ("source_id", "model", "hardware", "parallel_config", "isl", "osl"))


def _not_representable(row: dict) -> str | None:
    """The reason a row cannot be predicted, or None."""
    if row["model"] not in MODEL_IDS:
        return f"model {row['model']!r} is not bundled"
    if row["hardware"] not in HARDWARE_IDS:
        return f"hardware {row['hardware']!r} is not bundled"
    if row["metric"].startswith("p99"):
        return "p99 tail latency: the model predicts means of a steady state, not tails of a distribution"
    if row["metric"] not in METRICS:
        return f"metric {row['metric']!r} is not one the model predicts"
    if not (row["isl"].isdigit() and row["osl"].isdigit()):
        return ("variable-length dataset (MLPerf): the source gives no input length, and the model needs one "
                "S_in and S_out per run")
    return None


def parse_row(row: dict) -> Scenario:
    """One CSV row (a dict of strings) -> :class:`Scenario`; raise CostModelError with the reason
    when the model cannot represent it."""
    reason = _not_representable(row)
    if reason:
        raise CostModelError(f"row {row['id']}: {reason}")
    model_id, hardware_id = MODEL_IDS[row["model"]], HARDWARE_IDS[row["hardware"]]
    gpus = int(row["num_gpus"])
    plan = parse_plan(row["parallel_config"], gpus, specs(model_id, hardware_id)[0].is_moe)
    weight_dtype, kv_dtype = parse_precision(row["precision"])
    isl, osl = int(row["isl"]), int(row["osl"])
    if max_batch(model_id, hardware_id, plan, isl, osl, weight_dtype, kv_dtype) < 1:
        raise CostModelError(f"row {row['id']}: weights and one prefill chunk leave no memory for one sequence's "
                             "KV cache, so the model predicts the run cannot fit")
    online = re.search(r"QPS=(\w+)", row["scenario"])
    if online:
        regime, qps = "online", math.inf if online.group(1) == "INF" else float(online.group(1))
        requests = int(re.search(r"(\d+) requests", row["batch_or_concurrency"]).group(1))
    elif row["scenario"].startswith("offline"):
        regime, qps, requests = "offline", math.inf, 0
    else:
        raise CostModelError(f"row {row['id']}: scenario {row['scenario']!r} is neither offline nor online QPS")
    metric = METRICS[row["metric"]]
    value = float(row["value"])
    if metric == "output_tokens_per_s_per_gpu":
        measured = value / gpus  # the CSV value is the whole group's tokens/s
        group = "throughput_max_load" if qps == math.inf else "throughput_online"
    else:
        check_choice(f"row {row['id']} unit", row["unit"], ("ms",))
        measured = value * MS
        group = "ttft" if metric == "ttft_s" else "itl"
    return Scenario(row["id"], "published", row["source_id"], run_key(row), model_id, hardware_id, "trt-llm", plan,
                    isl, osl, weight_dtype, kv_dtype, regime, metric, group, measured, qps=qps, requests=requests)


def parse(table: pd.DataFrame | None = None) -> tuple[list[Scenario], pd.DataFrame]:
    """(scenarios, not_represented): every row is in exactly one of the two.

    not_represented has columns id, source_id, model, hardware, metric, reason.
    """
    table = load() if table is None else table
    scenarios, skipped = [], []
    for row in table.to_dict("records"):
        try:
            scenarios.append(parse_row(row))
        except CostModelError as exc:
            skipped.append({k: row[k] for k in ("id", "source_id", "model", "hardware", "metric")}
                           | {"reason": str(exc).split(": ", 1)[1]})
    columns = ["id", "source_id", "model", "hardware", "metric", "reason"]
    return scenarios, pd.DataFrame(skipped, columns=columns)
