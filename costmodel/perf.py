"""Times and throughput of a plan: the stage times of :mod:`costmodel.stage` put together.

  TTFT (whole batch)  = (mb + pp - 1) x prefill stage time          (pipeline fill + drain)
  TTFT (one request)  = pp x prefill stage time for a batch of one
  decode step (TPOT)  = max(mb, pp) x decode stage time at context S_in + S_out / 2
  output tokens/s/GPU = B / TPOT / GPUs;  input tokens/s/GPU = B S_in / TTFT / GPUs

Memory per GPU (:mod:`costmodel.memory`) holds the weights, the KV cache of the full context, the
activations of one prefill chunk and a reserve; a plan fits when that total stays within the capacity
less the headroom. :func:`evaluate` accepts numpy arrays in the plan's (and the efficiency's) fields,
so the search, the calibration and :func:`estimate` share one code path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import memory
from .architecture import Model
from .efficiency import Efficiency, resolve_efficiency
from .flops import decode_flops, prefill_flops
from .hardware import Hardware
from .inputs import as_hardware, as_model, as_plan, as_workload, check_options
from .memory import (
    MEMORY_HEADROOM,
    PREFILL_CHUNK_TOKENS,
    RESERVED_BYTES_PER_GPU,
    memory_bytes_per_gpu,
    usable_memory_bytes,
)
from .moe import experts_active_fraction, routing_skew
from .report import EstimateView
from .stage import overlap_policy, stage_time
from .strategy import (
    Plan,
    Violation,
    Workload,
    errors,
    rule_masks,
    violations_from_masks,
)
from .units import MAX_TOKENS, positive_int

__all__ = ["Estimate", "estimate", "evaluate", "validate", "prefill_stage", "decode_stage", "prefill_rounds",
           "decode_rounds", "experts_active_fraction"]


def prefill_rounds(plan):
    """Stage times until the last micro-batch leaves the pipeline: mb + pp - 1 (fill and drain)."""
    return plan.microbatches + plan.pp - 1


def decode_rounds(plan):
    """Stage times per decode step: max(mb, pp); fewer micro-batches than stages leave stages idle."""
    return np.maximum(plan.microbatches, plan.pp)


def prefill_stage(model: Model, hardware: Hardware, plan, workload: Workload, efficiency: Efficiency,
                  overlap="none", routing=None, batch=None) -> dict:
    """:func:`costmodel.stage.stage_time` of one prefill micro-batch of the whole batch (ceil(B / dp) / mb
    sequences per replica); ``batch`` overrides B (a number or an array)."""
    b, mb = workload.batch if batch is None else batch, plan.microbatches
    return stage_time(model, hardware, plan, workload, efficiency, seqs_per_replica=np.ceil(b / plan.dp) / mb,
                      seqs_all_replicas=b / mb, new_tokens=workload.input_len, past_tokens=0, decode=False,
                      overlap=overlap, routing=routing)


def decode_stage(model: Model, hardware: Hardware, plan, workload: Workload, efficiency: Efficiency,
                 overlap="none", routing=None, batch=None, new_tokens=1) -> dict:
    """:func:`costmodel.stage.stage_time` of one decode micro-batch at context S_in + S_out / 2;
    ``new_tokens`` per sequence (1, or 1 + draft tokens when speculative decoding verifies)."""
    b, mb = workload.batch if batch is None else batch, plan.microbatches
    return stage_time(model, hardware, plan, workload, efficiency, seqs_per_replica=np.ceil(b / plan.dp) / mb,
                      seqs_all_replicas=b / mb, new_tokens=new_tokens, past_tokens=workload.mean_decode_context - 1,
                      decode=True, overlap=overlap, routing=routing)


def evaluate(model: Model, hardware: Hardware, plan, workload: Workload, efficiency: Efficiency, *,
             overlap="none", routing=None, reserved_bytes: float = RESERVED_BYTES_PER_GPU,
             memory_headroom: float = MEMORY_HEADROOM, prefill_chunk_tokens: float = PREFILL_CHUNK_TOKENS) -> dict:
    """Every metric of :class:`Estimate` for one plan or, with array fields, for many at once.

    ``plan`` and ``efficiency`` are read only through their attributes (plan: tp, dp, pp, ep, etp,
    microbatches, optionally redundant_experts; efficiency: mfu, decode_compute, bw_util, scale_up_util,
    scale_out, layer_overhead_s), each a number or a numpy array of one shape: the search passes arrays
    of plans, the calibration arrays of efficiency factors.
    """
    m, wl, eff = model, workload, efficiency
    # plan-independent metrics take the plans' shape, so a search gets one value per plan
    zeros = np.zeros(np.broadcast(plan.tp, plan.dp, plan.pp, plan.ep, plan.etp, plan.microbatches).shape, dtype=int)
    gpus = plan.tp * plan.dp * plan.pp + zeros
    prefill = prefill_stage(m, hardware, plan, wl, eff, overlap, routing)
    single = stage_time(m, hardware, plan, wl, eff, seqs_per_replica=1, seqs_all_replicas=1, new_tokens=wl.input_len,
                        past_tokens=0, decode=False, overlap=overlap, routing=routing)
    decode = decode_stage(m, hardware, plan, wl, eff, overlap, routing)
    fill, rounds = prefill_rounds(plan), decode_rounds(plan)
    ttft = fill * prefill["total"]
    tpot = rounds * decode["total"]
    mem = memory_bytes_per_gpu(m, plan, wl, reserved_bytes, "aggregated", prefill_chunk_tokens)
    usable = usable_memory_bytes(hardware, memory_headroom)
    return {
        "gpus_total": gpus,
        "weight_bytes_per_gpu": mem["weights"],
        "kv_bytes_per_gpu": mem["kv_cache"],
        "activation_bytes_per_gpu": mem["activations"],
        "reserved_bytes_per_gpu": mem["reserved"],
        "memory_bytes_per_gpu": mem["total"],
        "memory_capacity_bytes_per_gpu": hardware.memory_bytes + zeros,
        "memory_usable_bytes_per_gpu": usable + zeros,
        "fits_memory": mem["total"] <= usable,
        "prefill_flops": prefill_flops(m, wl.batch, wl.input_len) + zeros,
        "decode_flops": decode_flops(m, wl.batch, wl.mean_decode_context) + zeros,
        "ttft_s": ttft,
        "ttft_single_request_s": plan.pp * single["total"],
        "decode_step_s": tpot,
        "comm_s": fill * prefill["comm"],
        "prefill_comm_s": fill * prefill["comm"],
        "decode_comm_s": rounds * decode["comm"],
        "prefill_compute_s": fill * prefill["compute"],
        "decode_compute_s": rounds * decode["compute"],
        "decode_weights_s": rounds * (decode["dense"] + decode["experts"]),
        "decode_attention_s": rounds * decode["attention"],
        "decode_overhead_s": rounds * decode["overhead"],
        "decode_expert_imbalance": decode["imbalance"] + 0.0 * zeros,
        "output_tokens_per_s_per_gpu": wl.batch / tpot / gpus,
        "input_tokens_per_s_per_gpu": wl.batch * wl.input_len / ttft / gpus,
        "tokens_per_s_per_user": 1.0 / tpot,
        "request_latency_s": ttft + wl.output_len * tpot,
        "e2e_output_tokens_per_s_per_gpu": wl.batch * wl.output_len / (ttft + wl.output_len * tpot) / gpus,
    }


@dataclass(frozen=True, repr=False)
class Estimate(EstimateView):
    """The metrics of one plan (SI units: bytes, FLOP, seconds, tokens/s) and its violations; each metric
    is also an attribute (``e.ttft_s``). Shows as one line (``repr``) and as a table in a notebook."""

    model_id: str
    hardware_id: str
    plan: Plan
    workload: Workload
    efficiency: Efficiency
    overlap: str
    metrics: dict
    violations: list = field(default_factory=list)

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(name)

    @property
    def valid(self) -> bool:
        """True when no violation of severity ``error`` (memory included) is present."""
        return not errors(self.violations)

    def as_dict(self) -> dict:
        """Flat JSON-ready dict: plan, workload, every metric and the violations."""
        return {
            "model": self.model_id, "hardware": self.hardware_id,
            **{k: v for k, v in asdict(self.plan).items()},
            **{k: v for k, v in asdict(self.workload).items()},
            "efficiency": self.efficiency.name, "mfu": self.efficiency.mfu, "bw_util": self.efficiency.bw_util,
            "overlap": self.overlap,
            **self.metrics,
            "violations": [asdict(v) for v in self.violations],
        }


def estimate(model: Model | str, hardware: Hardware | str, plan: Plan | str, workload: Workload, efficiency=None, *,
             mfu: float | None = None, bw_util: float | None = None, overlap="none", routing=None,
             reserved_bytes: float = RESERVED_BYTES_PER_GPU, memory_headroom: float = MEMORY_HEADROOM,
             prefill_chunk_tokens: float = PREFILL_CHUNK_TOKENS) -> Estimate:
    """Memory, times and throughput of one plan, with its violations (an invalid plan still gets numbers).

    model, hardware: objects or bundled ids (``"qwen3-235b-a22b"``, ``"h100-sxm"``); plan: a :class:`Plan`
    or a string for :meth:`Plan.parse` (``"tp=8,ep=8"``). efficiency: None or ``"scenario"`` (the hardware
    file's), ``"datasheet"`` (100 %), a calibrated profile name, or an :class:`Efficiency`; ``mfu``/``bw_util``
    override it. overlap: ``none`` or ``two-batch``; routing: ``measured`` (default), ``uniform`` or a
    :class:`costmodel.moe.RoutingSkew`; memory_headroom: share of memory left free (default 10 %).
    """
    model, hardware, plan, workload = as_model(model), as_hardware(hardware), as_plan(plan), as_workload(workload)
    check_options(reserved_bytes, memory_headroom)
    positive_int("prefill_chunk_tokens", prefill_chunk_tokens, MAX_TOKENS)
    eff = resolve_efficiency(hardware, efficiency, mfu, bw_util)
    policy, skew = overlap_policy(overlap), routing_skew(routing)
    raw = evaluate(model, hardware, plan, workload, eff, overlap=policy, routing=skew, reserved_bytes=reserved_bytes,
                   memory_headroom=memory_headroom, prefill_chunk_tokens=prefill_chunk_tokens)
    metrics = {k: (bool(v) if k == "fits_memory" else int(v) if k == "gpus_total" else float(v))
               for k, v in raw.items()}
    found = validate(model, hardware, plan, workload, memory_bytes_per_gpu=metrics["memory_bytes_per_gpu"],
                     memory_headroom=memory_headroom)
    return Estimate(model.id, hardware.id, plan, workload, eff, policy, metrics, found)


def validate(model: Model, hardware: Hardware, plan: Plan, workload: Workload,
             memory_bytes_per_gpu: float | None = None, reserved_bytes: float = RESERVED_BYTES_PER_GPU,
             memory_headroom: float = MEMORY_HEADROOM) -> list[Violation]:
    """Named violations of the plan (GUIDE section 3); memory is checked too. Never raises for a bad plan."""
    if memory_bytes_per_gpu is None:
        # the parameter shadows the function of the same name: reach it through its module
        memory_bytes_per_gpu = float(memory.memory_bytes_per_gpu(model, plan, workload, reserved_bytes)["total"])
    masks = rule_masks(model, hardware, plan, workload, memory_bytes_per_gpu, memory_headroom)
    return violations_from_masks(masks, model, hardware, plan, workload, memory_bytes_per_gpu, memory_headroom)
