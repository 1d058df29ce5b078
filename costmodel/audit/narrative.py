"""Narrative with live figures: prose whose numbers come from the audit when the notebook runs.

A chapter's prose names its figures by placeholder instead of typing them, so a change of the formulas
changes the figure (and shows in the notebook's stored output) instead of leaving a false number behind:

- ``{C30}``: claim C30's recomputed value in its unit (``0.0021 GB``); ``{C30 as MB}`` in another unit of
  the same dimension (``2.1 MB``); ``{C06@as_10b}`` under another reading of the claim;
- ``{C30.factor}``: claimed / recomputed; ``{C30.inverse}``: recomputed / claimed; ``{C41.own}``: the
  value of the document's own arithmetic;
- ``{q memory_bytes_per_gpu@as_10b as GB}``: any quantity (see :mod:`.quantities`) under a scenario
  (the form of :mod:`.figures`, which a ledger's ``why`` texts use too);
- ``{corrected ep32}``: the plan the search puts in place of scenario ep32's (its label);
  ``{gain ep32}``: its throughput per GPU / the document plan's, in the scenario's reading.

A trailing ``~N`` sets the significant digits (default 3): ``{C30.factor ~2}``.
"""

from __future__ import annotations

import re

from ..units import CostModelError
from .chapter import corrected_strategy
from .dimensions import UNITS, in_unit, number, unit_dimension
from .figures import PLACEHOLDER, parse_quantity, quantity_text, split_digits
from .ledger import load_ledger
from .rows import audit_claim

FIELD = re.compile(r"^(?P<claim>C\d+)(?:@(?P<reading>\w+))?(?:\.(?P<field>factor|inverse|own))?"
                   r"(?: as (?P<unit>.+?))?$")
STRATEGY = re.compile(r"^(?P<what>corrected|gain) (?P<scenario>\w+)$")


def _convert(value_si, unit: str, digits: int, where: str) -> str:
    unit_dimension(unit, where)
    return in_unit(value_si, unit, digits)


def figure(ref, placeholder: str) -> str:
    """The text of one placeholder (without braces) for ledger ``ref``; a one-line error naming it."""
    where = f"figure {{{placeholder}}}"
    body, digits = split_digits(placeholder, where)
    m = FIELD.match(body)
    if m:
        row = audit_claim(ref, m["claim"])
        unit = row["unit"]
        if m["field"] in ("factor", "inverse"):
            factor = row["factor"] if not m["reading"] else row["readings"][m["reading"]]["factor"]
            if factor is None:
                raise CostModelError(f"{where}: claim {m['claim']} has no factor")
            return number(factor if m["field"] == "factor" else 1 / factor, digits)
        if m["field"] == "own":
            value = row["own_value"]
        elif m["reading"]:
            if m["reading"] not in row["readings"]:
                raise CostModelError(f"{where}: {m['reading']!r} is not a reading of claim {m['claim']}")
            value = row["readings"][m["reading"]]["recomputed"]
        else:
            value = row["recomputed"]
        if value is None or isinstance(value, bool):
            raise CostModelError(f"{where}: claim {m['claim']} has no number")
        return _convert(value * UNITS[unit][1], m["unit"] or unit, digits, where)
    ledger = load_ledger(ref)
    q = parse_quantity(body, ledger["scenarios"], None, where)
    if q:
        name, scenario, unit = q
        return quantity_text(name, ledger["scenarios"][scenario], unit, digits, ledger["quantities"])
    m = STRATEGY.match(body)
    if m:
        table = corrected_strategy(ref)
        rows = table[table["scenario"] == m["scenario"]]
        if len(rows) != 2:
            raise CostModelError(f"{where}: scenario {m['scenario']!r} is not in the ledger's corrected block")
        doc, fix = rows.iloc[0], rows.iloc[1]
        if m["what"] == "corrected":
            return str(fix["plan"])
        column = f"{doc['reading']} tokens/s/GPU"
        return number(fix[column] / doc[column], digits)
    raise CostModelError(f"{where}: not a figure; see costmodel.audit.narrative for the forms")


def fill(ref, text: str) -> str:
    """``text`` with every placeholder replaced by its figure."""
    return PLACEHOLDER.sub(lambda m: figure(ref, m["body"]), str(text))


class Prose:
    """A paragraph of a chapter with its figures filled in: Markdown in a notebook, text in a console."""

    def __init__(self, ref, text: str):
        self.text = fill(ref, text).strip()

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


def prose(ref, text: str) -> Prose:
    """Narrative ``text`` of ledger ``ref`` with its figures from the audit (see the module docstring)."""
    return Prose(ref, text)
