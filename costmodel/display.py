"""Numbers for readers: three significant digits, units in the headers, a dash for a missing value.

The library keeps full precision (SI floats, ``--json``); these helpers only shape what a table in the
book or the terminal shows. Whole numbers (counts, GPUs, batch sizes) print exactly.
"""

from __future__ import annotations

import math
import numbers
from html import escape

import pandas as pd

EMPTY = "—"
"""Shown for a missing value (None, NaN, an empty string)."""


def sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, with thousands separators and no exponent between 1e-4
    and 1e9: 5.152919 -> '5.15', 489554.454 -> '490,000', 0.0012345 -> '0.00123', 3e12 -> '3e+12'."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("-∞" if x < 0 else EMPTY)
    rounded = float(f"{x:.{digits}g}")
    magnitude = math.floor(math.log10(abs(rounded)))
    if magnitude >= 9 or magnitude < -4:
        return f"{rounded:.{digits - 1}e}"
    return f"{rounded:,.{max(digits - 1 - magnitude, 0)}f}"


def cell(value, digits: int = 3) -> str:
    """One table cell: :data:`EMPTY` for None / NaN / '', 'yes' / 'no' for booleans, whole numbers
    exactly, other numbers through :func:`sig`, anything else as text."""
    if value is None or value is pd.NA or (isinstance(value, str) and not value.strip()):
        return EMPTY
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return EMPTY
        return f"{int(v):,}" if v.is_integer() and abs(v) < 1e9 and digits >= len(str(int(abs(v)))) else sig(v, digits)
    return str(value)


def text_table(frame: pd.DataFrame, left=()) -> str:
    """Aligned plain text of a table of strings (as :func:`table` gives): the ``left`` columns aligned left,
    the others right, two spaces between columns, no trailing blanks."""
    cells = [[str(c) for c in frame.columns]] + [[str(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(frame.columns))]
    return "\n".join("  ".join(c.ljust(w) if name in left else c.rjust(w)
                                for c, w, name in zip(row, widths, frame.columns)).rstrip() for row in cells)


def table(frame: pd.DataFrame, digits: int = 3, index: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` with every cell formatted by :func:`cell` (text columns unchanged but
    for empty cells). Headers are kept as given: put the unit in them (``"TTFT (s)"``)."""
    out = frame.copy() if index else frame.reset_index(drop=True)
    for column in out.columns:
        out[column] = [cell(v, digits) for v in out[column]]
    return out


def html_table(frame: pd.DataFrame, css_class: str = "cm-table", digits: int = 3, index: bool = False) -> str:
    """``frame`` as a plain, deterministic HTML table (cells through :func:`cell`, numbers right-aligned,
    no ids, no inline data) wrapped in a scrolling ``div`` so a wide table never runs past the text column."""
    shown = table(frame, digits, index)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    right = ' style="text-align:right"'
    head = "".join(f"<th{right if n else ''}>{escape(str(c))}</th>" for c, n in zip(shown.columns, numeric))
    index_head = f"<th>{escape(str(frame.index.name or ''))}</th>" if index else ""
    body = []
    for label, row in zip(shown.index, shown.itertuples(index=False)):
        cells = "".join(f"<td{right if n else ''}>{escape(str(v))}</td>" for v, n in zip(row, numeric))
        body.append(f"<tr>{f'<th>{escape(str(label))}</th>' if index else ''}{cells}</tr>")
    return (f'<div class="{css_class}-wrap" style="overflow-x:auto"><table class="{css_class}">'
            f"<thead><tr>{index_head}{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


class ReaderTable(pd.DataFrame):
    """A DataFrame that keeps full precision but shows itself for readers: :func:`html_table` in a
    notebook or the book (CSS class ``cm-table``), and the same cells as aligned text in a console."""

    @property
    def _constructor(self):
        return ReaderTable

    def _repr_html_(self) -> str:
        return html_table(self)

    def __repr__(self) -> str:
        return table(pd.DataFrame(self)).to_string(index=False)
