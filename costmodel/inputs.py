"""The arguments of :func:`costmodel.estimate` and :func:`costmodel.search` as a notebook writes them.

A model or a GPU may be given by id (``"qwen3-235b-a22b"``, ``"h100-sxm"``), a plan as a string
(``"tp=8,ep=8"``, see :meth:`Plan.parse`); anything else of the wrong kind raises
:class:`CostModelError` naming the argument, never an AttributeError from deep inside a formula.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache

from .architecture import Model, load_model, model_ids
from .hardware import Hardware, hardware_ids, load_hardware
from .strategy import Plan, Workload
from .units import CostModelError


_bundled_model = lru_cache(maxsize=64)(load_model)
_bundled_hardware = lru_cache(maxsize=64)(load_hardware)
"""Bundled specs by id, read once per process (both classes are frozen: a cached one cannot change)."""


def as_model(model) -> Model:
    """A :class:`Model`, or the bundled model of that id."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return _bundled_model(model)
    raise CostModelError(f"model: {model!r} must be a Model or a model id ({', '.join(model_ids())})")


def as_hardware(hardware) -> Hardware:
    """A :class:`Hardware`, or the bundled GPU of that id."""
    if isinstance(hardware, Hardware):
        return hardware
    if isinstance(hardware, str):
        return _bundled_hardware(hardware)
    raise CostModelError(f"hardware: {hardware!r} must be a Hardware or a hardware id ({', '.join(hardware_ids())})")


def as_plan(plan) -> Plan:
    """A :class:`Plan`, or one parsed from ``"tp=8,ep=8"``."""
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, str):
        return Plan.parse(plan)
    raise CostModelError(f"plan: {plan!r} must be a Plan or a string such as 'tp=8,ep=8'")


def as_workload(workload) -> Workload:
    """A :class:`Workload` (no other form: its batch and lengths have no defaults to guess)."""
    if isinstance(workload, Workload):
        return workload
    raise CostModelError(f"workload: {workload!r} must be a Workload(batch, input_len, output_len)")


def check_options(reserved_bytes, memory_headroom) -> None:
    """``reserved_bytes`` a finite number >= 0 (bytes per GPU), ``memory_headroom`` a share in [0, 1)."""
    for name, value, upper, allowed in (("reserved_bytes", reserved_bytes, math.inf, "a finite number of bytes >= 0"),
                                        ("memory_headroom", memory_headroom, 1, "a share in [0, 1)")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < upper:
            raise CostModelError(f"{name}: {value!r} must be {allowed}")
