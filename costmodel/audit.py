"""Claims ledgers and verdicts: audit the documents in ``../shared/seeds`` claim by claim.

A ledger ``data/audits/<doc>.yaml`` (data, not code) lists every numeric or checkable claim of one
document: its verbatim quote, the scenario it belongs to (model, hardware, plan, workload, as the
document states them, mapped onto the plan convention), the quantity it states, the claimed value
with its unit and tolerance, optionally the document's own arithmetic with its numbers in place,
and the verdict the ledger expects (pinned by the tests). This module loads and validates the
ledgers, recomputes every claim with the cost model and gives a verdict by the rules below.

Claimed values: a number, a range ``[lo, hi]``, a bound ``{min: x}`` / ``{max: x}``, or a boolean
(units ``bool``); all in the claim's ``unit`` (see :data:`UNITS`). A value r agrees with a claim
when ``lo (1 - tol) <= r <= hi (1 + tol)``. ``factor`` = claimed / recomputed, taking the end of a
range nearest to r (so "off by at least this much").

Bases: ``input`` (a given input: model size, memory, requirement), ``derived`` (a result the
document obtains from its plan or inputs, with or without shown arithmetic), ``estimate`` (a
number stated without any derivation), ``concept`` (a statement about how parallelism works).

Verdict rules, applied in this order (mechanical; :func:`verdict` implements them):

1. concept claims: the named check in :data:`CONCEPTS` decides whether the statement holds.
   Holds as the document asserts it -> ``correct``; otherwise ``invalid`` for a conceptual
   statement, ``wrong`` for a rule check (divisibility, validity).
2. the quantity is ``unmodelled`` (nothing in the inputs determines it) -> ``unsupported``.
3. the cost model agrees within tolerance -> ``correct``.
4. the document's own arithmetic (``own_arithmetic``, its numbers in place) does not give its
   claimed value -> ``inconsistent`` (the document contradicts itself).
5. an input that the model, computed from the document's other inputs, contradicts -> ``inconsistent``.
6. ``derived`` (or any claim with own arithmetic) -> ``wrong``, with the factor.
7. ``estimate`` off by more than :data:`ESTIMATE_WRONG_FACTOR` beyond its tolerance band ->
   ``wrong``; closer than that -> ``unsupported`` (no derivation, but plausible).

A claim may name ``readings``: other scenarios (an alternative reading of the inputs, e.g. a
model that really has 10 B parameters, or the other meaning of "tokens/ms per GPU"); the same
rules run under each and the row reports whether the verdict holds under every reading.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .architecture import Model, load_model, mlp_params, param_breakdown
from .efficiency import resolve_efficiency
from .hardware import load_hardware
from .memory import kv_shards
from . import perf
from .perf import estimate, validate
from .strategy import Plan, Workload, errors
from .units import CostModelError, dtype_bytes

VERDICTS = ("correct", "wrong", "inconsistent", "unsupported", "invalid")
BASES = ("input", "derived", "estimate", "concept")
ESTIMATE_WRONG_FACTOR = 2.0
"""An estimate without derivation further than this factor outside its tolerance band is ``wrong``."""
DEFAULT_TOLERANCE = 0.10
AUDITS_DIR = "data/audits"

# unit -> (dimension, SI factor): claimed values are written in the unit, compared in SI
UNITS = {
    "params": ("params", 1.0), "M params": ("params", 1e6), "B params": ("params", 1e9),
    "bytes": ("bytes", 1.0), "KB": ("bytes", 1e3), "MB": ("bytes", 1e6), "MiB": ("bytes", 2.0**20),
    "GB": ("bytes", 1e9), "GiB": ("bytes", 2.0**30), "TB": ("bytes", 1e12),
    "s": ("seconds", 1.0), "ms": ("seconds", 1e-3),
    "tokens/s": ("tokens/s", 1.0), "tokens/ms": ("tokens/s", 1e3),
    "GPUs": ("gpus", 1.0), "count": ("count", 1.0),
    "%": ("ratio", 0.01), "fraction": ("ratio", 1.0), "x": ("ratio", 1.0),
    "TFLOPS": ("flops/s", 1e12), "PFLOPS": ("flops/s", 1e15),
    "TB/s": ("bytes/s", 1e12), "GB/s": ("bytes/s", 1e9),
    "bytes/param": ("bytes/param", 1.0),
    "bool": ("bool", 1.0),
}


# --- scenarios -------------------------------------------------------------------------------------
def model_with_params(m: Model, params_total: float) -> Model:
    """The model with its routed-expert width f_e scaled so the total is ``params_total``.

    f_e = (P_target - P_non_expert) / (L_moe x E x g x d), g = 3 if gated else 2, rounded to a whole
    number: the reading "the model really has this many parameters; the experts hold the rest".
    """
    p = param_breakdown(m)
    rest = sum(v for k, v in p.items() if k != "routed_experts")
    per_unit_width = m.num_moe_layers * m.num_experts * mlp_params(m, 1)
    if per_unit_width == 0 or params_total <= rest:
        raise CostModelError(f"model_params: {params_total:g} cannot be reached by scaling the experts of {m.id}")
    width = round((params_total - rest) / per_unit_width)
    return replace(m, id=f"{m.id}@{params_total / 1e9:g}B", name=f"{m.name}, experts scaled to "
                   f"{params_total / 1e9:g} B parameters", moe_intermediate=width)


@dataclass(frozen=True)
class Scenario:
    """One reading of a document: model, hardware, plan, workload, efficiency, requirements."""

    name: str
    model: Model
    hardware: object
    plan: Plan
    workload: Workload
    efficiency: object
    overlap: bool
    requirements: dict
    throughput_reading: str
    reading: str
    stated: dict

    @property
    def label(self) -> str:
        return f"{self.name}: {self.plan.label()}, B={self.workload.batch}, S_in={self.workload.input_len}"


PLAN_KEYS = ("tp", "dp", "pp", "ep", "etp", "microbatches")
WORKLOAD_KEYS = ("batch", "input_len", "output_len", "weight_dtype", "kv_dtype")
REQUIREMENT_KEYS = ("ttft_s", "throughput_tokens_per_s_per_gpu")
SCENARIO_KEYS = ("model", "model_params", "hardware", "plan", "workload", "efficiency", "overlap", "requirements",
                 "throughput_reading", "reading", "stated")
THROUGHPUT_READINGS = ("output", "input")


def build_scenario(name: str, spec: dict, where: str = "scenario") -> Scenario:
    """A :class:`Scenario` from a ledger's scenario dict; bad fields raise one-line errors."""
    where = f"{where} {name!r}"
    if not isinstance(spec, dict):
        raise CostModelError(f"{where}: must be a mapping with keys {', '.join(SCENARIO_KEYS)}")
    unknown = set(spec) - set(SCENARIO_KEYS)
    if unknown:
        raise CostModelError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(SCENARIO_KEYS)}")
    for key in ("model", "hardware", "plan", "workload", "reading"):
        if key not in spec:
            raise CostModelError(f"{where}: missing key {key!r}")
    model = load_model(spec["model"])
    if spec.get("model_params") is not None:
        model = model_with_params(model, _float(spec["model_params"], f"{where}: model_params"))
    hw = load_hardware(spec["hardware"])
    plan_spec = spec["plan"]
    if not isinstance(plan_spec, dict) or set(plan_spec) - set(PLAN_KEYS):
        raise CostModelError(f"{where}: plan must be a mapping with keys among {', '.join(PLAN_KEYS)}")
    plan = Plan(**{"etp": 1, "microbatches": 1, **plan_spec})
    wl_spec = spec["workload"]
    if not isinstance(wl_spec, dict) or set(wl_spec) - set(WORKLOAD_KEYS):
        raise CostModelError(f"{where}: workload must be a mapping with keys among {', '.join(WORKLOAD_KEYS)}")
    workload = Workload(**wl_spec)
    eff_spec = spec.get("efficiency")
    if isinstance(eff_spec, dict):
        eff = resolve_efficiency(hw, None, eff_spec.get("mfu"), eff_spec.get("bw_util"))
    else:
        eff = resolve_efficiency(hw, eff_spec)
    req = spec.get("requirements") or {}
    if set(req) - set(REQUIREMENT_KEYS):
        raise CostModelError(f"{where}: requirements keys must be among {', '.join(REQUIREMENT_KEYS)}")
    reading = spec.get("throughput_reading", "output")
    if reading not in THROUGHPUT_READINGS:
        raise CostModelError(f"{where}: throughput_reading {reading!r} is not one of {', '.join(THROUGHPUT_READINGS)}")
    return Scenario(name, model, hw, plan, workload, eff, bool(spec.get("overlap", False)),
                    {k: _float(v, f"{where}: requirements.{k}") for k, v in req.items()}, reading,
                    " ".join(str(spec["reading"]).split()), dict(spec.get("stated") or {}))


def _float(value, where: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise CostModelError(f"{where}: {value!r} is not a number") from None


_ESTIMATES: dict = {}


def scenario_estimate(sc: Scenario):
    """The cost-model :class:`~costmodel.perf.Estimate` of a scenario (cached)."""
    key = repr((sc.model, sc.hardware, sc.plan, sc.workload, sc.efficiency, sc.overlap))
    if key not in _ESTIMATES:
        _ESTIMATES[key] = estimate(sc.model, sc.hardware, sc.plan, sc.workload, sc.efficiency, overlap=sc.overlap)
    return _ESTIMATES[key]


def prefill_stage(sc: Scenario) -> dict:
    """The prefill stage-time breakdown of a scenario (seconds per class and per collective)."""
    stage = perf.prefill_stage(sc.model, sc.hardware, sc.plan, sc.workload, sc.efficiency, sc.overlap)
    return {k: float(v) for k, v in stage.items()}


# --- quantities ------------------------------------------------------------------------------------
QUANTITIES: dict = {}
"""name -> (dimension, resolver(scenario) -> (SI value, worked line), description)."""


def quantity(name: str, dimension: str, description: str):
    """Register a quantity resolver: ``fn(scenario) -> (value in SI, worked line with numbers)``."""
    def register(fn):
        QUANTITIES[name] = (dimension, fn, description)
        return fn
    return register


def _g(x: float) -> str:
    return f"{x:,.4g}" if abs(x) < 1e5 else f"{x:.4g}"


def _gb(x: float) -> str:
    return f"{x / 1e9:.4g} GB"


def _metric(name: str, dimension: str, description: str, worked):
    @quantity(name, dimension, description)
    def resolve(sc):
        e = scenario_estimate(sc)
        return e.metrics[name], worked(sc, e.metrics)
    return resolve


def _model_dim(name: str, attr: str, description: str):
    @quantity(name, "count", description)
    def resolve(sc):
        return float(getattr(sc.model, attr)), f"{sc.model.id}: {attr} = {getattr(sc.model, attr)}"
    return resolve


@quantity("params_total", "params", "all parameters of the model")
def _params_total(sc):
    p = param_breakdown(sc.model)
    parts = " + ".join(f"{k} {_g(v / 1e6)}M" for k, v in p.items() if v)
    return float(sc.model.params_total), f"{parts} = {sc.model.params_total / 1e9:.4g} B"


@quantity("params_active", "params", "parameters one token touches (k experts per layer)")
def _params_active(sc):
    return float(sc.model.params_active), f"k = {sc.model.experts_per_token} of E = {sc.model.num_experts} experts " \
        f"per layer: {sc.model.params_active / 1e9:.4g} B"


@quantity("weight_bytes_total", "bytes", "all weights of the model in the weight dtype")
def _weight_bytes_total(sc):
    b = dtype_bytes(sc.workload.weight_dtype)
    return sc.model.params_total * b, f"{sc.model.params_total / 1e9:.4g} B params x {b:g} B = " \
        f"{_gb(sc.model.params_total * b)}"


@quantity("weight_dtype_bytes", "bytes/param", "bytes per weight")
def _weight_dtype_bytes(sc):
    return dtype_bytes(sc.workload.weight_dtype), f"{sc.workload.weight_dtype}: {dtype_bytes(sc.workload.weight_dtype):g} B"


@quantity("expert_bytes", "bytes", "weights of one routed expert of one layer")
def _expert_bytes(sc):
    m, b = sc.model, dtype_bytes(sc.workload.weight_dtype)
    n = mlp_params(m, m.moe_intermediate)
    return n * b, f"{'3' if m.mlp_gated else '2'} x d {m.d_model} x f_e {m.moe_intermediate} x {b:g} B = " \
        f"{n * b / 1e6:.4g} MB"


@quantity("kv_bytes_per_sequence", "bytes", "KV cache of one sequence at full context, unsharded")
def _kv_seq(sc):
    m, wl = sc.model, sc.workload
    per_tok = m.kv_bytes_per_token(wl.kv_dtype)
    value = per_tok * wl.context_len
    return value, (f"2 x L {m.num_layers} x n_kv {m.num_kv_heads} x d_h {m.head_dim} x (S_in + S_out) "
                   f"{wl.context_len} x {dtype_bytes(wl.kv_dtype):g} B = {value / 1e6:.4g} MB")


@quantity("kv_bytes_total", "bytes", "KV cache of the whole batch at full context, unsharded")
def _kv_total(sc):
    one, _ = _kv_seq(sc)
    return one * sc.workload.batch, f"B {sc.workload.batch} x {one / 1e6:.4g} MB = {_gb(one * sc.workload.batch)}"


_metric("weight_bytes_per_gpu", "bytes", "weights on the fullest GPU",
        lambda sc, x: f"{sc.plan.label()}: non-expert / tp + experts x (E/ep) / etp, share ceil(L/pp)/L = "
                      f"{_gb(x['weight_bytes_per_gpu'])}")
_metric("kv_bytes_per_gpu", "bytes", "KV cache on the fullest GPU",
        lambda sc, x: f"ceil(B {sc.workload.batch} / dp {sc.plan.dp}) x {sc.workload.context_len} tokens x "
                      f"{sc.model.kv_bytes_per_token(sc.workload.kv_dtype) / 1e3:.4g} KB/token x ceil(L/pp)/L "
                      f"/ kv shards {int(kv_shards(sc.model, sc.plan.tp))} = {_gb(x['kv_bytes_per_gpu'])}")
_metric("activation_bytes_per_gpu", "bytes", "peak prefill activations of one layer on the fullest GPU",
        lambda sc, x: f"ceil(B/dp) x S_in = {math.ceil(sc.workload.batch / sc.plan.dp) * sc.workload.input_len:,} "
                      f"tokens x one layer's live tensors = {_gb(x['activation_bytes_per_gpu'])}")
_metric("memory_bytes_per_gpu", "bytes", "weights + KV + activations + reserved on the fullest GPU",
        lambda sc, x: f"weights {_gb(x['weight_bytes_per_gpu'])} + KV {_gb(x['kv_bytes_per_gpu'])} + activations "
                      f"{_gb(x['activation_bytes_per_gpu'])} + reserved {_gb(x['reserved_bytes_per_gpu'])} = "
                      f"{_gb(x['memory_bytes_per_gpu'])}")
_metric("ttft_s", "seconds", "time to prefill the whole batch (pipeline fill included)",
        lambda sc, x: f"(mb {sc.plan.microbatches} + pp {sc.plan.pp} - 1) stages: compute "
                      f"{x['prefill_compute_s'] * 1e3:.4g} ms + comm {x['prefill_comm_s'] * 1e3:.4g} ms = "
                      f"{x['ttft_s'] * 1e3:.4g} ms")
_metric("ttft_single_request_s", "seconds", "prefill time of one request alone",
        lambda sc, x: f"pp {sc.plan.pp} x stage time for one sequence of {sc.workload.input_len} tokens = "
                      f"{x['ttft_single_request_s'] * 1e3:.4g} ms")
_metric("decode_step_s", "seconds", "time per decode step (TPOT) of the whole batch",
        lambda sc, x: f"max(mb, pp) x stage time at context {sc.workload.mean_decode_context:g}: weights "
                      f"{x['decode_weights_s'] * 1e3:.3g} ms + KV {x['decode_attention_s'] * 1e3:.3g} ms + comm "
                      f"{x['decode_comm_s'] * 1e3:.3g} ms = {x['decode_step_s'] * 1e3:.4g} ms")
_metric("output_tokens_per_s_per_gpu", "tokens/s", "decode output tokens/s per GPU",
        lambda sc, x: f"B {sc.workload.batch} / TPOT {x['decode_step_s'] * 1e3:.4g} ms / {x['gpus_total']} GPUs = "
                      f"{_g(x['output_tokens_per_s_per_gpu'])} tokens/s")
_metric("input_tokens_per_s_per_gpu", "tokens/s", "prefill input tokens/s per GPU",
        lambda sc, x: f"B {sc.workload.batch} x S_in {sc.workload.input_len} / TTFT {x['ttft_s'] * 1e3:.4g} ms / "
                      f"{x['gpus_total']} GPUs = {_g(x['input_tokens_per_s_per_gpu'])} tokens/s")
_metric("gpus_total", "gpus", "GPUs = tp x dp x pp",
        lambda sc, x: f"tp {sc.plan.tp} x dp {sc.plan.dp} x pp {sc.plan.pp} = {x['gpus_total']}")


@quantity("throughput_per_gpu", "tokens/s", "tokens/s per GPU in the scenario's throughput reading")
def _throughput_per_gpu(sc):
    return QUANTITIES[f"{sc.throughput_reading}_tokens_per_s_per_gpu"][1](sc)


@quantity("throughput_total", "tokens/s", "tokens/s of all GPUs in the scenario's throughput reading")
def _throughput_total(sc):
    per, worked = _throughput_per_gpu(sc)
    gpus = sc.plan.gpus
    return per * gpus, f"{worked}; x {gpus} GPUs = {_g(per * gpus)} tokens/s"


@quantity("memory_fraction_per_gpu", "ratio", "memory per GPU / capacity")
def _memory_fraction(sc):
    x = scenario_estimate(sc).metrics
    f = x["memory_bytes_per_gpu"] / sc.hardware.memory_bytes
    return f, f"{_gb(x['memory_bytes_per_gpu'])} / {_gb(sc.hardware.memory_bytes)} = {f:.2%}"


@quantity("memory_headroom_fraction", "ratio", "1 - memory per GPU / capacity")
def _memory_headroom(sc):
    f, worked = _memory_fraction(sc)
    return 1 - f, f"1 - {worked} = {1 - f:.2%}"


@quantity("memory_fraction_cluster", "ratio", "whole-model bytes (weights + KV of the batch) / all GPUs' memory")
def _memory_fraction_cluster(sc):
    w, _ = _weight_bytes_total(sc)
    kv, _ = _kv_total(sc)
    cap = sc.hardware.memory_bytes * sc.plan.gpus
    return (w + kv) / cap, f"({_gb(w)} + {_gb(kv)}) / ({sc.plan.gpus} x {_gb(sc.hardware.memory_bytes)}) = " \
        f"{(w + kv) / cap:.2%}"


def _comm_fraction(name: str, phase: str, total: str, label: str):
    """Register ``name`` = communication / phase time (no overlap), from the estimate's metrics."""
    @quantity(name, "ratio", f"{phase} communication / {label} (no overlap)")
    def resolve(sc):
        x = scenario_estimate(sc).metrics
        comm, whole = x[f"{phase}_comm_s"], x[total]
        return comm / whole, f"comm {comm * 1e3:.4g} ms / {label} {whole * 1e3:.4g} ms = {comm / whole:.1%}"
    return resolve


_comm_fraction("prefill_comm_fraction", "prefill", "ttft_s", "TTFT")
_comm_fraction("decode_comm_fraction", "decode", "decode_step_s", "step")


def _collective(kind: str):
    @quantity(f"prefill_{kind}_comm_s", "seconds", f"prefill {kind.upper()} communication on the fullest stage")
    def resolve(sc):
        t = prefill_stage(sc)[kind] * perf.prefill_rounds(sc.plan)
        return t, f"{kind.upper()} collectives over the prefill of {sc.plan.label()} = {t * 1e3:.4g} ms"

    @quantity(f"prefill_{kind}_comm_fraction", "ratio", f"prefill {kind.upper()} communication / TTFT")
    def fraction(sc):
        t, _ = resolve(sc)
        ttft = scenario_estimate(sc).metrics["ttft_s"]
        return t / ttft, f"{kind.upper()} {t * 1e3:.4g} ms / TTFT {ttft * 1e3:.4g} ms = {t / ttft:.1%}"
    return resolve


for _kind in ("tp", "ep", "pp"):
    _collective(_kind)


@quantity("experts_per_gpu", "count", "routed experts per layer on one GPU: E / ep")
def _experts_per_gpu(sc):
    return sc.model.num_experts / sc.plan.ep, f"E {sc.model.num_experts} / ep {sc.plan.ep} = " \
        f"{sc.model.num_experts / sc.plan.ep:g}"


@quantity("layers_per_stage", "count", "layers on the fullest pipeline stage: ceil(L / pp)")
def _layers_per_stage(sc):
    v = math.ceil(sc.model.num_layers / sc.plan.pp)
    return float(v), f"ceil(L {sc.model.num_layers} / pp {sc.plan.pp}) = {v}"


@quantity("heads_per_gpu", "count", "attention heads per tensor-parallel rank: n_h / tp")
def _heads_per_gpu(sc):
    return sc.model.num_heads / sc.plan.tp, f"n_h {sc.model.num_heads} / tp {sc.plan.tp} = " \
        f"{sc.model.num_heads / sc.plan.tp:g}"


@quantity("sequences_per_replica", "count", "sequences per attention replica: B / dp")
def _seqs_per_replica(sc):
    return sc.workload.batch / sc.plan.dp, f"B {sc.workload.batch} / dp {sc.plan.dp} = " \
        f"{sc.workload.batch / sc.plan.dp:g}"


for _name, _attr, _desc in (("num_layers", "num_layers", "layers L"), ("num_experts", "num_experts", "experts E"),
                            ("d_model", "d_model", "model width d"), ("num_heads", "num_heads", "query heads"),
                            ("num_kv_heads", "num_kv_heads", "KV heads"), ("head_dim", "head_dim", "head dim"),
                            ("moe_intermediate", "moe_intermediate", "expert width f_e"),
                            ("experts_per_token", "experts_per_token", "experts per token k"),
                            ("vocab_size", "vocab_size", "vocabulary V")):
    _model_dim(_name, _attr, _desc)


@quantity("memory_capacity_bytes_per_gpu", "bytes", "GPU memory (datasheet)")
def _capacity(sc):
    return sc.hardware.memory_bytes, f"{sc.hardware.id}: {_gb(sc.hardware.memory_bytes)}"


@quantity("memory_capacity_bytes_total", "bytes", "memory of all GPUs of the plan")
def _capacity_total(sc):
    v = sc.hardware.memory_bytes * sc.plan.gpus
    return v, f"{sc.plan.gpus} x {_gb(sc.hardware.memory_bytes)} = {_gb(v)}"


@quantity("peak_flops_per_s", "flops/s", "dense peak FLOP/s of one GPU in the weight dtype")
def _peak(sc):
    v = sc.hardware.peak_flops_per_s(sc.workload.weight_dtype)
    return v, f"{sc.hardware.id} {sc.workload.weight_dtype}: {v / 1e12:g} TFLOPS"


@quantity("effective_flops_per_s", "flops/s", "peak x MFU of one GPU")
def _eff_flops(sc):
    peak, _ = _peak(sc)
    return peak * sc.efficiency.mfu, f"{peak / 1e12:g} TFLOPS x MFU {sc.efficiency.mfu:g} = " \
        f"{peak * sc.efficiency.mfu / 1e12:g} TFLOPS"


@quantity("effective_flops_per_s_total", "flops/s", "peak x MFU x GPUs")
def _eff_flops_total(sc):
    one, worked = _eff_flops(sc)
    return one * sc.plan.gpus, f"{worked} x {sc.plan.gpus} GPUs = {one * sc.plan.gpus / 1e12:,.6g} TFLOPS"


@quantity("hbm_bandwidth_bytes_per_s", "bytes/s", "HBM bandwidth of one GPU (datasheet)")
def _hbm(sc):
    return sc.hardware.hbm_bandwidth_bytes_per_s, f"{sc.hardware.id}: {sc.hardware.hbm_bandwidth_bytes_per_s / 1e12:g} TB/s"


@quantity("effective_hbm_bytes_per_s", "bytes/s", "HBM bandwidth x utilisation")
def _eff_hbm(sc):
    v = sc.hardware.hbm_bandwidth_bytes_per_s * sc.efficiency.bw_util
    return v, f"{sc.hardware.hbm_bandwidth_bytes_per_s / 1e12:g} TB/s x {sc.efficiency.bw_util:g} = {v / 1e12:g} TB/s"


@quantity("mfu", "ratio", "the scenario's model FLOPs utilisation")
def _mfu(sc):
    return sc.efficiency.mfu, f"scenario MFU = {sc.efficiency.mfu:.0%}"


@quantity("bw_util", "ratio", "the scenario's HBM bandwidth utilisation")
def _bw_util(sc):
    return sc.efficiency.bw_util, f"scenario bandwidth utilisation = {sc.efficiency.bw_util:.0%}"


@quantity("batch", "count", "sequences in the batch")
def _batch(sc):
    return float(sc.workload.batch), f"B = {sc.workload.batch}"


@quantity("input_len", "count", "input (prompt) tokens per sequence")
def _input_len(sc):
    return float(sc.workload.input_len), f"S_in = {sc.workload.input_len}"


@quantity("output_len", "count", "output tokens per sequence")
def _output_len(sc):
    return float(sc.workload.output_len), f"S_out = {sc.workload.output_len}"


@quantity("requirement_ttft_s", "seconds", "the TTFT requirement of the input set")
def _req_ttft(sc):
    v = _requirement(sc, "ttft_s")
    return v, f"requirement: TTFT <= {v:g} s"


@quantity("requirement_throughput_per_gpu", "tokens/s", "the per-GPU throughput requirement of the input set")
def _req_tput(sc):
    v = _requirement(sc, "throughput_tokens_per_s_per_gpu")
    return v, f"requirement: >= {_g(v)} tokens/s per GPU"


def _requirement(sc, key):
    if key not in sc.requirements:
        raise CostModelError(f"scenario {sc.name!r}: requirements.{key} is needed by this quantity")
    return sc.requirements[key]


@quantity("meets_ttft", "bool", "TTFT (whole batch) within the requirement")
def _meets_ttft(sc):
    t = scenario_estimate(sc).metrics["ttft_s"]
    req = _requirement(sc, "ttft_s")
    return bool(t <= req), f"TTFT {t:.4g} s {'<=' if t <= req else '>'} {req:g} s"


@quantity("meets_throughput", "bool", "throughput per GPU (scenario reading) meets the requirement")
def _meets_tput(sc):
    v, _ = _throughput_per_gpu(sc)
    req = _requirement(sc, "throughput_tokens_per_s_per_gpu")
    return bool(v >= req), f"{sc.throughput_reading} {_g(v)} tokens/s/GPU {'>=' if v >= req else '<'} {_g(req)}"


@quantity("fits_memory", "bool", "memory per GPU within capacity")
def _fits(sc):
    x = scenario_estimate(sc).metrics
    ok = x["memory_bytes_per_gpu"] <= sc.hardware.memory_bytes
    return bool(ok), f"{_gb(x['memory_bytes_per_gpu'])} {'<=' if ok else '>'} {_gb(sc.hardware.memory_bytes)}"


@quantity("plan_valid", "bool", "the plan passes every error rule (memory included)")
def _plan_valid(sc):
    errs = errors(scenario_estimate(sc).violations)
    return not errs, "no rule broken" if not errs else "breaks " + ", ".join(v.name for v in errs)


@quantity("unmodelled", "any", "nothing in the inputs determines it: no recomputation")
def _unmodelled(sc):
    return None, "not determined by the inputs (no model of it)"
# === quantities added for documents 002 and 004 (helper C): add resolvers below this line ==========
@quantity("peak_flops_per_s_total", "flops/s", "dense peak FLOP/s of all GPUs of the plan (no MFU)")
def _peak_total(sc):
    one, _ = _peak(sc)
    return one * sc.plan.gpus, f"{sc.plan.gpus} GPUs x {one / 1e12:g} TFLOPS = {one * sc.plan.gpus / 1e15:.4g} PFLOPS"


@quantity("memory_bytes_all_gpus", "bytes", "bytes held by all GPUs together: memory per GPU x GPUs (pp = 1)")
def _memory_all(sc):
    x = scenario_estimate(sc).metrics
    v = x["memory_bytes_per_gpu"] * sc.plan.gpus
    return v, (f"{sc.plan.gpus} GPUs x ({_gb(x['weight_bytes_per_gpu'])} weights + {_gb(x['kv_bytes_per_gpu'])} KV + "
               f"{_gb(x['activation_bytes_per_gpu'])} activations + {_gb(x['reserved_bytes_per_gpu'])} reserved) = "
               f"{_gb(v)}")


@quantity("decode_comm_s", "seconds", "communication time of one decode step (no overlap)")
def _decode_comm(sc):
    x = scenario_estimate(sc).metrics
    return x["decode_comm_s"], f"{sc.plan.label()}: collectives per decode step = {x['decode_comm_s'] * 1e3:.4g} ms"


@quantity("ttft_margin_s", "seconds", "TTFT requirement minus the whole-batch TTFT")
def _ttft_margin(sc):
    t = scenario_estimate(sc).metrics["ttft_s"]
    req = _requirement(sc, "ttft_s")
    return req - t, f"requirement {req:g} s - TTFT {t:.4g} s = {req - t:.4g} s"


@quantity("prefill_mfu_achieved", "ratio", "prefill FLOPs / (TTFT x GPUs x peak): the MFU the plan reaches")
def _mfu_achieved(sc):
    x = scenario_estimate(sc).metrics
    peak = sc.hardware.peak_flops_per_s(sc.workload.weight_dtype)
    f = x["prefill_flops"] / (x["ttft_s"] * x["gpus_total"] * peak)
    return f, (f"{x['prefill_flops'] / 1e15:.4g} PFLOP / ({x['ttft_s']:.4g} s x {x['gpus_total']} GPUs x "
               f"{peak / 1e12:g} TFLOPS) = {f:.1%} (communication and memory-bound phases count as idle compute)")


@quantity("params_total_implied_head_dim", "params",
          "all parameters with head_dim = d / n_h (a document that omits it)")
def _params_implied_head_dim(sc):
    m = sc.model
    hd = m.d_model // m.num_heads
    alt = replace(m, head_dim=hd)
    return float(alt.params_total), (f"head_dim = d {m.d_model} / n_h {m.num_heads} = {hd} (the config says "
                                     f"{m.head_dim}): {alt.params_total / 1e9:.4g} B total, "
                                     f"{alt.params_active / 1e9:.4g} B active (config: "
                                     f"{m.params_total / 1e9:.4g} B, {m.params_active / 1e9:.4g} B)")
# === end of quantities for documents 002 and 004 ===================================================


# --- concept checks --------------------------------------------------------------------------------
CONCEPTS: dict = {}
"""name -> (kind 'concept' | 'rule', check(scenario) -> (statement holds: bool, evidence), statement)."""


def concept(name: str, kind: str, statement: str):
    """Register a check ``fn(scenario) -> (holds, evidence with numbers)`` of a statement's truth."""
    def register(fn):
        CONCEPTS[name] = (kind, fn, statement)
        return fn
    return register


@concept("tp_inside_one_gpu", "concept", "tensor parallelism runs inside one GPU (costs no GPUs, no links)")
def _tp_inside(sc):
    s = sc.stated
    tp = s.get("tp", sc.plan.tp)
    return False, (f"tp = {tp} splits every attention matmul over {tp} GPUs, which all-reduce their partial "
                   f"sums; GPUs = tp x dp x pp, so tp = {tp} uses {tp} GPUs per attention replica")


@concept("attention_inside_expert", "concept", "an expert contains attention that can be split")
def _attn_in_expert(sc):
    m = sc.model
    return False, (f"an expert is an FFN of {mlp_params(m, m.moe_intermediate):,} weights "
                   f"({'3' if m.mlp_gated else '2'} x d {m.d_model} x f_e {m.moe_intermediate}); attention is a "
                   f"separate block of every layer, shared by all experts")


@concept("ep_needs_no_communication", "concept", "expert parallelism needs no inter-GPU communication")
def _ep_no_comm(sc):
    t = prefill_stage(sc)["ep"]
    if sc.plan.ep == 1:
        return True, "ep = 1: every GPU holds every expert, tokens stay local"
    return False, (f"ep = {sc.plan.ep}: each token's k = {sc.model.experts_per_token} expert copies go to other "
                   f"GPUs and back (two all-to-alls per MoE layer): {t * 1e3:.3g} ms per prefill stage here")


@concept("tp_comm_not_inter_gpu", "concept", "tensor-parallel communication stays inside one GPU")
def _tp_comm(sc):
    t = prefill_stage(sc)["tp"]
    return sc.plan.tp == 1, (f"tp = {sc.plan.tp}: 2 all-reduces per layer over {sc.plan.tp} GPUs, "
                             f"{t * 1e3:.3g} ms per prefill stage here")


def _counterexample_plan(sc) -> Plan:
    """A valid plan of the scenario with ep != GPUs: experts over half the GPUs, each expert twice."""
    return Plan(tp=sc.plan.tp, dp=sc.plan.dp * 2, pp=sc.plan.pp, ep=sc.plan.ep, etp=sc.plan.etp)


@concept("ep_must_equal_gpus", "concept", "EP must equal (or approximate) the total GPU count")
def _ep_equals_gpus(sc):
    alt = _counterexample_plan(sc)
    bad = [v.name for v in errors(validate(sc.model, sc.hardware, alt, sc.workload))]
    return bool(bad), (f"rule is ep x etp | tp x dp, not ep = GPUs: {alt.label()} uses {alt.gpus} GPUs with "
                       f"ep = {alt.ep} and " + ("breaks " + ", ".join(bad) if bad else "is valid"))


@concept("ep_must_equal_experts", "concept", "E experts per layer require exactly E GPUs (one expert per GPU)")
def _ep_equals_experts(sc):
    m = sc.model
    ep = max(d for d in range(1, m.num_experts) if m.num_experts % d == 0) if m.num_experts > 1 else 1
    alt = Plan(tp=1, dp=ep, pp=1, ep=ep)
    bad = [v.name for v in errors(validate(m, sc.hardware, alt, sc.workload))]
    return bool(bad), (f"ep only has to divide E = {m.num_experts}: {alt.label()} holds "
                       f"{m.num_experts // ep} experts per GPU and " + ("breaks " + ", ".join(bad) if bad
                                                                         else "is valid"))


@concept("dp_only_throughput", "concept", "data parallelism improves throughput only, not latency")
def _dp_latency(sc):
    one = replace(sc, plan=replace(sc.plan, dp=1, ep=1, etp=1), name=sc.name + "-dp1")
    two = replace(sc, plan=replace(sc.plan, dp=2, ep=1, etp=1), name=sc.name + "-dp2")
    t1, t2 = scenario_estimate(one).metrics["ttft_s"], scenario_estimate(two).metrics["ttft_s"]
    return bool(t2 >= t1), (f"for the same batch, dp = 2 gives each replica half of it: TTFT {t1:.4g} s -> "
                            f"{t2:.4g} s with dp 1 -> 2 (ep 1)")


@concept("heads_divisible_by_tp", "rule", "the attention heads divide evenly over tp")
def _heads_tp(sc):
    ok = sc.model.num_heads % sc.plan.tp == 0
    return ok, f"n_h {sc.model.num_heads} % tp {sc.plan.tp} = {sc.model.num_heads % sc.plan.tp}"


@concept("experts_divisible_by_ep", "rule", "the experts divide evenly over ep")
def _experts_ep(sc):
    ok = sc.model.num_experts % sc.plan.ep == 0
    return ok, f"E {sc.model.num_experts} % ep {sc.plan.ep} = {sc.model.num_experts % sc.plan.ep}"


@concept("layers_divisible_by_pp", "rule", "the layers divide evenly over pp")
def _layers_pp(sc):
    ok = sc.model.num_layers % sc.plan.pp == 0
    return ok, f"L {sc.model.num_layers} % pp {sc.plan.pp} = {sc.model.num_layers % sc.plan.pp}"


@concept("plan_valid", "rule", "the plan passes every validity rule (memory included)")
def _valid(sc):
    v, worked = _plan_valid(sc)
    return v, worked
@concept("sequence_split_by_pp_ep", "concept", "pipeline and expert parallelism shorten the sequence each GPU prefills")
def _seq_split(sc):
    return False, (f"every pipeline stage runs all {sc.workload.input_len} tokens of a sequence through its "
                   f"{math.ceil(sc.model.num_layers / sc.plan.pp)} layers, and ep only spreads the expert FFNs: "
                   f"attention still sees the whole sequence (dp splits sequences, not tokens)")


@concept("gradient_checkpointing_in_inference", "concept", "gradient checkpointing saves activation memory in inference")
def _grad_ckpt(sc):
    return False, ("inference has no backward pass, so there are no stored activations to recompute; each layer's "
                   "activations are freed before the next (the model counts one layer's working set)")


@concept("more_stages_fewer_bubbles", "concept", "more pipeline stages reduce the pipeline bubble")
def _bubbles(sc):
    mb, pp = sc.plan.microbatches, sc.plan.pp
    idle = (pp - 1) / (mb + pp - 1)
    half = max(pp // 2, 1)
    idle_half = (half - 1) / (mb + half - 1)
    return bool(idle < idle_half), (f"idle share of the fill (pp - 1) / (mb + pp - 1) with mb = {mb}: pp {pp} -> "
                                    f"{idle:.0%}, pp {half} -> {idle_half:.0%}")


_SEARCHES: dict = {}


def _search(sc, max_gpus: int = 256):
    """The strategy search under the scenario's workload, requirements and throughput reading (cached)."""
    from .search import search

    key = repr((sc.model, sc.hardware, sc.workload, sc.efficiency, sc.overlap, sorted(sc.requirements.items()),
                sc.throughput_reading, max_gpus))
    if key not in _SEARCHES:
        _SEARCHES[key] = search(sc.model, sc.hardware, sc.workload, max_gpus,
                                ttft_max_s=sc.requirements.get("ttft_s"),
                                min_tokens_per_s_per_gpu=sc.requirements.get("throughput_tokens_per_s_per_gpu"),
                                throughput_metric=f"{sc.throughput_reading}_tokens_per_s_per_gpu",
                                efficiency=sc.efficiency, overlap=sc.overlap)
    return _SEARCHES[key]


def _meets_all(sc) -> tuple[bool, str]:
    e = scenario_estimate(sc)
    misses = [v.name for v in errors(e.violations)]
    if "ttft_s" in sc.requirements and not _meets_ttft(sc)[0]:
        misses.append("TTFT limit")
    if "throughput_tokens_per_s_per_gpu" in sc.requirements and not _meets_tput(sc)[0]:
        misses.append(f"throughput floor ({sc.throughput_reading} reading)")
    return not misses, ", ".join(misses)


OPTIMAL_WITHIN = 0.9
"""A plan counts as optimal when it meets the requirements and reaches 90 % of the best plan's throughput/GPU."""


@concept("plan_is_optimal", "rule", "the plan is optimal for the requirements (best throughput per GPU)")
def _optimal(sc):
    ok, misses = _meets_all(sc)
    metric = f"{sc.throughput_reading}_tokens_per_s_per_gpu"
    mine = scenario_estimate(sc).metrics[metric]
    r = _search(sc)
    best = r.best(1)
    if best.empty:
        best = r.relaxed("min_tokens_per_s_per_gpu").best(1)
    if best.empty:
        return False, "no plan up to 256 GPUs meets the TTFT limit"
    top = best.iloc[0]
    label = Plan(*(int(top[k]) for k in PLAN_KEYS)).label()
    holds = ok and mine >= OPTIMAL_WITHIN * float(top[metric])
    n = int(top["gpus_total"])
    text = f"{sc.plan.label()}: {_g(mine)} {sc.throughput_reading} tokens/s/GPU; best found {label} on " \
        f"{n} GPU{'s' if n > 1 else ''}: {_g(float(top[metric]))}"
    return bool(holds), text + ("" if ok else f"; the plan misses: {misses}")


@concept("minimal_gpus", "rule", "no plan with fewer GPUs meets the requirements")
def _minimal(sc):
    ok, misses = _meets_all(sc)
    f = _search(sc).feasible
    if f.empty:
        return False, "no plan up to 256 GPUs meets every requirement in this reading"
    fewest = int(f["gpus_total"].min())
    holds = ok and sc.plan.gpus <= fewest
    return bool(holds), (f"{sc.plan.label()} uses {sc.plan.gpus} GPUs; the fewest that meet every requirement: "
                         f"{fewest}" + ("" if ok else f"; the plan misses: {misses}"))


# === concepts added for documents 002 and 004 (helper C): add checks below this line ===============
def _with_plan(sc, plan, tag):
    return replace(sc, plan=plan, name=f"{sc.name}-{tag}")


@concept("gpus_not_product_of_degrees", "concept", "the GPU count is not the product of the parallel degrees")
def _gpus_product(sc):
    p = sc.plan
    return False, (f"GPUs = tp x dp x pp by definition: {p.tp} x {p.dp} x {p.pp} = {p.gpus}; ep = {p.ep} is no "
                   f"factor because the experts fold over the same tp x dp GPUs")


@concept("batch_limited_by_memory", "concept", "the batch is limited by memory (twice the batch does not fit)")
def _batch_limited(sc):
    cap = sc.hardware.memory_bytes
    b, fits = sc.workload.batch, []
    while b <= 64 * sc.workload.batch:
        need = scenario_estimate(replace(sc, workload=replace(sc.workload, batch=b))).metrics["memory_bytes_per_gpu"]
        if need > cap:
            break
        fits.append((b, need))
        b *= 2
    if not fits:
        return True, f"B = {sc.workload.batch} already needs more than {_gb(cap)} per GPU"
    top, need = fits[-1]
    return len(fits) < 2, (f"B = {sc.workload.batch} -> {top} sequences still fit: {_gb(need)} of {_gb(cap)} per GPU "
                           f"at B = {top} (doubling from B = {sc.workload.batch})")


@concept("max_ep_minimises_comm", "concept",
         "spreading the experts over every GPU (largest ep) minimises communication")
def _max_ep_comm(sc):
    p, m = sc.plan, sc.model
    group = p.tp * p.dp
    base = scenario_estimate(sc).metrics
    best = None
    for ep in range(1, p.ep):
        if m.num_experts % ep or group % (ep * p.etp):
            continue
        alt = _with_plan(sc, replace(p, ep=ep), f"ep{ep}")
        e = scenario_estimate(alt)
        if errors(e.violations):
            continue
        x = e.metrics
        if x["prefill_comm_s"] < base["prefill_comm_s"] and x["decode_comm_s"] < base["decode_comm_s"]:
            if best is None or x["decode_comm_s"] < best[1]["decode_comm_s"]:
                best = (ep, x)
    here = (f"ep {p.ep}: prefill comm {base['prefill_comm_s']:.3g} s, decode comm "
            f"{base['decode_comm_s'] * 1e3:.3g} ms/step")
    if best is None:
        return True, f"{here}; no valid smaller ep on the same GPUs communicates less"
    ep, x = best
    return False, (f"{here}; ep {ep} on the same {p.gpus} GPUs (valid, fits): prefill comm "
                   f"{x['prefill_comm_s']:.3g} s, decode comm {x['decode_comm_s'] * 1e3:.3g} ms/step")


@concept("lower_memory_use_is_less_waste", "concept", "using less of each GPU's memory wastes less")
def _less_memory_less_waste(sc):
    x = scenario_estimate(sc).metrics
    cap = sc.hardware.memory_bytes
    idle = cap - x["memory_bytes_per_gpu"]
    bigger = replace(sc, workload=replace(sc.workload, batch=2 * sc.workload.batch))
    y = scenario_estimate(bigger).metrics
    fits = y["memory_bytes_per_gpu"] <= cap
    return False, (f"memory left unused is the waste: {_gb(idle)} of {_gb(cap)} idle per GPU here; filling it with "
                   f"B = {2 * sc.workload.batch} ({_gb(y['memory_bytes_per_gpu'])}, "
                   f"{'fits' if fits else 'does not fit'}) takes decode from "
                   f"{x['output_tokens_per_s_per_gpu']:,.0f} to {y['output_tokens_per_s_per_gpu']:,.0f} "
                   f"output tokens/s/GPU")


@concept("lower_bandwidth_utilisation_is_better", "concept", "a lower HBM bandwidth utilisation is an improvement")
def _lower_bw_better(sc):
    low = float(sc.stated.get("bw_util_claimed", sc.efficiency.bw_util / 2))
    x = scenario_estimate(sc).metrics
    slow = replace(sc, efficiency=replace(sc.efficiency, bw_util=low, name="custom"))
    y = scenario_estimate(slow).metrics
    return False, (f"decode reads weights and KV cache from HBM: at {sc.efficiency.bw_util:.0%} utilisation a step "
                   f"takes {x['decode_step_s'] * 1e3:.4g} ms, at {low:.1%} it takes {y['decode_step_s'] * 1e3:.4g} ms "
                   f"(slower, not better)")


@concept("topk_ensures_balance", "concept", "top-k gating by itself balances the load over the experts")
def _topk_balance(sc):
    m, b = sc.model, sc.workload.batch
    share = m.experts_per_token / m.num_experts
    mean, sd = b * share, math.sqrt(b * share * (1 - share))
    return False, (f"top-k fixes how many experts a token uses (k = {m.experts_per_token} of E = {m.num_experts}), "
                   f"not which: even under uniform random routing a decode step of {b} tokens gives each expert "
                   f"{mean:.3g} +- {sd:.3g} tokens (binomial), so the busiest of {m.num_experts} sits several standard "
                   f"deviations above the mean; real routers are skewed further")


@concept("tp_reduction_cuts_allreduce_count", "concept", "a smaller tp performs fewer all-reduce operations")
def _tp_allreduce_count(sc):
    p, wl = sc.plan, sc.workload

    def decode_tp_comm(plan):
        return float(perf.decode_stage(sc.model, sc.hardware, plan, wl, sc.efficiency, sc.overlap)["tp"])
    big = replace(p, tp=2 * p.tp, dp=max(p.dp // 2, 1))
    t_small, t_big = decode_tp_comm(p), decode_tp_comm(big)
    return False, (f"tp {big.tp} and tp {p.tp} both all-reduce once per attention block, L = {sc.model.num_layers} "
                   f"times per step; a smaller group makes each one cheaper: TP comm per decode step "
                   f"{t_big * 1e3:.3g} ms (tp {big.tp}) vs {t_small * 1e3:.3g} ms (tp {p.tp})")


@concept("kv_replicated_by_tp", "concept", "tensor parallelism at the plan's tp replicates the KV cache")
def _kv_replicated(sc):
    m, tp = sc.model, sc.plan.tp
    shards = int(kv_shards(m, tp))
    copies = tp / shards
    return copies > 1, (f"{m.num_kv_heads} KV heads over tp {tp}: split over min(tp, n_kv) = {shards} ranks, "
                        f"{copies:g} cop{'y' if copies == 1 else 'ies'} of each head (replication only when tp > n_kv)")
# === end of concepts for documents 002 and 004 =====================================================


# --- document arithmetic ---------------------------------------------------------------------------
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv, ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCS = {"min": min, "max": max, "ceil": math.ceil, "sqrt": math.sqrt}


def own_arithmetic(expression: str, where: str = "own_arithmetic") -> float:
    """Evaluate the document's arithmetic: numbers, + - * / // **, parentheses, min/max/ceil/sqrt.

    >>> own_arithmetic("16 * 16 * 32 * 2 * 10240 * 2")
    335544320.0
    """
    try:
        tree = ast.parse(str(expression), mode="eval")
    except SyntaxError:
        raise CostModelError(f"{where}: {expression!r} is not an arithmetic expression") from None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and not node.keywords:
            return float(_FUNCS[node.func.id](*[ev(a) for a in node.args]))
        raise CostModelError(f"{where}: {expression!r} may hold only numbers, + - * / // **, ( ), "
                             f"{', '.join(_FUNCS)}")
    try:
        return ev(tree)
    except ZeroDivisionError:
        raise CostModelError(f"{where}: {expression!r} divides by zero") from None


# --- claims and verdicts ---------------------------------------------------------------------------
CLAIM_KEYS = ("id", "quote", "scenario", "quantity", "claimed", "unit", "basis", "tolerance", "own_arithmetic",
              "baseline", "transform", "readings", "expected", "why", "section")
TRANSFORMS = ("reduction", "ratio", "increase")


def claimed_bounds(claimed, unit: str, where: str = "claimed") -> tuple:
    """(lo, hi) in SI for a number, [lo, hi], {min: x} or {max: x}; (b, b) for a boolean."""
    if unit not in UNITS:
        raise CostModelError(f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}")
    if UNITS[unit][0] == "bool":
        if not isinstance(claimed, bool):
            raise CostModelError(f"{where}: {claimed!r} must be true or false for unit 'bool'")
        return claimed, claimed
    scale = UNITS[unit][1]
    if isinstance(claimed, list) and len(claimed) == 2:
        lo, hi = (_float(c, where) for c in claimed)
    elif isinstance(claimed, dict) and len(claimed) == 1 and set(claimed) <= {"min", "max"}:
        ((key, value),) = claimed.items()
        v = _float(value, where)
        lo, hi = (v, math.inf) if key == "min" else (-math.inf, v)
    else:
        lo = hi = _float(claimed, where)
    if lo > hi:
        raise CostModelError(f"{where}: range {claimed!r} has lo > hi")
    return lo * scale, hi * scale


def agrees(value: float, lo: float, hi: float, tolerance: float) -> bool:
    """lo (1 - tol) <= value <= hi (1 + tol) (positive quantities)."""
    return lo * (1 - tolerance) - 1e-12 * abs(lo) <= value <= hi * (1 + tolerance) + 1e-12 * abs(hi)


def off_factor(value: float, lo: float, hi: float) -> float:
    """claimed / recomputed with the end of the claimed range nearest to value; 1 inside the range."""
    if lo <= value <= hi:
        return 1.0
    near = lo if value < lo else hi
    if value == 0:
        return math.inf
    return near / value


@dataclass(frozen=True)
class Verdict:
    verdict: str
    factor: float | None
    reason: str


def verdict(*, basis: str, claimed, lo, hi, tolerance: float, recomputed, own=None, concept_kind=None,
            unit: str = "") -> Verdict:
    """Apply the module's verdict rules 1-7 to one claim (values in SI; ``own`` in SI or None)."""
    if basis == "concept":
        kind = concept_kind or "concept"
        if bool(recomputed) == bool(claimed):
            return Verdict("correct", None, "the statement holds")
        return Verdict("invalid" if kind == "concept" else "wrong", None,
                       "conceptual error" if kind == "concept" else "the rule check fails")
    if recomputed is None:
        return Verdict("unsupported", None, "no derivation, and nothing in the inputs determines it")
    if isinstance(recomputed, bool) or isinstance(lo, bool):
        if bool(recomputed) == bool(lo):
            return Verdict("correct", None, f"the cost model agrees ({recomputed})")
        if basis == "input":
            return Verdict("inconsistent", None, "contradicted by the document's other inputs")
        return Verdict("wrong", None, f"the cost model gives {recomputed}")
    show = _show(unit)
    if agrees(recomputed, lo, hi, tolerance):
        f = off_factor(recomputed, lo, hi)
        return Verdict("correct", f, f"cost model {show(recomputed)} within ±{tolerance:.0%}")
    factor = off_factor(recomputed, lo, hi)
    if own is not None and not agrees(own, lo, hi, tolerance):
        return Verdict("inconsistent", factor, f"its own numbers give {show(own)}, not the claimed value; "
                       f"cost model {show(recomputed)}")
    if basis == "input":
        return Verdict("inconsistent", factor, f"the document's other inputs give {show(recomputed)}")
    if basis == "derived" or own is not None:
        return Verdict("wrong", factor, f"cost model {show(recomputed)}: off x{_fx(factor)}")
    band = max(factor, 1 / factor) if factor not in (0, math.inf) else math.inf
    if band > ESTIMATE_WRONG_FACTOR * (1 + tolerance):
        return Verdict("wrong", factor, f"no derivation; cost model {show(recomputed)}: off x{_fx(factor)}")
    return Verdict("unsupported", factor, f"no derivation; cost model {show(recomputed)} (x{_fx(factor)}), plausible")


def _fx(f: float) -> str:
    return "inf" if f == math.inf else f"{f:.3g}"


def _show(unit: str):
    scale = UNITS.get(unit, ("", 1.0))[1]

    def show(v):
        if isinstance(v, bool):
            return str(v)
        return f"{v / scale:,.4g} {unit}".strip()
    return show


# --- ledgers ---------------------------------------------------------------------------------------
def _audit_folder() -> Path:
    return Path(str(resources.files("costmodel") / "data" / "audits"))


def ledger_ids() -> list[str]:
    """Document ids that have a ledger (``data/audits/NNN.yaml``)."""
    return sorted(p.stem for p in _audit_folder().glob("*.yaml") if re.fullmatch(r"\d{3}", p.stem))


def document_path(doc: str, file: str) -> Path:
    """The audited document: the packaged copy ``data/audits/documents/<file>``."""
    path = _audit_folder() / "documents" / file
    if not path.is_file():
        raise CostModelError(f"ledger {doc}: document file {file!r} not found in {AUDITS_DIR}/documents")
    return path


def document_text(doc: str) -> str:
    """Full text of document ``doc`` (the packaged verbatim copy of the seed)."""
    return document_path(doc, load_ledger(doc)["file"]).read_text()


@lru_cache(maxsize=None)
def _ledger_raw(doc: str) -> dict:
    path = _audit_folder() / f"{doc}.yaml"
    if not path.is_file():
        raise CostModelError(f"audit: document {doc!r} has no ledger; ledgers: {', '.join(ledger_ids())}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise CostModelError(f"ledger {doc}:{line} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return data


def load_ledger(doc: str) -> dict:
    """The validated ledger of a document: its dict with ``scenarios`` built into :class:`Scenario`.

    Every problem raises a one-line :class:`CostModelError` naming the ledger, claim and field.
    """
    return _load_ledger(str(doc))


@lru_cache(maxsize=None)
def _load_ledger(doc: str) -> dict:
    raw = _ledger_raw(doc)
    where = f"ledger {doc}"
    if not isinstance(raw, dict):
        raise CostModelError(f"{where}: must be a mapping with doc, file, title, scenarios, claims")
    for key in ("doc", "file", "title", "slug", "scenarios", "claims"):
        if key not in raw:
            raise CostModelError(f"{where}: missing key {key!r}")
    if str(raw["doc"]) != doc:
        raise CostModelError(f"{where}: 'doc' is {raw['doc']!r}, expected {doc!r} (the file name)")
    text = document_path(doc, raw["file"]).read_text()
    scenarios = {name: build_scenario(name, spec, where) for name, spec in (raw["scenarios"] or {}).items()}
    if not scenarios:
        raise CostModelError(f"{where}: needs at least one scenario")
    default_tol = _float(raw.get("default_tolerance", DEFAULT_TOLERANCE), f"{where}: default_tolerance")
    unknown = set(raw) - set(LEDGER_KEYS)
    if unknown:
        raise CostModelError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(LEDGER_KEYS)}")
    claims, seen = [], set()
    for i, c in enumerate(raw["claims"] or []):
        claims.append(_check_claim(c, i, where, text, scenarios, default_tol, seen))
    _check_extras(raw, where, scenarios, seen)
    return {**raw, "doc": doc, "text": text, "scenarios": scenarios, "claims": claims,
            "default_tolerance": default_tol}


def _check_claim(c, i, where, text, scenarios, default_tol, seen) -> dict:
    if not isinstance(c, dict) or "id" not in c:
        raise CostModelError(f"{where}: claim #{i + 1} must be a mapping with an 'id'")
    w = f"{where} claim {c['id']}"
    if c["id"] in seen:
        raise CostModelError(f"{w}: duplicate id")
    seen.add(c["id"])
    unknown = set(c) - set(CLAIM_KEYS)
    if unknown:
        raise CostModelError(f"{w}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(CLAIM_KEYS)}")
    for key in ("quote", "scenario", "quantity", "claimed", "unit", "basis", "expected"):
        if key not in c:
            raise CostModelError(f"{w}: missing key {key!r}")
    quote = str(c["quote"])
    pos = text.find(quote)
    if pos < 0:
        raise CostModelError(f"{w}: quote {quote[:60]!r} is not a verbatim substring of the document")
    if c["scenario"] not in scenarios:
        raise CostModelError(f"{w}: scenario {c['scenario']!r} is not one of {', '.join(scenarios)}")
    for r in c.get("readings") or []:
        if r not in scenarios:
            raise CostModelError(f"{w}: reading {r!r} is not one of {', '.join(scenarios)}")
    if c["basis"] not in BASES:
        raise CostModelError(f"{w}: basis {c['basis']!r} is not one of {', '.join(BASES)}")
    if c["expected"] not in VERDICTS:
        raise CostModelError(f"{w}: expected {c['expected']!r} is not one of {', '.join(VERDICTS)}")
    q = str(c["quantity"])
    if q.startswith("concept:"):
        if q[len("concept:"):] not in CONCEPTS:
            raise CostModelError(f"{w}: concept {q!r} is not one of {', '.join('concept:' + k for k in CONCEPTS)}")
        if c["basis"] != "concept" or c["unit"] != "bool" or not isinstance(c["claimed"], bool):
            raise CostModelError(f"{w}: a concept claim needs basis 'concept', unit 'bool', claimed true/false")
        dimension = "bool"
    else:
        if q not in QUANTITIES:
            raise CostModelError(f"{w}: quantity {q!r} is not one of {', '.join(QUANTITIES)}")
        dimension = QUANTITIES[q][0]
        if c["basis"] == "concept":
            raise CostModelError(f"{w}: basis 'concept' needs a 'concept:<name>' quantity")
    if c["unit"] not in UNITS:
        raise CostModelError(f"{w}: unit {c['unit']!r} is not one of {', '.join(UNITS)}")
    unit_dim = UNITS[c["unit"]][0]
    transform = c.get("transform")
    if transform is not None and transform not in TRANSFORMS:
        raise CostModelError(f"{w}: transform {transform!r} is not one of {', '.join(TRANSFORMS)}")
    if (transform is None) != (c.get("baseline") is None):
        raise CostModelError(f"{w}: 'baseline' and 'transform' go together")
    baseline = c.get("baseline")
    if isinstance(baseline, dict):
        needed = [c["scenario"], *(c.get("readings") or [])]
        if set(baseline) != set(needed):
            raise CostModelError(f"{w}: a baseline mapping needs exactly the keys {', '.join(needed)}")
        names = list(baseline.values())
    else:
        names = [] if baseline is None else [baseline]
    for name in names:
        if name not in scenarios:
            raise CostModelError(f"{w}: baseline {name!r} is not one of {', '.join(scenarios)}")
    expect_dim = "ratio" if transform else dimension
    if expect_dim != "any" and unit_dim != expect_dim:
        raise CostModelError(f"{w}: unit {c['unit']!r} ({unit_dim}) does not fit quantity {q!r} ({expect_dim})")
    lo, hi = claimed_bounds(c["claimed"], c["unit"], f"{w}: claimed")
    tol = _float(c.get("tolerance", default_tol), f"{w}: tolerance")
    if not 0 <= tol < 1:
        raise CostModelError(f"{w}: tolerance {tol!r} must be in [0, 1)")
    own = None
    if c.get("own_arithmetic") is not None:
        own = own_arithmetic(c["own_arithmetic"], f"{w}: own_arithmetic") * UNITS[c["unit"]][1]
    line = text.count("\n", 0, pos) + 1
    return {**c, "quantity": q, "lo": lo, "hi": hi, "tolerance": tol, "own": own, "line": line,
            "section": c.get("section") or _section_at(text, pos), "why": " ".join(str(c.get("why", "")).split())}


LEDGER_KEYS = ("doc", "file", "title", "slug", "summary", "default_tolerance", "scenarios", "claims", "charts",
               "corrected")
CHART_KEYS = ("memory", "memory_scenarios", "scaling_scenario", "ttft_claim", "throughput_claim")


def _check_extras(raw: dict, where: str, scenarios: dict, claim_ids: set) -> None:
    """The optional ``charts`` and ``corrected`` blocks name existing claims and scenarios."""
    charts = raw.get("charts") or {}
    if set(charts) - set(CHART_KEYS):
        raise CostModelError(f"{where}: charts keys must be among {', '.join(CHART_KEYS)}")
    for part, cid in (charts.get("memory") or {}).items():
        if part not in MEMORY_PARTS or cid not in claim_ids:
            raise CostModelError(f"{where}: charts.memory.{part} = {cid!r} needs a part in {MEMORY_PARTS} "
                                 f"and a claim id")
    for key in ("ttft_claim", "throughput_claim"):
        if charts.get(key) is not None and charts[key] not in claim_ids:
            raise CostModelError(f"{where}: charts.{key} = {charts[key]!r} is not a claim id")
    names = list(charts.get("memory_scenarios") or []) + [charts[k] for k in ("scaling_scenario",) if charts.get(k)]
    names += list((raw.get("corrected") or {}).get("scenarios") or [])
    for name in names:
        if name not in scenarios:
            raise CostModelError(f"{where}: scenario {name!r} (charts/corrected) is not one of {', '.join(scenarios)}")


def _section_at(text: str, pos: int) -> str:
    """The nearest markdown heading above position pos."""
    heads = [m for m in re.finditer(r"^#+ +(.+)$", text[:pos], flags=re.M)]
    return heads[-1].group(1).strip() if heads else ""


# --- evaluation ------------------------------------------------------------------------------------
def resolve(claim: dict, sc: Scenario, scenarios: dict):
    """(recomputed SI value or None/bool, worked line, concept kind) of one claim under a scenario."""
    q = claim["quantity"]
    if q.startswith("concept:"):
        kind, fn, _ = CONCEPTS[q[len("concept:"):]]
        holds, evidence = fn(sc)
        return bool(holds), evidence, kind
    value, worked = QUANTITIES[q][1](sc)
    if claim.get("transform") and value is not None:
        base = claim["baseline"]
        base = scenarios[base[sc.name] if isinstance(base, dict) else base]
        b, bworked = QUANTITIES[q][1](base)
        t = claim["transform"]
        value = {"reduction": 1 - value / b, "ratio": value / b, "increase": value / b - 1}[t]
        worked = f"{t} vs {base.name}: [{worked}] vs [{bworked}] -> {value:.1%}"
    if isinstance(value, (np.floating, np.integer)):
        value = float(value)
    return value, worked, None


def judge(claim: dict, sc: Scenario, scenarios: dict) -> tuple:
    """(recomputed, worked, Verdict) of a claim under one scenario."""
    value, worked, kind = resolve(claim, sc, scenarios)
    v = verdict(basis=claim["basis"], claimed=claim["claimed"], lo=claim["lo"], hi=claim["hi"],
                tolerance=claim["tolerance"], recomputed=value, own=claim["own"], concept_kind=kind,
                unit=claim["unit"])
    if kind is not None:
        v = Verdict(v.verdict, None, f"{'the statement holds' if value else 'the statement is false'}: {worked}")
    return value, worked, v


def _in_unit(value, unit):
    if value is None or isinstance(value, bool):
        return value
    return float(value) / UNITS[unit][1]


def audit_claim(doc: str, claim_id: str) -> dict:
    """One audited claim as a row dict: quote, claimed, own arithmetic, recomputed, worked line, verdict."""
    ledger = load_ledger(doc)
    for c in ledger["claims"]:
        if c["id"] == claim_id:
            return _row(ledger, c)
    raise CostModelError(f"ledger {doc}: claim {claim_id!r} is not one of {', '.join(c['id'] for c in ledger['claims'])}")


def _row(ledger: dict, c: dict) -> dict:
    scenarios = ledger["scenarios"]
    sc = scenarios[c["scenario"]]
    value, worked, v = judge(c, sc, scenarios)
    reason = v.reason + (f"; {c['why']}" if c["why"] else "")
    readings = {}
    for name in c.get("readings") or []:
        rv, _, rverdict = judge(c, scenarios[name], scenarios)
        readings[name] = {"recomputed": _in_unit(rv, c["unit"]), "verdict": rverdict.verdict,
                          "factor": rverdict.factor}
    all_verdicts = {v.verdict} | {r["verdict"] for r in readings.values()}
    return {
        "doc": ledger["doc"], "claim_id": c["id"], "section": c["section"], "line": c["line"], "quote": c["quote"],
        "scenario": c["scenario"], "plan": sc.plan.label(), "quantity": c["quantity"], "basis": c["basis"],
        "claimed": c["claimed"], "unit": c["unit"], "tolerance": c["tolerance"],
        "own_arithmetic": c.get("own_arithmetic"), "own_value": _in_unit(c["own"], c["unit"]),
        "recomputed": _in_unit(value, c["unit"]), "worked": worked, "factor": v.factor,
        "verdict": v.verdict, "expected": c["expected"], "reason": reason,
        "readings": readings, "same_under_all_readings": len(all_verdicts) == 1,
    }


def audit_rows(doc: str) -> list[dict]:
    """Every claim of one document, audited (see :func:`audit_claim`)."""
    ledger = load_ledger(doc)
    return [_row(ledger, c) for c in ledger["claims"]]


def audit_table(docs=None) -> pd.DataFrame:
    """The ledgers with verdicts as one DataFrame (all documents when ``docs`` is None)."""
    docs = ledger_ids() if docs is None else [str(d) for d in ([docs] if isinstance(docs, (str, int)) else docs)]
    rows = [row for d in docs for row in audit_rows(d)]
    return pd.DataFrame(rows)


def verdict_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict (columns in :data:`VERDICTS` order) for each document."""
    table = pd.crosstab(df["doc"], df["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table


def findings_table(df: pd.DataFrame) -> pd.DataFrame:
    """A compact table of one document's claims: id, quote (shortened), claimed, recomputed, factor, verdict."""
    def fmt(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, float):
            return f"{v:,.4g}"
        if isinstance(v, dict):
            return ", ".join(f"{k} {x:g}" for k, x in v.items())
        if isinstance(v, list):
            return f"{v[0]:g}-{v[1]:g}"
        return str(v)
    out = pd.DataFrame({
        "claim": df["claim_id"],
        "quote": [q if len(q) <= 60 else q[:57] + "..." for q in df["quote"]],
        "claimed": [fmt(c) for c in df["claimed"]],
        "recomputed": [fmt(r) for r in df["recomputed"]],
        "unit": df["unit"],
        "factor": ["" if f is None or (isinstance(f, float) and math.isnan(f)) else f"x{f:.3g}"
                   for f in df["factor"]],
        "verdict": df["verdict"],
    })
    return out.reset_index(drop=True)


def readings_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Claims checked under other readings: the verdict in each reading and whether it is the same in all."""
    rows = []
    for r in df.itertuples():
        if not r.readings:
            continue
        row = {"claim": r.claim_id, "quantity": r.quantity, r.scenario: r.verdict}
        for name, v in r.readings.items():
            row[name] = v["verdict"]
        row["same in every reading"] = r.same_under_all_readings
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    last = out.pop("same in every reading")
    return out.fillna("").assign(**{"same in every reading": last})


def scenario_table(doc: str) -> pd.DataFrame:
    """The scenarios of a ledger: plan, workload and the reading that maps the document onto it."""
    ledger = load_ledger(doc)
    rows = []
    for sc in ledger["scenarios"].values():
        p, wl = sc.plan, sc.workload
        rows.append({"scenario": sc.name, "model": sc.model.id, "TP": p.tp, "DP": p.dp, "PP": p.pp, "EP": p.ep,
                     "ETP": p.etp, "mb": p.microbatches, "GPUs": p.gpus, "B": wl.batch, "S_in": wl.input_len,
                     "S_out": wl.output_len, "throughput reading": sc.throughput_reading, "reading": sc.reading})
    return pd.DataFrame(rows)


class ClaimCard:
    """One audited claim for a notebook cell: shows as a small Markdown table (text in a console)."""

    FIELDS = (("quote", "quote"), ("where", "where"), ("scenario", "scenario"), ("claimed", "claimed"),
              ("own", "document's arithmetic"), ("recomputed", "cost model"), ("worked", "worked"),
              ("verdict", "verdict"), ("reason", "reason"), ("readings", "other readings"))

    def __init__(self, row: dict):
        self.row = row

    def items(self) -> list[tuple[str, str]]:
        r = self.row
        unit = r["unit"]
        show = _show(unit)
        claimed = r["claimed"]
        if isinstance(claimed, list):
            text = f"{claimed[0]:g} to {claimed[1]:g} {unit}"
        elif isinstance(claimed, dict):
            ((k, v),) = claimed.items()
            text = f"{'at least' if k == 'min' else 'at most'} {v:g} {unit}"
        elif isinstance(claimed, bool):
            text = "asserted" if claimed else "denied"
        else:
            text = f"{claimed:g} {unit}"
        own = "" if r["own_arithmetic"] is None else f"{r['own_arithmetic']} = {r['own_value']:,.4g} {unit}"
        if isinstance(r["recomputed"], bool):
            rec = ("holds" if r["recomputed"] else "does not hold") if r["basis"] == "concept" else str(r["recomputed"])
        elif r["recomputed"] is None:
            rec = "not determined by the inputs"
        else:
            rec = show(r["recomputed"] * UNITS[unit][1])
        verdict_text = r["verdict"].upper()
        if r["factor"] is not None and not (isinstance(r["factor"], float) and math.isnan(r["factor"])) \
                and r["verdict"] != "correct":
            verdict_text += f" (claimed / recomputed = x{_fx(r['factor'])})"
        readings = "; ".join(
            f"{name}: {v['verdict']}" + ("" if v["recomputed"] is None or isinstance(v["recomputed"], bool)
                                          else f" ({v['recomputed']:,.4g} {unit})")
            for name, v in r["readings"].items())
        values = {"quote": r["quote"], "where": f"line {r['line']}, {r['section']}",
                  "scenario": f"{r['scenario']} ({r['plan']})", "claimed": text, "own": own, "recomputed": rec,
                  "worked": "" if r["worked"] in r["reason"] else r["worked"], "verdict": verdict_text, "reason": r["reason"], "readings": readings}
        return [(label, values[key]) for key, label in self.FIELDS if values[key]]

    def __repr__(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.items())

    def _repr_markdown_(self) -> str:
        def cell(text):
            return str(text).replace("|", "\\|").replace("\n", " ")
        lines = [f"| **{self.row['claim_id']}** | {cell(self.row['quantity'])} |", "|---|---|"]
        lines += [f"| {label} | {cell(value)} |" for label, value in self.items()]
        return "\n".join(lines)


def claim_card(doc: str, claim_id: str) -> ClaimCard:
    """The audited claim as a card for a notebook: quote, claimed, own arithmetic, worked line, verdict."""
    return ClaimCard(audit_claim(doc, claim_id))


# --- charts data and the corrected strategy --------------------------------------------------------
MEMORY_PARTS = ("weights", "kv_cache", "activations", "reserved")


WHOLE_SYSTEM_QUANTITIES = ("weight_bytes_total", "kv_bytes_total", "throughput_total", "memory_bytes_all_gpus",
                           "memory_capacity_bytes_total", "effective_flops_per_s_total", "peak_flops_per_s_total")
"""Quantities that count all GPUs (or the whole model): a chart of per-GPU values divides them by the GPUs."""


def claim_value_per_gpu(ledger: dict, c: dict, end: str = "hi") -> tuple[float, str]:
    """A claim's value in SI for a per-GPU chart (the upper end of a range by default, the finite end of a
    bound) and a note: whole-system quantities are divided by the GPUs of the claim's scenario."""
    first, second = (c["hi"], c["lo"]) if end == "hi" else (c["lo"], c["hi"])
    value = first if math.isfinite(first) else second
    if c["quantity"] in WHOLE_SYSTEM_QUANTITIES:
        gpus = ledger["scenarios"][c["scenario"]].plan.gpus
        return value / gpus, f" (whole system / {gpus} GPUs)"
    return value, ""


def memory_breakdown(doc: str) -> pd.DataFrame:
    """Memory per GPU by part (GB), as the document claims it and as recomputed for each chart scenario.

    The ledger's ``charts.memory`` maps each part to the claim that states it (a range counts at its
    upper end); ``charts.memory_scenarios`` lists the scenarios to recompute.
    """
    ledger = load_ledger(doc)
    spec = (ledger.get("charts") or {})
    claims = {c["id"]: c for c in ledger["claims"]}
    rows = []
    for part, cid in (spec.get("memory") or {}).items():
        value, note = claim_value_per_gpu(ledger, claims[cid])
        rows.append({"source": "document", "part": part, "GB": value / 1e9, "claim": cid + note})
    for name in spec.get("memory_scenarios") or []:
        x = scenario_estimate(ledger["scenarios"][name]).metrics
        for part, key in zip(MEMORY_PARTS, ("weight_bytes_per_gpu", "kv_bytes_per_gpu", "activation_bytes_per_gpu",
                                            "reserved_bytes_per_gpu")):
            rows.append({"source": f"cost model: {name}", "part": part, "GB": x[key] / 1e9, "claim": ""})
    return pd.DataFrame(rows, columns=["source", "part", "GB", "claim"])


def scaling_table(doc: str, scenario: str, dps=(1, 2, 4, 8, 16, 32)) -> pd.DataFrame:
    """The scenario's plan with attention DP scaled: GPUs, TTFT, throughput per GPU (both readings), memory.

    ep stays the plan's unless it no longer divides tp x dp, then it drops to the largest divisor of E
    that does (the plan stays valid under the convention).
    """
    sc = load_ledger(doc)["scenarios"][scenario]
    rows = []
    for dp in dps:
        group = sc.plan.tp * dp
        ep = max(d for d in range(1, sc.plan.ep + 1) if sc.model.num_experts % d == 0 and group % (d * sc.plan.etp)
                 == 0) if group % sc.plan.etp == 0 else 1
        plan = replace(sc.plan, dp=dp, ep=ep, etp=sc.plan.etp if group % sc.plan.etp == 0 else 1)
        e = scenario_estimate(replace(sc, plan=plan))
        x = e.metrics
        rows.append({"plan": plan.label(), "GPUs": x["gpus_total"], "TTFT (s)": x["ttft_s"],
                     "output tokens/s/GPU": x["output_tokens_per_s_per_gpu"],
                     "input tokens/s/GPU": x["input_tokens_per_s_per_gpu"],
                     "memory/GPU (GB)": x["memory_bytes_per_gpu"] / 1e9, "valid": e.valid})
    return pd.DataFrame(rows)


def corrected_strategy(doc: str, max_gpus: int = 256) -> pd.DataFrame:
    """For each scenario in the ledger's ``corrected.scenarios``: the document's plan and the best plan found.

    The search (:func:`costmodel.search.search`) covers every power-of-two plan up to ``max_gpus`` GPUs
    under the scenario's workload, TTFT limit and throughput floor (in the scenario's reading). When no
    plan meets the throughput floor, the row shows the plan closest to it that meets everything else and
    says so in ``meets all``.
    """
    from .search import search

    ledger = load_ledger(doc)
    spec = ledger.get("corrected") or {}
    max_gpus = int(spec.get("max_gpus", max_gpus))
    rows = []
    for name in spec.get("scenarios") or []:
        sc = ledger["scenarios"][name]
        metric = f"{sc.throughput_reading}_tokens_per_s_per_gpu"
        r = search(sc.model, sc.hardware, sc.workload, max_gpus, ttft_max_s=sc.requirements.get("ttft_s"),
                   min_tokens_per_s_per_gpu=sc.requirements.get("throughput_tokens_per_s_per_gpu"),
                   throughput_metric=metric, efficiency=sc.efficiency, overlap=sc.overlap)
        best = r.best(1)
        meets = len(best) > 0
        if not meets:
            best = r.relaxed("min_tokens_per_s_per_gpu").best(1)
        doc_x = scenario_estimate(sc).metrics
        for who, plan, x, ok in (("document", sc.plan, doc_x, None),
                                 ("corrected", None if best.empty else best.iloc[0], None, meets)):
            if who == "corrected":
                if plan is None:
                    continue
                row = plan
                plan = Plan(*(int(row[k]) for k in PLAN_KEYS))
                x = row
            else:
                ok = _meets_all(sc)[0]
            rows.append({"scenario": name, "reading": sc.throughput_reading, "who": who, "plan": plan.label(),
                         "GPUs": int(x["gpus_total"]), "memory/GPU (GB)": float(x["memory_bytes_per_gpu"]) / 1e9,
                         "TTFT (s)": float(x["ttft_s"]), "TPOT (ms)": float(x["decode_step_s"]) * 1e3,
                         "output tokens/s/GPU": float(x["output_tokens_per_s_per_gpu"]),
                         "input tokens/s/GPU": float(x["input_tokens_per_s_per_gpu"]), "meets all": bool(ok)})
    return pd.DataFrame(rows)


class Readings:
    """The scenarios of a ledger as Markdown: plan, GPUs, workload and the words that justify the reading."""

    def __init__(self, doc: str):
        self.scenarios = list(load_ledger(doc)["scenarios"].values())

    def lines(self) -> list[str]:
        out = []
        for sc in self.scenarios:
            wl = sc.workload
            model = sc.model.id + (f" ({sc.model.params_total / 1e9:.3g} B params)" if "@" in sc.model.id else "")
            out.append(f"{sc.name}: {sc.plan.label()} = {sc.plan.gpus} GPUs; {model}; B {wl.batch}, "
                       f"S_in {wl.input_len}, S_out {wl.output_len}, {wl.weight_dtype}; throughput read as "
                       f"{sc.throughput_reading} tokens. {sc.reading}")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- **{line.split(':', 1)[0]}**:{line.split(':', 1)[1]}" for line in self.lines())


def scenario_readings(doc: str) -> Readings:
    """The ledger's scenarios with their readings, for a notebook cell (Markdown)."""
    return Readings(doc)


def to_json_rows(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows (NaN and inf become None)."""
    def clean(v):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return None
        if isinstance(v, (np.floating,)):
            return clean(float(v))
        if isinstance(v, (np.bool_,)):
            return bool(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


__all__ = ["VERDICTS", "BASES", "UNITS", "QUANTITIES", "CONCEPTS", "Scenario", "Verdict", "model_with_params",
           "build_scenario", "scenario_estimate", "own_arithmetic", "claimed_bounds", "agrees", "off_factor",
           "verdict", "ledger_ids", "load_ledger", "document_text", "audit_claim", "audit_rows", "audit_table",
           "verdict_counts", "findings_table", "scenario_table", "to_json_rows", "ClaimCard", "claim_card",
           "memory_breakdown", "scaling_table", "corrected_strategy", "scenario_readings",
           "claim_value_per_gpu", "WHOLE_SYSTEM_QUANTITIES", "readings_summary"]
