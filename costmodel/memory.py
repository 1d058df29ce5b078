"""Bytes per GPU under a plan: weights, KV cache, activations (all SI bytes, the fullest GPU).

Pipeline stages hold ceil(L / pp) layers (the fullest stage); per-layer quantities scale by that
share of the model. The input embedding and the LM head are split over tp (vocabulary parallel);
with pp = 1 one GPU holds both, with pp > 1 the larger of the two. Each weight class has its
checkpoint dtype (:func:`weight_dtypes`). Every function accepts numpy arrays in the plan's fields.
"""

from __future__ import annotations

import numpy as np

from .architecture import (Model, attention_params_split, kv_cache_positions, kv_elements_per_token_per_layer, mlp_params,
                           param_breakdown)
from .units import dtype_bytes

RESERVED_BYTES_PER_GPU = 1.0e9
"""CUDA context, library workspaces and communication buffers: 1 GB per GPU (an assumption)."""

MEMORY_HEADROOM = 0.10
"""Share of GPU memory a plan must leave free: vLLM's default ``gpu_memory_utilization`` is 0.9
(vLLM engine arguments; SGLang's ``mem_fraction_static`` defaults are 0.8-0.9 of memory for weights
and KV). A plan fits when weights + KV + activations + reserved <= capacity x (1 - headroom)."""

PREFILL_CHUNK_TOKENS = 8192
"""Prompt tokens one iteration prefills (the engines' token budget: vLLM ``max_num_batched_tokens``
8192, TensorRT-LLM ``max_num_tokens`` 8192, SGLang ``chunked_prefill_size`` 8192 on GPUs under
160 GiB). Activation memory is sized for one chunk, not for a whole batch of prompts."""

PHASES = ("aggregated", "prefill", "decode")
"""What a GPU runs: both phases (chunked prefill interleaved with decode), or one pool's phase of a
disaggregated deployment (prefill: KV of the prompts until they are sent; decode: no prompt chunks)."""


def stage_fraction(m: Model, pp):
    """Share of the layers on the fullest pipeline stage: ceil(L / pp) / L."""
    return np.ceil(m.num_layers / pp) / m.num_layers


def kv_shards(m: Model, tp):
    """Ranks the KV cache splits over: min(tp, n_kv) for GQA (replicated beyond n_kv), 1 for MLA."""
    return np.minimum(tp, m.num_kv_heads) if m.attention == "gqa" else np.ones_like(tp)


def weight_dtypes(m: Model, weight_dtype: str) -> dict:
    """Checkpoint dtype of each weight class for a checkpoint in ``weight_dtype``. Quantised checkpoints
    (under 2 bytes a weight) keep the input embedding and the LM head in BF16: DeepSeek-V3's FP8 and
    Qwen3's FP8 checkpoints, NVIDIA's NVFP4 and AMD's MXFP4 DeepSeek-R1 quantise only the linear layers
    inside the blocks. A model that quantises only its routed experts (``quantized_layers`` = ``experts``,
    gpt-oss's MXFP4 checkpoint) keeps the other block weights in BF16 as well."""
    wide = "bf16" if dtype_bytes(weight_dtype, "weight_dtype") < 2 else weight_dtype
    return {"embeddings": wide, "non_expert": wide if m.quantized_layers == "experts" else weight_dtype,
            "experts": weight_dtype}


def lm_head_elements_per_gpu(m: Model, plan):
    """LM-head weights a decode step streams on its GPU, V d / tp: the head (or the tied table) is read
    whole for every step, the input embedding only for the B rows of the step's tokens (a gather)."""
    return m.vocab_size * m.d_model / plan.tp


def weight_elements_per_gpu(m: Model, plan) -> dict:
    """Parameters held by the fullest GPU, by class: ``embeddings``, ``non_expert`` and ``experts``.

    embeddings = (embedding + LM head if pp = 1, else the larger of the two) / tp
    non_expert = frac x [L (attn_split / tp + attn_kv / kv_shards + norms) + dense FFN / tp
                 + shared experts / tp + router]
    experts    = frac x L_moe x ((E + R) / ep) x expert params / etp      (R redundant expert slots)
    """
    tp, pp = plan.tp, plan.pp
    frac = stage_fraction(m, pp)
    p = param_breakdown(m)
    sharded, kv_part = attention_params_split(m)
    per_layers = m.num_layers * (sharded / tp + kv_part / kv_shards(m, tp))
    per_layers = per_layers + p["norms"] + (p["dense_mlp"] + p["shared_experts"]) / tp + p["router"]
    embeddings = np.where(pp == 1, p["embedding"] + p["lm_head"], max(p["embedding"], p["lm_head"])) / tp
    slots = m.num_experts + getattr(plan, "redundant_experts", 0) if m.is_moe else 0
    experts = m.num_moe_layers * (slots / plan.ep) * mlp_params(m, m.moe_intermediate) / plan.etp
    return {"embeddings": embeddings, "non_expert": frac * per_layers, "experts": frac * experts}


def weight_bytes_per_gpu(m: Model, plan, weight_dtype: str):
    """Weight bytes on the fullest GPU: the elements of each class x its dtype's bytes (:func:`weight_dtypes`)."""
    dtypes = weight_dtypes(m, weight_dtype)
    return sum(n * dtype_bytes(dtypes[c]) for c, n in weight_elements_per_gpu(m, plan).items())


def kv_bytes_per_gpu(m: Model, plan, workload, phase: str = "aggregated"):
    """KV cache of every sequence the GPU serves, sized for the full context S_in + S_out
    (for the ``prefill`` phase, for the prompt S_in only: the sequences leave before decoding).

    = ceil(B / dp) x positions(context) x kv elements per token per layer x ceil(L / pp) x bytes / kv_shards
    positions(N) is N, or less for sliding-window and chunked layers (averaged over the layers:
    :func:`costmodel.architecture.kv_cache_positions`; a stage is taken to hold the average mix).
    """
    seqs = np.ceil(workload.batch / plan.dp)
    layers = np.ceil(m.num_layers / plan.pp)
    per_token = kv_elements_per_token_per_layer(m) * dtype_bytes(workload.kv_dtype, "kv_dtype")
    context = workload.input_len if phase == "prefill" else workload.context_len
    return seqs * kv_cache_positions(m, context) * per_token * layers / kv_shards(m, plan.tp)


def activation_bytes_per_token(m: Model, plan, act_bytes: float):
    """Live activation bytes of one token in one layer (flash attention: no S x S score matrix):

      [2 d (residual + normed input) + (n_h + 2 n_kv) d_h / tp (QKV)
       + max(dense: g f / tp, MoE: k (d etp + g f_e) / tp)] x activation bytes,   g = 2 if gated else 1
    """
    tp = plan.tp
    gate = 2 if m.mlp_gated else 1
    qkv = (m.num_heads + 2 * m.num_kv_heads) * m.head_dim / tp
    ffn = gate * m.dense_intermediate / tp if (m.num_dense_layers or not m.is_moe) else 0.0
    if m.is_moe:
        ffn = np.maximum(ffn, m.experts_per_token * (m.d_model * plan.etp + gate * m.moe_intermediate) / tp)
    return (2 * m.d_model + qkv + ffn) * act_bytes


def activation_tokens(plan, workload, phase: str = "aggregated", chunk_tokens: float = PREFILL_CHUNK_TOKENS):
    """Tokens one iteration of one replica carries through a layer, by phase:

      prefill:    min(ceil(B / dp) / mb x S_in, chunk)         prompt chunks
      decode:     ceil(B / dp) / mb                            one new token per sequence
      aggregated: max(prefill, decode)                         the engine's token budget
    """
    seqs = np.ceil(workload.batch / plan.dp) / plan.microbatches
    prefill = np.minimum(seqs * workload.input_len, chunk_tokens)
    if phase == "prefill":
        return prefill
    if phase == "decode":
        return seqs
    return np.maximum(prefill, seqs)


def activation_bytes_per_gpu(m: Model, plan, workload, phase: str = "aggregated",
                             chunk_tokens: float = PREFILL_CHUNK_TOKENS):
    """Peak activation working set: one layer's live tensors (each layer's are freed before the next)
    for the tokens of one iteration (:func:`activation_tokens`), plus the logits of every sequence's
    last position in fp32: ceil(B / dp) / mb x V / tp x 4 bytes."""
    tokens = activation_tokens(plan, workload, phase, chunk_tokens)
    logits = np.ceil(workload.batch / plan.dp) / plan.microbatches * m.vocab_size / plan.tp * 4.0
    return tokens * activation_bytes_per_token(m, plan, workload.act_bytes) + logits


def usable_memory_bytes(hardware, headroom: float = MEMORY_HEADROOM) -> float:
    """Memory a plan may fill: capacity x (1 - headroom)."""
    return hardware.memory_bytes * (1.0 - headroom)


def memory_bytes_per_gpu(m: Model, plan, workload, reserved_bytes: float = RESERVED_BYTES_PER_GPU,
                         phase: str = "aggregated", chunk_tokens: float = PREFILL_CHUNK_TOKENS) -> dict:
    """Weights, KV cache, activations and reserved bytes on the fullest GPU, and their total."""
    parts = {
        "weights": weight_bytes_per_gpu(m, plan, workload.weight_dtype),
        "kv_cache": kv_bytes_per_gpu(m, plan, workload, phase),
        "activations": activation_bytes_per_gpu(m, plan, workload, phase, chunk_tokens),
        "reserved": reserved_bytes + 0.0 * plan.tp,
    }
    parts["total"] = sum(parts.values())
    return parts
