"""Model architectures: the :class:`Model` schema, parameter counts and cached / attended positions.

A bundled model file ``data/models/<id>.yaml`` holds ``id``, ``name``, ``source`` and ``config``:
the model's Hugging Face ``config.json`` keys (or, for a model that only exists on paper, the
same keys filled from its stated dimensions). :func:`model_from_hf_config` is the only path from
a config to a :class:`Model` (the keys are read and checked in :mod:`costmodel.hf_config`), so a
bundled file and a downloaded ``config.json`` load the same way.

Symbols (see the book's notation chapter): L layers, d model width, n_h query heads, n_kv KV
heads, d_h head dim, V vocabulary, E routed experts, k experts per token, f_e expert width,
f_s shared-expert width, f dense FFN width, L_dense dense layers of an MoE model, W sliding window
and L_s sliding layers, C attention chunk and L_c chunked layers, N context length.

Active parameters. ``params_active`` counts what one token's forward pass uses with the input
embedding table and the LM head counted in full (k of E routed experts); ``params_active_without_embeddings``
leaves both out. Published "active" figures follow one or the other, or a third one (LM head counted,
input embedding not: 2 x that is the matmul FLOPs per token): tests/test_active_convention.py shows which
fits which model card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .hf_config import model_fields, read_config_file
from .units import CostModelError, dtype_bytes, read_yaml

MODELS_DIR = "data/models"

MAX_PARAMS_TOTAL = 1e15
"""Largest parameter count a config may describe: 10^15, 500 times the largest published models (about
2 x 10^12). Each key has its own bound (:data:`costmodel.hf_config.BOUNDS`); keys that are each plausible
can still multiply into an absurd model, and that is refused too."""


@dataclass(frozen=True)
class Model:
    """A decoder-only transformer, dense or MoE, with GQA or MLA attention."""

    id: str
    name: str
    num_layers: int  # L
    d_model: int  # d
    num_heads: int  # n_h
    num_kv_heads: int  # n_kv (for MLA: equal to n_h, unused for the cache)
    head_dim: int  # d_h (for MLA: qk_nope + qk_rope)
    vocab_size: int  # V
    dense_intermediate: int = 0  # f, FFN width of dense layers
    num_dense_layers: int = 0  # L_dense, dense layers in an MoE model (all L when E == 0)
    num_experts: int = 0  # E, routed experts per MoE layer
    experts_per_token: int = 0  # k
    moe_intermediate: int = 0  # f_e, width of one routed expert
    shared_intermediate: int = 0  # f_s, total width of the shared expert(s)
    mlp_gated: bool = True  # SwiGLU-style (3 matrices) or plain (2 matrices)
    tied_embeddings: bool = False
    qk_norm: bool = False
    attention: str = "gqa"  # "gqa" (covers MHA and MQA) or "mla"
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    attention_bias: bool = False  # biases on the Q, K, V and O projections
    mlp_bias: bool = False  # biases on FFN / expert projections and the router
    attention_sinks: bool = False  # one learned logit per head per layer (gpt-oss)
    sliding_window: int = 0  # W, positions a sliding-window layer attends to (itself included)
    num_sliding_layers: int = 0  # L_s
    attention_chunk: int = 0  # C, chunked local attention (Llama-4): a token sees its own chunk only
    num_chunked_layers: int = 0  # L_c
    max_context_len: int = 0  # longest context the model supports (0 = unknown)
    quantized_layers: str = "linear"  # what a narrow checkpoint dtype covers: every block linear, or "experts" only
    source: str = ""
    notes: tuple = field(default=(), compare=False)

    # --- derived sizes ----------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def num_moe_layers(self) -> int:
        return self.num_layers - self.num_dense_layers if self.is_moe else 0

    @property
    def params_total(self) -> int:
        """All parameters, embeddings and LM head included."""
        return sum(param_breakdown(self).values())

    @property
    def params_active(self) -> int:
        """Parameters one token uses, input embedding table and LM head included: routed experts
        count k per MoE layer, not E (the convention of the Mixtral, Qwen3 and Llama-4 model cards)."""
        return sum(param_breakdown(self, active=True).values())

    @property
    def params_active_without_embeddings(self) -> int:
        """``params_active`` less the input embedding table and the LM head (V d each, once if tied)."""
        p = param_breakdown(self, active=True)
        return sum(p.values()) - p["embedding"] - p["lm_head"]

    def kv_bytes_per_token(self, kv_dtype: str = "bf16") -> float:
        """KV-cache bytes for one token over all layers, unsharded.

        GQA: 2 (K and V) x L x n_kv x d_h x bytes.  MLA (latent cache): L x (r_kv + d_rope) x bytes.
        """
        return kv_elements_per_token_per_layer(self) * self.num_layers * dtype_bytes(kv_dtype, "kv_dtype")

    def kv_bytes_per_sequence(self, context_len, kv_dtype: str = "bf16"):
        """KV-cache bytes one sequence of context_len tokens holds, unsharded: sliding and chunked layers
        hold at most W and C positions (:func:`kv_cache_positions`). = positions x L x elements x bytes."""
        return kv_cache_positions(self, context_len) * self.kv_bytes_per_token(kv_dtype)


# --- parameter counts ------------------------------------------------------------------
def mlp_params(m: Model, width: int) -> int:
    """One FFN of the given hidden width: (3 if gated else 2) x d x width, plus with ``mlp_bias``
    one bias per output: (2 if gated else 1) x width + d. No width, no FFN: 0."""
    matrices = 3 if m.mlp_gated else 2
    bias = (matrices - 1) * width + m.d_model if m.mlp_bias and width else 0
    return matrices * m.d_model * width + bias


def attention_params_split(m: Model) -> tuple[int, int]:
    """Attention weights of one layer as (split by tp, replicated or KV-head-limited).

    GQA: Q and O (d x n_h d_h each, plus q/k norms) shard over tp; K and V (2 d n_kv d_h) shard
    over at most n_kv ranks and are the second element. MLA: the low-rank down projections
    (d x r_q, d x (r_kv + d_rope)) are replicated on every tp rank; the up projections and O shard.
    With ``attention_bias`` each projection has a bias (n_h d_h for Q, n_kv d_h for K and V, d for O);
    with ``attention_sinks`` each head has one sink logit (n_h per layer).
    """
    d, nh = m.d_model, m.num_heads
    if m.attention == "mla":
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            q_down, q_up = d * m.q_lora_rank + m.q_lora_rank, m.q_lora_rank * nh * qk
        else:
            q_down, q_up = 0, d * nh * qk
        kv_down = d * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        kv_up = m.kv_lora_rank * nh * (m.qk_nope_head_dim + m.v_head_dim)
        out = nh * m.v_head_dim * d
        return q_up + kv_up + out, q_down + kv_down
    q_and_o = 2 * d * nh * m.head_dim + (2 * m.head_dim if m.qk_norm else 0)
    q_and_o += (nh * m.head_dim + d if m.attention_bias else 0) + (nh if m.attention_sinks else 0)
    k_and_v = 2 * m.num_kv_heads * m.head_dim * (d + (1 if m.attention_bias else 0))
    return q_and_o, k_and_v


def param_breakdown(m: Model, active: bool = False) -> dict[str, int]:
    """Parameter counts by component over the whole model.

    With ``active=True`` routed experts count k per layer instead of E (what one token touches).
    Keys: embedding, lm_head, attention, norms, dense_mlp, router, shared_experts, routed_experts.
    The router is d x E per MoE layer (plus E biases with ``mlp_bias``).
    """
    attn = sum(attention_params_split(m))
    experts_per_layer = m.experts_per_token if active else m.num_experts
    dense_layers = m.num_dense_layers if m.is_moe else m.num_layers
    return {
        "embedding": m.vocab_size * m.d_model,
        "lm_head": 0 if m.tied_embeddings else m.vocab_size * m.d_model,
        "attention": m.num_layers * attn,
        "norms": (2 * m.num_layers + 1) * m.d_model,
        "dense_mlp": dense_layers * mlp_params(m, m.dense_intermediate),
        "router": m.num_moe_layers * (m.d_model + (1 if m.mlp_bias else 0)) * m.num_experts,
        "shared_experts": m.num_moe_layers * mlp_params(m, m.shared_intermediate),
        "routed_experts": m.num_moe_layers * experts_per_layer * mlp_params(m, m.moe_intermediate),
    }


def kv_elements_per_token_per_layer(m: Model) -> int:
    """Cached elements per token per layer: 2 n_kv d_h (GQA) or r_kv + d_rope (MLA latent)."""
    if m.attention == "mla":
        return m.kv_lora_rank + m.qk_rope_head_dim
    return 2 * m.num_kv_heads * m.head_dim


# --- cached and attended positions (sliding-window and chunked layers) ---------------------
def _has_local_layers(m: Model) -> bool:
    return bool(m.num_sliding_layers or m.num_chunked_layers)


def kv_cache_positions(m: Model, context_len):
    """Positions the KV cache holds per layer, averaged over the L layers, for one sequence of N tokens.

    A full layer holds N, a sliding-window layer min(N, W), a chunked layer min(N, C) (its current
    chunk grows to C before it is dropped):
        [(L - L_s - L_c) N + L_s min(N, W) + L_c min(N, C)] / L
    KV bytes of a sequence = this x L x KV elements per token per layer x bytes per element.
    N may be a numpy array. A model without local layers gets N back unchanged.
    """
    if not _has_local_layers(m):
        return context_len
    L = m.num_layers
    n_full = L - m.num_sliding_layers - m.num_chunked_layers
    held = n_full * context_len + m.num_sliding_layers * np.minimum(context_len, m.sliding_window)
    return (held + m.num_chunked_layers * np.minimum(context_len, m.attention_chunk)) / L


def _seen_through(n, window: int, chunk: int):
    """Sum over tokens 1..n of the positions each attends to: n (n + 1) / 2 for a full layer;
    with a sliding window W, token j sees min(j, W); in chunks of C, token j sees ((j - 1) mod C) + 1."""
    if window:
        w = np.minimum(n, window)
        return w * (w + 1) / 2 + window * (n - w)
    if chunk:
        whole, rest = np.divmod(n, chunk)
        return whole * chunk * (chunk + 1) / 2 + rest * (rest + 1) / 2
    return n * (n + 1) / 2


def attended_positions(m: Model, new_tokens, past_tokens=0):
    """Positions attended by q = new_tokens tokens that follow p = past_tokens, summed over the new
    tokens and averaged over the L layers (causal: token i of the new ones sees p + i positions).

    Full layer: q p + q (q + 1) / 2 (causal prefill is about half the full square). Sliding and chunked
    layers: S(p + q) - S(p), S(n) the sum over tokens 1..n of min(j, W), resp. ((j - 1) mod C) + 1.
    Result = [(L - L_s - L_c) full + L_s sliding + L_c chunked] / L. The positions a decode step reads from
    the KV cache per layer are ``attended_positions(m, 1, N - 1)`` for a context of N tokens.
    """
    full = new_tokens * past_tokens + new_tokens * (new_tokens + 1) / 2
    if not _has_local_layers(m):
        return full
    end = past_tokens + new_tokens
    total = (m.num_layers - m.num_sliding_layers - m.num_chunked_layers) * full
    if m.num_sliding_layers:
        w = m.sliding_window
        total = total + m.num_sliding_layers * (_seen_through(end, w, 0) - _seen_through(past_tokens, w, 0))
    if m.num_chunked_layers:
        c = m.attention_chunk
        total = total + m.num_chunked_layers * (_seen_through(end, 0, c) - _seen_through(past_tokens, 0, c))
    return total / m.num_layers


# --- loading ---------------------------------------------------------------------------
def model_from_hf_config(cfg, model_id: str | None = None, name: str | None = None, source: str = "") -> Model:
    """Build a :class:`Model` from a Hugging Face ``config.json`` (a dict or a path).

    The file is read by :func:`costmodel.hf_config.read_config_file` (size cap, encodings) and its keys
    by :func:`costmodel.hf_config.model_fields` (multimodal wrappers, MoE layouts, MLA, sliding and
    chunked attention, the maximum context). A missing, contradictory or absurd key raises
    :class:`CostModelError` naming the key.
    """
    if not isinstance(cfg, dict):
        cfg = read_config_file(cfg)
    fields = model_fields(cfg)
    model_type = str(cfg.get("model_type") or "")
    model = Model(
        id=model_id or model_type or "hf-config",
        name=name or model_id or model_type or "model from config.json",
        source=source,
        **fields,
    )
    if model.params_total > MAX_PARAMS_TOTAL:
        raise CostModelError(f"config: the keys describe {model.params_total:.3g} parameters, above the bound of "
                             f"{MAX_PARAMS_TOTAL:.0e} (the largest published models have about 2e+12)")
    return model


def _data_files(kind: str) -> dict[str, Path]:
    folder = resources.files("costmodel") / "data" / kind
    return {p.name[: -len(".yaml")]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def model_ids() -> list[str]:
    """Ids of the bundled models."""
    return sorted(_data_files("models"))


def load_model(model_id: str) -> Model:
    """Load a bundled model by id (see :func:`model_ids`)."""
    files = _data_files("models")
    if model_id not in files:
        raise CostModelError(f"model: {model_id!r} is not one of {', '.join(sorted(files))}")
    doc = read_yaml(files[model_id].read_text())
    return model_from_hf_config(doc["config"], model_id=doc["id"], name=doc["name"], source=doc["source"])


def official_params(model_id: str) -> dict:
    """The published parameter counts recorded in a bundled model file (may be empty)."""
    doc = read_yaml(_data_files("models")[model_id].read_text())
    return doc.get("official", {}) or {}
