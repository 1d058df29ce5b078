"""Predictions of measured scenarios under an efficiency profile, many candidate efficiencies at once.

* offline (max-load) throughput: the engine fills memory, so the batch is the largest that fits
  (:func:`max_batch`, at most :data:`MAX_BATCH` per replica); the measured figure is total output
  tokens / wall time, which includes every request's prefill, so the prediction is the end-to-end rate
  ``B S_out / (TTFT(B) + S_out TPOT(B)) / GPUs``;
* online (open loop at a request rate): :func:`costmodel.validation.openloop.online_metrics`;
* closed loop (benchmark clients with ``conc`` requests in flight, aggregated or disaggregated pools,
  with or without MTP): :mod:`costmodel.serving`.

Efficiency factors travel as arrays (:class:`Factors`), so one call predicts a row for K candidate
profiles (the fit's inner loop). Engine assumptions are named constants.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .. import serving
from ..efficiency import Efficiency, resolve_efficiency
from ..hardware import load_hardware
from ..perf import evaluate
from ..strategy import Plan, Workload
from .inferencex import PROMPTS_PER_CONCURRENCY
from .openloop import batch_grid, online_metrics
from .scenario import Scenario, is_held_out, specs

FACTORS = ("mfu", "decode_mfu", "bw_util", "scale_up_util", "scale_out_util", "layer_overhead_s", "request_overhead_s")
"""The efficiency factors fitted per hardware (see :class:`costmodel.Efficiency`)."""

MAX_BATCH = 4096
"""Most sequences the engine runs at once: trtllm-bench caps its max batch size at 4096
(tensorrt_llm/bench/build/tuning.py, ``finetune_setting``)."""

MEMORY_HEADROOM = 0.0
"""Memory the measured engines left free: none assumed. They ran, so their plans fit the physical
capacity; each run tuned its own memory fraction (SGLang ``mem_fraction_static`` 0.8-0.95, TensorRT-LLM
``free_gpu_memory_fraction`` 0.75-0.9 of what the weights leave), which the rows do not record."""

BOUND_ACCEPTANCE_RATE = 0.90
"""Per-draft-token acceptance of the optimistic bound: the top of DeepSeek-V3's published 85-90 % for
the second token, applied to every draft position: tau = 1 + 0.9 + ... + 0.9^n."""


class Factors:
    """Efficiency factors as numpy arrays of one shape (K candidates); offers the attributes that
    :func:`costmodel.perf.evaluate` and :mod:`costmodel.serving` read from an :class:`Efficiency`."""

    def __init__(self, mfu, decode_mfu, bw_util, scale_up_util, scale_out_util, layer_overhead_s,
                 request_overhead_s):
        self.mfu, self.decode_compute = np.asarray(mfu, float), np.asarray(decode_mfu, float)
        self.bw_util, self.scale_up_util = np.asarray(bw_util, float), np.asarray(scale_up_util, float)
        self.scale_out, self.layer_overhead_s = np.asarray(scale_out_util, float), np.asarray(layer_overhead_s, float)
        self.request_overhead_s = np.asarray(request_overhead_s, float)
        self.shape = np.broadcast(self.mfu, self.decode_compute, self.bw_util, self.scale_up_util, self.scale_out,
                                  self.layer_overhead_s, self.request_overhead_s).shape

    @classmethod
    def of(cls, eff: Efficiency) -> "Factors":
        return cls([eff.mfu], [eff.decode_compute], [eff.bw_util], [eff.scale_up_util], [eff.scale_out],
                   [eff.layer_overhead_s], [eff.request_overhead_s])

    @classmethod
    def from_points(cls, points: np.ndarray) -> "Factors":
        """From an array of shape (K, len(FACTORS)) in :data:`FACTORS` order."""
        return cls(*np.asarray(points, float).T)


def _workload(sc: Scenario, batch: int = 1) -> Workload:
    return Workload(int(batch), sc.input_len, sc.output_len, sc.weight_dtype, sc.kv_dtype, sc.attention_dtype)


def _options(sc: Scenario, routing) -> dict:
    return {"routing": routing or sc.routing, "memory_headroom": MEMORY_HEADROOM}


@lru_cache(maxsize=None)
def max_batch(model_id: str, hardware_id: str, plan: Plan, input_len: int, output_len: int, weight_dtype: str,
              kv_dtype: str, cap: int = MAX_BATCH) -> int:
    """Largest batch (all replicas) whose memory fits, at most ``cap`` per replica
    (:func:`costmodel.serving.max_decode_batch`: usable memory less weights, one prefill chunk's
    activations and the reserve, over the KV of one sequence at the full context)."""
    m, hw = specs(model_id, hardware_id)
    fits = serving.max_decode_batch(m, hw, plan, Workload(1, input_len, output_len, weight_dtype, kv_dtype),
                                    {"memory_headroom": MEMORY_HEADROOM})
    return int(min(fits, cap * plan.dp))


def _offline(scenarios: list[Scenario], factors: Factors, routing) -> np.ndarray:
    first = scenarios[0]
    m, hw = specs(first.model_id, first.hardware_id)
    batch = max_batch(first.model_id, first.hardware_id, first.plan, first.input_len, first.output_len,
                      first.weight_dtype, first.kv_dtype)
    e = evaluate(m, hw, first.plan, _workload(first, batch), factors, **_options(first, routing))
    return np.broadcast_to(e["e2e_output_tokens_per_s_per_gpu"], (len(scenarios),) + factors.shape)


def _online(scenarios: list[Scenario], factors: Factors, routing) -> np.ndarray:
    """Online runs of one setup share the batch grid per request count."""
    first = scenarios[0]
    m, hw = specs(first.model_id, first.hardware_id)
    fit_batch = max_batch(first.model_id, first.hardware_id, first.plan, first.input_len, first.output_len,
                          first.weight_dtype, first.kv_dtype)
    k = factors.shape
    values = np.empty((len(scenarios),) + k)
    cache = {}
    for i, sc in enumerate(scenarios):
        if sc.requests not in cache:
            b_max = min(fit_batch, sc.requests)
            grid = batch_grid(b_max)
            evals = [evaluate(m, hw, sc.plan, _workload(sc, b), factors, **_options(sc, routing)) for b in grid]
            cache[sc.requests] = (b_max, grid, np.array([np.broadcast_to(e["decode_step_s"], k) for e in evals]),
                                  np.array([np.broadcast_to(e["ttft_s"], k) for e in evals]),
                                  np.broadcast_to(evals[0]["ttft_single_request_s"], k))
        b_max, grid, step, ttft_b, single = cache[sc.requests]
        out = online_metrics(sc.qps, sc.requests, sc.output_len, b_max, grid, step, ttft_b, single)
        out["ttft_s"] = out["ttft_s"] + factors.request_overhead_s  # outside the GPUs, per request
        values[i] = out["output_tokens_per_s"] / sc.plan.gpus if sc.metric == "output_tokens_per_s_per_gpu" \
            else out[sc.metric]
    return values


def speculation(sc: Scenario, acceptance: str = "published") -> serving.Speculation | None:
    """The scenario's MTP with the published acceptance, or the optimistic bound's (``bound``)."""
    if not sc.mtp:
        return None
    if acceptance == "bound":
        return serving.Speculation(sc.mtp, sum(BOUND_ACCEPTANCE_RATE**i for i in range(sc.mtp + 1)))
    return serving.Speculation(sc.mtp)


def closed_loop(sc: Scenario, factors, routing=None, acceptance: str = "published") -> dict:
    """:func:`costmodel.serving.aggregated` or :func:`costmodel.serving.disaggregated` of a closed-loop
    scenario (arrays over the factors' candidates). The roofline bound (``acceptance="bound"``) leaves
    queueing out of TTFT: a wait for other requests is not a property of the hardware."""
    m, hw = specs(sc.model_id, sc.hardware_id)
    wl, spec, options = _workload(sc), speculation(sc, acceptance), _options(sc, routing)
    decode, queueing = serving.Pool(sc.plan, sc.workers), acceptance != "bound"
    if sc.disaggregated:
        return serving.disaggregated(m, hw, serving.Pool(sc.prefill_plan, sc.prefill_workers), decode, wl, factors,
                                     sc.concurrency, speculation=spec, options=options, queueing=queueing)
    return serving.aggregated(m, hw, decode, wl, factors, sc.concurrency, speculation=spec, options=options,
                              queueing=queueing)


DRAIN_FACTOR = PROMPTS_PER_CONCURRENCY / (PROMPTS_PER_CONCURRENCY + 0.5)
"""Measured closed-loop throughput over a run that drains at its end, per steady-state throughput
(:data:`costmodel.validation.inferencex.PROMPTS_PER_CONCURRENCY`)."""


def _closed(scenarios: list[Scenario], factors: Factors, routing, acceptance) -> np.ndarray:
    out = closed_loop(scenarios[0], factors, routing, acceptance)
    values = np.empty((len(scenarios),) + factors.shape)
    for i, sc in enumerate(scenarios):
        key, scale = sc.metric, 1.0
        if key == "output_tokens_per_s_per_gpu":
            scale = 1.0 if acceptance == "bound" else DRAIN_FACTOR  # the bound stays a steady-state bound
            if sc.disaggregated:
                key = "output_tokens_per_s_per_decode_gpu"  # the dataset divides by the decode pool's GPUs
        values[i] = np.broadcast_to(out[key] * scale, factors.shape)
    return values


PREDICTORS = {"offline": _offline, "online": _online}


def predict_matrix(scenarios: list[Scenario], factors: Factors, routing=None, acceptance="published") -> np.ndarray:
    """Predictions, shape (len(scenarios), K), for K candidate efficiencies at once. Scenarios of one
    setup (and one concurrency, for closed loops) share one evaluation."""
    values = np.empty((len(scenarios),) + factors.shape)
    groups = {}
    for i, sc in enumerate(scenarios):
        groups.setdefault((sc.setup, sc.concurrency if sc.regime == "closed" else None), []).append(i)
    for rows in groups.values():
        members = [scenarios[i] for i in rows]
        if members[0].regime == "closed":
            values[rows] = _closed(members, factors, routing, acceptance)
        else:
            values[rows] = PREDICTORS[members[0].regime](members, factors, routing)
    return values


def predict(scenarios: list[Scenario], efficiency="calibrated", routing=None, acceptance="published") -> pd.DataFrame:
    """One row per scenario: identity, split, measured, predicted, ratio and absolute % error.

    efficiency: a profile name (``calibrated``, ``datasheet``, ``scenario``), an :class:`Efficiency`,
    or {hardware id: Efficiency}; routing: None (each scenario's own), ``uniform`` or ``measured``;
    acceptance: ``published`` or ``bound`` (:data:`BOUND_ACCEPTANCE_RATE`).
    ratio = predicted / measured; ape = |predicted - measured| / measured.
    """
    by_hw = {}
    for i, sc in enumerate(scenarios):
        by_hw.setdefault(sc.hardware_id, []).append(i)
    predicted = np.empty(len(scenarios))
    for hw_id, rows in by_hw.items():
        eff = efficiency[hw_id] if isinstance(efficiency, dict) else resolve_efficiency(load_hardware(hw_id),
                                                                                         efficiency)
        predicted[rows] = predict_matrix([scenarios[i] for i in rows], Factors.of(eff), routing, acceptance)[:, 0]
    table = pd.DataFrame([{
        "id": sc.row_id, "dataset": sc.dataset, "source_id": sc.source_id, "model": sc.model_id,
        "hardware": sc.hardware_id, "framework": sc.framework, "plan": sc.plan_label,
        "ep": max(sc.plan.ep, sc.prefill_plan.ep if sc.prefill_plan else 1), "serving": _serving_label(sc),
        "mtp": sc.mtp, "isl": sc.input_len, "osl": sc.output_len, "dtype": sc.weight_dtype,
        "qps": sc.qps if sc.regime == "online" else np.nan,
        "concurrency": sc.concurrency if sc.regime == "closed" else np.nan, "metric": sc.metric, "group": sc.group,
        "split": "held-out" if is_held_out(sc.run_key) else "train", "measured": sc.measured, "predicted": p,
    } for sc, p in zip(scenarios, predicted)])
    table["concurrency"] = table["concurrency"].astype("Int64")  # a count, shown whole (empty off the closed loop)
    table["ratio"] = table["predicted"] / table["measured"]
    table["ape"] = abs_pct_error(table["predicted"], table["measured"])
    return table


def _serving_label(sc: Scenario) -> str:
    if sc.regime != "closed":
        return sc.regime
    return "disagg" if sc.disaggregated else "agg"


def abs_pct_error(predicted, measured):
    """|predicted - measured| / measured (a fraction; 0.1 = 10 %)."""
    return abs(predicted - measured) / measured


def explain_max_load(scenario: Scenario, efficiency="calibrated") -> dict:
    """The worked numbers behind one max-load prediction (SI units): the batch that fits and why,
    the whole-batch prefill, the decode step, and the resulting output tokens/s per GPU."""
    m, hw = specs(scenario.model_id, scenario.hardware_id)
    batch = max_batch(scenario.model_id, scenario.hardware_id, scenario.plan, scenario.input_len,
                      scenario.output_len, scenario.weight_dtype, scenario.kv_dtype)
    eff = resolve_efficiency(hw, efficiency)
    one = evaluate(m, hw, scenario.plan, _workload(scenario, 1), eff)
    e = evaluate(m, hw, scenario.plan, _workload(scenario, batch), eff)
    return {"row": scenario.row_id, "usable_bytes_per_gpu": float(one["memory_usable_bytes_per_gpu"]),
            "weight_bytes_per_gpu": float(one["weight_bytes_per_gpu"]),
            "chunk_activation_bytes_per_gpu": float(one["activation_bytes_per_gpu"]),
            "reserved_bytes_per_gpu": float(one["reserved_bytes_per_gpu"]),
            "kv_bytes_per_sequence_per_gpu": float(one["kv_bytes_per_gpu"]),
            "batch": batch, "ttft_whole_batch_s": float(e["ttft_s"]), "decode_step_s": float(e["decode_step_s"]),
            "predicted_output_tokens_per_s_per_gpu": float(e["e2e_output_tokens_per_s_per_gpu"]),
            "measured_output_tokens_per_s_per_gpu": scenario.measured}


__all__ = ["FACTORS", "MAX_BATCH", "BOUND_ACCEPTANCE_RATE", "Factors", "max_batch", "predict_matrix", "predict",
           "closed_loop", "speculation", "abs_pct_error", "explain_max_load"]
