"""FLOP counts (dense: one multiply-add = 2 FLOP). Whole-model totals; SI unit FLOP.

Classes used by the roofline: ``dense`` (attention projections, dense FFNs, shared experts,
router), ``attention`` (scores and weighted sums over the context), ``experts`` (routed experts,
k per token), ``lm_head`` (one vocabulary projection per generated position).
Embedding lookups and norms cost no matmul FLOPs and are left out.
"""

from __future__ import annotations

from .architecture import Model, attended_positions, param_breakdown


def linear_flops_per_token(m: Model) -> dict[str, float]:
    """Matmul FLOPs one token costs over all layers: 2 x active parameters, by class."""
    p = param_breakdown(m, active=True)
    return {
        "dense": 2.0 * (p["attention"] + p["dense_mlp"] + p["shared_experts"] + p["router"]),
        "experts": 2.0 * p["routed_experts"],
    }


def lm_head_flops(m: Model) -> float:
    """Logits for one position: 2 V d."""
    return 2.0 * m.vocab_size * m.d_model


def attention_head_dims(m: Model, absorbed: bool = False) -> tuple[int, int]:
    """(d_qk, d_v): query-key and value widths of one head.

    GQA: (d_h, d_h). MLA as written (prefill): (d_nope + d_rope, d_v). MLA absorbed (decode: the key
    and value up-projections are folded into the query and output, and every head attends over the
    shared latent): (r_kv + d_rope, r_kv), e.g. DeepSeek-V3 (576, 512) instead of (192, 128).
    """
    if m.attention != "mla":
        return m.head_dim, m.head_dim
    if absorbed:
        return m.kv_lora_rank + m.qk_rope_head_dim, m.kv_lora_rank
    return m.head_dim, m.v_head_dim


def attention_core_flops(m: Model, new_tokens, past_tokens=0, absorbed: bool = False) -> float:
    """Scores (QK^T) and weighted sum (AV) for new_tokens attending causally to earlier tokens.

    Token i (1-based) of the new ones sees past_tokens + i positions, so the positions sum to
    q p + q (q + 1) / 2 for q new and p past tokens: causal prefill is about half the full square.
    Sliding-window and chunked layers see at most W, resp. their chunk: the sum is averaged over the
    layers by :func:`costmodel.architecture.attended_positions`.
    FLOPs = 2 n_h (d_qk + d_v) x that sum x L, with the head widths of :func:`attention_head_dims`.
    The absorbed MLA form changes only these widths: its extra per-token projections replace the
    key/value up-projections of the new tokens, the same weights, so the linear FLOPs stay 2 x params.
    """
    d_qk, d_v = attention_head_dims(m, absorbed)
    positions = attended_positions(m, new_tokens, past_tokens)
    return 2.0 * m.num_heads * (d_qk + d_v) * positions * m.num_layers


def prefill_flops(m: Model, batch, input_len) -> float:
    """Whole-batch prefill: B [S (dense + experts) + causal attention(S) + one LM head]."""
    per_token = sum(linear_flops_per_token(m).values())
    return batch * (input_len * per_token + attention_core_flops(m, input_len) + lm_head_flops(m))


def decode_flops(m: Model, batch, context_len) -> float:
    """One decode step of B sequences whose new token sees context_len positions (itself included);
    MLA attends in the absorbed form (:func:`attention_head_dims`)."""
    per_token = sum(linear_flops_per_token(m).values())
    return batch * (per_token + attention_core_flops(m, 1, context_len - 1, absorbed=True) + lm_head_flops(m))
