"""Scenarios: one reading of a document as model, hardware, plan, workload, efficiency and requirements.

A ledger's ``scenarios`` block maps names to dicts (:data:`SCENARIO_KEYS`); :func:`build_scenario`
turns one into a :class:`Scenario` with one-line errors naming the field. :func:`scenario_estimate`
is the cost model's :class:`~costmodel.perf.Estimate` of a scenario, cached.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..architecture import Model, load_model, mlp_params, model_from_hf_config, param_breakdown
from ..efficiency import resolve_efficiency
from ..hardware import hardware_from_dict, load_hardware
from ..perf import Estimate, estimate
from ..strategy import Plan, Workload
from ..units import GB, CostModelError
from .expressions import as_float

PLAN_KEYS = ("tp", "dp", "pp", "ep", "etp", "microbatches", "redundant_experts")
WORKLOAD_KEYS = ("batch", "input_len", "output_len", "weight_dtype", "kv_dtype")
REQUIREMENT_KEYS = ("ttft_s", "throughput_tokens_per_s_per_gpu")
SCENARIO_KEYS = ("model", "model_params", "model_overrides", "hardware", "hardware_overrides", "plan", "workload",
                 "efficiency", "overlap", "requirements", "throughput_reading", "reading", "stated")
HARDWARE_OVERRIDES = {"scale_up_gpus": ("scale_up_gpus", 1),
                      "scale_up_GBps_per_direction": ("scale_up_bytes_per_s", GB),
                      "scale_out_GBps_per_direction": ("scale_out_bytes_per_s", GB)}
"""What a document may say about its interconnect: the scale-up domain (node) size in GPUs and the link
bandwidths per GPU per direction (GB/s), keyword of :meth:`~costmodel.hardware.Hardware.with_interconnect`
and factor to SI."""
STATED_KEYS = ("tp", "dp", "pp", "ep", "etp", "gpus", "batch")
"""What ``stated`` records: the degrees, GPU count and batch as the document writes them."""
THROUGHPUT_READINGS = ("output", "input")
"""How "tokens/s per GPU" is read: decode output tokens or prefill input tokens."""


def model_with_params(m: Model, params_total: float) -> Model:
    """The model with its routed-expert width f_e scaled so the total is ``params_total``.

    f_e = (P_target - P_non_expert) / (L_moe x E x g x d), g = 3 if gated else 2, rounded to a whole
    number: the reading "the model really has this many parameters; the experts hold the rest".
    """
    p = param_breakdown(m)
    rest = sum(v for k, v in p.items() if k != "routed_experts")
    per_unit_width = m.num_moe_layers * m.num_experts * mlp_params(m, 1)
    if per_unit_width == 0 or params_total <= rest:
        raise CostModelError(f"model_params: {params_total:g} cannot be reached by scaling the experts of {m.id}")
    width = round((params_total - rest) / per_unit_width)
    return replace(m, id=f"{m.id}@{params_total / 1e9:g}B", name=f"{m.name}, experts scaled to "
                   f"{params_total / 1e9:g} B parameters", moe_intermediate=width)


def model_with_fields(m: Model, changes: dict) -> Model:
    """The model with some architecture fields changed (a document's other reading of its model):
    ``{head_dim: 64}``; the id records the change (``qwen3-235b-a22b+head_dim=64``)."""
    if not isinstance(changes, dict) or not changes:
        raise CostModelError("model_overrides must be a mapping {field: value}")
    allowed = [f.name for f in fields(m) if f.name not in ("id", "name", "source", "notes")]
    for key, value in changes.items():
        if key not in allowed:
            raise CostModelError(f"model_overrides: {key!r} is not an architecture field of {m.id}")
        if type(value) is not type(getattr(m, key)):
            raise CostModelError(f"model_overrides.{key}: {value!r} must be a {type(getattr(m, key)).__name__}")
    label = ",".join(f"{k}={v}" for k, v in changes.items())
    return replace(m, id=f"{m.id}+{label}", name=f"{m.name} ({label})", **changes)


def model_from_spec(spec) -> Model:
    """A scenario's model: a bundled id, or inline ``{id, name, config}`` with Hugging Face config keys (a model
    built from a document's stated dimensions)."""
    if isinstance(spec, dict):
        if not isinstance(spec.get("config"), dict):
            raise CostModelError("model: an inline model needs a 'config' mapping (Hugging Face config keys)")
        return model_from_hf_config(spec["config"], model_id=str(spec.get("id", "inline-model")),
                                    name=str(spec.get("name", "")) or None, source=str(spec.get("source", "")))
    return load_model(spec)


def hardware_with_links(hw, changes: dict):
    """The hardware with the interconnect a document states (:data:`HARDWARE_OVERRIDES`):
    ``{scale_up_gpus: 16}`` for 16 GPUs on one node; the id records the change (``seed-gpu+scale_up_gpus=16``)."""
    if not isinstance(changes, dict) or not changes:
        raise CostModelError(f"hardware_overrides must be a mapping with keys among {', '.join(HARDWARE_OVERRIDES)}")
    kwargs = {}
    for key, value in changes.items():
        if key not in HARDWARE_OVERRIDES:
            raise CostModelError(f"hardware_overrides: {key!r} is not one of {', '.join(HARDWARE_OVERRIDES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise CostModelError(f"hardware_overrides.{key}: {value!r} must be a positive number")
        if key == "scale_up_gpus" and value != int(value):
            raise CostModelError(f"hardware_overrides.scale_up_gpus: {value!r} must be a whole number of GPUs")
        name, factor = HARDWARE_OVERRIDES[key]
        kwargs[name] = int(value) if key == "scale_up_gpus" else float(value) * factor
    label = ",".join(f"{k}={v:g}" for k, v in changes.items())
    return replace(hw.with_interconnect(**kwargs), id=f"{hw.id}+{label}", name=f"{hw.name} ({label})")


@dataclass(frozen=True)
class Scenario:
    """One reading of a document: model, hardware, plan, workload, efficiency, requirements.

    requirements: ``ttft_s`` (limit, s) and ``throughput_tokens_per_s_per_gpu`` (floor) when stated;
    throughput_reading: ``output`` or ``input`` (see :data:`THROUGHPUT_READINGS`); reading: the words that
    map the document onto the plan convention; stated: the degrees, GPU count and batch as the document
    writes them (:data:`STATED_KEYS`, read by the quantities ``stated.*``).
    """

    name: str
    model: Model
    hardware: object
    plan: Plan
    workload: Workload
    efficiency: object
    overlap: bool
    requirements: dict
    throughput_reading: str
    reading: str
    stated: dict

    @property
    def throughput_metric(self) -> str:
        """The Estimate metric of the scenario's throughput reading."""
        return f"{self.throughput_reading}_tokens_per_s_per_gpu"


def _mapping(spec, keys, where: str) -> dict:
    if not isinstance(spec, dict) or set(spec) - set(keys):
        raise CostModelError(f"{where} must be a mapping with keys among {', '.join(keys)}")
    return spec


def build_scenario(name: str, spec: dict, where: str = "scenario") -> Scenario:
    """A :class:`Scenario` from a ledger's scenario dict; bad fields raise one-line errors."""
    where = f"{where} scenario {name!r}"
    if not isinstance(spec, dict):
        raise CostModelError(f"{where}: must be a mapping with keys {', '.join(SCENARIO_KEYS)}")
    unknown = set(spec) - set(SCENARIO_KEYS)
    if unknown:
        raise CostModelError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(SCENARIO_KEYS)}")
    for key in ("model", "hardware", "plan", "workload", "reading"):
        if key not in spec:
            raise CostModelError(f"{where}: missing key {key!r}")
    try:
        model = model_from_spec(spec["model"])
        if spec.get("model_params") is not None:
            model = model_with_params(model, as_float(spec["model_params"], "model_params"))
        if spec.get("model_overrides"):
            model = model_with_fields(model, spec["model_overrides"])
        hw = spec["hardware"]
        hw = hardware_from_dict(hw) if isinstance(hw, dict) else load_hardware(hw)  # inline: a document's figures
        if spec.get("hardware_overrides") is not None:
            hw = hardware_with_links(hw, spec["hardware_overrides"])
        plan = Plan(**_mapping(spec["plan"], PLAN_KEYS, "plan"))
        workload = Workload(**_mapping(spec["workload"], WORKLOAD_KEYS, "workload"))
        eff_spec = spec.get("efficiency")
        if isinstance(eff_spec, dict):
            eff = resolve_efficiency(hw, None, eff_spec.get("mfu"), eff_spec.get("bw_util"))
        else:
            eff = resolve_efficiency(hw, eff_spec)
        req = _mapping(spec.get("requirements") or {}, REQUIREMENT_KEYS, "requirements")
        requirements = {k: as_float(v, f"requirements.{k}") for k, v in req.items()}
        stated = _mapping(spec.get("stated") or {}, STATED_KEYS, "stated")
        for key, value in stated.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CostModelError(f"stated.{key}: {value!r} must be a positive whole number")
        reading = spec.get("throughput_reading", "output")
        if reading not in THROUGHPUT_READINGS:
            raise CostModelError(f"throughput_reading {reading!r} is not one of {', '.join(THROUGHPUT_READINGS)}")
    except CostModelError as exc:
        raise CostModelError(f"{where}: {exc}") from None
    except TypeError as exc:  # a wrong key type inside plan / workload
        raise CostModelError(f"{where}: {exc}") from None
    return Scenario(name, model, hw, plan, workload, eff, bool(spec.get("overlap", False)), requirements, reading,
                    " ".join(str(spec["reading"]).split()), dict(stated))


_ESTIMATES: dict = {}


def scenario_estimate(sc: Scenario) -> Estimate:
    """The cost-model :class:`~costmodel.perf.Estimate` of a scenario (cached by its inputs)."""
    key = repr((sc.model, sc.hardware, sc.plan, sc.workload, sc.efficiency, sc.overlap))
    if key not in _ESTIMATES:
        _ESTIMATES[key] = estimate(sc.model, sc.hardware, sc.plan, sc.workload, sc.efficiency, overlap=sc.overlap)
    return _ESTIMATES[key]
