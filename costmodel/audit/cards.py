"""What a reader sees of an audit: claim cards, the findings and scenario tables, the readings list.

Each view renders as HTML in JupyterLab and in the book (a real table with a CSS class: ``cm-card``,
``cm-table``, ``cm-readings``; deterministic, no ids) and as readable text in a console. Numbers show
three or four significant digits and ``—`` for nothing; full precision stays in the rows and ``--json``.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from ..display import EMPTY, ReaderTable, cell, sig
from .dimensions import UNITS, in_unit, number
from .ledger import load_ledger
from .rows import audit_claim
from .verdicts import factor_text


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def claimed_text(claimed, unit: str) -> str:
    """A claimed value as the document states it: ``12.1 GB``, ``2 to 3 s``, ``at least 4000 tokens/ms``."""
    if isinstance(claimed, bool):
        return "asserted" if claimed else "denied"
    if isinstance(claimed, list):
        return f"{claimed[0]:g} to {claimed[1]:g} {unit}"
    if isinstance(claimed, dict):
        ((k, v),) = claimed.items()
        return f"{'at least' if k == 'min' else 'at most'} {v:g} {unit}"
    return f"{claimed:g} {unit}"


class ClaimCard:
    """One audited claim for a notebook cell: an HTML table (class ``cm-card``), text in a console."""

    FIELDS = (("quote", "quote"), ("where", "where"), ("scenario", "scenario"), ("claimed", "claimed"),
              ("own", "document's arithmetic"), ("recomputed", "cost model"), ("worked", "worked"),
              ("verdict", "verdict"), ("reason", "reason"), ("readings", "other readings"),
              ("every", "across readings"))

    def __init__(self, row: dict):
        self.row = row

    def items(self) -> list[tuple[str, str]]:
        """(label, text) pairs of the card, empty ones left out."""
        r = self.row
        unit, value = r["unit"], r["recomputed"]
        own = "" if r["own_arithmetic"] is None else f"{r['own_arithmetic']} = {number(r['own_value'])} {unit}"
        if isinstance(value, bool):
            rec = ("holds" if value else "does not hold") if r["unit"] == "bool" and r["basis"] in (
                "concept", "rule") else str(value).lower()
        elif value is None:
            rec = "not determined by the inputs"
        else:
            rec = in_unit(value * UNITS[unit][1], unit, 3)
        verdict_text = r["verdict"].upper()
        if not _missing(r["factor"]) and r["verdict"] != "correct":
            verdict_text += f" (claimed / recomputed = x{factor_text(r['factor'])})"
        readings = "; ".join(
            f"{name}: {v['verdict']}" + ("" if v["recomputed"] is None or isinstance(v["recomputed"], bool)
                                          else f" ({number(v['recomputed'], 3)} {unit})")
            for name, v in r["readings"].items())
        values = {"quote": r["quote"], "where": f"line {r['line']}, {r['section']}",
                  "scenario": f"{r['scenario']} ({r['plan']})", "claimed": claimed_text(r["claimed"], unit),
                  "own": own, "recomputed": rec, "worked": "" if r["worked"] in r["reason"] else r["worked"],
                  "verdict": verdict_text, "reason": r["reason"], "readings": readings,
                  "every": r.get("every_reading", "")}
        return [(label, values[key]) for key, label in self.FIELDS if values[key]]

    @property
    def title(self) -> str:
        return f"{self.row['claim_id']} · {self.row['quantity']}"

    def __repr__(self) -> str:
        return "\n".join([self.title] + [f"{label}: {value}" for label, value in self.items()])

    def _repr_html_(self) -> str:
        verdict = escape(self.row["verdict"])
        rows = "".join(
            f'<tr><th scope="row" style="text-align:left;vertical-align:top;white-space:nowrap">{escape(label)}</th>'
            f'<td style="text-align:left"{f" class=cm-verdict-{verdict}" if label == "verdict" else ""}>'
            f"{f'<strong>{escape(value)}</strong>' if label == 'verdict' else escape(value)}</td></tr>"
            for label, value in self.items())
        return (f'<table class="cm-card cm-card-{verdict}"><thead><tr><th colspan="2" style="text-align:left">'
                f"{escape(self.title)}</th></tr></thead><tbody>{rows}</tbody></table>")


def claim_card(ref, claim_id: str) -> ClaimCard:
    """The audited claim as a card for a notebook: quote, claimed, own arithmetic, worked line, verdict."""
    return ClaimCard(audit_claim(ref, claim_id))


def _reader_value(v) -> str:
    """A recomputed value in a table: booleans as true / false, whole numbers exactly, else 3 digits."""
    if isinstance(v, bool):
        return str(v).lower()
    if not _missing(v) and float(v).is_integer() and abs(v) < 1e9:
        return f"{int(v):,}"
    return cell(v)


UNITLESS = ("", "bool", "count")
"""Claim units a findings table does not write after a value (a yes/no or a plain count)."""


def _with_unit(text: str, unit) -> str:
    return text if text == EMPTY or _missing(unit) or unit in UNITLESS else f"{text} {unit}"


def findings_table(df: pd.DataFrame) -> ReaderTable:
    """One line per claim: id, quote (shortened), claimed and recomputed (3 significant digits) each with its
    unit, factor, verdict; six columns, so the verdict fits the book's column at 1280 px."""
    out = pd.DataFrame({
        "claim": df["claim_id"],
        "quote": [q if len(q) <= 60 else q[:57] + "..." for q in df["quote"]],
        "claimed": [_with_unit(claimed_text(c, "").strip(), u) if not isinstance(c, bool) else str(c).lower()
                    for c, u in zip(df["claimed"], df["unit"])],
        "recomputed": [_with_unit(_reader_value(r), u) for r, u in zip(df["recomputed"], df["unit"])],
        "claimed / recomputed": [EMPTY if _missing(f) else f"x{factor_text(f)}" for f in df["factor"]],
        "verdict": df["verdict"],
    })
    return ReaderTable(out.reset_index(drop=True))


def scenario_table(ref) -> ReaderTable:
    """The scenarios of a ledger: plan, workload and the reading that maps the document onto it."""
    rows = []
    for sc in load_ledger(ref)["scenarios"].values():
        p, wl = sc.plan, sc.workload
        rows.append({"scenario": sc.name, "model": sc.model.id, "plan": p.label(), "GPUs": p.gpus, "B": wl.batch,
                     "S_in": wl.input_len, "S_out": wl.output_len, "throughput reading": sc.throughput_reading,
                     "reading": sc.reading})
    return ReaderTable(rows)


class Readings:
    """The scenarios of a ledger as a list: plan, GPUs, workload and the words that justify the reading."""

    def __init__(self, ref):
        self.scenarios = list(load_ledger(ref)["scenarios"].values())

    def lines(self) -> list[tuple[str, str]]:
        out = []
        for sc in self.scenarios:
            wl = sc.workload
            model = sc.model.id + (f" ({sig(sc.model.params_total / 1e9)} B params)" if "@" in sc.model.id else "")
            out.append((sc.name, f"{sc.plan.label()} = {sc.plan.gpus} GPUs; {model}; B {wl.batch}, S_in "
                                 f"{wl.input_len}, S_out {wl.output_len}, {wl.weight_dtype}; throughput read as "
                                 f"{sc.throughput_reading} tokens. {sc.reading}"))
        return out

    def __repr__(self) -> str:
        return "\n".join(f"{name}: {text}" for name, text in self.lines())

    def _repr_html_(self) -> str:
        items = "".join(f"<li><strong>{escape(name)}</strong>: {escape(text)}</li>" for name, text in self.lines())
        return f'<ul class="cm-readings">{items}</ul>'


def scenario_readings(ref) -> Readings:
    """The ledger's scenarios with their readings, for a notebook cell."""
    return Readings(ref)
