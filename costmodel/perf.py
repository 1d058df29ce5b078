"""Times and throughput: a roofline per operator class plus alpha-beta communication.

For one micro-batch on the fullest pipeline stage, each class costs
max(FLOPs / (peak x MFU), bytes / (HBM x bw_util)) per GPU; the classes are
``dense`` (non-expert weights and the LM head), ``attention`` (scores over the KV cache) and
``experts`` (routed experts, only those that receive tokens are read). Communication is added
(policy ``overlap=False``) or hidden behind compute up to the larger of the two (``overlap=True``).

  TTFT (whole batch)  = (mb + pp - 1) x prefill stage time          (pipeline fill + drain)
  TTFT (one request)  = pp x prefill stage time for a batch of one
  decode step (TPOT)  = max(mb, pp) x decode stage time at context S_in + S_out / 2
  output tokens/s/GPU = B / TPOT / GPUs;  input tokens/s/GPU = B S_in / TTFT / GPUs

:func:`evaluate` accepts numpy arrays in the plan's fields, so the search and :func:`estimate`
share one code path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import comm, memory
from .architecture import Model, kv_elements_per_token_per_layer
from .flops import attention_core_flops, decode_flops, linear_flops_per_token, lm_head_flops, prefill_flops
from .efficiency import Efficiency, resolve_efficiency
from .hardware import Hardware
from .inputs import as_hardware, as_model, as_plan, as_workload, check_options
from .memory import RESERVED_BYTES_PER_GPU, kv_shards, memory_bytes_per_gpu, stage_fraction, weight_elements_per_gpu
from .report import EstimateView
from .strategy import Plan, Violation, Workload, errors, rule_masks, violations_from_masks
from .units import dtype_bytes


def experts_active_fraction(m: Model, tokens):
    """Expected share of experts that receive at least one of ``tokens`` tokens: 1 - (1 - k/E)^tokens."""
    return 1.0 - (1.0 - m.experts_per_token / m.num_experts) ** tokens if m.is_moe else 0.0


def stage_time(m: Model, hw: Hardware, plan, wl: Workload, eff: Efficiency, *, seqs_per_replica, seqs_all_replicas,
               new_tokens, past_tokens, compute_efficiency, overlap: bool) -> dict:
    """Seconds one micro-batch spends on the fullest stage: roofline per class + communication.

    seqs_per_replica: sequences one attention replica holds in the micro-batch;
    seqs_all_replicas: sequences of all dp replicas in it (their tokens share the experts);
    new_tokens / past_tokens: per sequence (prefill: S_in / 0; decode: 1 / context - 1).
    """
    tp, dp, ep, etp = plan.tp, plan.dp, plan.ep, plan.etp
    frac = stage_fraction(m, plan.pp)
    peak = hw.peak_flops_per_s(wl.weight_dtype) * compute_efficiency
    hbm = hw.hbm_bandwidth_bytes_per_s * eff.bw_util
    w_bytes = dtype_bytes(wl.weight_dtype)
    lin = linear_flops_per_token(m)
    weights = weight_elements_per_gpu(m, plan)

    tokens_replica = seqs_per_replica * new_tokens
    head_flops = seqs_per_replica * lm_head_flops(m) / tp  # on the last stage, which the fullest stage bounds
    dense_flops = frac * tokens_replica * lin["dense"] / tp
    attn_flops = frac * seqs_per_replica * attention_core_flops(m, new_tokens, past_tokens) / tp
    expert_flops = frac * seqs_all_replicas * new_tokens * lin["experts"] / (tp * dp)
    kv_bytes_per_token = kv_elements_per_token_per_layer(m) * m.num_layers * frac * dtype_bytes(wl.kv_dtype)
    kv_traffic = seqs_per_replica * (past_tokens + new_tokens) * kv_bytes_per_token / kv_shards(m, tp)
    tokens_per_expert_group = seqs_all_replicas * new_tokens * ep * etp / (tp * dp)
    expert_traffic = weights["experts"] * w_bytes * experts_active_fraction(m, tokens_per_expert_group)

    t_dense = np.maximum((dense_flops + head_flops) / peak, weights["non_expert"] * w_bytes / hbm)
    t_attn = np.maximum(attn_flops / peak, kv_traffic / hbm)
    t_experts = np.maximum(expert_flops / peak, expert_traffic / hbm)
    compute = t_dense + t_attn + t_experts

    act = wl.act_bytes
    d = m.d_model
    mlp_all_reduces = (m.num_dense_layers if m.is_moe else m.num_layers) + (
        m.num_moe_layers if m.shared_intermediate else 0)
    tp_bw, tp_lat = comm.link(hw, tp, eff)
    t_tp = frac * (m.num_layers + mlp_all_reduces) * comm.all_reduce_s(tokens_replica * d * act, tp, tp_bw, tp_lat)
    copies_per_rank = tokens_replica / tp * m.experts_per_token
    t_ep = frac * m.num_moe_layers * 2 * comm.all_to_all_s(copies_per_rank * d * act, ep, hw, eff, etp)
    # expert-TP partial sums: with ep = 1 every expert is local and a rank sums its k expert outputs before the
    # all-reduce (tokens x d); with ep > 1 the k copies of a token sit on different ranks (copies x d)
    etp_payload = tokens_replica / tp * etp * d * act * np.where(ep > 1, m.experts_per_token, 1)
    etp_bw, etp_lat = comm.link(hw, etp, eff)
    t_etp = frac * m.num_moe_layers * comm.all_reduce_s(etp_payload, etp, etp_bw, etp_lat)
    pp_bw, pp_lat = comm.link(hw, tp * dp * plan.pp, eff)
    t_pp = np.where(plan.pp > 1, comm.p2p_s(tokens_replica * d * act, pp_bw, pp_lat), 0.0)
    communication = t_tp + t_ep + t_etp + t_pp

    total = np.maximum(compute, communication) if overlap else compute + communication
    return {"total": total, "compute": compute, "comm": communication, "dense": t_dense, "attention": t_attn,
            "experts": t_experts, "tp": t_tp, "ep": t_ep + t_etp, "pp": t_pp,
            "flops": dense_flops + attn_flops + expert_flops, "lm_head_flops": head_flops}


def prefill_rounds(plan):
    """Stage times until the last micro-batch leaves the pipeline: mb + pp - 1 (fill and drain)."""
    return plan.microbatches + plan.pp - 1


def decode_rounds(plan):
    """Stage times per decode step: max(mb, pp); fewer micro-batches than stages leave stages idle."""
    return np.maximum(plan.microbatches, plan.pp)


def prefill_stage(model: Model, hardware: Hardware, plan, workload: Workload, efficiency: Efficiency,
                  overlap: bool = False) -> dict:
    """:func:`stage_time` of one prefill micro-batch of the whole batch (ceil(B / dp) / mb per replica)."""
    mb = plan.microbatches
    return stage_time(model, hardware, plan, workload, efficiency,
                      seqs_per_replica=np.ceil(workload.batch / plan.dp) / mb, seqs_all_replicas=workload.batch / mb,
                      new_tokens=workload.input_len, past_tokens=0, compute_efficiency=efficiency.mfu,
                      overlap=overlap)


def decode_stage(model: Model, hardware: Hardware, plan, workload: Workload, efficiency: Efficiency,
                 overlap: bool = False) -> dict:
    """:func:`stage_time` of one decode micro-batch: one new token per sequence at context S_in + S_out / 2."""
    mb = plan.microbatches
    return stage_time(model, hardware, plan, workload, efficiency,
                      seqs_per_replica=np.ceil(workload.batch / plan.dp) / mb, seqs_all_replicas=workload.batch / mb,
                      new_tokens=1, past_tokens=workload.mean_decode_context - 1,
                      compute_efficiency=efficiency.decode_compute, overlap=overlap)


def evaluate(model: Model, hardware: Hardware, plan, workload: Workload, efficiency: Efficiency,
             overlap: bool = False, reserved_bytes: float = RESERVED_BYTES_PER_GPU) -> dict:
    """Every metric of :class:`Estimate` for one plan or, with array fields, for many at once.

    ``plan`` and ``efficiency`` are read only through their attributes (plan: tp, dp, pp, ep, etp,
    microbatches; efficiency: mfu, decode_compute, bw_util, scale_up_util, scale_out), each a number or a numpy array
    of one shape: the search passes arrays of plans, the calibration arrays of efficiency factors.
    """
    m, wl, eff = model, workload, efficiency
    # plan-independent metrics take the plans' shape, so a search gets one value per plan
    zeros = np.zeros(np.broadcast(plan.tp, plan.dp, plan.pp, plan.ep, plan.etp, plan.microbatches).shape, dtype=int)
    gpus = plan.tp * plan.dp * plan.pp + zeros
    prefill = prefill_stage(m, hardware, plan, wl, eff, overlap)
    single = stage_time(m, hardware, plan, wl, eff, seqs_per_replica=1, seqs_all_replicas=1,
                        new_tokens=wl.input_len, past_tokens=0, compute_efficiency=eff.mfu, overlap=overlap)
    decode = decode_stage(m, hardware, plan, wl, eff, overlap)
    fill, rounds = prefill_rounds(plan), decode_rounds(plan)
    ttft = fill * prefill["total"]
    tpot = rounds * decode["total"]
    memory = memory_bytes_per_gpu(m, plan, wl, reserved_bytes)
    return {
        "gpus_total": gpus,
        "weight_bytes_per_gpu": memory["weights"],
        "kv_bytes_per_gpu": memory["kv_cache"],
        "activation_bytes_per_gpu": memory["activations"],
        "reserved_bytes_per_gpu": memory["reserved"],
        "memory_bytes_per_gpu": memory["total"],
        "memory_capacity_bytes_per_gpu": hardware.memory_bytes + zeros,
        "fits_memory": memory["total"] <= hardware.memory_bytes,
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
    overlap: bool
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
            "mfu": self.efficiency.mfu, "bw_util": self.efficiency.bw_util, "overlap": self.overlap,
            **self.metrics,
            "violations": [asdict(v) for v in self.violations],
        }


def estimate(model: Model | str, hardware: Hardware | str, plan: Plan | str, workload: Workload, efficiency=None, *,
             mfu: float | None = None, bw_util: float | None = None, overlap: bool = False,
             reserved_bytes: float = RESERVED_BYTES_PER_GPU) -> Estimate:
    """Memory, times and throughput of one plan, with its violations (an invalid plan still gets numbers).

    model, hardware: objects or bundled ids (``"qwen3-235b-a22b"``, ``"h100-sxm"``); plan: a :class:`Plan`
    or a string for :meth:`Plan.parse` (``"tp=8,ep=8"``). efficiency: None or ``"scenario"`` (the hardware
    file's), ``"datasheet"`` (100 %), a calibrated profile name, or an :class:`Efficiency`; ``mfu``/``bw_util``
    override it.
    """
    model, hardware, plan, workload = as_model(model), as_hardware(hardware), as_plan(plan), as_workload(workload)
    check_options(overlap, reserved_bytes)
    eff = resolve_efficiency(hardware, efficiency, mfu, bw_util)
    raw = evaluate(model, hardware, plan, workload, eff, overlap, reserved_bytes)
    metrics = {k: (bool(v) if k == "fits_memory" else int(v) if k == "gpus_total" else float(v))
               for k, v in raw.items()}
    found = validate(model, hardware, plan, workload, memory_bytes_per_gpu=metrics["memory_bytes_per_gpu"])
    return Estimate(model.id, hardware.id, plan, workload, eff, overlap, metrics, found)


def validate(model: Model, hardware: Hardware, plan: Plan, workload: Workload,
             memory_bytes_per_gpu: float | None = None, reserved_bytes: float = RESERVED_BYTES_PER_GPU
             ) -> list[Violation]:
    """Named violations of the plan (GUIDE section 3); memory is checked too. Never raises for a bad plan."""
    if memory_bytes_per_gpu is None:
        # the parameter shadows the function of the same name: reach it through its module
        memory_bytes_per_gpu = float(memory.memory_bytes_per_gpu(model, plan, workload, reserved_bytes)["total"])
    masks = rule_masks(model, hardware, plan, workload, memory_bytes_per_gpu)
    return violations_from_masks(masks, model, hardware, plan, workload, memory_bytes_per_gpu)

