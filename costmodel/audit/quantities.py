"""The vocabulary of quantities a claim may state: data, not one function per quantity.

A quantity name is one of
  - a metric of :class:`~costmodel.perf.Estimate`, bare: ``ttft_s``, ``memory_bytes_per_gpu``;
  - a dotted path into the scenario (:data:`NAMESPACES`): ``model.num_layers``, ``plan.ep``,
    ``workload.batch``, ``hardware.memory_bytes``, ``efficiency.mfu``, ``requirements.ttft_s``,
    ``params.routed_experts``, ``prefill.tp`` / ``decode.ep`` (stage time of a class or collective over all
    pipeline rounds), ``stated.tp`` (the degrees as the document writes them; an unstated degree is 1),
    and the few computed paths of :data:`COMPUTED` (``activation.tokens``, ``activation.bytes_per_token``);
  - a derived quantity: an expression over the above with a dimension, from
    ``data/audits/quantities.yaml`` or a ledger's own ``quantities`` block;
  - ``unmodelled``: nothing in the inputs determines it (no value).
:func:`resolve` gives the SI value and a worked line generated from the values (never typed by hand):
``memory_bytes_per_gpu / hardware.memory_bytes = 41.23 GB / 64 GB = 64.41 %``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..architecture import param_breakdown
from ..memory import activation_bytes_per_token, activation_tokens, kv_shards
from ..perf import decode_rounds, decode_stage, prefill_rounds, prefill_stage
from ..units import CostModelError, dtype_bytes, read_yaml
from . import expressions
from .dimensions import DIMENSIONS, dimension_of_name, show
from .scenario import Scenario, scenario_estimate

UNMODELLED = "unmodelled"
NAMESPACES = ("model", "plan", "workload", "hardware", "efficiency", "requirements", "params", "prefill", "decode",
              "estimate", "reading", "activation", "stated")
STATED_DEGREES = ("tp", "dp", "pp", "ep", "etp")
"""Degrees a document may leave unstated: ``stated.X`` is then 1, the convention's default."""

COMPUTED = {
    # dotted paths that need the scenario, not one object: path -> (dimension, fn(scenario))
    "hardware.peak_flops_per_s": ("flops/s", lambda sc: sc.hardware.peak_flops_per_s(sc.workload.weight_dtype)),
    "model.kv_bytes_per_token": ("bytes", lambda sc: sc.model.kv_bytes_per_token(sc.workload.kv_dtype)),
    "workload.weight_dtype_bytes": ("bytes/param", lambda sc: dtype_bytes(sc.workload.weight_dtype)),
    "workload.kv_dtype_bytes": ("bytes/param", lambda sc: dtype_bytes(sc.workload.kv_dtype)),
    "plan.kv_shards": ("count", lambda sc: kv_shards(sc.model, sc.plan.tp)),
    "estimate.valid": ("bool", lambda sc: scenario_estimate(sc).valid),
    # activation memory = tokens of one iteration x bytes per token and layer + logits (costmodel.memory)
    "activation.tokens": ("count", lambda sc: activation_tokens(sc.plan, sc.workload)),
    "activation.bytes_per_token": ("bytes", lambda sc: activation_bytes_per_token(sc.model, sc.plan,
                                                                                  sc.workload.act_bytes)),
    "activation.logits_bytes": ("bytes", lambda sc: scenario_estimate(sc).metrics["activation_bytes_per_gpu"]
                                - activation_tokens(sc.plan, sc.workload)
                                * activation_bytes_per_token(sc.model, sc.plan, sc.workload.act_bytes)),
}
READING_ALIASES = {"reading.throughput_per_gpu": lambda sc: sc.throughput_metric}
"""Paths that stand for another quantity chosen by the scenario's reading."""


@dataclass(frozen=True)
class Quantity:
    """A derived quantity: ``expr`` over other quantities, its dimension and a one-line description."""

    name: str
    expr: str
    dimension: str
    description: str


def _read_vocabulary(data: dict, where: str) -> tuple[dict, dict]:
    """(quantities, explanations) of a vocabulary mapping; one-line errors naming the entry and field."""
    if not isinstance(data, dict) or set(data) - {"quantities", "explain"}:
        raise CostModelError(f"{where}: must be a mapping with keys quantities, explain")
    out = {}
    for name, spec in (data.get("quantities") or {}).items():
        w = f"{where} quantity {name!r}"
        if not isinstance(spec, dict) or set(spec) - {"expr", "dimension", "description"} or "expr" not in spec:
            raise CostModelError(f"{w}: must be a mapping with expr, dimension, description")
        dimension = spec.get("dimension", "")
        if dimension not in DIMENSIONS:
            raise CostModelError(f"{w}: dimension {dimension!r} is not one of {', '.join(DIMENSIONS)}")
        expr = " ".join(str(spec["expr"]).split())
        expressions.parse(expr, f"{w}: expr")
        out[name] = Quantity(name, expr, dimension, " ".join(str(spec.get("description", "")).split()))
    explain = {}
    for name, expr in (data.get("explain") or {}).items():
        explain[name] = " ".join(str(expr).split())
        expressions.parse(explain[name], f"{where} explain {name!r}")
    return out, explain


@lru_cache(maxsize=1)
def _bundled() -> tuple[dict, dict]:
    path = Path(str(resources.files("costmodel") / "data" / "audits" / "quantities.yaml"))
    return _read_vocabulary(read_yaml(path.read_text()), "quantities.yaml")


def vocabulary() -> dict:
    """The bundled derived quantities: name -> :class:`Quantity`."""
    return dict(_bundled()[0])


def explanations() -> dict:
    """name -> an expression that reproduces the quantity, shown in its worked line when it holds."""
    return dict(_bundled()[1])


def ledger_quantities(spec, where: str) -> dict:
    """A ledger's own ``quantities`` block (same form as the bundled vocabulary) as {name: Quantity}."""
    local, _ = _read_vocabulary({"quantities": spec or {}}, where)
    clash = set(local) & set(vocabulary())
    if clash:
        raise CostModelError(f"{where}: quantity {sorted(clash)[0]!r} is already in the bundled vocabulary")
    return local


def _path_value(path: str, sc: Scenario):
    """The SI value of a dotted path or bare metric; a one-line error naming the path otherwise."""
    if path in COMPUTED:
        return COMPUTED[path][1](sc)
    head, _, rest = path.partition(".")
    if not rest:
        metrics = scenario_estimate(sc).metrics
        if path in metrics:
            return metrics[path]
        raise CostModelError(f"quantity {path!r} is not a metric of the estimate, a derived quantity or a dotted path")
    if head in ("model", "plan", "workload", "hardware", "efficiency") and "." not in rest:
        obj = getattr(sc, head)
        value = getattr(obj, rest, None)
        if value is not None and not callable(value) and not rest.startswith("_"):
            return value
    elif head == "stated":
        if rest in sc.stated:
            return sc.stated[rest]
        if rest in STATED_DEGREES:
            return 1
        raise CostModelError(f"scenario {sc.name!r}: stated.{rest} is needed by this quantity (the scenario's "
                             f"'stated' block)")
    elif head == "requirements":
        if rest in sc.requirements:
            return sc.requirements[rest]
        raise CostModelError(f"scenario {sc.name!r}: requirements.{rest} is needed by this quantity")
    elif head == "params":
        parts = param_breakdown(sc.model)
        if rest in parts:
            return parts[rest]
    elif head in ("prefill", "decode"):
        stage = (prefill_stage if head == "prefill" else decode_stage)(sc.model, sc.hardware, sc.plan, sc.workload,
                                                                        sc.efficiency, sc.overlap)
        if rest in stage:
            rounds = prefill_rounds(sc.plan) if head == "prefill" else decode_rounds(sc.plan)
            return float(stage[rest] * rounds)
    raise CostModelError(f"quantity {path!r}: no such field; a dotted path starts with one of {', '.join(NAMESPACES)}")


def _number(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    raise CostModelError(f"quantity value {value!r} is not a number")


class Resolver:
    """Values, dimensions and worked lines of quantity names under one scenario (``extra``: a ledger's own)."""

    def __init__(self, sc: Scenario, extra: dict | None = None):
        self.sc = sc
        self.derived = {**vocabulary(), **(extra or {})}
        self.cache: dict = {}
        self.pending: list = []

    def dimension(self, name: str) -> str:
        if name == UNMODELLED:
            return "any"
        if name in self.derived:
            return self.derived[name].dimension
        if name in READING_ALIASES:
            return self.dimension(READING_ALIASES[name](self.sc))
        if name in COMPUTED:
            return COMPUTED[name][0]
        if name.startswith(("prefill.", "decode.")):
            return "flop" if name.endswith("flops") else "seconds"
        if name.startswith(("plan.", "stated.")):
            return "gpus" if name in ("plan.gpus", "stated.gpus") else "count"
        if name.startswith("params."):
            return "params"
        return dimension_of_name(name)

    def value(self, name: str):
        """The SI value (float, bool, or None for ``unmodelled``)."""
        if name in self.cache:
            return self.cache[name]
        if name in self.pending:
            raise CostModelError(f"quantity {name!r} is defined through itself ({' -> '.join(self.pending)})")
        self.pending.append(name)
        try:
            if name == UNMODELLED:
                value = None
            elif name in self.derived:
                value = expressions.evaluate(self.derived[name].expr, self.value, f"quantity {name!r}")
            elif name in READING_ALIASES:
                value = self.value(READING_ALIASES[name](self.sc))
            else:
                value = _number(_path_value(name, self.sc))
        finally:
            self.pending.pop()
        self.cache[name] = value
        return value

    def show(self, name: str) -> str:
        return show(self.value(name), self.dimension(name))

    def worked(self, name: str) -> str:
        """``expr = expr with the values in place = value``, generated from the values."""
        if name == UNMODELLED:
            return "not determined by the inputs (no model of it)"
        if name in READING_ALIASES:
            return self.worked(READING_ALIASES[name](self.sc))
        q = self.derived.get(name)
        if q is not None and expressions.names(q.expr) == [q.expr]:
            return self.worked(q.expr)  # an alias: show what it stands for
        expr = q.expr if q is not None else explanations().get(name)
        if expr is not None and q is None and not self._explains(name, expr):
            expr = None
        if expr is None:
            return f"{name} = {self.show(name)}"
        symbols = expressions.substitute(expr, str)
        return f"{name} = {symbols} = {expressions.substitute(expr, self.show)} = {self.show(name)}"

    def _explains(self, name: str, expr: str) -> bool:
        value = self.value(name)
        other = expressions.evaluate(expr, self.value, f"explain {name!r}")
        return math.isclose(float(other), float(value), rel_tol=1e-9, abs_tol=1e-30)


def resolve(name: str, sc: Scenario, extra: dict | None = None) -> tuple:
    """(SI value or bool or None, worked line) of quantity ``name`` under scenario ``sc``."""
    r = Resolver(sc, extra)
    return r.value(name), r.worked(name)

