"""Numbers for readers: three significant digits, units in the headers, a dash for a missing value.

The library keeps full precision (SI floats, ``--json``); these helpers only shape what a table in the
book or the terminal shows. Whole numbers (counts, GPUs, batch sizes) print exactly.
"""

from __future__ import annotations

import math
import numbers
import re
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


COLUMN_WIDTH_CHARS = 82
"""The book's text column at a 1280-pixel window (688 px) in table characters (0.85em of a 16 px sans font,
about 8.2 px a character), less the padding of the cells (:func:`min_width_chars`)."""

FOLD_MAX_ROWS = 20
"""Tables of more rows are not folded: their second part would start a screen or more below the first, further
from the reader than a sideways scroll."""

WORD_BREAK = re.compile(r"\s+|(?<=-)")
"""Where a browser may break a cell's text: at spaces and after a hyphen."""


def min_width_chars(column: str, cells) -> int:
    """The narrowest a column can be laid out, in characters: its longest unbreakable word (header or cell,
    split at :data:`WORD_BREAK`) plus 2 characters of cell padding (0.45em a side, rounded up)."""
    words = [w for text in [str(column), *map(str, cells)] for w in WORD_BREAK.split(text)]
    return max(map(len, words), default=0) + 2


def column_parts(shown: pd.DataFrame, numeric: list[bool], budget: int = COLUMN_WIDTH_CHARS) -> list[list[int]]:
    """Column positions of each part of a table folded to fit ``budget`` characters: one part when it fits or
    has more than :data:`FOLD_MAX_ROWS` rows; else its leading text columns (its row labels, while they take at
    most half the budget) head every part and the other columns fill the parts in order, as many as fit (at
    least one a part)."""
    widths = [min_width_chars(c, shown[c]) for c in shown.columns]
    if sum(widths) <= budget or len(shown) > FOLD_MAX_ROWS:
        return [list(range(len(widths)))]
    keys = []
    for i, is_number in enumerate(numeric):
        if is_number or sum(widths[j] for j in keys) + widths[i] > budget // 2 or i == len(widths) - 1:
            break
        keys.append(i)
    keys = keys or [0]
    parts, room = [], budget - sum(widths[j] for j in keys)
    for i in range(len(widths)):
        if i in keys:
            continue
        if not parts or sum(widths[j] for j in parts[-1]) + widths[i] > room:
            parts.append([])
        parts[-1].append(i)
    return [keys + part for part in parts]


def html_table(frame: pd.DataFrame, css_class: str = "cm-table", digits: int = 3, index: bool = False) -> str:
    """``frame`` as a plain, deterministic HTML table (cells through :func:`cell`, numbers right-aligned,
    no ids, no inline data). A table wider than the book's text column is folded into consecutive tables
    that repeat its row labels (:func:`column_parts`); each sits in a scrolling ``div`` as a last resort."""
    shown = table(frame, digits, index)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    right = ' style="text-align:right"'
    index_head = f"<th>{escape(str(frame.index.name or ''))}</th>" if index else ""
    tables = []
    for part in column_parts(shown, numeric) if len(shown.columns) else [[]]:
        head = "".join(f"<th{right if numeric[i] else ''}>{escape(str(shown.columns[i]))}</th>" for i in part)
        body = []
        for label, row in zip(shown.index, shown.itertuples(index=False)):
            cells = "".join(f"<td{right if numeric[i] else ''}>{escape(str(row[i]))}</td>" for i in part)
            body.append(f"<tr>{f'<th>{escape(str(label))}</th>' if index else ''}{cells}</tr>")
        tables.append(f'<div class="{css_class}-wrap" style="overflow-x:auto"><table class="{css_class}">'
                      f"<thead><tr>{index_head}{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
    return "".join(tables)


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
