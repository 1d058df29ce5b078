"""Parallel plans, workloads and the validity rules a plan must pass.

Plan convention (Megatron-Core "MoE parallel folding"): tp attention tensor parallel, dp attention
data parallel (independent replicas are more dp), pp pipeline stages, ep expert parallel, etp expert
tensor parallel. GPUs = tp x dp x pp. Inside a stage the same tp x dp GPUs hold the experts:
ep x etp must divide tp x dp and the quotient edp is the expert data-parallel (replica) degree.
Rank order inside a stage: tp fastest, then dp; for experts etp fastest, then ep, then edp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .units import (ATTENTION_DTYPES, KV_DTYPES, MAX_BATCH, MAX_DEGREE, MAX_GPUS, MAX_TOKENS, WEIGHT_DTYPES,
                    CostModelError, check_choice, dtype_bytes, positive_int, whole_number)


PLAN_KEYS = ("tp", "dp", "pp", "ep", "etp", "microbatches", "redundant_experts")
"""Fields of a :class:`Plan`, in positional order."""

PLAN_ALIASES = {"mb": "microbatches", "redundant": "redundant_experts"}
"""Short names accepted by :meth:`Plan.parse` (``mb=4``, ``redundant=32``)."""


def default_etp(tp, dp, ep):
    """Expert tensor parallel degree engines use when none is given: tp x dp / ep (the experts spread
    over every GPU of the stage, no replication), or 1 when ep does not divide tp x dp."""
    return (tp * dp) // ep if (tp * dp) % ep == 0 else 1


@dataclass(frozen=True)
class Plan:
    """One parallel plan. Every degree defaults to 1; ``etp`` defaults to tp x dp / ep
    (:func:`default_etp`), so ``Plan(tp=2)`` shards every expert over the 2 GPUs as vLLM's "TP2" does.

    microbatches: pipeline micro-batches per replica batch; redundant_experts: EPLB slots per MoE
    layer beyond the E experts (ep must divide E + redundant_experts; the replicas cost memory).
    """

    tp: int = 1
    dp: int = 1
    pp: int = 1
    ep: int = 1
    etp: int | None = None
    microbatches: int = 1
    redundant_experts: int = 0

    def __post_init__(self):
        for name in ("tp", "dp", "pp", "ep", "microbatches"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name), MAX_DEGREE))
        etp = default_etp(self.tp, self.dp, self.ep) if self.etp is None else positive_int("etp", self.etp, MAX_DEGREE)
        object.__setattr__(self, "etp", etp)
        object.__setattr__(self, "redundant_experts",
                           whole_number("redundant_experts", self.redundant_experts, MAX_DEGREE))
        if self.gpus > MAX_GPUS:
            raise CostModelError(f"plan: tp x dp x pp = {self.gpus:,} GPUs exceeds the limit of {MAX_GPUS:,}")

    @classmethod
    def parse(cls, text: str) -> "Plan":
        """A plan from ``"tp=1,dp=8,ep=8"`` or its label ``"TP1·DP8·EP8"`` (keys: tp, dp, pp, ep, etp,
        microbatches or mb, redundant_experts or redundant, any case; ``EP72+32`` is ep=72 with 32 redundant
        experts; commas, spaces or ``·`` between pairs; the rest default)."""
        values = {}
        for pair in re.split(r"[,\s·]+", str(text).strip()):
            if not pair:
                continue
            match = re.fullmatch(r"([A-Za-z_]+)(\d+)(?:\+(\d+))?", pair) if "=" not in pair else None
            key, sep, value = pair.partition("=") if match is None else (match[1], "=", match[2])
            key = PLAN_ALIASES.get(key.strip().lower(), key.strip().lower())
            if not sep or not value or key not in PLAN_KEYS:
                raise CostModelError(f"plan: {pair!r} is neither key=value nor a label part (TP4, EP16+32) with a "
                                     f"key among {', '.join(PLAN_KEYS)} (or mb, redundant)")
            extra = {"redundant_experts": match[3]} if match is not None and match[3] else {}
            for k, v in ({key: value} | extra).items():
                if k in values:
                    raise CostModelError(f"plan: {k!r} is given twice in {text!r}")
                try:
                    values[k] = int(v)
                except ValueError:
                    raise CostModelError(f"plan: {k}={v!r} is not a whole number") from None
        if not values:
            raise CostModelError(f"plan: {text!r} names no degree; write e.g. 'tp=1,dp=8,ep=8' or 'TP1·DP8·EP8'")
        return cls(**values)

    @property
    def gpus(self) -> int:
        """GPUs = tp x dp x pp."""
        return self.tp * self.dp * self.pp

    @property
    def edp(self) -> float:
        """Expert data-parallel degree (tp x dp) / (ep x etp); not whole when the plan is invalid."""
        return self.tp * self.dp / (self.ep * self.etp)

    def label(self) -> str:
        """Compact label: ``TP4·DP4·EP16``; PP, EP, mb shown when above 1, ETP when not the default,
        ``+N`` after EP for N redundant expert slots."""
        return plan_label(self.tp, self.dp, self.pp, self.ep, self.etp, self.microbatches, self.redundant_experts)


def plan_label(tp, dp=1, pp=1, ep=1, etp=None, microbatches=1, redundant_experts=0) -> str:
    """``TP4·DP4·EP16`` for the degrees of a plan (see :meth:`Plan.label`)."""
    tp, dp, pp, ep, mb, red = (int(v) for v in (tp, dp, pp, ep, microbatches, redundant_experts))
    parts = [f"TP{tp}"] + [f"{name}{v}" for name, v in (("DP", dp), ("PP", pp)) if v > 1]
    if ep > 1 or red:
        parts.append(f"EP{ep}" + (f"+{red}" if red else ""))
    if etp is not None and int(etp) != default_etp(tp, dp, ep):
        parts.append(f"ETP{int(etp)}")
    if mb > 1:
        parts.append(f"mb{mb}")
    return "·".join(parts)


@dataclass(frozen=True)
class Workload:
    """B sequences of input_len prompt tokens and output_len generated tokens, with dtypes.

    attention_dtype: the math of the attention core (scores and weighted sums). Engines run it in
    BF16 whatever the weights (FlashAttention, FlashMLA); TensorRT-LLM's FP8 FlashMLA decode kernel on
    Hopper is the ``fp8`` exception (it needs an FP8 KV cache).
    """

    batch: int
    input_len: int
    output_len: int
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    attention_dtype: str = "bf16"

    def __post_init__(self):
        positive_int("batch", self.batch, MAX_BATCH)
        positive_int("input_len", self.input_len, MAX_TOKENS)
        positive_int("output_len", self.output_len, MAX_TOKENS)
        check_choice("weight_dtype", self.weight_dtype, WEIGHT_DTYPES)
        check_choice("kv_dtype", self.kv_dtype, KV_DTYPES)
        check_choice("attention_dtype", self.attention_dtype, ATTENTION_DTYPES)

    @property
    def context_len(self) -> int:
        """Full context S_in + S_out, the length the KV cache is sized for."""
        return self.input_len + self.output_len

    @property
    def mean_decode_context(self) -> float:
        """Mean context during decode, S_in + S_out / 2."""
        return self.input_len + self.output_len / 2

    @property
    def act_dtype(self) -> str:
        """Activations travel in fp16 for fp16 weights and in bf16 otherwise."""
        return "fp16" if self.weight_dtype == "fp16" else "bf16"

    @property
    def act_bytes(self) -> float:
        return dtype_bytes(self.act_dtype)


@dataclass(frozen=True)
class Violation:
    """A named rule a plan breaks; severity ``error`` makes the plan invalid, ``warning`` flags it."""

    name: str
    severity: str
    message: str


RULES = {
    # name: (severity, message template); the masks are computed in rule_masks
    "heads_not_divisible_by_tp": ("error", "{n_h} attention heads are not divisible by tp={tp}"),
    "kv_heads_not_divisible_by_tp": ("error", "{n_kv} KV heads and tp={tp}: neither divides the other"),
    "kv_heads_replicated": ("warning", "tp={tp} exceeds {n_kv} KV heads: each KV head is replicated, costing memory"),
    "ep_on_dense_model": ("error", "ep={ep} but the model has no routed experts"),
    "experts_not_divisible_by_ep": ("error", "{slots} expert slots are not divisible by ep={ep}"),
    "expert_group_not_dividing": ("error", "ep x etp = {ep_etp} does not divide tp x dp = {tp_dp}"),
    "etp_not_dividing_expert_width": ("error", "expert width {f_e} is not divisible by etp={etp}"),
    "pp_exceeds_layers": ("error", "pp={pp} exceeds the {L} layers"),
    "uneven_pp_stages": ("warning", "{L} layers do not split evenly over pp={pp} stages"),
    "tp_spans_domains": ("warning", "tp={tp} spans more than one {gpn}-GPU scale-up domain (legal but slow)"),
    "batch_not_divisible_by_dp": ("error", "batch {B} is not divisible by dp={dp}"),
    "microbatches_not_dividing": ("error", "{B_r} sequences per replica do not split into {mb} micro-batches"),
    "pipeline_bubble": ("warning", "{mb} micro-batches for pp={pp} stages leave the pipeline idle part of the time"),
    "memory_exceeds_capacity": ("error", "needs {need_GB:.1f} GB per GPU, more than the {usable_GB:.1f} GB usable "
                                         "({cap_GB:.1f} GB less {headroom:.0%} headroom)"),
    "context_exceeds_model": ("warning", "S_in + S_out = {N:,} exceeds the model's maximum context {N_max:,}"),
}


def rule_masks(model, hardware, plan, workload, memory_bytes_per_gpu, headroom: float = 0.0) -> dict:
    """{rule name: boolean (array) that is True where the plan breaks the rule}.

    ``plan`` may hold numpy arrays instead of ints: the search evaluates many plans at once.
    """
    tp, dp, pp, ep, etp, mb = plan.tp, plan.dp, plan.pp, plan.ep, plan.etp, plan.microbatches
    m, B = model, workload.batch
    gqa = m.attention == "gqa"
    n_kv = m.num_kv_heads
    b_r = B // np.maximum(dp, 1)
    no = np.zeros(np.shape(tp), dtype=bool)
    return {
        "heads_not_divisible_by_tp": m.num_heads % tp != 0,
        "kv_heads_not_divisible_by_tp": (n_kv % tp != 0) & (tp % n_kv != 0) if gqa else no,
        "kv_heads_replicated": (tp > n_kv) if gqa else no,
        "ep_on_dense_model": (ep > 1) & (not m.is_moe),
        "experts_not_divisible_by_ep": ((m.num_experts + getattr(plan, "redundant_experts", 0)) % ep != 0)
        if m.is_moe else no,
        "expert_group_not_dividing": (tp * dp) % (ep * etp) != 0,
        "etp_not_dividing_expert_width": (m.moe_intermediate % etp != 0) if m.is_moe else no,
        "pp_exceeds_layers": pp > m.num_layers,
        "uneven_pp_stages": m.num_layers % pp != 0,
        "tp_spans_domains": tp > hardware.scale_up_gpus,
        "batch_not_divisible_by_dp": B % dp != 0,
        "microbatches_not_dividing": (b_r % mb != 0) | (mb > b_r),
        "pipeline_bubble": (pp > 1) & (mb < pp),
        "memory_exceeds_capacity": memory_bytes_per_gpu > hardware.memory_bytes * (1.0 - headroom),
        "context_exceeds_model": no | ((m.max_context_len > 0) & (workload.context_len > m.max_context_len)),
    }


def violations_from_masks(masks: dict, model, hardware, plan, workload, memory_bytes_per_gpu,
                          headroom: float = 0.0) -> list[Violation]:
    """Turn the scalar masks of one plan into named :class:`Violation` objects."""
    m = model
    values = dict(
        tp=plan.tp, dp=plan.dp, pp=plan.pp, ep=plan.ep, etp=plan.etp, mb=plan.microbatches, n_h=m.num_heads,
        n_kv=m.num_kv_heads, E=m.num_experts, L=m.num_layers, f_e=m.moe_intermediate, B=workload.batch,
        B_r=workload.batch // plan.dp, ep_etp=plan.ep * plan.etp, tp_dp=plan.tp * plan.dp,
        gpn=hardware.scale_up_gpus, need_GB=memory_bytes_per_gpu / 1e9, cap_GB=hardware.memory_bytes / 1e9,
        usable_GB=hardware.memory_bytes * (1.0 - headroom) / 1e9, headroom=headroom,
        slots=m.num_experts + plan.redundant_experts,
        N=workload.context_len, N_max=m.max_context_len,
    )
    out = []
    for name, broken in masks.items():
        if bool(broken):
            severity, template = RULES[name]
            out.append(Violation(name, severity, template.format(**values)))
    return out


def errors(violations: list[Violation]) -> list[Violation]:
    """The violations that make a plan invalid."""
    return [v for v in violations if v.severity == "error"]
