"""A safe arithmetic evaluator for ledgers: the documents' own arithmetic and derived quantities.

An expression holds numbers, names (``ttft_s``, dotted paths such as ``model.num_layers``),
``+ - * / // % **``, parentheses, comparisons (``< <= > >= == !=``), ``and or not``, ``a if c else b``
and the functions :data:`FUNCTIONS`. Nothing else parses: no attribute calls, no subscripts, no imports.
Names are looked up through a resolver the caller passes; a number-only expression needs none.

    >>> evaluate("16 * 16 * 32 * 2 * 10240 * 2")
    335544320.0
    >>> evaluate("model.num_layers / plan.pp", {"model.num_layers": 94, "plan.pp": 4}.__getitem__)
    23.5
"""

from __future__ import annotations

import ast
import math
import operator
from functools import lru_cache

from ..units import CostModelError

MAX_EXPONENT = 64
"""Largest exponent of ``**`` (a ledger never needs more; it keeps ``2 ** 10 ** 10`` from running forever)."""


def _power(base, exponent):
    if abs(exponent) > MAX_EXPONENT:
        raise CostModelError(f"exponent {exponent:g} is too large (at most {MAX_EXPONENT})")
    return operator.pow(base, exponent)


BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _power}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne}
FUNCTIONS = {"min": min, "max": max, "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "abs": abs}
ALLOWED = "numbers, names, + - * / // % **, ( ), comparisons, and/or/not, if/else, " + ", ".join(FUNCTIONS)


def dotted_name(node) -> str | None:
    """``a.b.c`` for a Name or a chain of Attributes on a Name; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


@lru_cache(maxsize=4096)
def parse(expression: str, where: str = "expression") -> ast.Expression:
    """The checked syntax tree of an expression; a one-line :class:`CostModelError` when it is not one."""
    try:
        tree = ast.parse(str(expression).strip(), mode="eval")
    except SyntaxError:
        raise CostModelError(f"{where}: {expression!r} is not an arithmetic expression") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords:
                raise CostModelError(f"{where}: {expression!r} may hold only {ALLOWED}")
        elif isinstance(node, ast.Attribute):
            if dotted_name(node) is None:
                raise CostModelError(f"{where}: {expression!r} may hold only {ALLOWED}")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise CostModelError(f"{where}: {expression!r} may hold only {ALLOWED}")
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
                                   ast.Name, ast.Load, ast.And, ast.Or, *BINARY, *UNARY, *COMPARE)):
            raise CostModelError(f"{where}: {expression!r} may hold only {ALLOWED}")
    return tree


def names(expression: str, where: str = "expression") -> list[str]:
    """The names (dotted paths) an expression uses, each once; function names excluded."""
    out = []

    def visit(node):
        name = dotted_name(node)
        if name is not None:
            out.append(name)
            return
        if isinstance(node, ast.Call):
            for arg in node.args:
                visit(arg)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(parse(expression, where).body)
    return list(dict.fromkeys(out))


def evaluate(expression: str, resolve=None, where: str = "expression"):
    """The value of ``expression``: a float, or a bool for a comparison; ``resolve(name)`` gives a name's value."""
    tree = parse(expression, where)

    def lookup(name):
        if resolve is None:
            raise CostModelError(f"{where}: {expression!r} names {name!r}; only numbers are allowed here")
        return resolve(name)

    def ev(node):
        name = dotted_name(node)
        if name is not None:
            return lookup(name)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.BinOp):
            return BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            return UNARY[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Compare):
            left, result = ev(node.left), True
            for op, right_node in zip(node.ops, node.comparators):
                right = ev(right_node)
                result = result and COMPARE[type(op)](left, right)
                left = right
            return bool(result)
        if isinstance(node, ast.BoolOp):
            values = [bool(ev(v)) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        return float(FUNCTIONS[node.func.id](*[ev(a) for a in node.args]))  # parse() admits only these calls
    try:
        value = ev(tree.body)
    except ZeroDivisionError:
        raise CostModelError(f"{where}: {expression!r} divides by zero") from None
    except CostModelError as exc:
        if str(exc).startswith("exponent"):
            raise CostModelError(f"{where}: {expression!r}: {exc}") from None
        raise
    return value if isinstance(value, bool) else float(value)


def substitute(expression: str, show) -> str:
    """The expression's text with every name replaced by ``show(name)`` (for a worked line)."""
    text = str(expression).strip()
    tree = parse(text)
    spans = []

    def visit(node):
        if dotted_name(node) is not None:
            spans.append((node.col_offset, node.end_col_offset, dotted_name(node)))
            return
        for child in ast.iter_child_nodes(node):
            if not (isinstance(node, ast.Call) and child is node.func):
                visit(child)
    visit(tree.body)
    for start, end, name in sorted(spans, reverse=True):
        text = text[:start] + show(name) + text[end:]
    return text


def own_arithmetic(expression: str, where: str = "own_arithmetic") -> float:
    """The document's own arithmetic, numbers only (no names).

    >>> own_arithmetic("16 * 16 * 32 * 2 * 10240 * 2")
    335544320.0
    """
    value = evaluate(expression, None, where)
    if isinstance(value, bool):
        raise CostModelError(f"{where}: {expression!r} is a comparison, not a number")
    return value


def as_float(value, where: str) -> float:
    """``value`` as a float (bools refused); a one-line :class:`CostModelError` naming ``where`` otherwise."""
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise CostModelError(f"{where}: {value!r} is not a number") from None
