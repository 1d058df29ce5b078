"""The document's own written arithmetic, recomputed: ``a × b = c`` chains and their kin.

Four general forms, found on any line (code blocks included):

* chains ``label: a × b = c`` and ``= d`` continued on the next lines (``KV = 16 × 16 × 32 × 2 ×
  10240 × 2 bytes = 335,544,320 bytes = ~320MB``); symbolic parts (``(PP × EP × TP)``) are skipped;
* a number with its derivation in parentheses: ``4 layers (16 total layers ÷ 4 stages)``;
* a share of a stated whole: ``12.1GB per GPU (18.9% of 64GB)`` -> 12.1 / 64 = 18.9 %;
* a relative change between two stated values: ``40% reduction (6s vs 8s)`` -> (8 - 6) / 8 = 25 %.

Operands with units are converted to SI before the arithmetic, so ``320MB × 128 = ~41GB`` and
``235B × 1 byte = 235GB`` compare like with like. A written result agrees when it is within the
precision it is written with (half a unit of its last digit, at least 1 %; 5 % after ``~``);
a decimal byte unit also agrees in its binary reading (``320MB`` for 320 MiB), which is noted.
"""

from __future__ import annotations

import math
import re

from ..units import CostModelError
from .dimensions import UNITS
from .expressions import own_arithmetic
from .extract import Claim, Line, Number, line_numbers, plain

OPERATORS = {"×": "*", "x": "*", "X": "*", "*": "*", "÷": "/", "/": "/", "+": "+", "-": "-", "−": "-", "–": "-"}
_OP = r"[×xX*÷/+\-−–]"
_SEPARATOR = re.compile(r"(?<![=<>!\w])=(?![=>])")
_CHANGE_WORDS = re.compile(r"reduc|improv|decreas|lower|less|faster|saving|fewer|cut", re.I)
_INCREASE_WORDS = re.compile(r"increas|more|higher|slower|growth|gain|up\b", re.I)


def _scale(unit: str) -> float:
    return UNITS.get(unit, ("", 1.0))[1]


def _precision(text_number: str, value: float, approx: bool) -> float:
    """Relative tolerance for a written result: half a unit of its last shown digit, at least 1 %."""
    digits = text_number.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits and "e" not in digits.lower() else 0
    tol = 0.5 * 10 ** -decimals / abs(value) if value else 0.0
    return max(tol, 0.05 if approx else 0.01)


def _expression(s: str, numbers: list[Number]) -> tuple[str, str, bool, bool] | None:
    """(SI expression, written expression, has units, has a prefixed byte unit) of a run of numbers joined by
    operators, or None when the run is symbolic (a name in operand position) or has no operator."""
    if not numbers:
        return None
    si, shown, units, ops = [], [], False, 0
    for i, n in enumerate(numbers):
        v = n.lo
        si.append(_literal(v * _scale(n.unit)) if n.unit else _literal(v))
        shown.append(s[n.start:n.end].strip())
        units = units or bool(n.unit)
        if i + 1 == len(numbers):
            tail = s[n.end:]
            if re.match(rf"[^\d=]*?{_OP}\s*[(\w]", tail) and not re.match(r"\s*[A-Za-z]", tail):
                return None  # "10240 ÷ (PP × EP)": a symbolic operand follows
            si.append(re.match(r"[^()=\d]*?(\)*)", tail).group(1))
            break
        gap = s[n.end:numbers[i + 1].start]
        m = re.fullmatch(rf"(?P<words>[^×*÷/+\-−–()\d]*?)\s*(?P<close>\)*)\s*(?P<op>{_OP})\s*(?P<open>\(*)\s*",
                         gap)
        if not m:
            return None
        close, open_ = m.group("close"), m.group("open")
        si += [close, OPERATORS[m.group("op")], open_]
        shown += [close, m.group("op"), open_]
        ops += 1
    if ops == 0:
        return None
    expr = " ".join(x for x in si if x)
    if expr.count("(") != expr.count(")"):
        expr = expr.replace("(", "").replace(")", "")
    prefixed = any(n.unit in ("KB", "MB", "GB", "TB", "MiB", "GiB") for n in numbers)
    return expr, " ".join(x for x in shown if x), units, prefixed


def _evaluate(expr: str) -> float | None:
    """The value of a numbers-only expression (the audit's safe evaluator), None when it does not evaluate."""
    try:
        return own_arithmetic(expr)
    except (CostModelError, OverflowError):
        return None


def _compare(value_si: float, written: Number, text: str, units: bool, prefixed: bool = False) -> tuple:
    """(holds, value in the written unit, note, SI divisor) for an expression value against a written result.

    ``prefixed``: an operand is written in KB / MB / GB / TB, so the result may not switch to a binary
    reading of its unit (it may when the operands are plain bytes: ``335,544,320 bytes = 320MB``)."""
    scale = _scale(written.unit) if units else 1.0
    mine = value_si / scale
    tol = _precision(text, written.lo, written.bound == "approx")
    binary = {"KB": 2.0**10, "MB": 2.0**20, "GB": 2.0**30, "TB": 2.0**40}.get(written.unit) if units and not prefixed \
        else None
    if binary and math.isclose(value_si / binary, written.lo, rel_tol=tol) and \
            abs(value_si / binary - written.lo) < abs(mine - written.lo):
        return True, value_si / binary, f"{written.unit} read as binary ({written.unit[0]}iB)", binary
    if math.isclose(mine, written.lo, rel_tol=tol) or (written.lo <= mine <= written.hi):
        return True, mine, "", scale
    return False, mine, "", scale


def check_arithmetic(lines: list[Line], claims: list[Claim]) -> list[dict]:
    """Recompute every piece of written arithmetic; annotate the claims it touches.

    A claim that is the result of an expression gets ``arithmetic`` (the written expression),
    ``arithmetic_value`` (its value in the claim's unit) and ``arithmetic_holds``; numbers inside an
    expression get ``operand = True``. Returns one dict per check: line, expression, written, value,
    holds, note, claim id.
    """
    by_pos = {c.start: c for c in claims}
    checks, carried, carried_head = [], None, ""
    for ln in lines:
        s = ln.text if ln.code else plain(ln.text)
        numbers = line_numbers(ln)
        continued = ln.code and re.match(r"\s*=", s)
        last = carried if continued else None
        parts = _parts(s, numbers)
        head = carried_head if continued else re.split(r"\d", parts[0][0], maxsplit=1)[0] if parts else ""
        for part, nums in parts:
            if not nums:
                last = last if not part.strip() else None
                continue
            run = next((nums[k:] for k in range(len(nums) - 1) if _expression(s, nums[k:])), [])
            e = _expression(s, run) if run else None
            if e is not None:
                for i, n in enumerate(run):
                    c = by_pos.get(ln.start + n.start)
                    if c is not None:
                        c.operand = True
                        c.first_operand = i == 0 and bool(re.match(r"\s*[A-Za-z]", s[n.end:]))
                last = e
                continue
            n = nums[0]
            if not all(re.search(r"\(", s[n.end:x.start]) for x in nums[1:]):
                last = None  # several numbers and no arithmetic between them: no value to carry
                continue
            if last is not None:
                value = _evaluate(last[0])
                if value is not None:
                    checks.append(_record(ln, by_pos, n, last, _compare(value, n, s[n.start:n.end].strip(), last[2],
                                                                         last[3]), head))
            last = (_literal(n.lo * _scale(n.unit)), s[n.start:n.end].strip(), bool(n.unit),
                    n.unit in ("KB", "MB", "GB", "TB", "MiB", "GiB"))
        carried, carried_head = (last, head) if ln.code else (None, "")
        checks += _parenthetical(ln, s, numbers, by_pos)
        checks += _share_and_change(ln, s, numbers, by_pos)
    return checks


def _parts(s: str, numbers: list[Number]) -> list[tuple[str, list[Number]]]:
    """The '='-separated parts of a line with the numbers in each (settings like ``EP=16`` are no '=')."""
    cuts = [m.start() for m in _SEPARATOR.finditer(s) if not re.search(r"[A-Za-z_]$", s[:m.start()])]
    bounds = [0] + cuts + [len(s)]
    return [(s[a:b], [n for n in numbers if a <= n.start < b]) for a, b in zip(bounds, bounds[1:])]


def _record(ln: Line, by_pos: dict, n: Number, expr: tuple, outcome: tuple, head: str = "") -> dict:
    """Note a check on the claim it ends: ``expr`` = (SI expression, written, ...), ``outcome`` from _compare."""
    holds, mine, note, divisor = outcome
    c = by_pos.get(ln.start + n.start)
    if c is not None and c.arithmetic is None:
        c.arithmetic, c.arithmetic_value, c.arithmetic_holds = expr[1], mine, holds
        c.arithmetic_expr = expr[0] if divisor == 1 else f"({expr[0]}) / {_literal(divisor)}"
        c.chain_head = " ".join(head.split())
        if note:
            c.notes.append(note)
    return {"line": ln.number, "expression": expr[1], "written": ln.text[n.start:n.end].strip(), "value": mine,
            "unit": n.unit, "holds": holds, "note": note, "claim": c.id if c is not None else None}


def _literal(x: float) -> str:
    """A number for an expression: whole numbers without '.0', others exactly (repr)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e18 else repr(float(x))


def _parenthetical(ln: Line, s: str, numbers: list[Number], by_pos: dict) -> list[dict]:
    """``N noun (a op b ...)``: the number followed by its derivation in parentheses."""
    out = []
    for i, n in enumerate(numbers):
        m = re.match(r"[^()\d=×*÷/+\-−]{0,30}?\(([^()=]*)\)", s[n.end:])
        if not m:
            continue
        a, b = n.end + m.start(1), n.end + m.end(1)
        inner = [x for x in numbers if a <= x.start < b]
        if len(inner) == 1 and inner[0].unit and n.unit and inner[0].unit != n.unit and \
                UNITS[inner[0].unit][0] == UNITS[n.unit][0] and not s[n.end:inner[0].start].strip(" ("):
            x = inner[0]
            value_si = n.lo * _scale(n.unit)
            owner = by_pos.get(ln.start + n.start)
            out.append(_record(ln, by_pos, x, (_literal(value_si), s[n.start:n.end].strip(), True,
                                               n.unit in ("KB", "MB", "GB", "TB")),
                               _compare(value_si, x, s[x.start:x.end].strip(), True,
                                        n.unit in ("KB", "MB", "GB", "TB")),
                               owner.chain_head if owner is not None else ""))
            continue
        e = _expression(s, inner)
        if not e:
            continue
        value = _evaluate(e[0])
        if value is None:
            continue
        for x in inner:
            c = by_pos.get(ln.start + x.start)
            if c is not None:
                c.operand = True
        out.append(_record(ln, by_pos, n, e, _compare(value, n, s[n.start:n.end].split()[0], e[2] and bool(n.unit),
                                                      e[3])))
    return out


def _share_and_change(ln: Line, s: str, numbers: list[Number], by_pos: dict) -> list[dict]:
    """``X (p% of Y)`` -> X / Y; ``p% reduction (a vs b)`` -> (b - a) / b."""
    out = []
    for i, n in enumerate(numbers):
        if n.unit != "%" or i + 1 >= len(numbers):
            continue
        nxt = numbers[i + 1]
        gap = s[n.end:nxt.start]
        if re.fullmatch(r"\s*of\s*", gap) and nxt.unit and i > 0:
            prev = next((p for p in reversed(numbers[:i]) if p.unit and UNITS[p.unit][0] == UNITS[nxt.unit][0]),
                        None)
            if prev is not None:
                value = prev.lo * _scale(prev.unit) / (nxt.lo * _scale(nxt.unit)) * 100
                shown = f"{s[prev.start:prev.end].strip()} / {s[nxt.start:nxt.end].strip()} × 100"
                expr = f"{_literal(prev.lo * _scale(prev.unit))} / {_literal(nxt.lo * _scale(nxt.unit))} * 100"
                out.append(_record(ln, by_pos, n, (expr, shown), _compare(value, n, s[n.start:n.end].strip(), False)))
            continue
        if i + 2 < len(numbers) and _CHANGE_WORDS.search(s[n.end:nxt.start] + " ") or (
                i + 2 < len(numbers) and _INCREASE_WORDS.search(s[n.end:nxt.start])):
            a_, b_ = numbers[i + 1], numbers[i + 2]
            if re.fullmatch(r"[^()]*\(\s*", s[n.end:a_.start]) and re.fullmatch(r"\s*(?:vs\.?|versus)\s*",
                                                                               s[a_.end:b_.start]):
                new, old = a_.lo * _scale(a_.unit), b_.lo * _scale(b_.unit)
                if old:
                    down = bool(_CHANGE_WORDS.search(s[n.end:a_.start]))
                    value = (old - new) / old * 100 if down else (new - old) / old * 100
                    old_text, new_text = s[b_.start:b_.end].strip(), s[a_.start:a_.end].strip()
                    shown = (f"({old_text} - {new_text}) / {old_text} × 100" if down
                             else f"({new_text} - {old_text}) / {old_text} × 100")
                    for x in (a_, b_):
                        c = by_pos.get(ln.start + x.start)
                        if c is not None:
                            c.operand = True
                    a, b = _literal(new), _literal(old)
                    expr = f"({b} - {a}) / {b} * 100" if down else f"({a} - {b}) / {b} * 100"
                    outcome = _compare(value, n, s[n.start:n.end].strip(), False)
                    out.append(_record(ln, by_pos, n, (expr, shown), outcome))
    return out


__all__ = ["check_arithmetic"]
