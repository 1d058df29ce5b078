"""Pinned numbers: every ledger row keeps its recomputed value, so a formula change that moves one shows.

A claim's ``recomputed:`` (and each ``readings: {scenario: value}``) is the value the cost model gave when
the ledger was last pinned, in the claim's unit (a statement's pin is whether it holds). :func:`pin_drift`
lists the pins a recomputation moves beyond the claim's tolerance (floored at :data:`PIN_FLOOR` for the
rounding of the written pin); :func:`write_pins` rewrites them in the YAML text, leaving comments and layout
alone, after a deliberate change of the physics (``python tools/pin_ledgers.py``; review the diff).
"""

from __future__ import annotations

import math
import re

from .ledger import forget_ledgers, ledger_path, load_ledger
from .rows import audit_rows

PIN_DIGITS = 7
"""Significant digits of a written pin."""
PIN_FLOOR = 1e-6
"""Smallest relative tolerance of a pin comparison: the written pin is rounded to :data:`PIN_DIGITS` digits."""


def pin_text(value) -> str:
    """A pinned value as YAML: ``null``, ``true`` / ``false``, or a number with :data:`PIN_DIGITS` digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = f"{float(value):.{PIN_DIGITS}g}"
    return text if any(ch in text for ch in ".en") else text + ".0"


def pin_agrees(pin, value, tolerance: float) -> bool:
    """True when a recomputed value matches its pin (booleans and None exactly, numbers within tolerance)."""
    if pin is None or value is None or isinstance(pin, bool) or isinstance(value, bool):
        return pin == value
    tol = max(tolerance, PIN_FLOOR)
    return math.isclose(float(value), float(pin), rel_tol=tol, abs_tol=1e-12)


def pin_drift(ref) -> list[dict]:
    """The pins of ledger ``ref`` that a recomputation does not match: one dict per pin with doc, claim,
    scenario, unit, pinned, recomputed and tolerance (a missing pin counts as a drift)."""
    ledger = load_ledger(ref)
    claims = {c["id"]: c for c in ledger["claims"]}
    out = []
    for row in audit_rows(ref):
        c = claims[row["claim_id"]]
        pairs = [(row["scenario"], c.get("recomputed", "missing"), row["recomputed"])]
        pairs += [(name, pin, row["readings"][name]["recomputed"]) for name, pin in c["readings"].items()]
        for scenario, pin, value in pairs:
            if pin == "missing" or not pin_agrees(pin, value, c["tolerance"]):
                out.append({"doc": ledger["doc"], "claim": c["id"], "scenario": scenario, "unit": c["unit"],
                            "pinned": None if pin == "missing" else pin, "recomputed": value,
                            "tolerance": c["tolerance"]})
    return out


def drift_message(d: dict) -> str:
    """One line naming the document, claim and both values."""
    return (f"ledger {d['doc']} claim {d['claim']} ({d['scenario']}): pinned {d['pinned']!r}, recomputed "
            f"{d['recomputed']!r} {d['unit']} (tolerance {d['tolerance']:.0%})")


CLAIM_START = re.compile(r"^  - id: *(\S+)\s*$")


def write_pins(ref) -> int:
    """Rewrite the ``recomputed`` and ``readings`` pins of ledger ``ref`` in place; the number of claims."""
    path = ledger_path(ref)
    rows = {r["claim_id"]: r for r in audit_rows(ref)}
    lines = path.read_text().split("\n")
    out, current = [], None
    for line in lines:
        start = CLAIM_START.match(line)
        if start:
            current = rows.get(start.group(1).strip("'\""))
        elif current is not None and re.match(r"^  \S|^\S", line):
            current = None
        if current is not None and re.match(r"^    recomputed:", line):
            continue  # written again after the claimed value
        if current is not None and re.match(r"^    readings:", line):
            pins = ", ".join(f"{k}: {pin_text(v['recomputed'])}" for k, v in current["readings"].items())
            line = f"    readings: {{{pins}}}"
        out.append(line)
        if current is not None and re.match(r"^    claimed:", line):
            out.append(f"    recomputed: {pin_text(current['recomputed'])}")
    path.write_text("\n".join(out))
    forget_ledgers()
    return len(rows)
