"""Verdict rules: mechanical, applied in order (:func:`verdict`).

Claimed values: a number, a range ``[lo, hi]``, a bound ``{min: x}`` / ``{max: x}``, or a boolean
(unit ``bool``), all in the claim's unit. A value r agrees with a claim when
``lo (1 - tol) <= r <= hi (1 + tol)``; ``factor`` = claimed / recomputed with the end of a range nearest
to r (so "off by at least this much").

Bases: ``input`` (a given input), ``derived`` (a result the document obtains from its plan or inputs),
``estimate`` (a number stated without derivation), ``concept`` (a statement about how parallelism works),
``rule`` (a statement that the plan keeps a rule or is the best one).

1. concept and rule claims: the check decides whether the statement holds. Holds as the document asserts
   it -> ``correct``; otherwise ``invalid`` for a concept, ``wrong`` for a rule.
2. the quantity is ``unmodelled`` (nothing in the inputs determines it) -> ``unsupported``.
3. the cost model agrees within tolerance -> ``correct``.
4. the document's own arithmetic does not give its claimed value -> ``inconsistent`` (it contradicts itself).
5. an input that the model, computed from the document's other inputs, contradicts -> ``inconsistent``.
6. ``derived`` (or any claim with own arithmetic) -> ``wrong``, with the factor.
7. ``estimate`` off by more than :data:`ESTIMATE_WRONG_FACTOR` beyond its tolerance band -> ``wrong``;
   closer than that -> ``unsupported`` (no derivation, but plausible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..units import CostModelError
from .dimensions import UNITS, in_unit, unit_dimension
from .expressions import as_float

VERDICTS = ("correct", "wrong", "inconsistent", "unsupported", "invalid")
BASES = ("input", "derived", "estimate", "concept", "rule")
STATEMENT_BASES = ("concept", "rule")
"""Bases whose claims are statements decided by a check, not numbers."""
ESTIMATE_WRONG_FACTOR = 2.0
"""An estimate without derivation further than this factor outside its tolerance band is ``wrong``."""
DEFAULT_TOLERANCE = 0.10


def claimed_bounds(claimed, unit: str, where: str = "claimed") -> tuple:
    """(lo, hi) in SI for a number, [lo, hi], {min: x} or {max: x}; (b, b) for a boolean."""
    dimension = unit_dimension(unit, where)
    if dimension == "bool":
        if not isinstance(claimed, bool):
            raise CostModelError(f"{where}: {claimed!r} must be true or false for unit 'bool'")
        return claimed, claimed
    scale = UNITS[unit][1]
    if isinstance(claimed, list) and len(claimed) == 2:
        lo, hi = (as_float(c, where) for c in claimed)
    elif isinstance(claimed, dict) and len(claimed) == 1 and set(claimed) <= {"min", "max"}:
        ((key, value),) = claimed.items()
        v = as_float(value, where)
        lo, hi = (v, math.inf) if key == "min" else (-math.inf, v)
    else:
        lo = hi = as_float(claimed, where)
    if lo > hi:
        raise CostModelError(f"{where}: range {claimed!r} has lo > hi")
    return lo * scale, hi * scale


def agrees(value: float, lo: float, hi: float, tolerance: float) -> bool:
    """lo (1 - tol) <= value <= hi (1 + tol) (positive quantities)."""
    return lo * (1 - tolerance) - 1e-12 * abs(lo) <= value <= hi * (1 + tolerance) + 1e-12 * abs(hi)


def off_factor(value: float, lo: float, hi: float) -> float:
    """claimed / recomputed with the end of the claimed range nearest to value; 1 inside the range."""
    if lo <= value <= hi:
        return 1.0
    near = lo if value < lo else hi
    if value == 0:
        return math.inf
    return near / value


def factor_text(f: float) -> str:
    return "inf" if f == math.inf else f"{f:.3g}"


@dataclass(frozen=True)
class Verdict:
    verdict: str
    factor: float | None
    reason: str


def verdict(*, basis: str, claimed, lo, hi, tolerance: float, recomputed, own=None, unit: str = "") -> Verdict:
    """Apply rules 1-7 to one claim (values in SI; ``own`` in SI or None; for a statement, ``recomputed``
    is whether it holds)."""
    if basis in STATEMENT_BASES:
        if bool(recomputed) == bool(claimed):
            return Verdict("correct", None, "the statement holds")
        return Verdict("invalid" if basis == "concept" else "wrong", None,
                       "conceptual error" if basis == "concept" else "the rule check fails")
    if recomputed is None:
        return Verdict("unsupported", None, "no derivation, and nothing in the inputs determines it")
    if isinstance(recomputed, bool) or isinstance(lo, bool):
        if bool(recomputed) == bool(lo):
            return Verdict("correct", None, f"the cost model agrees ({recomputed})")
        if basis == "input":
            return Verdict("inconsistent", None, "contradicted by the document's other inputs")
        return Verdict("wrong", None, f"the cost model gives {recomputed}")

    def show(v):
        return in_unit(v, unit) if unit else f"{v:.4g}"
    factor = off_factor(recomputed, lo, hi)
    if agrees(recomputed, lo, hi, tolerance):
        return Verdict("correct", factor, f"cost model {show(recomputed)} within ±{tolerance:.0%}")
    if own is not None and not agrees(own, lo, hi, tolerance):
        return Verdict("inconsistent", factor, f"its own numbers give {show(own)}, not the claimed value; "
                       f"cost model {show(recomputed)}")
    if basis == "input":
        return Verdict("inconsistent", factor, f"the document's other inputs give {show(recomputed)}")
    if basis == "derived" or own is not None:
        return Verdict("wrong", factor, f"cost model {show(recomputed)}: off x{factor_text(factor)}")
    band = max(factor, 1 / factor) if factor not in (0, math.inf) else math.inf
    if band > ESTIMATE_WRONG_FACTOR * (1 + tolerance):
        return Verdict("wrong", factor, f"no derivation; cost model {show(recomputed)}: off x{factor_text(factor)}")
    return Verdict("unsupported", factor,
                   f"no derivation; cost model {show(recomputed)} (x{factor_text(factor)}), plausible")
