"""Bytes per GPU under a plan: weights, KV cache, activations (all SI bytes, the fullest GPU).

Pipeline stages hold ceil(L / pp) layers (the fullest stage); per-layer quantities scale by that
share of the model. The input embedding and the LM head are split over tp (vocabulary parallel);
with pp = 1 one GPU holds both, with pp > 1 the larger of the two. Every function accepts numpy
arrays in the plan's fields.
"""

from __future__ import annotations

import numpy as np

from .architecture import (Model, attention_params_split, kv_cache_positions, kv_elements_per_token_per_layer, mlp_params,
                           param_breakdown)
from .units import dtype_bytes

RESERVED_BYTES_PER_GPU = 1.0e9
"""CUDA context, library workspaces and communication buffers: 1 GB per GPU (an assumption)."""


def stage_fraction(m: Model, pp):
    """Share of the layers on the fullest pipeline stage: ceil(L / pp) / L."""
    return np.ceil(m.num_layers / pp) / m.num_layers


def kv_shards(m: Model, tp):
    """Ranks the KV cache splits over: min(tp, n_kv) for GQA (replicated beyond n_kv), 1 for MLA."""
    return np.minimum(tp, m.num_kv_heads) if m.attention == "gqa" else np.ones_like(tp)


def weight_elements_per_gpu(m: Model, plan) -> dict:
    """Parameters held by the fullest GPU, by class: ``non_expert`` and ``experts``.

    non_expert = frac x [L (attn_split / tp + attn_kv / kv_shards + norms) + dense FFN / tp
                 + shared experts / tp + router] + embeddings / tp
    experts    = frac x L_moe x (E / ep) x expert params / etp
    """
    tp, pp = plan.tp, plan.pp
    frac = stage_fraction(m, pp)
    p = param_breakdown(m)
    sharded, kv_part = attention_params_split(m)
    per_layers = m.num_layers * (sharded / tp + kv_part / kv_shards(m, tp))
    per_layers = per_layers + p["norms"] + (p["dense_mlp"] + p["shared_experts"]) / tp + p["router"]
    embeddings = np.where(pp == 1, p["embedding"] + p["lm_head"], max(p["embedding"], p["lm_head"])) / tp
    experts = m.num_moe_layers * (m.num_experts / plan.ep) * mlp_params(m, m.moe_intermediate) / plan.etp
    return {"non_expert": frac * per_layers + embeddings, "experts": frac * experts}


def weight_bytes_per_gpu(m: Model, plan, weight_dtype: str):
    """Weight bytes on the fullest GPU: elements x bytes per element."""
    return sum(weight_elements_per_gpu(m, plan).values()) * dtype_bytes(weight_dtype, "weight_dtype")


def kv_bytes_per_gpu(m: Model, plan, workload):
    """KV cache for the full context of every sequence the GPU serves.

    = ceil(B / dp) x positions(S_in + S_out) x kv elements per token per layer x ceil(L / pp) x bytes / kv_shards
    positions(N) is N, or less for sliding-window and chunked layers (averaged over the layers:
    :func:`costmodel.architecture.kv_cache_positions`; a stage is taken to hold the average mix).
    """
    seqs = np.ceil(workload.batch / plan.dp)
    layers = np.ceil(m.num_layers / plan.pp)
    per_token = kv_elements_per_token_per_layer(m) * dtype_bytes(workload.kv_dtype, "kv_dtype")
    positions = kv_cache_positions(m, workload.context_len)
    return seqs * positions * per_token * layers / kv_shards(m, plan.tp)


def activation_bytes_per_gpu(m: Model, plan, workload):
    """Peak activation working set of one layer during prefill of one micro-batch.

    Inference frees each layer's activations before the next, so the peak is one layer's live
    tensors for the T = ceil(B / dp) / mb x S_in tokens of a micro-batch (flash attention: no
    S x S score matrix), in the activation dtype:
      T x [2 d (residual + normed input) + (n_h + 2 n_kv) d_h / tp (QKV)
           + max(dense: g f / tp, MoE: k (d etp + g f_e) / tp)]          with g = 2 if gated else 1
    plus the last position's logits in fp32: ceil(B / dp) / mb x V / tp x 4 bytes.
    """
    tp = plan.tp
    seqs_mb = np.ceil(workload.batch / plan.dp) / plan.microbatches
    tokens = seqs_mb * workload.input_len
    gate = 2 if m.mlp_gated else 1
    qkv = (m.num_heads + 2 * m.num_kv_heads) * m.head_dim / tp
    ffn = gate * m.dense_intermediate / tp if (m.num_dense_layers or not m.is_moe) else 0.0
    if m.is_moe:
        ffn = np.maximum(ffn, m.experts_per_token * (m.d_model * plan.etp + gate * m.moe_intermediate) / tp)
    per_token = 2 * m.d_model + qkv + ffn
    logits = seqs_mb * m.vocab_size / tp * 4.0
    return tokens * per_token * workload.act_bytes + logits


def memory_bytes_per_gpu(m: Model, plan, workload, reserved_bytes: float = RESERVED_BYTES_PER_GPU) -> dict:
    """Weights, KV cache, activations and reserved bytes on the fullest GPU, and their total."""
    parts = {
        "weights": weight_bytes_per_gpu(m, plan, workload.weight_dtype),
        "kv_cache": kv_bytes_per_gpu(m, plan, workload),
        "activations": activation_bytes_per_gpu(m, plan, workload),
        "reserved": reserved_bytes + 0.0 * plan.tp,
    }
    parts["total"] = sum(parts.values())
    return parts
