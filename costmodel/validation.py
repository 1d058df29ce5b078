"""Validation against published measurements of real systems, and the calibrated efficiency profile.

Data: ``data/validation/published_measurements.csv`` (411 rows, sources in
``published_measurements_README.md``): TensorRT-LLM offline max-load throughput (S1), TensorRT-LLM
online serving at fixed request rates (S4) and MLPerf Inference v4.1 (S6).

Pipeline (each step a pure function):

1. :func:`parse_measurements`: every row becomes a :class:`Scenario` (bundled model, hardware,
   plan, workload, metric, measured value in SI units) or is listed with the reason the model
   cannot represent it. No row is dropped silently.
2. :func:`predict`: one prediction per scenario under an efficiency profile.

   * Max-load (offline) throughput: the engine fills memory, so the batch B is the largest that
     fits (weights + KV for the full context S_in + S_out of every sequence + activations of one
     prefill chunk + reserved), capped at :data:`MAX_BATCH`. The measured figure is total output
     tokens / wall time, which includes every request's prefill, so the prediction is the
     library's end-to-end rate ``B S_out / (TTFT(B) + S_out TPOT(B)) / GPUs``.
   * Online serving at a request rate lambda (:func:`online_metrics`): a prefill queue and a
     decode batch whose size follows Little's law (see that function for the formulas).
3. :func:`fit_profile`: per hardware, a pattern search on a 0.01 grid of the four efficiency
   factors (prefill ``mfu``, ``decode_mfu``, ``bw_util``, ``scale_up_util``) that minimises the sum of
   squared log errors on the training rows only (:func:`is_held_out` defines the split). The
   result is bundled as ``data/efficiency/calibrated.yaml`` (``efficiency="calibrated"``).
4. :func:`error_table`, :func:`bound_violations`, :func:`prediction_intervals`,
   :func:`interval_coverage`: the report.

Assumptions about the engine are named constants (:data:`MAX_BATCH`,
:data:`PREFILL_CHUNK_TOKENS`); the formulas themselves all come from :mod:`costmodel.perf`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .architecture import load_model
from .display import ReaderTable
from .efficiency import Efficiency, resolve_efficiency
from .hardware import load_hardware
from .memory import RESERVED_BYTES_PER_GPU, activation_bytes_per_gpu, memory_bytes_per_gpu
from .perf import evaluate
from .strategy import Plan, Workload
from .units import MS, CostModelError, check_choice

CSV_NAME = "published_measurements.csv"

MODEL_IDS = {
    "Llama-3.1-70B": "llama-3-70b",  # same shapes as Llama-3-70B
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

GROUPS = ("throughput_max_load", "throughput_online", "ttft", "itl")
"""Metric groups of the report: max-load (offline and QPS=INF) throughput, online throughput at a
finite request rate (mostly set by the offered load), mean TTFT, mean inter-token latency."""

FACTORS = ("mfu", "decode_mfu", "bw_util", "scale_up_util")
"""The efficiency factors fitted per hardware (see :class:`costmodel.hardware.Efficiency`)."""

MAX_BATCH = 4096
"""Most sequences the engine runs at once: trtllm-bench caps its max batch size at 4096
(tensorrt_llm/bench/build/tuning.py, ``finetune_setting``)."""

PREFILL_CHUNK_TOKENS = 8192
"""Tokens of one prefill chunk (TensorRT-LLM's default ``max_num_tokens``): in-flight batching
prefills at most this many tokens per iteration, so activation memory is sized for one chunk,
not for the whole batch."""

HELD_OUT_PERCENT = 30
"""Share of runs held out (see :func:`is_held_out`)."""

GRID = np.round(np.arange(0.05, 1.0 + 1e-9, 0.01), 2)
"""Candidate values of every efficiency factor in the fit: 0.05, 0.06, ..., 1.00."""

FIT_STEPS = (0.16, 0.08, 0.04, 0.02, 0.01)
"""Step sizes of the pattern search, coarse to fine (multiples of the 0.01 grid)."""

START = {"mfu": 0.6, "decode_mfu": 0.6, "bw_util": 0.8, "scale_up_util": 0.8}
"""Starting point of the coordinate search (the documents' generic 60 % / 80 %)."""

FIXED_POINT_ITERATIONS = 40
"""Iterations of Little's-law fixed point for the online decode batch (from below, so it reaches
the smallest, stable solution)."""

INTERVAL_LEVEL = 0.9
"""Central coverage of the prediction intervals."""


@dataclass(frozen=True)
class Scenario:
    """One measured row in model terms. ``measured`` is SI: output tokens/s per GPU or seconds.

    regime: ``offline`` (max-load run) or ``online`` (requests at rate ``qps``, math.inf for QPS=INF);
    requests: requests in an online run; run_key: what the train/held-out split hashes.
    """

    row_id: str
    source_id: str
    run_key: str
    model_id: str
    hardware_id: str
    plan: Plan
    input_len: int
    output_len: int
    weight_dtype: str
    kv_dtype: str
    regime: str
    qps: float
    requests: int
    metric: str
    group: str
    measured: float

    @property
    def setup(self) -> tuple:
        """What the prediction depends on besides the load: model, hardware, plan, workload shape."""
        return (self.model_id, self.hardware_id, self.plan, self.input_len, self.output_len,
                self.weight_dtype, self.kv_dtype)


# --- parsing ---------------------------------------------------------------------------------
def load_measurements(path: str | Path | None = None) -> pd.DataFrame:
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

    Replicas are attention data parallelism (dp). Experts sharded by TP and no EP means the
    expert tensor-parallel degree equals tp: ep = 1, etp = tp (MoE parallel folding).
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


def is_held_out(key: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """Deterministic split: held out when int(sha256(key)[:8], 16) mod 100 < percent."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100 < percent


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
    model_id = MODEL_IDS[row["model"]]
    gpus = int(row["num_gpus"])
    plan = parse_plan(row["parallel_config"], gpus, _specs(model_id, HARDWARE_IDS[row["hardware"]])[0].is_moe)
    weight_dtype, kv_dtype = parse_precision(row["precision"])
    hardware_id = HARDWARE_IDS[row["hardware"]]
    if max_batch(model_id, hardware_id, plan, int(row["isl"]), int(row["osl"]), weight_dtype, kv_dtype) < 1:
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
    return Scenario(row["id"], row["source_id"], run_key(row), model_id, hardware_id, plan,
                    int(row["isl"]), int(row["osl"]), weight_dtype, kv_dtype, regime, qps, requests, metric,
                    group, measured)


def parse_measurements(table: pd.DataFrame | None = None) -> tuple[list[Scenario], pd.DataFrame]:
    """(scenarios, not_represented): every row is in exactly one of the two.

    not_represented has columns id, source_id, model, hardware, metric, reason.
    """
    table = load_measurements() if table is None else table
    scenarios, skipped = [], []
    for row in table.to_dict("records"):
        try:
            scenarios.append(parse_row(row))
        except CostModelError as exc:
            skipped.append({k: row[k] for k in ("id", "source_id", "model", "hardware", "metric")}
                           | {"reason": str(exc).split(": ", 1)[1]})
    columns = ["id", "source_id", "model", "hardware", "metric", "reason"]
    return scenarios, pd.DataFrame(skipped, columns=columns)


# --- the engine's batch ----------------------------------------------------------------------
@lru_cache(maxsize=None)
def max_batch(model_id: str, hardware_id: str, plan: Plan, input_len: int, output_len: int, weight_dtype: str,
              kv_dtype: str, cap: int = MAX_BATCH) -> int:
    """Largest batch (all replicas) whose memory fits one GPU, at most ``cap`` per replica.

    Per replica: B_r = floor((capacity - weights - activations of one prefill chunk - reserved)
    / KV bytes of one sequence at full context S_in + S_out); the batch is B_r x dp.
    """
    m, hw = _specs(model_id, hardware_id)
    one = Workload(1, input_len, output_len, weight_dtype, kv_dtype)
    parts = memory_bytes_per_gpu(m, plan, one)
    chunk = Workload(1, PREFILL_CHUNK_TOKENS, 1, weight_dtype, kv_dtype)
    free = hw.memory_bytes - parts["weights"] - activation_bytes_per_gpu(m, plan, chunk) - RESERVED_BYTES_PER_GPU
    per_replica = int(min(max(free // parts["kv_cache"], 0), cap))
    return per_replica * plan.dp


# --- predictions -----------------------------------------------------------------------------
class _FactorArrays:
    """Efficiency factors as numpy arrays, so that one :func:`costmodel.perf.evaluate` call
    predicts a row for many candidate efficiencies at once (the fit's inner loop).

    It offers the attributes evaluate reads from an :class:`Efficiency`."""

    def __init__(self, mfu, decode_mfu, bw_util, scale_up_util):
        self.mfu, self.decode_compute = np.asarray(mfu, float), np.asarray(decode_mfu, float)
        self.bw_util, self.scale_up_util = np.asarray(bw_util, float), np.asarray(scale_up_util, float)
        self.scale_out = self.scale_up_util


@lru_cache(maxsize=None)
def _specs(model_id: str, hardware_id: str):
    """Loaded model and hardware, parsed once (the fit evaluates thousands of times)."""
    return load_model(model_id), load_hardware(hardware_id)


def _evaluate(setup: tuple, batch: int, factors: _FactorArrays) -> dict:
    model_id, hardware_id, plan, isl, osl, wd, kvd = setup
    wl = Workload(int(batch), isl, osl, wd, kvd)
    return evaluate(*_specs(model_id, hardware_id), plan, wl, factors)


def _interp(x, xp, fp):
    """Column-wise linear interpolation: x (K,), xp (n,) increasing, fp (n, K) -> (K,)."""
    if len(xp) == 1:
        return fp[0]
    i = np.minimum(np.maximum(np.searchsorted(xp, x, side="right") - 1, 0), len(xp) - 2)
    cols = np.arange(fp.shape[1])
    x0 = xp[i]
    w = np.minimum(np.maximum((x - x0) / (xp[i + 1] - x0), 0.0), 1.0)
    return fp[i, cols] * (1 - w) + fp[i + 1, cols] * w


def online_metrics(qps: float, requests: int, output_len: int, batch_max: int, batches, decode_step_s,
                   ttft_batch_s, ttft_single_s) -> dict:
    """Mean TTFT, mean inter-token latency, output tokens/s and decode batch of a serving run.

    Inputs (arrays over K candidate efficiencies): decode_step_s (n, K) and ttft_batch_s (n, K) are
    the library's decode step and whole-batch prefill at each batch in ``batches`` (n,), whose last
    element is batch_max = min(batch that fits, requests, MAX_BATCH); ttft_single_s (K,) is the
    prefill of one request alone. With lambda = qps, N = requests, S_out = output_len:

      s_b = TTFT(batch_max) / batch_max          prefill work per request when chunks are batched
      rho = lambda s_b                            prefill utilisation
    Steady state (rho < 1 and the batch below batch_max), B from Little's law by fixed-point
    iteration, B = lambda (TTFT + (S_out - 1) ITL):
      ITL  = step(B) / (1 - rho)                  decode iterations share the GPU with prefill chunks
      TTFT = s_1 + rho s_b / (2 (1 - rho)) + 1.5 step(B)
             (prefill alone, M/D/1 queueing for the prefill, half an iteration waiting for the
              running one plus the iteration that carries the new context)
      tokens/s = N S_out / (N / lambda + TTFT + (S_out - 1) ITL)     (arrivals span N / lambda)
    Saturated (rho >= 1, QPS=INF, or the batch reaches batch_max), B = batch_max:
      T_wave = TTFT(B) + S_out step(B);  T_run = max(N / B x T_wave, N / lambda + s_1 + (S_out - 1) step(1))
      TTFT = s_1 + (N - 1) / 2 x max(s_b - 1 / lambda, 0) + [N > B] (N - B)^2 / (2 N) x T_wave / B
             + 1.5 step(B)
             (the prefill backlog grows for the whole arrival span; requests beyond B wait for slots)
      ITL  = max((T_run - N / (2 lambda) - TTFT) / (S_out - 1), step(B))
             (all requests finish together at T_run: mean finish minus mean first-token time)
      tokens/s = N S_out / T_run
    """
    lam, n, s_out = qps, requests, output_len
    inv_lam = 0.0 if math.isinf(lam) else 1.0 / lam
    s1 = ttft_single_s
    s_b = ttft_batch_s[-1] / batch_max
    step_max, step_1 = decode_step_s[-1], decode_step_s[0]

    # saturated branch
    t_wave = ttft_batch_s[-1] + s_out * step_max
    t_run = np.maximum(n / batch_max * t_wave, n * inv_lam + s1 + (s_out - 1) * step_1)
    slot_wait = max(n - batch_max, 0) ** 2 / (2 * n) * t_wave / batch_max
    ttft_sat = s1 + (n - 1) / 2 * np.maximum(s_b - inv_lam, 0.0) + slot_wait + 1.5 * step_max
    itl_sat = np.maximum((t_run - n * inv_lam / 2 - ttft_sat) / max(s_out - 1, 1), step_max)
    result = {"ttft_s": ttft_sat, "itl_s": itl_sat, "output_tokens_per_s": n * s_out / t_run,
              "batch": np.full(np.shape(s1), float(batch_max))}
    if math.isinf(lam):
        return result

    # steady-state branch
    rho = lam * s_b
    free = np.clip(1.0 - rho, 1e-9, None)
    batch = np.minimum(lam * (s1 + s_out * step_1), batch_max)
    for _ in range(FIXED_POINT_ITERATIONS):
        step = _interp(batch, batches, decode_step_s)
        itl = step / free
        ttft = s1 + rho * s_b / (2 * free) + 1.5 * step
        batch = np.minimum(lam * (ttft + (s_out - 1) * itl), batch_max)
    steady = (rho < 1.0) & (batch < batch_max)
    tokens = n * s_out / (n / lam + ttft + (s_out - 1) * itl)
    return {"ttft_s": np.where(steady, ttft, ttft_sat), "itl_s": np.where(steady, itl, itl_sat),
            "output_tokens_per_s": np.where(steady, tokens, result["output_tokens_per_s"]),
            "batch": np.where(steady, batch, batch_max)}


def _batch_grid(batch_max: int, points: int = 16) -> np.ndarray:
    """Batches 1 ... batch_max, geometric, at which the online model evaluates the library; the decode
    step between them is interpolated linearly (it is piecewise linear in B)."""
    return np.unique(np.round(np.geomspace(1, max(batch_max, 1), points)).astype(int))


def _predict_setup(scenarios: list[Scenario], factors: _FactorArrays) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (len(scenarios), K) and batches for scenarios that share one setup."""
    first = scenarios[0]
    setup, plan = first.setup, first.plan
    fit_batch = max_batch(*setup)
    k = np.broadcast(factors.mfu, factors.decode_compute, factors.bw_util, factors.scale_up_util).shape
    values = np.empty((len(scenarios),) + k)
    batches = np.empty_like(values)
    if first.regime == "offline":
        e2e = _evaluate(setup, fit_batch, factors)["e2e_output_tokens_per_s_per_gpu"]
        values[:] = np.broadcast_to(e2e, k)
        batches[:] = fit_batch
        return values, batches
    # online runs of one setup share the batch grid; their requests count is the same in the data
    runs = {}
    for i, sc in enumerate(scenarios):
        runs.setdefault((sc.qps, sc.requests), []).append(i)
    by_requests = {}
    for (qps, requests), rows in runs.items():
        if requests not in by_requests:
            b_max = min(fit_batch, requests)
            grid = _batch_grid(b_max)
            evals = [_evaluate(setup, b, factors) for b in grid]
            by_requests[requests] = (b_max, grid,
                                     np.array([np.broadcast_to(e["decode_step_s"], k) for e in evals]),
                                     np.array([np.broadcast_to(e["ttft_s"], k) for e in evals]),
                                     np.broadcast_to(evals[0]["ttft_single_request_s"], k))
        b_max, grid, step, ttft_b, single = by_requests[requests]
        out = online_metrics(qps, requests, first.output_len, b_max, grid, step, ttft_b, single)
        for i in rows:
            sc = scenarios[i]
            value = out["output_tokens_per_s"] / plan.gpus if sc.metric == "output_tokens_per_s_per_gpu" \
                else out[sc.metric]
            values[i], batches[i] = np.broadcast_to(value, k), np.broadcast_to(out["batch"], k)
    return values, batches


def predict_matrix(scenarios: list[Scenario], factors: _FactorArrays) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and batches, shape (len(scenarios), K), for K candidate efficiencies at once."""
    k = np.broadcast(factors.mfu, factors.decode_compute, factors.bw_util, factors.scale_up_util).shape
    values = np.empty((len(scenarios),) + k)
    batches = np.empty_like(values)
    groups = {}
    for i, sc in enumerate(scenarios):
        groups.setdefault((sc.setup, sc.regime), []).append(i)
    for rows in groups.values():
        v, b = _predict_setup([scenarios[i] for i in rows], factors)
        values[rows], batches[rows] = v, b
    return values, batches


def _factors_of(eff: Efficiency) -> _FactorArrays:
    return _FactorArrays([eff.mfu], [eff.decode_compute], [eff.bw_util], [eff.scale_up_util])


def predict(scenarios: list[Scenario], efficiency="calibrated") -> pd.DataFrame:
    """One row per scenario: identity, split, measured, predicted, ratio and absolute % error.

    efficiency: a profile name (``calibrated``, ``datasheet``, ``scenario``), an
    :class:`Efficiency`, or {hardware id: Efficiency}. ratio = predicted / measured;
    ape = |predicted - measured| / measured.
    """
    out = []
    by_hw = {}
    for i, sc in enumerate(scenarios):
        by_hw.setdefault(sc.hardware_id, []).append(i)
    predicted = np.empty(len(scenarios))
    batch = np.empty(len(scenarios))
    for hw_id, rows in by_hw.items():
        eff = efficiency[hw_id] if isinstance(efficiency, dict) else resolve_efficiency(load_hardware(hw_id), efficiency)
        v, b = predict_matrix([scenarios[i] for i in rows], _factors_of(eff))
        predicted[rows], batch[rows] = v[:, 0], b[:, 0]
    for sc, p, b in zip(scenarios, predicted, batch):
        out.append({
            "id": sc.row_id, "source_id": sc.source_id, "model": sc.model_id, "hardware": sc.hardware_id,
            "plan": sc.plan.label(), "isl": sc.input_len, "osl": sc.output_len, "dtype": sc.weight_dtype,
            "qps": sc.qps if sc.regime == "online" else np.nan, "metric": sc.metric, "group": sc.group,
            "split": "held-out" if is_held_out(sc.run_key) else "train", "batch": round(float(b)),
            "measured": sc.measured, "predicted": p,
        })
    table = pd.DataFrame(out)
    table["ratio"] = table["predicted"] / table["measured"]
    table["ape"] = abs_pct_error(table["predicted"], table["measured"])
    return table


# --- fit ---------------------------------------------------------------------------------------
def squared_log_error(predicted, measured) -> np.ndarray:
    """(ln(predicted / measured))^2, element-wise: the fit's loss per row."""
    return np.log(np.asarray(predicted) / np.asarray(measured)) ** 2


def fit_hardware(scenarios: list[Scenario], start: dict | None = None, steps=FIT_STEPS, max_rounds: int = 60) -> dict:
    """Pattern search for one hardware's four factors minimising sum (ln(pred / measured))^2.

    Each round evaluates, in one vectorised pass, the 5^4 = 625 points current + step x
    (i, j, k, l), i..l in {-2, -1, 0, 1, 2} (clipped to [0.05, 1], rounded to 0.01), and moves to
    the best if it lowers the loss; otherwise the step shrinks through ``steps`` (0.16 ... 0.01).
    Diagonal moves follow the valleys where two factors trade off (decode_mfu against bw_util).
    The result is a minimum over its 0.01-neighbourhood; ties go to the first candidate in a fixed
    order, so the result is deterministic.
    """
    current = dict(START if start is None else start)
    measured = np.array([sc.measured for sc in scenarios])[:, None]
    offsets = np.array(list(itertools.product(range(-2, 3), repeat=len(FACTORS))), float)
    here = None
    level = 0
    for _ in range(max_rounds):
        centre = np.array([current[f] for f in FACTORS])
        points = np.round(np.clip(centre + steps[level] * offsets, GRID[0], GRID[-1]), 2)
        points = np.vstack([centre, points])  # index 0: the current point
        values, _ = predict_matrix(scenarios, _FactorArrays(*points.T))
        loss = squared_log_error(values, measured).sum(axis=0)
        here = loss[0]
        best = int(np.argmin(loss))
        if loss[best] < here:
            current = dict(zip(FACTORS, map(float, points[best])))
        elif level + 1 < len(steps):
            level += 1
        else:
            break
    return current


def fit_profile(scenarios: list[Scenario] | None = None) -> dict:
    """{hardware id: {mfu, decode_mfu, bw_util, scale_up_util}} fitted on the training rows only."""
    scenarios = parse_measurements()[0] if scenarios is None else scenarios
    train = [sc for sc in scenarios if not is_held_out(sc.run_key)]
    hardware = sorted({sc.hardware_id for sc in train})
    return {hw: fit_hardware([sc for sc in train if sc.hardware_id == hw]) for hw in hardware}


PROFILE_SOURCE = (
    "Fitted by costmodel.validation.fit_profile() to the training split of data/validation/"
    "published_measurements.csv (TensorRT-LLM 0.14/0.17 offline and online measurements; runs whose "
    "sha256 key falls in the held-out 30 % are excluded). Pattern search on a 0.01 grid minimising the "
    "sum of squared log errors of the predictions. Fitted factors of one software stack (TensorRT-LLM), "
    "not datasheet facts; decode_mfu and bw_util trade off against each other, so read them together."
)


def profile_document(profile: dict) -> dict:
    """The YAML document of a fitted profile: {source, hardware: {id: {factor: value}}}."""
    return {"source": PROFILE_SOURCE,
            "hardware": {hw: {f: float(profile[hw][f]) for f in FACTORS} for hw in sorted(profile)}}


def write_profile(path: str | Path, profile: dict | None = None) -> Path:
    """Write the fitted profile (fitting it when not given) as YAML; returns the path."""
    doc = profile_document(fit_profile() if profile is None else profile)
    path = Path(path)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
    return path


def bundled_profile_path() -> Path:
    """Path of the bundled ``calibrated`` profile."""
    return Path(str(resources.files("costmodel") / "data" / "efficiency" / "calibrated.yaml"))


def bundled_profile() -> dict:
    """The bundled ``calibrated`` profile as {hardware id: {factor: value}} (compare with :func:`fit_profile`)."""
    return yaml.safe_load(bundled_profile_path().read_text())["hardware"]


# --- report ------------------------------------------------------------------------------------
def abs_pct_error(predicted, measured):
    """|predicted - measured| / measured (a fraction; 0.1 = 10 %)."""
    return abs(predicted - measured) / measured


def error_table(predictions: pd.DataFrame, split: str | None = "held-out") -> pd.DataFrame:
    """Median and p90 absolute % error per metric group and hardware (plus 'all' hardware).

    p90 is numpy's linear-interpolated 90th percentile. ``split`` filters rows (None: all rows).
    """
    rows = predictions if split is None else predictions[predictions["split"] == split]
    out = []
    for group in GROUPS:
        g = rows[rows["group"] == group]
        for hw in sorted(g["hardware"].unique()) + ["all"]:
            sel = g if hw == "all" else g[g["hardware"] == hw]
            if len(sel):
                out.append({"group": group, "hardware": hw, "rows": len(sel),
                            "median_ape_pct": 100 * float(np.median(sel["ape"])),
                            "p90_ape_pct": 100 * float(np.percentile(sel["ape"], 90))})
    return ReaderTable(out)


def beats_bound(predictions: pd.DataFrame) -> pd.Series:
    """True where the measurement is better than the prediction: more throughput, or lower latency.

    Applied to predictions at 100 % efficiency (``datasheet``), a True row is a real system beating
    the roofline bound: a modelling error or an assumption the engine does not share.
    """
    throughput = predictions["metric"] == "output_tokens_per_s_per_gpu"
    return np.where(throughput, predictions["measured"] > predictions["predicted"],
                    predictions["measured"] < predictions["predicted"])


def bound_violations(scenarios: list[Scenario]) -> pd.DataFrame:
    """The rows whose measurement beats the 100 %-efficiency prediction (see :func:`beats_bound`)."""
    table = predict(scenarios, "datasheet")
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


def explain_max_load(scenario: Scenario, efficiency="calibrated") -> dict:
    """The worked numbers behind one max-load prediction (SI units): the batch that fits and why,
    the whole-batch prefill, the decode step, and the resulting output tokens/s per GPU."""
    m, hw = _specs(scenario.model_id, scenario.hardware_id)
    batch = max_batch(*scenario.setup)
    one = memory_bytes_per_gpu(m, scenario.plan, Workload(1, scenario.input_len, scenario.output_len,
                                                          scenario.weight_dtype, scenario.kv_dtype))
    chunk = Workload(1, PREFILL_CHUNK_TOKENS, 1, scenario.weight_dtype, scenario.kv_dtype)
    eff = resolve_efficiency(hw, efficiency)
    e = evaluate(m, hw, scenario.plan, Workload(batch, scenario.input_len, scenario.output_len,
                                                 scenario.weight_dtype, scenario.kv_dtype), eff)
    return {"row": scenario.row_id, "capacity_bytes_per_gpu": hw.memory_bytes,
            "weight_bytes_per_gpu": float(one["weights"]),
            "chunk_activation_bytes_per_gpu": float(activation_bytes_per_gpu(m, scenario.plan, chunk)),
            "reserved_bytes_per_gpu": RESERVED_BYTES_PER_GPU, "kv_bytes_per_sequence_per_gpu": float(one["kv_cache"]),
            "batch": batch, "ttft_whole_batch_s": float(e["ttft_s"]), "decode_step_s": float(e["decode_step_s"]),
            "predicted_output_tokens_per_s_per_gpu": float(e["e2e_output_tokens_per_s_per_gpu"]),
            "measured_output_tokens_per_s_per_gpu": scenario.measured}


def largest_errors(predictions: pd.DataFrame, n: int = 10, split: str = "held-out") -> pd.DataFrame:
    """The ``n`` rows of ``split`` with the largest absolute % error (what drives the p90)."""
    rows = predictions[predictions["split"] == split]
    columns = ["id", "source_id", "model", "hardware", "plan", "isl", "osl", "qps", "group", "batch", "measured",
               "predicted", "ape"]
    return ReaderTable(rows.nlargest(n, "ape")[columns].reset_index(drop=True))


def profile_table(profile: dict) -> pd.DataFrame:
    """A fitted profile ({hardware: {factor: value}}) as a table, one row per hardware."""
    return ReaderTable([{"hardware": hw, **{f: profile[hw][f] for f in FACTORS}} for hw in sorted(profile)])


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


__all__ = [
    "bundled_profile", "explain_max_load", "largest_errors", "profile_table", "split_counts", "profile_comparison", "max_load_consistency", "ratio_by_lengths", "hardware_pair_ratios",
    "Scenario", "load_measurements", "parse_precision", "parse_plan", "run_key", "is_held_out", "parse_row",
    "parse_measurements", "max_batch", "online_metrics", "predict_matrix", "predict", "squared_log_error",
    "fit_hardware", "fit_profile", "profile_document", "write_profile", "bundled_profile_path",
    "abs_pct_error", "error_table", "beats_bound", "bound_violations", "prediction_intervals",
    "interval_coverage", "MODEL_IDS", "HARDWARE_IDS", "METRICS", "GROUPS", "FACTORS", "MAX_BATCH",
    "PREFILL_CHUNK_TOKENS", "GRID",
]
