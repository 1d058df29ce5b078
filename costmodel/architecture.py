"""Model architectures: one schema (Hugging Face config keys), one loader, parameter counts.

A bundled model file ``data/models/<id>.yaml`` holds ``id``, ``name``, ``source`` and ``config``:
the model's Hugging Face ``config.json`` keys (or, for a model that only exists on paper, the
same keys filled from its stated dimensions). :func:`model_from_hf_config` is the only path from
a config to a :class:`Model`, so a bundled file and a downloaded ``config.json`` load the same way.

Symbols (see the book's notation chapter): L layers, d model width, n_h query heads, n_kv KV
heads, d_h head dim, V vocabulary, E routed experts, k experts per token, f_e expert width,
f_s shared-expert width, f dense FFN width, L_dense leading dense layers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from .units import CostModelError, dtype_bytes

MODELS_DIR = "data/models"


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
        """Parameters touched by one token: routed experts scale with k, not E."""
        return sum(param_breakdown(self, active=True).values())

    def kv_bytes_per_token(self, kv_dtype: str = "bf16") -> float:
        """KV-cache bytes for one token over all layers, unsharded.

        GQA: 2 (K and V) x L x n_kv x d_h x bytes.  MLA (latent cache): L x (r_kv + d_rope) x bytes.
        """
        return kv_elements_per_token_per_layer(self) * self.num_layers * dtype_bytes(kv_dtype, "kv_dtype")


# --- parameter counts ------------------------------------------------------------------
def mlp_params(m: Model, width: int) -> int:
    """One FFN of the given hidden width: (3 if gated else 2) x d x width."""
    return (3 if m.mlp_gated else 2) * m.d_model * width


def attention_params_split(m: Model) -> tuple[int, int]:
    """Attention weights of one layer as (split by tp, replicated or KV-head-limited).

    GQA: Q and O (d x n_h d_h each, plus q/k norms) shard over tp; K and V (2 d n_kv d_h) shard
    over at most n_kv ranks and are the second element. MLA: the low-rank down projections
    (d x r_q, d x (r_kv + d_rope)) are replicated on every tp rank; the up projections and O shard.
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
    k_and_v = 2 * d * m.num_kv_heads * m.head_dim
    return q_and_o, k_and_v


def param_breakdown(m: Model, active: bool = False) -> dict[str, int]:
    """Parameter counts by component over the whole model.

    With ``active=True`` routed experts count k per layer instead of E (what one token touches).
    Keys: embedding, lm_head, attention, norms, dense_mlp, router, shared_experts, routed_experts.
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
        "router": m.num_moe_layers * m.d_model * m.num_experts,
        "shared_experts": m.num_moe_layers * mlp_params(m, m.shared_intermediate),
        "routed_experts": m.num_moe_layers * experts_per_layer * mlp_params(m, m.moe_intermediate),
    }


def kv_elements_per_token_per_layer(m: Model) -> int:
    """Cached elements per token per layer: 2 n_kv d_h (GQA) or r_kv + d_rope (MLA latent)."""
    if m.attention == "mla":
        return m.kv_lora_rank + m.qk_rope_head_dim
    return 2 * m.num_kv_heads * m.head_dim


# --- loading ---------------------------------------------------------------------------
def _get(cfg: dict, key: str, default=None, required: bool = False):
    value = cfg.get(key, default)
    if required and value is None:
        raise CostModelError(f"config: missing key {key!r}")
    if value is not None and not isinstance(value, bool) and isinstance(value, (int, float)):
        if value < 0 or value != int(value):
            raise CostModelError(f"config: {key!r} = {value!r} must be a whole number >= 0")
        return int(value)
    if value is not None and not isinstance(value, bool):
        raise CostModelError(f"config: {key!r} = {value!r} must be a number")
    return value


def _first_key(cfg: dict, keys: tuple[str, ...]) -> int:
    """Value of whichever of keys is present; two present keys that disagree are an error."""
    found = {k: _get(cfg, k) for k in keys if cfg.get(k) is not None}
    if len(set(found.values())) > 1:
        raise CostModelError(f"config: contradictory keys {found} (expected one value)")
    return next(iter(found.values()), 0)


def model_from_hf_config(cfg, model_id: str | None = None, name: str | None = None, source: str = "") -> Model:
    """Build a :class:`Model` from a Hugging Face ``config.json`` (a dict or a path).

    Reads dense and MoE configs (Qwen ``num_experts``, Mixtral ``num_local_experts``, DeepSeek
    ``n_routed_experts``), GQA, ``head_dim`` given or d / n_h, shared experts, leading dense
    layers (``first_k_dense_replace``, ``mlp_only_layers``), DeepSeek MLA and tied embeddings.
    A missing or contradictory key raises :class:`CostModelError` naming the key.
    """
    if not isinstance(cfg, dict):
        path = Path(cfg)
        try:
            cfg = json.loads(path.read_text())
        except OSError as exc:
            raise CostModelError(f"hf-config: cannot read {str(path)!r} ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise CostModelError(f"hf-config: {str(path)!r} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(cfg, dict):
            raise CostModelError("hf-config: the file must hold a JSON object")
    notes = []
    layers = _get(cfg, "num_hidden_layers", required=True)
    d = _get(cfg, "hidden_size", required=True)
    heads = _get(cfg, "num_attention_heads", required=True)
    vocab = _get(cfg, "vocab_size", required=True)
    kv_heads = _get(cfg, "num_key_value_heads") or heads
    for key, value in (("num_hidden_layers", layers), ("hidden_size", d), ("num_attention_heads", heads)):
        if value < 1:
            raise CostModelError(f"config: {key!r} = {value} must be >= 1")
    if kv_heads > heads or heads % kv_heads:
        raise CostModelError(
            f"config: 'num_key_value_heads' = {kv_heads} must divide 'num_attention_heads' = {heads}"
        )

    experts = _first_key(cfg, ("num_experts", "num_local_experts", "n_routed_experts"))
    top_k = _get(cfg, "num_experts_per_tok")
    if experts and not top_k:
        raise CostModelError("config: missing key 'num_experts_per_tok' (the model has routed experts)")
    if experts and top_k > experts:
        raise CostModelError(f"config: 'num_experts_per_tok' = {top_k} exceeds the {experts} routed experts")
    dense_ffn = _get(cfg, "intermediate_size") or 0
    expert_ffn = _get(cfg, "moe_intermediate_size") or 0
    if experts and not expert_ffn:
        if cfg.get("model_type") == "mixtral" or "num_local_experts" in cfg:
            expert_ffn = dense_ffn  # Mixtral: experts use intermediate_size
        else:
            raise CostModelError("config: missing key 'moe_intermediate_size' (the model has routed experts)")

    shared_ffn = (_get(cfg, "n_shared_experts") or 0) * expert_ffn
    shared_ffn = shared_ffn or (_get(cfg, "shared_expert_intermediate_size") or 0)
    dense_layers = 0
    if experts:
        dense_layers = _get(cfg, "first_k_dense_replace") or 0
        only = cfg.get("mlp_only_layers") or []
        step = _get(cfg, "decoder_sparse_step") or 1
        if not dense_layers and (only or step > 1):
            dense_layers = sum(1 for i in range(layers) if i in only or (i + 1) % step)
        if dense_layers > layers:
            raise CostModelError(f"config: 'first_k_dense_replace' = {dense_layers} exceeds {layers} layers")
        if dense_layers and not dense_ffn:
            raise CostModelError("config: missing key 'intermediate_size' (the model has dense layers)")
    elif not dense_ffn:
        raise CostModelError("config: missing key 'intermediate_size'")

    mla = cfg.get("kv_lora_rank") is not None
    if mla:
        for key in ("qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            _get(cfg, key, required=True)
        head_dim = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
        kv_heads = heads
    else:
        head_dim = _get(cfg, "head_dim") or 0
        if not head_dim:
            if d % heads:
                raise CostModelError(f"config: missing key 'head_dim' ('hidden_size' {d} is not a multiple of heads {heads})")
            head_dim = d // heads
            notes.append("head_dim derived as hidden_size / num_attention_heads")
    model_type = str(cfg.get("model_type", ""))
    return Model(
        id=model_id or model_type or "hf-config",
        name=name or model_id or model_type or "model from config.json",
        num_layers=layers,
        d_model=d,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        dense_intermediate=dense_ffn if (dense_layers or not experts) else 0,
        num_dense_layers=dense_layers,
        num_experts=experts,
        experts_per_token=top_k or 0,
        moe_intermediate=expert_ffn,
        shared_intermediate=shared_ffn,
        mlp_gated=bool(cfg.get("mlp_gated", True)),
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        qk_norm=model_type.startswith("qwen3"),
        attention="mla" if mla else "gqa",
        q_lora_rank=_get(cfg, "q_lora_rank") or 0,
        kv_lora_rank=_get(cfg, "kv_lora_rank") or 0,
        qk_rope_head_dim=_get(cfg, "qk_rope_head_dim") or 0,
        qk_nope_head_dim=_get(cfg, "qk_nope_head_dim") or 0,
        v_head_dim=_get(cfg, "v_head_dim") or 0,
        source=source,
        notes=tuple(notes),
    )


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
    doc = yaml.safe_load(files[model_id].read_text())
    return model_from_hf_config(doc["config"], model_id=doc["id"], name=doc["name"], source=doc["source"])


def official_params(model_id: str) -> dict:
    """The published parameter counts recorded in a bundled model file (may be empty)."""
    doc = yaml.safe_load(_data_files("models")[model_id].read_text())
    return doc.get("official", {}) or {}
