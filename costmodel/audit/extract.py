"""Numeric claims of a plan document (Markdown or text): value, unit, range, verbatim quote, context.

:func:`read_document` splits a document into lines that know their section heading, the list
intro above them, whether they sit in a code block or a table; :func:`scan_numbers` finds every
number of a line with its unit (``64GB``, ``1.8TBps``, ``5000 tokens/ms``, ``~41GB``, ``1.2e9``) and
its range or bound (``2-3 s``, ``128-10240 tokens``, ``[128, 10240]``, ``≥80%``, ``<10 seconds``,
``4000+``); :func:`extract_claims` turns them into :class:`Claim` rows with a verbatim quote and the
words around the number. The parallel degrees (``EP=16``) are settings, read by :mod:`.settings`.

Numbers that are no claims are skipped by general rules: list enumerators, identifiers (``FP16``,
``H100``, ``Mixtral-8x7B``, dates), heading ordinals (``Issue 1``), setting values, and code that
is neither written arithmetic nor a setting. Units are the audit's unit vocabulary (``GB``, ``TB/s``,
``TFLOPS``, ``tokens/ms`` ...; see :data:`.dimensions.UNITS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dimensions import UNITS


_UNIT_WORDS = (
    (r"(?:(?:output|input|generated|prefill|decode) )?(?:tokens?\s*/\s*ms|tok\s*/\s*ms|tokens per milli ?second)",
     "tokens/ms"),
    (r"(?:(?:output|input|generated|prefill|decode) )?(?:tokens?\s*/\s*s(?:ec(?:ond)?)?|tok\s*/\s*s|tokens per second)",
     "tokens/s"),
    (r"tflop/s|tflops", "TFLOPS"), (r"pflop/s|pflops", "PFLOPS"),
    (r"gflop", "GFLOP"), (r"tflop", "TFLOP"), (r"pflop", "PFLOP"),
    (r"tb\s*/\s*s|tbps|tb/sec", "TB/s"), (r"gb\s*/\s*s|gbps|gb/sec", "GB/s"),
    (r"bytes? per param(?:eter)?", "bytes/param"),
    (r"gib", "GiB"), (r"mib", "MiB"), (r"gb", "GB"), (r"mb", "MB"), (r"kb", "KB"), (r"tb", "TB"),
    (r"bytes?", "bytes"),
    (r"milliseconds?|msec|ms", "ms"), (r"microseconds?|µs|μs|us", "us"), (r"seconds?|secs?|s", "s"),
    (r"%|percent", "%"), (r"×|x", "x"),
    (r"gpus?|cards?|devices?|npus?|accelerators?", "GPUs"),
    (r"b(?:illion)?", "B params"), (r"m(?:illion)?(?= *param)", "M params"), (r"t(?:rillion)?(?= *param)", "T params"),
)
_UNIT_RE = re.compile(r"(?P<sp>\s?)(?:" + "|".join(f"(?P<u{i}>{p})" for i, (p, _) in enumerate(_UNIT_WORDS)) +
                      r")(?![A-Za-z0-9_])", re.IGNORECASE)
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?"
_MAGNITUDE = {"k": 1e3, "K": 1e3, "M": 1e6}
"""``8K`` tokens, ``1.5M`` sequences."""
_NUM_AT = re.compile(rf"(?P<num>{_NUM})(?P<mag>[kKM](?![A-Za-z]))?")
_NUMBER_RE = re.compile(rf"(?<![\w.\-/−+])(?P<sign>[+\-−])?(?P<num>{_NUM})(?P<mag>[kKM](?![A-Za-z]))?")
_RANGE_SEP = re.compile(r"(?:[-–—~]|\s[–—]\s|\s+to\s+)(?=\d)")
_BOUNDS = (
    (re.compile(r"(?<![<>])(?:<|≤|<=|=<|\bunder|\bbelow|\bat most|\bup to|\bmax(?:imum)?:?|\bwithin|\bno more than)"
                r"\s*[~≈]?\s*$", re.I), "max"),
    (re.compile(r"(?<![<>])(?:>|≥|>=|=>|\bat least|\bover|\babove|\bmin(?:imum)?:?|\bexceeds?|\bmore than)"
                r"\s*[~≈]?\s*$", re.I), "min"),
)
_APPROX = re.compile(r"(?:~|≈|\babout|\bapprox\.?|\bapproximately|\baround|\broughly)\s*$", re.I)
_REFERENCE = re.compile(r"(?:\bof|<<|>>|\bvs\.?|\bversus|\bthan|\bfrom|\btarget:?|\blimit:?|\brequirement:?|"
                        r"\bexceed(?:s|ing)?|\bagainst|\bmeets?|\bbeats?)"
                        r"\s*[~≈<>≤≥]*\s*$", re.I)
_ORDINAL = re.compile(r"(?:issue|phase|step|option|section|part|appendix|figure|table|item|priority|version|"
                      r"scenario|plan|stage|rank|node|#)\s*$", re.I)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_DEGREE_KEYS = r"tp|ep|pp|dp|etp|sp|cp|edp"
DEGREE_RE = (
    re.compile(rf"(?<![\w-])(?P<key>{_DEGREE_KEYS})(?:[ _-]?(?:degree|size))?\s*(?:=|:|\s)\s*(?P<val>\d+)"
               r"(?![\w.]|\s*[×x*÷/])", re.I),
    re.compile(rf"\((?P<key>{_DEGREE_KEYS})\)\s*(?:degree)?\s*[:=]\s*(?P<val>\d+)(?![\w.])", re.I),
    re.compile(rf"(?<![\w-])(?P<key>{_DEGREE_KEYS})(?P<val>\d+)(?![\w.])"),
)


@dataclass
class Line:
    """One line of the document and where it sits."""

    number: int  # 1-based
    start: int  # offset of the line in the text
    text: str
    section: str = ""  # nearest heading above (or this heading)
    sections: tuple = ()  # heading path, outermost first
    intro: str = ""  # the line that introduces the list this line belongs to
    code: bool = False
    heading: bool = False
    table_header: tuple = ()  # column headers when the line is a table row


@dataclass
class Number:
    """A number as written on a line: offsets in the line, value(s) in ``unit``."""

    start: int
    end: int  # after the unit (or range)
    lo: float
    hi: float
    unit: str  # a key of UNITS, or "" when none was written
    noun: str  # the word right after a bare number ("layers", "heads")
    bound: str = "="  # "=", "approx", "min", "max", "range"


@dataclass
class Claim:
    """A number stated in the document, with where it is and the words around it."""

    id: str
    line: int
    start: int  # offset of the number in the document
    end: int
    raw: str  # the number as written, with its unit
    lo: float
    hi: float
    bound: str
    unit: str
    noun: str
    quote: str  # verbatim: text[quote_start:quote_start + len(quote)] == quote
    quote_start: int
    key: str  # the words before the number on its line (the label)
    after: str  # the words after the number up to the end of its clause
    section: str
    sections: tuple
    intro: str
    code: bool
    column: str = ""  # table column header, when in a table
    row_label: str = ""
    reference: bool = False  # "of 64GB", "<< 64GB", "10s requirement": a number the line compares against
    operand: bool = False  # an operand of the document's own arithmetic
    arithmetic: str | None = None  # the document's own expression for this value (numbers in place)
    arithmetic_value: float | None = None  # its value, in ``unit``
    arithmetic_holds: bool | None = None
    arithmetic_expr: str | None = None  # the same in numbers only, evaluating to the value in ``unit``
    first_operand: bool = False  # the first number of an expression, with words of its own ("0.5GB per expert ×")
    chain_head: str = ""  # the words before the first '=' of the chain this number ends (``KV_cache_size =``)
    notes: list = field(default_factory=list)

    @property
    def dimension(self) -> str:
        return UNITS[self.unit][0] if self.unit in UNITS else "count"

    def claimed(self):
        """The claimed value in the ledger's form: a number, [lo, hi], {min: x} or {max: x}."""
        if self.bound == "min":
            return {"min": tidy(self.lo)}
        if self.bound == "max":
            return {"max": tidy(self.hi)}
        if self.lo != self.hi:
            return [tidy(self.lo), tidy(self.hi)]
        return tidy(self.lo)


def tidy(x: float):
    """An int when the float is whole (for YAML and JSON), else the float."""
    return int(x) if float(x).is_integer() and abs(x) < 1e15 else float(x)


def read_document(text: str) -> list[Line]:
    """The document's lines with headings, list intros, code blocks and table headers resolved."""
    lines, offset, heads, in_code, intro, header, nested = [], 0, [], False, "", (), []
    for i, raw in enumerate(text.split("\n"), start=1):
        line = Line(i, offset, raw)
        offset += len(raw) + 1
        stripped = raw.strip()
        if _FENCE.match(raw):
            in_code, line.code = not in_code, True
        elif in_code:
            line.code = True
        else:
            m = _HEADING.match(raw)
            if m:
                level = len(m.group(1))
                heads = [h for h in heads if h[0] < level] + [(level, m.group(2).strip())]
                line.heading, intro, nested = True, "", []
            if stripped.startswith("|"):
                cells = split_cells(stripped)
                if not header:
                    header = tuple(cells)
                elif not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                    line.table_header = header
            else:
                header = ()
            if _LIST.match(raw):
                indent = len(raw) - len(raw.lstrip())
                while nested and nested[-1][0] >= indent:
                    nested.pop()
                line.intro = nested[-1][1] if nested else intro
                if stripped.rstrip("*").rstrip().endswith(":"):
                    nested.append((indent, stripped))
            elif stripped and not line.heading:
                intro, nested = (stripped if stripped.rstrip("*").rstrip().endswith(":") else ""), []
        line.sections = tuple(h for _, h in heads)
        line.section = heads[-1][1] if heads else ""
        lines.append(line)
    return lines


def split_cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def plain(s: str) -> str:
    """Markdown emphasis (``*``, ``**``) and backticks as spaces: same length, so offsets stay valid."""
    return re.sub(r"\*{1,3}|`", lambda m: " " * len(m.group()), s)


def _unit_at(s: str, pos: int) -> tuple[str, int, str]:
    """(unit, end, noun) of what follows a number ending at s[pos]."""
    m = _UNIT_RE.match(s, pos)
    if m:
        for i, (_, unit) in enumerate(_UNIT_WORDS):
            word = m.group(f"u{i}")
            if word is None:
                continue
            rest = s[m.end():]
            if unit == "x" and re.match(r"\s*[\d(]", rest):
                break  # "16 x 2", "2 × (K+V)": an operator
            if unit == "B params" and re.match(r"\s*(?:bytes?|B\b)", rest):
                break
            return unit, m.end(), ""
    n = re.match(r"\s?([A-Za-z][A-Za-z-]*)", s[pos:])
    return "", pos, (n.group(1).lower() if n else "")


def _value(m: re.Match) -> float:
    """The number of a match with ``num`` and ``mag`` groups: ``10,240`` -> 10240, ``8K`` -> 8000."""
    return float(m.group("num").replace(",", "")) * _MAGNITUDE.get(m.group("mag") or "", 1)


def scan_numbers(s: str) -> list[Number]:
    """Every number of one line (markup already blanked) with its unit, range and bound."""
    out, pos = [], 0
    for m in _NUMBER_RE.finditer(s):
        if m.start() < pos:
            continue
        a, b = m.start("num"), m.end()
        if re.search(r"[A-Za-z_][-.]?$", s[:a]):
            continue  # "FP16", "Qwen3-235B", "H100"
        lo = hi = _value(m)
        if m.group("sign") in ("-", "−") and not re.search(r"[\d)]\s*$", s[:m.start()]):
            lo = hi = -lo
        unit, end, noun = _unit_at(s, b)
        bound = "="
        r = _RANGE_SEP.match(s, end)
        if r:
            m2 = _NUM_AT.match(s, r.end())
            if re.match(r"[-–]\d", s[m2.end():]) or re.search(r"\d[-–]$", s[:m.start()]):
                pos = m2.end()
                continue  # a chain of numbers joined by dashes: a date or an identifier
            unit2, end2, noun2 = _unit_at(s, m2.end())
            if unit2 == unit or not unit or (not unit2 and not noun2):
                hi = _value(m2)
                unit, end, noun, bound = unit or unit2, max(end2, m2.end()), noun2 or noun, "range"
        if bound == "=" and re.search(r"\[\s*$", s[:m.start()]):
            m3 = re.match(rf"\s*,\s*({_NUM})\s*\]", s[end:])
            if m3:
                hi, bound, end = float(m3.group(1).replace(",", "")), "range", end + m3.end()
                unit, _, noun = _unit_at(s, end)
        if s[end:end + 1] == "+" and not re.match(r"\+\s*[\d(]", s[end:]):
            bound, end = "min", end + 1
            if not unit:
                unit, end, noun = _unit_at(s, end)
        if re.match(r"[A-Za-z0-9_]", s[end:end + 1]) or (s[end:end + 1] in ".-" and re.match(r".\w", s[end:])):
            if not (s[end:end + 1] == "-" and noun == ""):
                pos = end
                continue  # "8x7B", "4-node": part of a word
        before = s[:m.start()]
        if bound == "=":
            for pattern, kind in _BOUNDS:
                if pattern.search(before):
                    bound = kind
        if bound == "=" and _APPROX.search(before):
            bound = "approx"
        lo, hi = min(lo, hi), max(lo, hi)
        out.append(Number(m.start() if m.group("sign") in ("+",) else a, end, lo, hi, unit, noun, bound))
        pos = end
    return out


def _segment(s: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the clause around s[start:end]: split at ( ) [ ] ; | → and sentence ends."""
    stops = r"[()\[\];|→]|[.!?](?=\s)|,\s(?=[^\d]*\d)|\s[-–—]\s"
    left = max([m.end() for m in re.finditer(stops, s[:start])] + [0])
    m = re.search(stops, s[end:])
    right = end + m.start() if m else len(s)
    return left, right


def _quote(text: str, left: int, right: int) -> tuple[int, str]:
    """The verbatim clause text[left:right] without list markers and loose emphasis at its ends."""
    piece = text[left:right]
    if left == 0:
        lead = _LIST.match(piece)
        if lead:
            left, piece = left + lead.end(), piece[lead.end():]
    strip = len(piece) - len(piece.lstrip(" \t>#|:,✓✅"))
    left, piece = left + strip, piece[strip:].rstrip(" \t|:,")
    if piece.count("**") % 2:
        if piece.startswith("**"):
            left, piece = left + 2, piece[2:].lstrip()
        elif piece.endswith("**"):
            piece = piece[:-2].rstrip()
        else:
            cut = piece.find("**")
            left, piece = left + cut + 2, piece[cut + 2:].lstrip()
    return left, piece


def _is_degree(s: str, a: int, b: int) -> bool:
    return any(m.start("val") == a and m.end("val") == b for p in DEGREE_RE for m in p.finditer(s))


def _inherit_units(s: str, numbers: list[Number]) -> None:
    """A bare number compared with a number that has a unit takes its unit: ``4000+ >> 100 tokens/ms``,
    ``533 tokens/s > 500 target``."""
    for a, b in zip(numbers, numbers[1:]):
        if re.fullmatch(r"[A-Za-z /]{0,20}?\s*(?:<<|>>|<=|>=|[<>≤≥]|vs\.?)\s*", s[a.end:b.start]):
            if a.unit and not b.unit:
                b.unit, b.noun = a.unit, ""
            elif b.unit and not a.unit:
                a.unit, a.noun = b.unit, ""


def line_numbers(ln: Line) -> list[Number]:
    """The claim-bearing numbers of a line: no enumerators, ordinals, degree settings or code settings."""
    if _FENCE.match(ln.text):
        return []
    s = plain(ln.text) if not ln.code else ln.text
    if ln.code and not (re.match(r"\s*=", s) or re.search(r"[×*/÷]\s*[\d(].*=|=.*\d\s*[×*/÷]", s)):
        return []  # code: only written arithmetic carries claims
    enum = _LIST.match(s)
    out = []
    numbers = scan_numbers(s)
    _inherit_units(s, numbers)
    symbolic = [m.span() for m in re.finditer(r"[^=]+", s)  # "= 2 × num_layers × ...": names, not numbers
                if ln.code and re.search(r"[A-Za-z_]\w*\s*[×*/÷+]|[×*/÷+]\s*[A-Za-z_]", m.group())]
    for n in numbers:
        if any(a <= n.start < b for a, b in symbolic):
            continue
        if enum and n.start < enum.end() and re.match(r"\d+[.)]", s[n.start:enum.end()].strip()):
            continue
        if ln.heading and _ORDINAL.search(s[:n.start]):
            continue
        if re.search(r"\d{4}-\d{2}-\d{2}", s) and re.search(r"generated|date|updated", s, re.I):
            continue
        if _is_degree(s, n.start, n.end):
            continue
        out.append(n)
    return out


def extract_claims(text: str, lines: list[Line] | None = None) -> list[Claim]:
    """Every numeric claim of a document, in reading order, with ids N01, N02 ..."""
    lines = lines if lines is not None else read_document(text)
    claims: list[Claim] = []
    for ln in lines:
        s = plain(ln.text) if not ln.code else ln.text
        cells = split_cells(ln.text) if ln.table_header else []
        line_numbers_cache = line_numbers(ln)
        for n in line_numbers_cache:
            left, right = _segment(s, n.start, n.end)
            qleft, quote = _quote(ln.text, left, right)
            if not quote.strip() or n.start < qleft or n.end > qleft + len(quote):
                qleft, quote = n.start, ln.text[n.start:n.end]
            before = s[:n.start]
            column = row_label = ""
            if ln.table_header:
                idx = before.count("|") - 1
                column = ln.table_header[idx] if 0 <= idx < len(ln.table_header) else ""
                row_label = cells[0] if cells else ""
                before = before[before.rfind("|") + 1:]
            after = s[n.end:right]
            following = [x.start for x in line_numbers_cache if x.start >= n.end]
            if following and n.end + len(after) > following[0]:
                nxt = next(x for x in line_numbers_cache if x.start == following[0])
                after = s[n.end:nxt.end if re.search(r"\bof\s*$", s[n.end:nxt.start]) else nxt.start]
            reference = bool(_REFERENCE.search(s[:n.start]) or
                             re.match(r"\s*(?:gpu memory\s+)?(?:limit|requirement|target|budget|capacity)\b", after,
                                      re.I))
            claims.append(Claim(
                id="", line=ln.number, start=ln.start + n.start, end=ln.start + n.end,
                raw=ln.text[n.start:n.end].strip(), lo=n.lo, hi=n.hi, bound=n.bound, unit=n.unit, noun=n.noun,
                quote=quote, quote_start=ln.start + qleft, key=" ".join(before.split()), after=" ".join(after.split()),
                section=ln.section, sections=ln.sections, intro=ln.intro, code=ln.code, column=column,
                row_label=row_label, reference=reference))
    for i, c in enumerate(claims, start=1):
        c.id = f"N{i:02d}"
    return claims


__all__ = ["Claim", "Line", "Number", "DEGREE_RE", "read_document", "scan_numbers", "line_numbers",
           "extract_claims", "plain", "split_cells", "tidy"]
