"""One micro-batch on the fullest pipeline stage: a roofline per operator class plus communication.

Each class costs max(FLOPs / (peak x compute efficiency), bytes / (HBM x bw_util)) per GPU:

* ``dense``: non-expert linear layers (attention projections, dense FFNs, shared experts, router) and
  the LM head, at the weight dtype's peak; reads the non-expert weights;
* ``attention``: scores and weighted sums over the context at the attention dtype's peak (BF16 unless
  the workload says otherwise); reads the KV cache. MLA prefills in the form it is written and decodes
  in the absorbed form over the latent (:func:`costmodel.flops.attention_head_dims`);
* ``experts``: routed experts at the weight dtype's peak; the FLOPs of the busiest EP rank (mean x the
  load imbalance of :func:`costmodel.moe.load_imbalance`); reads only the experts that receive tokens.

Communication per stage: TP all-reduces, the expert-parallel dispatch and combine
(:func:`costmodel.comm.ep_exchange_s`: FP8 dispatch for FP8 / FP4 checkpoints as DeepEP and the
TensorRT-LLM wide-EP path do, BF16 combine), expert-TP all-reduces, and the pipeline send.

Overlap policies (:data:`OVERLAP_POLICIES`):

* ``none``: stage = compute + communication + overhead;
* ``two-batch``: the micro-batch runs as two halves, one's communication hidden behind the other's
  compute (SGLang ``--enable-two-batch-overlap``); each half reads the weights again, so
  stage = max(2 compute(half), 2 communication(half)) + overhead (a decode batch of one sequence
  cannot split; a prompt splits by tokens).

overhead = layers on the stage x ``layer_overhead_s`` of the efficiency (kernel floors; 0 in the roofline).
Everything accepts numpy arrays in the plan's and the efficiency's fields.
"""

from __future__ import annotations

import numpy as np

from . import comm
from .architecture import Model, kv_cache_positions, kv_elements_per_token_per_layer
from .flops import attention_core_flops, linear_flops_per_token, lm_head_flops
from .memory import kv_shards, lm_head_elements_per_gpu, stage_fraction, weight_dtypes, weight_elements_per_gpu
from .moe import experts_active_fraction, load_imbalance, routing_skew
from .units import CostModelError, dtype_bytes

OVERLAP_POLICIES = ("none", "two-batch")
"""How communication meets compute (see the module docstring)."""

FP8_DISPATCH_WEIGHTS = ("fp8", "fp4", "mxfp4")
"""Checkpoints whose MoE inputs are quantised before the dispatch (DeepEP ``use_fp8``, TensorRT-LLM
wide-EP): the dispatch sends FP8 values plus one FP32 scale per 128 (d (1 + 4/128) bytes a token)."""


def overlap_policy(overlap) -> str:
    """The policy name: ``none`` or ``two-batch``; booleans map False -> none, True -> two-batch."""
    if isinstance(overlap, (bool, np.bool_)):
        return "two-batch" if overlap else "none"
    if overlap not in OVERLAP_POLICIES:
        raise CostModelError(f"overlap: {overlap!r} is not one of {', '.join(OVERLAP_POLICIES)}")
    return overlap


def dispatch_bytes_per_element(weight_dtype: str, act_bytes: float) -> float:
    """Bytes per hidden element of an EP dispatch: 1 + 4/128 (FP8 with block scales) for FP8/FP4
    checkpoints, else the activation bytes."""
    return 1.0 + 4.0 / 128 if weight_dtype in FP8_DISPATCH_WEIGHTS else act_bytes


def _work(m: Model, hw, plan, wl, eff, seqs_replica, seqs_all, new_tokens, past_tokens, decode, skew):
    """Seconds per roofline class, the FLOPs, and the expert load imbalance of one micro-batch."""
    tp, dp = plan.tp, plan.dp
    efficiency = eff.decode_compute if decode else eff.mfu
    frac = stage_fraction(m, plan.pp)
    dtypes = weight_dtypes(m, wl.weight_dtype)
    w_bytes = {c: dtype_bytes(t) for c, t in dtypes.items()}
    peak = {c: hw.peak_flops_per_s(t) * efficiency for c, t in dtypes.items()}
    attention_peak = hw.peak_flops_per_s(wl.attention_dtype) * efficiency
    hbm = hw.hbm_bandwidth_bytes_per_s * eff.bw_util
    lin = linear_flops_per_token(m)
    weights = weight_elements_per_gpu(m, plan)

    tokens_replica = seqs_replica * new_tokens
    head_flops = seqs_replica * (new_tokens if decode else 1) * lm_head_flops(m) / tp
    dense_flops = frac * tokens_replica * lin["dense"] / tp
    attn_flops = frac * seqs_replica * attention_core_flops(m, new_tokens, past_tokens, absorbed=decode) / tp
    kv_per_token = kv_elements_per_token_per_layer(m) * m.num_layers * frac * dtype_bytes(wl.kv_dtype)
    # the cache a sequence holds after the step (sliding and chunked layers hold at most their window)
    kv_traffic = seqs_replica * kv_cache_positions(m, past_tokens + new_tokens) * kv_per_token / kv_shards(m, tp)

    edp = tp * dp / (plan.ep * plan.etp)  # expert replicas: each sees 1 / edp of the tokens
    group_tokens = seqs_all * new_tokens / edp
    redundant = getattr(plan, "redundant_experts", 0)
    imbalance = load_imbalance(group_tokens, m.experts_per_token, plan.ep, m.num_experts + redundant, skew,
                               np.asarray(redundant) > 0) if m.is_moe else np.ones_like(np.asarray(tp, float))
    expert_flops = frac * seqs_all * new_tokens * lin["experts"] / (tp * dp)  # mean per GPU
    expert_traffic = weights["experts"] * w_bytes["experts"] * experts_active_fraction(m, group_tokens)
    # the block weights and the LM head stream whole; the input embedding is a gather of B rows
    dense_traffic = (weights["non_expert"] * w_bytes["non_expert"]
                     + lm_head_elements_per_gpu(m, plan) * w_bytes["embeddings"])

    return {
        "dense": np.maximum(dense_flops / peak["non_expert"] + head_flops / peak["embeddings"], dense_traffic / hbm),
        "attention": np.maximum(attn_flops / attention_peak, kv_traffic / hbm),
        "experts": np.maximum(expert_flops * imbalance / peak["experts"], expert_traffic / hbm),
        "flops": dense_flops + attn_flops + expert_flops, "lm_head_flops": head_flops, "imbalance": imbalance,
    }


def _communication(m: Model, hw, plan, wl, eff, seqs_replica, seqs_all, new_tokens, imbalance) -> dict:
    """Seconds of each collective of one micro-batch on the stage: tp, ep (dispatch + combine), etp, pp."""
    tp, dp, ep, etp = plan.tp, plan.dp, plan.ep, plan.etp
    frac = stage_fraction(m, plan.pp)
    act, d = wl.act_bytes, m.d_model
    tokens_replica = seqs_replica * new_tokens

    mlp_all_reduces = (m.num_dense_layers if m.is_moe else m.num_layers) + (
        m.num_moe_layers if m.shared_intermediate else 0)
    t_tp = frac * (m.num_layers + mlp_all_reduces) * comm.hierarchical_all_reduce_s(tokens_replica * d * act, tp, hw,
                                                                                     eff)

    k = m.experts_per_token
    per_rank = seqs_all * new_tokens / (tp * dp)  # tokens each rank dispatches, on average
    dispatch = comm.ep_exchange_s(per_rank, d * dispatch_bytes_per_element(wl.weight_dtype, act), k, ep, hw, eff,
                                  etp, imbalance)
    combine = comm.ep_exchange_s(per_rank, d * act, k, ep, hw, eff, etp, imbalance)
    t_ep = frac * m.num_moe_layers * (dispatch + combine)
    # expert-TP partial sums: with ep = 1 every expert is local and a rank sums its k expert outputs before the
    # all-reduce (tokens x d); with ep > 1 the k copies of a token sit on different ranks (copies x d)
    etp_payload = tokens_replica / tp * etp * d * act * np.where(ep > 1, k, 1)
    t_etp = frac * m.num_moe_layers * comm.hierarchical_all_reduce_s(etp_payload, etp, hw, eff)
    pp_bw, pp_lat = comm.link(hw, tp * dp * plan.pp, eff)
    t_pp = np.where(plan.pp > 1, comm.p2p_s(tokens_replica * d * act, pp_bw, pp_lat), 0.0)
    return {"tp": t_tp, "ep": t_ep, "etp": t_etp, "pp": t_pp}


def stage_time(m: Model, hw, plan, wl, eff, *, seqs_per_replica, seqs_all_replicas, new_tokens, past_tokens,
               decode: bool, overlap="none", routing=None) -> dict:
    """Seconds one micro-batch spends on the fullest stage, by part (module docstring).

    seqs_per_replica: sequences one attention replica holds in the micro-batch; seqs_all_replicas:
    sequences of all dp replicas in it (their tokens share the experts); new_tokens / past_tokens per
    sequence (prefill: S_in / 0; decode: 1 / context - 1); decode: the decode kernels (absorbed MLA,
    decode_mfu, one LM head per new token); routing: a :class:`costmodel.moe.RoutingSkew` or its name.
    Keys: total, compute, comm, overhead, dense, attention, experts, tp, ep (EP exchange + expert-TP),
    pp, flops, lm_head_flops, imbalance.
    """
    policy, skew = overlap_policy(overlap), routing_skew(routing)
    work = _work(m, hw, plan, wl, eff, seqs_per_replica, seqs_all_replicas, new_tokens, past_tokens, decode, skew)
    parts = _communication(m, hw, plan, wl, eff, seqs_per_replica, seqs_all_replicas, new_tokens, work["imbalance"])
    compute = work["dense"] + work["attention"] + work["experts"]
    communication = parts["tp"] + parts["ep"] + parts["etp"] + parts["pp"]
    overhead = stage_fraction(m, plan.pp) * m.num_layers * getattr(eff, "layer_overhead_s", 0.0)
    total = compute + communication + overhead
    if policy == "two-batch":
        half = _work(m, hw, plan, wl, eff, seqs_per_replica / 2, seqs_all_replicas / 2, new_tokens, past_tokens,
                     decode, skew)
        half_parts = _communication(m, hw, plan, wl, eff, seqs_per_replica / 2, seqs_all_replicas / 2, new_tokens,
                                    half["imbalance"])
        both = np.maximum(2 * (half["dense"] + half["attention"] + half["experts"]), 2 * sum(half_parts.values()))
        splits = np.asarray(seqs_per_replica) >= 2 if decode else True  # a prompt splits by tokens
        total = np.where(splits, both + overhead, total)
    return {"total": total, "compute": compute, "comm": communication, "overhead": overhead + 0.0 * compute,
            "dense": work["dense"], "attention": work["attention"], "experts": work["experts"], "tp": parts["tp"],
            "ep": parts["ep"] + parts["etp"], "pp": parts["pp"], "flops": work["flops"],
            "lm_head_flops": work["lm_head_flops"], "imbalance": work["imbalance"]}
