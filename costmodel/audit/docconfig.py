"""Read a plan document's configuration into a scenario: model, hardware, plan, workload, requirements.

General rules, no document-specific code:

* model: a bundled model the document names (``Qwen3-235B`` -> ``qwen3-235b-a22b``, ``DeepSeek-V3``,
  ``Mixtral-8x7B``); else the bundled model whose dimensions equal every stated one; else a model built
  from the stated dimensions (layers, width, heads, KV heads, head dim, experts, top-k, expert width,
  vocabulary), with the defaults it had to assume listed;
* hardware: a bundled GPU the document names (``H100``, ``H200``, ``B200``, ``MI300X`` ...); else the
  bundled GPU whose figures equal the stated TFLOPS, memory and bandwidth; else one built from them, with
  the project's stated default links (an HGX-class node: 8 GPUs, 450 GB/s inside, 50 GB/s per GPU across);
* node: a launch command's GPUs per node (``--nproc_per_node=16``) sets the scale-up domain when it differs
  from the hardware's;
* efficiency: the stated MFU and bandwidth utilisation, else the hardware's scenario values;
* plan: the stated degrees mapped onto the convention GPUs = tp x dp x pp, the experts folded over the
  same GPUs: with a stated GPU count G, dp = G / (tp x pp); without one, each stated replica (DP) holds
  max(tp, ep) GPUs per stage. Degrees in sections about prefill or decode make phase scenarios;
* workload: the stated batch, the longest stated input (prompt) length, the output length (1 when none
  is stated), the weight dtype named near "precision"/"weights" and the KV dtype (the weights' unless
  the KV cache is given one);
* requirements: the stated TTFT limit and per-GPU throughput floor.

:func:`read_config` returns the scenario spec (the ledger's schema; a built model or GPU goes inline)
and says what it found where, what it assumed and what it could not find.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from ..architecture import load_model, model_ids
from ..hardware import hardware_ids, load_hardware
from ..units import DTYPE_BYTES, KV_DTYPES, WEIGHT_DTYPES
from .dimensions import UNITS
from .extract import Claim

MODEL_FIELDS = {  # quantity -> Hugging Face config key
    "model.num_layers": "num_hidden_layers", "model.d_model": "hidden_size", "model.num_heads": "num_attention_heads",
    "model.num_kv_heads": "num_key_value_heads", "model.head_dim": "head_dim", "model.num_experts": "num_experts",
    "model.experts_per_token": "num_experts_per_tok", "model.moe_intermediate": "moe_intermediate_size",
    "model.vocab_size": "vocab_size",
}
REQUIRED_MODEL = ("model.num_layers", "model.d_model", "model.num_heads")
HARDWARE_FIELDS = ("hardware.peak_flops_per_s", "hardware.memory_bytes", "hardware.hbm_bandwidth_bytes_per_s")
DEFAULT_LINKS_FROM = "h100-sxm"
"""Links of a GPU built from stated figures: the project's stated default, an HGX H100-class node."""
DEGREE_KEYS = {
    "tp": ("tp", "tp_degree", "tensor_parallel_size", "tensor_parallel", "tp_size", "tensor_model_parallel_size"),
    "ep": ("ep", "ep_degree", "expert_parallel_size", "expert_parallel", "ep_size", "expert_model_parallel_size"),
    "pp": ("pp", "pp_degree", "pipeline_parallel_size", "pipeline_parallel", "pp_size",
           "pipeline_model_parallel_size"),
    "dp": ("dp", "dp_degree", "data_parallel_size", "data_parallel", "dp_size"),
    "etp": ("etp", "expert_tensor_parallel_size"),
}
TOPK_KEYS = ("moe_top_k", "top_k", "topk", "num_experts_per_tok", "k")
NODE_KEYS = ("nproc_per_node", "nproc-per-node", "gpus_per_node", "gpus-per-node")
"""Launch settings that give the GPUs of one node (torchrun ``--nproc_per_node``, Slurm ``--gpus-per-node``)."""
COMPARISON = re.compile(r"\b(?:from|vs\.?|versus|instead|compared|original|previous|fallback|alternative|if needed|"
                        r"reduce to|e\.g\.|or|than|not)\s*$|\breduced? (?:from|to)\b", re.I)
DTYPE_WORDS = {"fp4": "fp4", "nvfp4": "fp4", "mxfp4": "mxfp4", "fp8": "fp8", "int8": "fp8", "bf16": "bf16",
               "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16"}
PHASES = ("prefill", "decode")
EXPLICIT_INPUT = re.compile(r"input|prompt|\bisl\b|sequence in\b", re.I)
"""Words that name the input length itself (over a general "sequence length" range)."""


@dataclass
class Config:
    """What :func:`read_config` read: a scenario spec per phase (``main``, and ``prefill`` / ``decode``
    when the document gives those pools their own degrees), where each value came from, the defaults it
    assumed and what it could not find (then ``specs`` is empty: no scenario, every claim that needs one
    stays unmapped)."""

    specs: dict = field(default_factory=dict)
    found: dict = field(default_factory=dict)  # field -> "value (line n)"
    assumed: list = field(default_factory=list)
    missing: list = field(default_factory=list)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


@lru_cache(maxsize=1)
def _model_aliases() -> tuple:
    """(alias, model id) pairs, longest first: the id, the name, the id without its active-size suffix."""
    pairs = []
    for mid in model_ids():
        doc = yaml.safe_load((resources.files("costmodel") / "data" / "models" / f"{mid}.yaml").read_text())
        if str(doc.get("config", {}).get("model_type", "")).startswith("seed"):
            continue  # a model that exists only in the seed documents has no name to be called by
        names = {mid, str(doc.get("name", "")), re.sub(r"-a\d+b$", "", mid)}
        pairs += [(_norm(n), mid) for n in names if len(_norm(n)) >= 5]
    return tuple(sorted(set(pairs), key=lambda p: -len(p[0])))


def _named(text: str, aliases) -> tuple[str | None, Counter]:
    """The id named most often (longest alias first at each place), and the counts of every id named."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9.\-x]*[0-9][A-Za-z0-9.\-]*|[A-Za-z]+-[A-Za-z0-9.\-]+", text)
    counts = Counter()
    for w in words:
        nw = _norm(w)
        for alias, ident in aliases:
            if nw == alias or (nw.startswith(alias) and not nw[len(alias):len(alias) + 1].isdigit()):
                counts[ident] += 1
                break
    return (counts.most_common(1)[0][0] if counts else None), counts


def _named_id(text: str, aliases, kind: str, cfg: Config) -> str | None:
    """The bundled id the document names most often (noted in ``cfg``), or None."""
    named, counts = _named(text, aliases)
    if named:
        cfg.found[kind] = f"{named} (named in the document)"
        if len(counts) > 1:
            cfg.assumed.append(f"{kind}: {named}, the most named of {', '.join(sorted(counts))}")
    return named


@lru_cache(maxsize=1)
def _hardware_aliases() -> tuple:
    pairs = []
    for hid in hardware_ids():
        if hid.startswith("seed"):
            continue
        first = hid.split("-")[0]
        pairs += [(_norm(hid), hid), (first, hid)]
    return tuple(sorted(set(pairs), key=lambda p: -len(p[0])))


def _first(claims: list[Claim], maps: dict, quantity: str):
    """The first claim of an input quantity outside comparisons (its upper end when a range)."""
    for c in claims:
        m = maps.get(c.id)
        if m is not None and m.quantity == quantity and not c.reference and (m.basis == "input" or c.operand):
            return c
    return None


def _si(c: Claim, end: str = "hi") -> float:
    return (c.hi if end == "hi" else c.lo) * UNITS.get(c.unit, ("", 1.0))[1]


def read_config(text: str, claims: list[Claim], maps: dict, settings: list[dict]) -> Config:
    """The document's scenario(s) from its text, mapped claims (``maps``: claim id -> Mapping) and settings."""
    cfg = Config()
    model = _read_model(text, claims, maps, settings, cfg)
    hardware = _read_hardware(text, claims, maps, cfg)
    efficiency = {}
    for q in ("efficiency.mfu", "efficiency.bw_util"):
        c = _first(claims, maps, q)
        if c is not None:
            efficiency[q.split(".")[1]] = round(c.lo * UNITS[c.unit][1], 6)
            cfg.found[q] = f"{c.raw} (line {c.line})"
    workload = _read_workload(text, claims, maps, settings, cfg)
    requirements = {}
    c = _first(claims, maps, "requirements.ttft_s")
    if c is not None:
        requirements["ttft_s"] = _si(c)
        cfg.found["requirement TTFT"] = f"{c.raw} (line {c.line})"
    c = _first(claims, maps, "requirements.throughput_tokens_per_s_per_gpu")
    if c is not None:
        requirements["throughput_tokens_per_s_per_gpu"] = _si(c, "lo")
        cfg.found["requirement throughput per GPU"] = f"{c.raw} (line {c.line})"
    plans = _read_plans(claims, maps, settings, model, cfg)
    if model is None or hardware is None or workload is None or not plans:
        return cfg
    node = _read_node(hardware, settings, cfg)
    for phase, (plan, reading) in plans.items():
        spec = {"model": model, "hardware": hardware, "plan": plan, "workload": workload, "reading": reading}
        if node:
            spec["hardware_overrides"] = {"scale_up_gpus": node}
        if efficiency:
            spec["efficiency"] = efficiency
        if requirements:
            spec["requirements"] = requirements
        cfg.specs[phase] = spec
    return cfg


def _read_node(hardware, settings, cfg) -> int | None:
    """GPUs per node from a launch command, when they differ from the hardware's scale-up domain."""
    found = [s for s in settings if s["key"] in NODE_KEYS and s["code"] and s["value"] > 0]
    own = hardware["scale_up"]["gpus"] if isinstance(hardware, dict) else load_hardware(hardware).scale_up_gpus
    if not found or found[0]["value"] == own:
        return None
    cfg.found["GPUs per node"] = f"{found[0]['key']}={found[0]['value']} (line {found[0]['line']})"
    return found[0]["value"]


def _read_model(text, claims, maps, settings, cfg):
    stated = {}
    for q in MODEL_FIELDS:
        c = _first(claims, maps, q)
        if c is not None and c.lo == c.hi and c.lo == int(c.lo) and c.lo > 0:
            stated[q] = int(c.lo)
            cfg.found[q] = f"{c.raw} (line {c.line})"
    topk = [s for s in settings if s["key"] in TOPK_KEYS and s["code"] and s["value"] > 0]
    if "model.experts_per_token" not in stated and topk:
        stated["model.experts_per_token"] = topk[0]["value"]
        cfg.found["model.experts_per_token"] = f"{topk[0]['key']}={topk[0]['value']} (line {topk[0]['line']})"
    named = _named_id(text, _model_aliases(), "model", cfg)
    if named:
        return named
    if len(stated) >= 4:
        for mid in model_ids():
            m = load_model(mid)
            if all(getattr(m, q.split(".")[1]) == v for q, v in stated.items()):
                cfg.found["model"] = f"{mid} (the bundled model with every stated dimension)"
                return mid
    lacking = [q for q in REQUIRED_MODEL if q not in stated]
    if lacking:
        cfg.missing.append("model: no bundled model named, and no " + ", ".join(q.split(".")[1] for q in lacking))
        return None
    config = {MODEL_FIELDS[q]: v for q, v in stated.items()}
    config["model_type"] = "document"
    defaults = {"num_key_value_heads": (config["num_attention_heads"], "KV heads = heads (no GQA stated)"),
                "vocab_size": (0, "vocabulary 0 (no embeddings counted)")}
    if "num_experts" in config:
        defaults["num_experts_per_tok"] = (2, "experts per token k = 2 (not stated)")
        defaults["moe_intermediate_size"] = (4 * config["hidden_size"], "expert width 4 d (not stated)")
    else:
        defaults["intermediate_size"] = (4 * config["hidden_size"], "FFN width 4 d (not stated)")
    for key, (value, note) in defaults.items():
        if key not in config:
            config[key] = value
            cfg.assumed.append(f"model: {note}")
    cfg.assumed.append("model: gated (SwiGLU) FFN, 3 matrices per expert (not stated)")
    return {"id": "document-model", "name": "model built from the document's dimensions", "config": config}


def _read_hardware(text, claims, maps, cfg):
    named = _named_id(text, _hardware_aliases(), "hardware", cfg)
    if named:
        return named
    figures = {}
    for q in HARDWARE_FIELDS:
        c = _first(claims, maps, q)
        if c is not None:
            figures[q] = _si(c)
            cfg.found[q] = f"{c.raw} (line {c.line})"
    lacking = [q for q in HARDWARE_FIELDS if q not in figures]
    if lacking:
        cfg.missing.append("hardware: no bundled GPU named, and no " + ", ".join(q.split(".")[1] for q in lacking))
        return None
    for hid in hardware_ids():
        hw = load_hardware(hid)
        if (abs(hw.memory_bytes / figures["hardware.memory_bytes"] - 1) < 1e-6
                and abs(hw.hbm_bandwidth_bytes_per_s / figures["hardware.hbm_bandwidth_bytes_per_s"] - 1) < 1e-6
                and abs(hw.dense_flops_per_s["bf16"] / figures["hardware.peak_flops_per_s"] - 1) < 1e-6):
            cfg.found["hardware"] = f"{hid} (the bundled GPU with every stated figure)"
            return hid
    base = yaml.safe_load((resources.files("costmodel") / "data" / "hardware" / f"{DEFAULT_LINKS_FROM}.yaml")
                          .read_text())
    tflops = figures["hardware.peak_flops_per_s"] / 1e12
    cfg.assumed.append(f"hardware: one FLOPS figure for every dtype; links of {DEFAULT_LINKS_FROM} (not stated)")
    return {"id": "document-gpu", "name": "GPU built from the document's figures",
            "source": f"the audited document's stated figures; links: the project's default ({DEFAULT_LINKS_FROM})",
            "memory_GB": figures["hardware.memory_bytes"] / 1e9,
            "hbm_bandwidth_TBps": figures["hardware.hbm_bandwidth_bytes_per_s"] / 1e12,
            "dense_TFLOPS": {k: tflops for k in ("fp8", "bf16", "fp16", "fp32")},
            "scale_up": base["scale_up"], "scale_out": base["scale_out"],
            "scenario_efficiency": base["scenario_efficiency"]}


def _dtype_near(text: str, words: str) -> str | None:
    for m in re.finditer(rf"(?i)(?:{words})[^\n]{{0,40}}", text):
        for w in re.findall(r"[A-Za-z0-9]+", m.group()):
            if w.lower() in DTYPE_WORDS:
                return DTYPE_WORDS[w.lower()]
    return None


def _read_workload(text, claims, maps, settings, cfg):
    wl = {}
    c = _first(claims, maps, "workload.batch")
    if c is not None:
        wl["batch"] = int(c.hi)
        cfg.found["batch"] = f"{c.raw} (line {c.line})"
    lens = [c for c in claims if maps.get(c.id) is not None and maps[c.id].quantity == "workload.input_len"
            and maps[c.id].basis == "input"]
    explicit = [c for c in lens if EXPLICIT_INPUT.search(c.key)]
    if lens:
        top = explicit[0] if explicit else max(lens, key=lambda c: c.hi)
        wl["input_len"] = int(top.hi)
        cfg.found["input_len"] = f"{top.raw} (line {top.line}" + ("; the input length" if explicit else
                                                                  "; the longest stated") + ")"
    c = _first(claims, maps, "workload.output_len")
    if c is not None:
        wl["output_len"] = int(c.hi)
        cfg.found["output_len"] = f"{c.raw} (line {c.line})"
    else:
        wl["output_len"] = 1
        cfg.assumed.append("workload: output length 1 (none stated; the KV cache is sized for the prompt)")
    weight = _dtype_near(text, r"precision|weights?|dtype|quantiz|checkpoint") or _dtype_near(text, r"")
    if weight is None or weight not in WEIGHT_DTYPES:
        weight = "bf16"
        cfg.assumed.append("workload: weights in bf16 (no precision stated)")
    else:
        cfg.found["weight_dtype"] = weight
    kv = _dtype_near(text, r"kv[ _-]?cache(?: dtype| precision)?|kv dtype")
    if kv is None or kv not in KV_DTYPES:
        kv = weight if weight in KV_DTYPES else "fp8"
        why = "the weights' dtype" if weight == kv else "the weights' dtype is no KV dtype"
        cfg.assumed.append(f"workload: KV cache in {kv} ({why})")
    else:
        cfg.found["kv_dtype"] = kv
    wl["weight_dtype"], wl["kv_dtype"] = weight, kv
    lacking = [k for k in ("batch", "input_len") if k not in wl]
    if lacking:
        cfg.missing.append("workload: no " + ", ".join(lacking))
        return None
    assert DTYPE_BYTES[weight] > 0
    return wl


def _degree_values(settings: list[dict], phase: str | None, include_phases: bool = False) -> dict:
    """Per degree, the value stated most often (outside comparisons), for one pool (``phase``), or outside the
    pools (``None``), or everywhere (``include_phases``)."""
    votes = {k: Counter() for k in DEGREE_KEYS}
    for s in settings:
        if COMPARISON.search(s["before"][-30:]):
            continue
        heads = " ".join(s["sections"]).lower() + " " + s["before"].lower()
        if phase is not None and phase not in heads:
            continue
        if phase is None and not include_phases and any(p in heads for p in PHASES):
            continue
        for deg, keys in DEGREE_KEYS.items():
            if s["key"] in keys:
                votes[deg][s["value"]] += 1
    return {k: v.most_common(1)[0][0] for k, v in votes.items() if v}


def _read_plans(claims, maps, settings, model, cfg) -> dict:
    """The main plan, and one per pool when the document gives its prefill and decode pools different degrees
    (a disaggregated plan); a claim that names no pool is then read against the decode pool."""
    own = {p: _degree_values(settings, p) for p in PHASES}
    if all(own.values()) and own["prefill"] != own["decode"]:
        plans = {p: _convention(own[p], _gpu_count(claims, maps, p)) for p in PHASES}
        plan, reading = plans["decode"]
        plans = {"main": (plan, "the document gives its prefill and decode pools their own degrees; a claim that "
                                f"names no pool is read against the decode pool: {reading}"),
                 "prefill": plans["prefill"]}
    else:
        stated = _degree_values(settings, None, include_phases=True)
        if not stated:
            cfg.missing.append("plan: no parallel degree (TP, EP, PP, DP) stated")
            return {}
        plans = {"main": _convention(stated, _gpu_count(claims, maps, None, any_phase=True))}
    for name, (_, reading) in plans.items():
        cfg.found[f"plan ({name})"] = reading
    return plans


def claim_phase(c: Claim) -> str | None:
    """``prefill`` or ``decode`` when the claim's words or sections name one pool (and not the other)."""
    words = " ".join([c.key, c.after, *c.sections]).lower()
    named = [p for p in PHASES if p in words]
    return named[0] if len(named) == 1 else None


def _gpu_count(claims, maps, phase, any_phase: bool = False):
    for c in claims:
        m = maps.get(c.id)
        if m is not None and m.quantity == "gpus_total" and not c.reference and not c.operand and c.lo == c.hi \
                and (any_phase or claim_phase(c) == phase):
            return int(c.lo)
    return None


def _convention(d: dict, gpus: int | None) -> tuple[dict, str]:
    tp, pp, ep, dp = d.get("tp", 1), d.get("pp", 1), d.get("ep", 1), d.get("dp", 1)
    words = ", ".join(f"{k.upper()}={v}" for k, v in sorted(d.items()))
    if gpus and gpus % (tp * pp) == 0:
        adp = gpus // (tp * pp)
        why = f"the stated {gpus} GPUs = TP {tp} x DP {adp} x PP {pp}"
    elif tp * dp >= ep:
        adp = dp
        why = f"TP {tp} x DP {dp} = {tp * dp} GPUs per stage hold the {ep}-way expert split"
    else:
        per_replica = max(tp, ep)
        adp = dp * per_replica // tp
        why = f"each of the {dp} replica(s) holds max(TP, EP) = {per_replica} GPUs per stage: DP {adp}"
    plan = {"tp": tp, "dp": adp, "pp": pp, "ep": ep}
    if "etp" in d:
        plan["etp"] = d["etp"]
    reading = (f"stated {words or 'no degree'}; under the convention GPUs = TP x DP x PP: {why}, the experts "
               f"folded over the same GPUs (EP {ep})")
    return plan, reading


__all__ = ["Config", "read_config", "claim_phase", "MODEL_FIELDS", "PHASES"]
