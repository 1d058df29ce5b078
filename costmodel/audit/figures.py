"""Computed figures inside text: a quantity named by placeholder, filled from the cost model when shown.

A claim's ``why`` in a ledger and a chapter's prose (:mod:`.narrative`) name the numbers they need
instead of typing them, so a change of the formulas moves the figure instead of leaving a false one:

- ``{q kv_bytes_per_gpu}``: the quantity under the claim's own scenario (a ``why``);
- ``{q weight_bytes_per_gpu@original}``: under another scenario of the same ledger;
- ``{q activation.bytes_per_token as KB}``: in a claim unit of the same dimension;
- a trailing ``~N`` sets the significant digits (default 3): ``{q decode_step_s as ms ~2}``.
"""

from __future__ import annotations

import re

from ..units import CostModelError
from .dimensions import in_unit, show, unit_dimension
from .quantities import Resolver

PLACEHOLDER = re.compile(r"\{(?P<body>[^{}]+)\}")
QUANTITY = re.compile(r"^q (?P<name>[\w.]+)(?:@(?P<scenario>\w+))?(?: as (?P<unit>.+?))?$")


def split_digits(placeholder: str, where: str) -> tuple[str, int]:
    """(body, significant digits) of a placeholder's text: ``C30 as MB ~2`` -> (``C30 as MB``, 2)."""
    body, _, digits_text = placeholder.partition(" ~")
    if digits_text and not digits_text.strip().isdigit():
        raise CostModelError(f"{where}: '~{digits_text}' must be a number of significant digits")
    return body.strip(), int(digits_text) if digits_text else 3


def parse_quantity(body: str, scenarios: dict, default: str | None, where: str):
    """(name, scenario name, unit) of a ``q`` placeholder body, or None when the body is another form."""
    m = QUANTITY.match(body)
    if not m:
        return None
    scenario = m["scenario"] or default
    if scenario is None:
        raise CostModelError(f"{where}: name the scenario ({{q {m['name']}@SCENARIO}})")
    if scenario not in scenarios:
        raise CostModelError(f"{where}: scenario {scenario!r} is not one of {', '.join(scenarios)}")
    if m["unit"]:
        unit_dimension(m["unit"], where)
    return m["name"], scenario, m["unit"]


def quantity_text(name: str, scenario, unit: str | None, digits: int, local: dict | None) -> str:
    """A quantity's value under a scenario as text: in ``unit`` or in the dimension's own scale."""
    r = Resolver(scenario, local)
    value = r.value(name)
    if unit:
        return in_unit(value, unit, digits)
    return show(value, r.dimension(name), digits)


def check_quantity_figures(text: str, scenarios: dict, default: str, where: str) -> None:
    """Every placeholder of ``text`` is a ``q`` form naming a known scenario (checked at load, not filled)."""
    for m in PLACEHOLDER.finditer(str(text)):
        body, _ = split_digits(m["body"], f"{where} {{{m['body']}}}")
        if parse_quantity(body, scenarios, default, f"{where} {{{m['body']}}}") is None:
            raise CostModelError(f"{where}: {{{m['body']}}} is not a figure; a ledger text names quantities as "
                                 f"{{q NAME}} or {{q NAME@SCENARIO as UNIT}}")


def fill_quantity_figures(text: str, scenarios: dict, local: dict | None, default: str, where: str) -> str:
    """``text`` with every ``{q ...}`` placeholder replaced by its value (see the module docstring)."""
    def one(m):
        w = f"{where} {{{m['body']}}}"
        body, digits = split_digits(m["body"], w)
        name, scenario, unit = parse_quantity(body, scenarios, default, w)
        try:
            return quantity_text(name, scenarios[scenario], unit, digits, local)
        except CostModelError as exc:
            raise CostModelError(f"{w}: {exc}") from None
    return PLACEHOLDER.sub(one, str(text))
