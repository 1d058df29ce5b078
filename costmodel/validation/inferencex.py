"""Expert-parallel serving of DeepSeek-R1 measured by InferenceX (``inferencex_dsr1.csv``).

257 runs (``inferencex_dsr1_README.md``): SGLang, TensorRT-LLM and ATOM, aggregated or disaggregated
(Dynamo, MoRI), with or without MTP, FP8 or FP4 checkpoints, on nine GPU types, each a closed loop of
``conc`` requests. Each run gives three scenarios: median TTFT, median TPOT and output tokens/s per
GPU (per decode GPU when disaggregated). What the rows do not say is read from the benchmark's
launch scripts and recipes (the InferenceX repository, SemiAnalysisAI/InferenceX, and the NVIDIA
srt-slurm recipes it runs; facts collected in the book's validation chapter), as named constants:

* lengths: the client draws each input and output length uniformly from [0.8 L, L]
  (``RANDOM_RANGE_RATIO=0.8``), so the means are :data:`LENGTH_SCALE` x the nominal ISL and OSL;
* KV cache: FP8, except SGLang on Hopper (no ``--kv-cache-dtype``: BF16);
* attention: BF16, except TensorRT-LLM on Hopper (its FP8 FlashMLA decode kernel);
* MTP draft tokens (:func:`mtp_tokens`): SGLang 2 on NVIDIA and 3 on AMD; TensorRT-LLM 3, or 1 with
  attention data parallelism; ATOM 3; disaggregated recipes 1-3 by point (2 taken for DEP, 3 for TEP);
* routing: MoRI disaggregated runs use ``--ep-dispatch-algorithm fake`` (uniform random experts);
  Dynamo-SGLang wide-EP decode on GB200 / GB300 keeps 32 redundant experts;
* GPUs: a single-node run uses tp GPUs (the row's num_*_gpu of tp x ep is not a GPU count); a pool
  of a disaggregated run has num_*_gpu / workers GPUs per worker.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from ..display import ReaderTable
from ..strategy import Plan
from ..units import CostModelError
from .scenario import Scenario

CSV_NAME = "inferencex_dsr1.csv"

MODEL_ID = "deepseek-v3"
"""DeepSeek-R1 has DeepSeek-V3's architecture."""

HARDWARE_IDS = {"h100": "h100-sxm", "h200": "h200-sxm", "b200": "b200-sxm", "b300": "b300-sxm",
                "gb200": "gb200-nvl72", "gb300": "gb300-nvl72", "mi300x": "mi300x", "mi325x": "mi325x",
                "mi355x": "mi355x"}
"""CSV hardware -> bundled hardware id."""

AMD = ("mi300x", "mi325x", "mi355x")
HOPPER = ("h100", "h200")

LENGTH_SCALE = 0.9
"""Mean of a length drawn uniformly from [0.8 L, L] (InferenceX ``RANDOM_RANGE_RATIO: 0.8``)."""

METRICS = {"median_ttft_s": ("ttft_s", "ttft"), "median_tpot_s": ("tpot_s", "tpot"),
           "output_tput_per_gpu": ("output_tokens_per_s_per_gpu", "throughput_serving")}
"""CSV column -> (predicted quantity, report group)."""

PROMPTS_PER_CONCURRENCY = 10
"""Each point sends 10 x conc prompts (``--num-prompts $(( CONC * 10 ))``) through a closed loop that
is not refilled once they are all sent, so the last conc requests drain with the loop emptying: about
half a request lifetime at falling load. Measured output tokens/s are total tokens over the whole
duration, (10 N / X + L / 2) for a steady rate X and lifetime L = N / X: 10 / 10.5 of the steady state."""

REDUNDANT_EXPERTS = 32
"""Dynamo-SGLang wide-EP decode on GB200 / GB300: ``ep-num-redundant-experts: 32``."""

CONSISTENCY_FACTOR = 2.0
"""A run whose output tokens/s per GPU differ from conc x mean OSL / median end-to-end latency / GPUs
by more than this factor contradicts itself and is listed, not predicted."""


def load(path: str | Path | None = None) -> pd.DataFrame:
    """The InferenceX runs (the bundled CSV unless ``path`` is given)."""
    if path is None:
        path = Path(str(resources.files("costmodel") / "data" / "validation" / CSV_NAME))
    return pd.read_csv(path)


def mtp_tokens(row: dict) -> int:
    """Draft tokens per verify step of an MTP run (0 without MTP); see the module docstring."""
    if row["spec_method"] != "mtp":
        return 0
    framework, hardware = row["framework"], row["hardware"]
    if framework in ("sglang", "mori-sglang"):
        return 3 if hardware in AMD and framework == "sglang" else 2
    if framework == "trt":
        return 1 if row["decode_dp_attention"] else 3
    if framework == "dynamo-trt":
        return 2 if row["decode_dp_attention"] else 3
    return {"atom": 3, "dynamo-sglang": 2}[framework]


def pool_plan(tp: int, ep: int, dp_attention: bool, gpus: int, redundant: int = 0) -> Plan:
    """The plan of one worker of ``gpus`` GPUs: attention TP tp (1 with DP-attention) and DP over the
    rest, experts over ep (the engine default etp = tp x dp / ep)."""
    attention_tp = 1 if dp_attention else tp
    if gpus % attention_tp or gpus % ep:
        raise CostModelError(f"plan: tp {tp}, ep {ep} do not fit a worker of {gpus} GPUs")
    return Plan(tp=attention_tp, dp=gpus // attention_tp, ep=ep, redundant_experts=redundant)


def _redundant(row: dict, ep: int) -> int:
    return REDUNDANT_EXPERTS if row["framework"] == "dynamo-sglang" and row["hardware"] in ("gb200", "gb300") \
        and ep >= 16 else 0


def _pool(row: dict, side: str) -> tuple[Plan, int]:
    """(plan, workers) of the prefill or decode side of a row."""
    tp, ep, workers = int(row[f"{side}_tp"]), int(row[f"{side}_ep"]), int(row[f"{side}_num_workers"])
    if not row["disagg"]:
        return pool_plan(tp, ep, bool(row[f"{side}_dp_attention"]), tp), 1
    if workers < 1:
        raise CostModelError(f"a disaggregated run with {workers} {side} workers")
    gpus = int(row[f"num_{side}_gpu"])
    if gpus % workers:
        raise CostModelError(f"{gpus} {side} GPUs do not split over {workers} workers")
    return pool_plan(tp, ep, bool(row[f"{side}_dp_attention"]), gpus // workers, _redundant(row, ep)), workers


def setup_key(row: dict) -> str:
    """Key of one benchmark setup: every concurrency point of it lands on the same side of the split."""
    keys = ("hardware", "framework", "precision", "spec_method", "disagg", "prefill_tp", "prefill_ep",
            "prefill_dp_attention", "prefill_num_workers", "decode_tp", "decode_ep", "decode_dp_attention",
            "decode_num_workers", "isl", "osl")
    return "IX|" + "|".join(str(row[k]) for k in keys)


def _check_consistent(row: dict, decode_gpus: int) -> None:
    implied = row["conc"] * LENGTH_SCALE * row["osl"] / row["median_e2el_s"] / decode_gpus
    ratio = row["output_tput_per_gpu"] / implied
    if not 1 / CONSISTENCY_FACTOR <= ratio <= CONSISTENCY_FACTOR:
        raise CostModelError(f"output tokens/s per GPU {row['output_tput_per_gpu']:.4g} is {ratio:.2g} x what its "
                             f"own concurrency and end-to-end latency imply ({implied:.4g})")


def parse_row(row: dict) -> list[Scenario]:
    """The three scenarios of one run; CostModelError with the reason when it cannot be represented."""
    try:
        if row["hardware"] not in HARDWARE_IDS:
            raise CostModelError(f"hardware {row['hardware']!r} is not bundled")
        plan, workers = _pool(row, "decode")
        prefill_plan, prefill_workers = _pool(row, "prefill") if row["disagg"] else (None, 0)
        for column in METRICS:
            if pd.isna(row[column]):
                raise CostModelError(f"{column} is missing")
        _check_consistent(row, plan.gpus * workers)
    except CostModelError as exc:
        raise CostModelError(f"row {row['id']}: {exc}") from None
    framework, hardware = row["framework"], row["hardware"]
    weight = "fp8" if row["precision"] == "fp8" else ("mxfp4" if hardware in AMD else "fp4")
    common = dict(
        row_id=row["id"], dataset="inferencex", source_id="IX", run_key=setup_key(row), model_id=MODEL_ID,
        hardware_id=HARDWARE_IDS[hardware], framework=framework, plan=plan,
        input_len=round(LENGTH_SCALE * row["isl"]), output_len=round(LENGTH_SCALE * row["osl"]),
        weight_dtype=weight, kv_dtype="bf16" if framework in ("sglang", "dynamo-sglang") and hardware in HOPPER
        else "fp8", regime="closed", concurrency=int(row["conc"]), workers=workers, prefill_plan=prefill_plan,
        prefill_workers=prefill_workers, mtp=mtp_tokens(row),
        attention_dtype="fp8" if framework in ("trt", "dynamo-trt") and hardware in HOPPER else "bf16",
        routing="uniform" if framework == "mori-sglang" else "measured")
    return [Scenario(metric=metric, group=group, measured=float(row[column]), **common)
            for column, (metric, group) in METRICS.items()]


def parse(table: pd.DataFrame | None = None) -> tuple[list[Scenario], pd.DataFrame]:
    """(scenarios, not_represented): every run is either predicted (three scenarios) or listed with
    the reason (columns id, hardware, framework, reason)."""
    table = load() if table is None else table
    scenarios, skipped = [], []
    for row in table.to_dict("records"):
        try:
            scenarios += parse_row(row)
        except CostModelError as exc:
            skipped.append({k: row[k] for k in ("id", "hardware", "framework")} | {"reason": str(exc).split(": ", 1)[1]})
    return scenarios, pd.DataFrame(skipped, columns=["id", "hardware", "framework", "reason"])


def assumptions() -> pd.DataFrame:
    """What the predictions of the InferenceX rows assume beyond the rows, with the source of each."""
    return ReaderTable([
        {"assumption": "mean input and output length", "value": f"{LENGTH_SCALE:g} x ISL, OSL",
         "source": "lengths drawn uniformly from [0.8 L, L] (InferenceX RANDOM_RANGE_RATIO=0.8)"},
        {"assumption": "measured throughput / steady state", "value": f"{PROMPTS_PER_CONCURRENCY} / "
         f"{PROMPTS_PER_CONCURRENCY + 0.5:g}", "source": "10 x conc prompts, then the loop drains (--num-prompts)"},
        {"assumption": "KV cache", "value": "FP8; BF16 for SGLang on H100/H200",
         "source": "launch scripts: --kv-cache-dtype fp8_e4m3, none on Hopper SGLang"},
        {"assumption": "attention math", "value": "BF16; FP8 for TensorRT-LLM on H100/H200",
         "source": "TensorRT-LLM uses the FP8 FlashMLA decode kernel on Hopper (TRT-LLM tech blog 2)"},
        {"assumption": "MTP draft tokens", "value": "SGLang 2 (AMD 3); TRT-LLM 3 (1 with DP-attention); ATOM 3; "
         "Dynamo-TRT 2 (DEP) / 3 (TEP); Dynamo-SGLang, MoRI 2", "source": "launch scripts and srt-slurm recipes"},
        {"assumption": "expert routing", "value": "measured skew; uniform for MoRI",
         "source": "MoRI runs pass --ep-dispatch-algorithm fake (random experts)"},
        {"assumption": "redundant experts", "value": f"{REDUNDANT_EXPERTS} for Dynamo-SGLang wide EP on GB200/GB300",
         "source": "recipes: ep-num-redundant-experts: 32"},
        {"assumption": "GPUs of a single-node run", "value": "tp", "source": "process_result.py: num_gpus = tp x pp"},
        {"assumption": "memory headroom", "value": "none", "source": "the runs fitted; each tuned its memory fraction"},
    ])
