"""Reading a Hugging Face ``config.json``: the file, its decoder keys, and checked values.

:func:`read_config_file` reads a path defensively (a regular file of at most
:data:`MAX_CONFIG_BYTES`, UTF-8 / UTF-16 / UTF-32 JSON); :func:`decoder_config` finds the text
decoder inside a multimodal wrapper (Llama-4 ``text_config`` and its kin); :func:`model_fields` turns
the decoder keys into the keyword arguments of :class:`costmodel.architecture.Model`. Every problem is
a one-line :class:`CostModelError` naming the file or the key; a number outside its stated bound in
:data:`BOUNDS` is refused rather than carried into a silently absurd result.
"""

from __future__ import annotations

import json
import math
import os
import stat

from .units import CostModelError

MAX_CONFIG_BYTES = 4 * 2**20
"""Largest config file read: 4 MiB. Real ones are 1-20 KB; quantised checkpoints that list their
excluded modules reach a few hundred KB."""

WRAPPER_KEYS = ("text_config", "language_config", "llm_config")
"""Keys under which multimodal configs nest their text decoder (Llama-4, LLaVA, Gemma-3: ``text_config``;
DeepSeek-VL2: ``language_config``; InternVL: ``llm_config``)."""

_DIM = 2**20  # 1,048,576: widths and head counts
_LEN = 2**30  # 1,073,741,824 tokens: context lengths and windows
_LAYERS = 10_000
BOUNDS = {
    # key: (least, greatest) accepted value; the largest published models sit far inside these
    "num_hidden_layers": (1, _LAYERS),
    "hidden_size": (1, _DIM),
    "num_attention_heads": (1, _DIM),
    "num_key_value_heads": (1, _DIM),
    "head_dim": (1, _DIM),
    "vocab_size": (0, 2**24),
    "intermediate_size": (0, 2**24),
    "intermediate_size_mlp": (0, 2**24),
    "moe_intermediate_size": (0, 2**24),
    "shared_expert_intermediate_size": (0, 2**24),
    "num_experts": (0, _DIM),
    "num_local_experts": (0, _DIM),
    "n_routed_experts": (0, _DIM),
    "num_experts_per_tok": (0, _DIM),
    "n_shared_experts": (0, 1024),
    "first_k_dense_replace": (0, _LAYERS),
    "decoder_sparse_step": (1, _LAYERS),
    "moe_layer_freq": (1, _LAYERS),
    "interleave_moe_layer_step": (1, _LAYERS),
    "q_lora_rank": (0, _DIM),
    "kv_lora_rank": (0, _DIM),
    "qk_rope_head_dim": (0, _DIM),
    "qk_nope_head_dim": (0, _DIM),
    "v_head_dim": (0, _DIM),
    "max_position_embeddings": (0, _LEN),
    "original_max_position_embeddings": (0, _LEN),
    "sliding_window": (0, _LEN),
    "attention_chunk_size": (0, _LEN),
    "max_window_layers": (0, _LAYERS),
    "sliding_window_pattern": (1, _LAYERS),
    "no_rope_layer_interval": (1, _LAYERS),
}
ROPE_FACTOR_MAX = 1024.0
"""Greatest accepted ``rope_scaling.factor`` (published ones are 4 to 40)."""

LAYER_KINDS = {"full_attention": "full", "sliding_attention": "sliding", "chunked_attention": "chunked"}
"""``layer_types`` entries this package models, and what they mean for the KV cache."""


# --- the file --------------------------------------------------------------------------------
def read_config_file(path) -> dict:
    """The JSON object in a config file; refuses directories, devices, pipes and files over 4 MiB.

    Text may be UTF-8 (with or without a byte-order mark), or UTF-16 / UTF-32 (detected from the BOM
    or the NUL-byte pattern, as :func:`json.detect_encoding` does).
    """
    try:
        name = os.fspath(path)
    except TypeError:
        raise CostModelError(f"hf-config: expected a path or a dict, got {type(path).__name__}") from None
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if not name.strip():
        raise CostModelError("hf-config: the path is empty; give the path of a config.json file")
    shown = repr(name)
    try:  # non-blocking, so that a FIFO without a writer cannot hang the open; checked on the open file
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise CostModelError(f"hf-config: cannot read {shown} ({exc.strerror})") from None
    except ValueError:  # an embedded NUL character
        raise CostModelError(f"hf-config: {shown} is not a usable path") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            inside = os.path.join(name, "config.json")
            hint = f"; did you mean {inside!r}?" if os.path.isfile(inside) else ""
            raise CostModelError(f"hf-config: {shown} is a directory, not a config.json file{hint}")
        if not stat.S_ISREG(info.st_mode):
            raise CostModelError(f"hf-config: {shown} is not a regular file (a device, pipe or socket)")
        if info.st_size > MAX_CONFIG_BYTES:
            raise CostModelError(f"hf-config: {shown} has {info.st_size:,} bytes; a config.json is at most "
                                 f"{MAX_CONFIG_BYTES // 2**20} MiB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise CostModelError(f"hf-config: cannot read {shown} ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        raise CostModelError(f"hf-config: {shown} has more than {MAX_CONFIG_BYTES // 2**20} MiB")
    return parse_config_bytes(raw, shown)


def parse_config_bytes(raw: bytes, shown: str = "the config") -> dict:
    """Decode and parse the bytes of a config file (see :func:`read_config_file`)."""
    if not raw.strip():
        raise CostModelError(f"hf-config: {shown} is empty")
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise CostModelError(f"hf-config: {shown} is not UTF-8, UTF-16 or UTF-32 text (a binary file?)") from None
    if "\x00" in text:
        raise CostModelError(f"hf-config: {shown} holds NUL characters (a binary file?)")
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CostModelError(f"hf-config: {shown} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit integer, nesting thousands deep
        reason = "nested too deeply" if isinstance(exc, RecursionError) else "a number too long to read"
        raise CostModelError(f"hf-config: {shown} is not usable JSON ({reason})") from None
    if not isinstance(cfg, dict):
        raise CostModelError(f"hf-config: {shown} holds a JSON {type(cfg).__name__}, not an object")
    return cfg


# --- checked values --------------------------------------------------------------------------
def _shown(value) -> str:
    """A value as the JSON file spells it (true, NaN, 1e+30, "wide")."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Keys:
    """The decoder keys of one config, read with checks; ``prefix`` names where they sit
    (``"text_config."`` for a wrapped text model) so that messages name the key as the file has it."""

    def __init__(self, cfg: dict, prefix: str = ""):
        self.cfg, self.prefix = cfg, prefix

    def name(self, key: str) -> str:
        return f"'{self.prefix}{key}'"

    def error(self, key: str, text: str) -> CostModelError:
        return CostModelError(f"config: {self.name(key)} {text}")

    def present(self, key: str) -> bool:
        return self.cfg.get(key) is not None

    def int(self, key: str, default: int = 0) -> int:
        """A whole number within :data:`BOUNDS` (absent or null: ``default``)."""
        value = self.cfg.get(key)
        if value is None:
            return default
        lo, hi = BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"= {_shown(value)} must be a whole number from {lo:,} to {hi:,}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(key, f"= {_shown(value)} must be a finite whole number from {lo:,} to {hi:,}")
        if not lo <= value <= hi:
            raise self.error(key, f"= {_shown(value)} is out of range: a whole number from {lo:,} to {hi:,}")
        if value != int(value):
            raise self.error(key, f"= {_shown(value)} must be a whole number")
        return int(value)

    def required(self, key: str, hint: str = "") -> int:
        if not self.present(key):
            raise CostModelError(f"config: missing key {self.name(key)}{hint}")
        return self.int(key)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.cfg.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"= {_shown(value)} must be true or false")
        return value

    def text(self, key: str) -> str:
        value = self.cfg.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(key, f"= {_shown(value)} must be a string")
        return value

    def int_list(self, key: str, layers: int) -> list[int]:
        """A list of layer indices (each 0 to layers - 1) or of 0/1 flags."""
        value = self.cfg.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < layers
                                              for v in value):
            raise self.error(key, f"= {_shown(value)} must be a list of whole numbers from 0 to {layers - 1}")
        return value

    def layer_kinds(self, layers: int) -> list[str] | None:
        """``layer_types`` as full / sliding / chunked per layer, or None when absent."""
        value = self.cfg.get("layer_types")
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != layers:
            raise self.error("layer_types", f"must be a list of {layers} entries, one per layer")
        unknown = sorted({_shown(v) for v in value if not (isinstance(v, str) and v in LAYER_KINDS)})
        if unknown:
            raise self.error("layer_types", f"has {', '.join(unknown)}; this package models "
                             f"{', '.join(LAYER_KINDS)}")
        return [LAYER_KINDS[v] for v in value]

    def first_of(self, keys: tuple[str, ...]) -> int:
        """Value of whichever of keys is present; two present keys that disagree are an error."""
        found = {k: self.int(k) for k in keys if self.present(k)}
        if len(set(found.values())) > 1:
            shown = ", ".join(f"{self.name(k)} = {v}" for k, v in found.items())
            raise CostModelError(f"config: contradictory keys {shown} (expected one value)")
        return next(iter(found.values()), 0)


def decoder_config(cfg: dict) -> tuple[dict, str]:
    """(decoder keys, prefix): the top level, or the first of :data:`WRAPPER_KEYS` holding
    ``num_hidden_layers`` when the top level has none (multimodal models: the vision encoder is not read)."""
    if cfg.get("num_hidden_layers") is None:
        for key in WRAPPER_KEYS:
            inner = cfg.get(key)
            if isinstance(inner, dict) and inner.get("num_hidden_layers") is not None:
                return inner, key + "."
    return cfg, ""


# --- the fields of a Model ------------------------------------------------------------------
def model_fields(cfg: dict) -> dict:
    """Keyword arguments of :class:`~costmodel.architecture.Model` (all but id, name, source) from a
    config dict. Reads dense and MoE configs (Qwen ``num_experts``, Mixtral / Llama-4 / gpt-oss
    ``num_local_experts``, DeepSeek ``n_routed_experts``), GQA, ``head_dim`` given or d / n_h, shared
    experts (DeepSeek, Qwen2-MoE, Llama-4), dense layers among MoE ones, DeepSeek MLA, sliding-window and
    chunked attention layers, biases, attention sinks, tied embeddings and the maximum context."""
    inner, prefix = decoder_config(cfg)
    k = Keys(inner, prefix)
    notes = [f"decoder read from '{prefix[:-1]}' (the vision encoder is not counted)"] if prefix else []
    where = f" (not at the top level nor under {', '.join(map(repr, WRAPPER_KEYS))})" if not prefix else ""
    layers = k.required("num_hidden_layers", where)
    d = k.required("hidden_size")
    heads = k.required("num_attention_heads")
    vocab = k.required("vocab_size")
    kv_heads = k.int("num_key_value_heads", heads)
    if heads % kv_heads:
        raise k.error("num_key_value_heads", f"= {kv_heads} must divide {k.name('num_attention_heads')} = {heads}")
    model_type = k.text("model_type")

    moe = _moe_fields(k, layers, model_type)
    mla = k.present("kv_lora_rank")
    if mla:
        rope, nope, _ = (k.required(key) for key in ("qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"))
        head_dim, kv_heads = nope + rope, heads
    else:
        head_dim = k.int("head_dim")
        if not head_dim:
            if d % heads:
                raise CostModelError(f"config: missing key {k.name('head_dim')} ({k.name('hidden_size')} = {d} "
                                     f"is not a multiple of {heads} heads)")
            head_dim = d // heads
            notes.append("head_dim derived as hidden_size / num_attention_heads")
    gpt_oss = model_type == "gpt_oss"  # expert and router biases and attention sinks, with no key for them
    return dict(
        num_layers=layers, d_model=d, num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, vocab_size=vocab,
        **moe,
        mlp_gated=k.flag("mlp_gated", True),
        tied_embeddings=k.flag("tie_word_embeddings", Keys(cfg).flag("tie_word_embeddings") if prefix else False),
        qk_norm=model_type.startswith("qwen3"),
        attention="mla" if mla else "gqa",
        q_lora_rank=k.int("q_lora_rank"),
        kv_lora_rank=k.int("kv_lora_rank"),
        qk_rope_head_dim=k.int("qk_rope_head_dim"),
        qk_nope_head_dim=k.int("qk_nope_head_dim"),
        v_head_dim=k.int("v_head_dim"),
        attention_bias=k.flag("attention_bias"),
        mlp_bias=k.flag("mlp_bias") or gpt_oss,
        attention_sinks=gpt_oss,
        **_local_attention_fields(k, layers, model_type),
        max_context_len=_max_context(k),
        quantized_layers=_quantized_layers(cfg),
        notes=tuple(notes),
    )


def _quantized_layers(cfg: dict) -> str:
    """``experts`` when the checkpoint's quantisation leaves attention out (``quantization_config.
    modules_to_not_convert`` names an ``attn`` module: gpt-oss's MXFP4), else ``linear``."""
    quant = cfg.get("quantization_config")
    skipped = quant.get("modules_to_not_convert") if isinstance(quant, dict) else None
    names = skipped if isinstance(skipped, list) else []
    return "experts" if any(isinstance(n, str) and "attn" in n for n in names) else "linear"


def _moe_fields(k: Keys, layers: int, model_type: str) -> dict:
    """Experts, their widths and the dense-layer count."""
    experts = k.first_of(("num_experts", "num_local_experts", "n_routed_experts"))
    dense_ffn = k.int("intermediate_size")
    llama4 = model_type == "llama4_text" or k.present("intermediate_size_mlp")
    if not experts:
        if not dense_ffn:
            raise CostModelError(f"config: missing key {k.name('intermediate_size')} (the FFN width)")
        return dict(dense_intermediate=dense_ffn)
    top_k = k.int("num_experts_per_tok")
    if top_k < 1:
        hint = "missing key" if not k.present("num_experts_per_tok") else f"{top_k} is not allowed:"
        raise CostModelError(f"config: {hint} {k.name('num_experts_per_tok')} must be 1 to {experts} "
                             f"(the model has {experts} routed experts)")
    if top_k > experts:
        raise k.error("num_experts_per_tok", f"= {top_k} exceeds the {experts} routed experts")
    expert_ffn = k.int("moe_intermediate_size")
    if not expert_ffn:
        if k.present("num_local_experts") or model_type == "mixtral":
            expert_ffn = dense_ffn  # Mixtral, Llama-4, gpt-oss: experts use intermediate_size
        if not expert_ffn:
            raise CostModelError(f"config: missing key {k.name('moe_intermediate_size')} (the model has routed experts)")
    if llama4:  # one always-on shared expert of intermediate_size; dense layers use intermediate_size_mlp
        shared_ffn, dense_ffn = expert_ffn, k.int("intermediate_size_mlp")
    else:
        shared_ffn = k.int("n_shared_experts") * expert_ffn or k.int("shared_expert_intermediate_size")
    dense_layers = layers - _count_moe_layers(k, layers)
    if dense_layers and not dense_ffn:
        key = "intermediate_size_mlp" if llama4 else "intermediate_size"
        raise CostModelError(f"config: missing key {k.name(key)} (the model has {dense_layers} dense layers)")
    return dict(dense_intermediate=dense_ffn if dense_layers else 0, num_dense_layers=dense_layers,
                num_experts=experts, experts_per_token=top_k, moe_intermediate=expert_ffn,
                shared_intermediate=shared_ffn)


def _count_moe_layers(k: Keys, layers: int) -> int:
    """MoE layers among the L: DeepSeek ``first_k_dense_replace`` and ``moe_layer_freq``, Qwen
    ``mlp_only_layers`` and ``decoder_sparse_step``, Llama-4 ``moe_layers`` or ``interleave_moe_layer_step``."""
    if k.present("moe_layers"):
        return len(set(k.int_list("moe_layers", layers)))
    if k.present("interleave_moe_layer_step"):  # Llama-4: layers step-1, 2 step-1, ... are MoE
        return len(range(k.int("interleave_moe_layer_step") - 1, layers, k.int("interleave_moe_layer_step")))
    first_dense = k.int("first_k_dense_replace")
    if first_dense > layers:
        raise k.error("first_k_dense_replace", f"= {first_dense} exceeds the {layers} layers")
    freq = k.int("moe_layer_freq", 1)
    only = set(k.int_list("mlp_only_layers", layers))
    step = k.int("decoder_sparse_step", 1)
    return sum(1 for i in range(first_dense, layers) if i % freq == 0 and i not in only and (i + 1) % step == 0)


def _local_attention_fields(k: Keys, layers: int, model_type: str) -> dict:
    """Sliding-window and chunked layers: ``layer_types`` when given, else the older keys
    (``use_sliding_window`` / ``max_window_layers`` of Qwen2, ``sliding_window_pattern`` of Gemma-3,
    every other layer for Gemma-2, every layer for Mistral; Llama-4 ``no_rope_layers`` for chunks)."""
    window, chunk = k.int("sliding_window"), k.int("attention_chunk_size")
    kinds = k.layer_kinds(layers)
    if kinds is None:
        kinds = ["full"] * layers
        if window and k.flag("use_sliding_window", True):
            if k.present("sliding_window_pattern"):
                pattern = k.int("sliding_window_pattern")
                kinds = ["sliding" if (i + 1) % pattern else "full" for i in range(layers)]
            elif model_type == "gemma2":
                kinds = ["full" if i % 2 else "sliding" for i in range(layers)]
            elif k.present("max_window_layers") and k.flag("use_sliding_window", False):
                kinds = ["sliding" if i >= k.int("max_window_layers") else "full" for i in range(layers)]
            else:
                kinds = ["sliding"] * layers
        if chunk and model_type == "llama4_text":  # RoPE layers attend within chunks, NoPE layers globally
            rope = k.int_list("no_rope_layers", 2)
            if rope and len(rope) != layers:
                raise k.error("no_rope_layers", f"must be a list of {layers} entries, one per layer")
            interval = k.int("no_rope_layer_interval", 4)
            rope = rope or [int((i + 1) % interval != 0) for i in range(layers)]
            kinds = ["chunked" if r else kind for r, kind in zip(rope, kinds)]
    sliding, chunked = kinds.count("sliding"), kinds.count("chunked")
    if sliding and not window:
        raise CostModelError(f"config: missing key {k.name('sliding_window')} ('layer_types' has sliding layers)")
    if chunked and not chunk:
        raise CostModelError(f"config: missing key {k.name('attention_chunk_size')} ('layer_types' has chunked layers)")
    return dict(sliding_window=window if sliding else 0, num_sliding_layers=sliding,
                attention_chunk=chunk if chunked else 0, num_chunked_layers=chunked)


def _max_context(k: Keys) -> int:
    """``max_position_embeddings``, or the RoPE-scaled length factor x original when the config's
    ``rope_scaling`` (``rope_parameters``) gives both and it is longer; 0 when unknown."""
    longest = k.int("max_position_embeddings")
    for key in ("rope_scaling", "rope_parameters"):
        scaling = k.cfg.get(key)
        if scaling is None:
            continue
        if not isinstance(scaling, dict):
            raise k.error(key, f"= {_shown(scaling)} must be an object or null")
        inner = Keys(scaling, f"{k.prefix}{key}.")
        factor = scaling.get("factor")
        original = inner.int("original_max_position_embeddings")
        if factor is None or not original:
            continue
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= ROPE_FACTOR_MAX:
            raise inner.error("factor", f"= {_shown(factor)} must be a number in (0, {ROPE_FACTOR_MAX:g}]")
        if factor * original > BOUNDS["max_position_embeddings"][1]:
            raise inner.error("factor", f"= {_shown(factor)} times {original:,} positions exceeds "
                              f"{BOUNDS['max_position_embeddings'][1]:,}")
        longest = max(longest, int(factor * original))
    return longest
