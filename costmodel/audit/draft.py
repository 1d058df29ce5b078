"""An automatic first audit of a plan document the workbook has never seen.

``costmodel audit my_plan.md`` runs :func:`draft_audit`: every numeric claim of the document
(:mod:`.extract`), its own written arithmetic recomputed (:mod:`.docmath`), the claims mapped onto the
audit's quantities by rules (:mod:`.mapping`), the document's configuration read into scenarios
(:mod:`.docconfig`), and a verdict by the audit's rules (:mod:`.verdicts`) for every mapped claim. A claim
no rule maps is listed as ``unmapped`` with its reason, never given a guessed verdict; one whose written
arithmetic does not give its value is ``inconsistent`` even unmapped (the document contradicts itself).

Rows carry ``doc, claim_id, quote, line, quantity, claimed, unit, recomputed, verdict, reason, mapped_by``
(``rule``; ``ledger`` when a ledger maps the claim, see :mod:`.draftledger`) and the scenario, basis,
own arithmetic, worked line and factor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..units import CostModelError
from .docconfig import MODEL_FIELDS, Config, claim_phase, read_config
from .docmath import check_arithmetic
from .extract import Claim, extract_claims, read_document, tidy
from .ledger import check_claim as validate_claim
from .mapping import map_claim
from .rows import claim_row
from .scenario import build_scenario
from .settings import extract_settings
from .verdicts import DEFAULT_TOLERANCE, VERDICTS

UNMAPPED = "unmapped"
"""The verdict column of a claim no rule maps (not a verdict of the house vocabulary)."""
ROW_KEYS = ("doc", "claim_id", "quote", "line", "section", "scenario", "quantity", "basis", "claimed", "unit",
            "recomputed", "own_arithmetic", "own_value", "worked", "factor", "verdict", "reason", "mapped_by")
THROUGHPUT_QUANTITIES = ("throughput_per_gpu", "throughput_total", "meets_throughput")
"""Quantities that also get the other reading of "tokens/s per GPU" (prefill input tokens)."""
INPUT_READING = "{}_input_reading"
READ_FROM_DOCUMENT = (*MODEL_FIELDS, "model.params_total", "hardware.", "efficiency.", "workload.", "requirements.",
                      "gpus_total")
"""Quantities the scenario reads from the document: a claim that disagrees contradicts the document's own
statement of it (basis ``input``, so the verdict rules call it ``inconsistent``)."""
DEGREE = re.compile(r"\b(TP|EP|PP)\s*=?\s*(\d+)\b")
DTYPE_WORDS = re.compile(r"\b(fp4|nvfp4|mxfp4|fp8|int8|bf16|fp16|fp32|tf32)\b", re.I)


@dataclass
class Draft:
    """The automatic first audit of one document."""

    doc: str
    path: Path
    text: str
    claims: list
    config: Config
    scenarios: dict
    rows: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    specs: dict = field(default_factory=dict)
    reading_verdicts: dict = field(default_factory=dict)
    """claim id -> {other reading: verdict}, for the drafted ledger's ``expected_readings``."""


def read_plan(path) -> str:
    """The text of a plan document; a one-line error for a missing, binary, non-UTF-8 or empty file."""
    p, shown = Path(path), repr(str(path)) if len(str(path)) <= 80 else repr(str(path)[:77] + "...")
    try:
        if not p.is_file():
            raise CostModelError(f"audit: {shown}: no such file")
        data = p.read_bytes()
    except OSError as exc:
        raise CostModelError(f"audit: {shown}: cannot read ({exc.strerror})") from None
    if b"\x00" in data[:65536]:
        raise CostModelError(f"audit: {shown} is a binary file, not a plan document (Markdown or text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CostModelError(f"audit: {shown} is not UTF-8 text (Markdown or plain text expected)") from None
    if not text.strip():
        raise CostModelError(f"audit: {shown} is empty")
    return text


def unique_quote(text: str, c: Claim) -> str:
    """The claim's quote, widened to its whole line when the clause appears more than once in the document."""
    if text.count(c.quote) <= 1:
        return c.quote
    start = text.rfind("\n", 0, c.start) + 1
    end = text.find("\n", c.start)
    line = text[start:end if end >= 0 else len(text)].strip()
    line = re.sub(r"^(?:[-*+•]|\d+[.)])\s+", "", line)
    return line if line and text.count(line) == 1 else c.quote


def is_claim(c: Claim) -> bool:
    """Operands restate inputs (``× 16``, ``93.4GB / 8``): the claim is the result they give; only a first
    operand with a unit and words of its own is a claim too (``~0.5GB per expert × 16 layers``)."""
    return not c.operand or (c.first_operand and bool(c.unit))


def draft_audit(path) -> Draft:
    """The automatic first audit of a plan document (see the module docstring)."""
    path = Path(path)
    text = read_plan(path)
    lines = read_document(text)
    claims = extract_claims(text, lines)
    checks = check_arithmetic(lines, claims)
    maps = {c.id: map_claim(c) for c in claims}
    config = read_config(text, claims, maps, extract_settings(text, lines))
    specs = {}
    for name, spec in config.specs.items():
        specs[name] = {**spec, "throughput_reading": "output"}
        specs[INPUT_READING.format(name)] = {**spec, "throughput_reading": "input",
                                             "reading": "as " + name + ", with tokens/s per GPU read as prefill input"}
    scenarios = {name: build_scenario(name, spec, f"document {path.name}") for name, spec in specs.items()}
    draft = Draft(re.sub(r"\W+", "_", path.stem), path, text, claims, config, scenarios, checks=checks, specs=specs)
    ledger = {"doc": draft.doc, "path": path, "scenarios": scenarios, "quantities": {}}
    draft.rows = [claim_row_or_unmapped(draft, ledger, c, maps[c.id]) for c in claims if is_claim(c)]
    return draft


def scenario_of(c: Claim, scenarios: dict) -> str | None:
    """The scenario a claim is judged in: its pool's (prefill / decode) when it names one, else ``main``."""
    phase = claim_phase(c)
    if phase in scenarios:
        return phase
    return "main" if "main" in scenarios else None


def ledger_claim(draft: Draft, c: Claim, quantity: str, basis: str, scenario: str) -> dict:
    """The claim in the ledger's form (what --write-ledger writes and the verdict rules read)."""
    out = {"id": c.id, "quote": unique_quote(draft.text, c), "scenario": scenario, "quantity": quantity,
           "claimed": c.claimed(), "unit": c.unit or "count", "basis": basis}
    if c.arithmetic_expr is not None:
        out["own_arithmetic"] = c.arithmetic_expr
    if quantity in THROUGHPUT_QUANTITIES and INPUT_READING.format(scenario) in draft.scenarios:
        out["readings"] = {INPUT_READING.format(scenario): None}
    return out


def claim_row_or_unmapped(draft: Draft, ledger: dict, c: Claim, m) -> dict:
    """The row of one claim: judged by the audit's rules when mapped and a scenario exists, else unmapped."""
    base = {"doc": draft.doc, "claim_id": c.id, "quote": c.quote, "line": c.line, "section": c.section,
            "scenario": None, "quantity": None, "basis": None, "claimed": c.claimed(), "unit": c.unit or "count",
            "recomputed": None, "own_arithmetic": c.arithmetic, "own_value": c.arithmetic_value, "worked": "",
            "factor": None, "verdict": UNMAPPED, "reason": m.reason, "mapped_by": None}
    scenario = scenario_of(c, draft.scenarios)
    if m.quantity is not None and scenario is None:
        base["reason"] = f"{m.reason}; no scenario: " + "; ".join(draft.config.missing)
    if m.quantity is None or scenario is None:
        if c.arithmetic_holds is False:
            base.update(quantity="own_arithmetic", verdict="inconsistent", mapped_by="rule",
                        reason=f"its own arithmetic {c.arithmetic} gives {tidy(round(c.arithmetic_value, 6))} "
                               f"{c.unit}, not the written value; {m.reason}")
        return base
    plan = draft.specs[scenario]["plan"]
    other = [f"{k}={v}" for k, v in DEGREE.findall(f"{c.column} {c.quote}") if plan.get(k.lower(), 1) != int(v)]
    if other:
        base["reason"] = f"{m.reason}; about another plan ({', '.join(other)}), not the scenario's {scenario}"
        return base
    named = {w.lower() for w in DTYPE_WORDS.findall(c.quote)}
    dtype = draft.scenarios[scenario].workload.weight_dtype
    if c.dimension == "flops/s" and named and dtype not in named:
        base["reason"] = f"{m.reason}; stated for {', '.join(sorted(named))}, while the scenario computes in {dtype}"
        return base
    basis = "input" if m.quantity.startswith(READ_FROM_DOCUMENT) and m.basis != "estimate" else m.basis
    claim = ledger_claim(draft, c, m.quantity, basis, scenario)
    try:
        checked = check_claim(claim, ledger, draft.text)
        row = claim_row(ledger, checked)
    except CostModelError as exc:
        base["reason"] = f"{m.reason}; not judged: {exc}"
        return base
    draft.reading_verdicts[c.id] = {name: r["verdict"] for name, r in row["readings"].items()}
    row = {k: row.get(k) for k in ROW_KEYS if k in row}
    row.update(line=c.line, quote=c.quote, own_arithmetic=c.arithmetic, mapped_by="rule", reason=f"{row['reason']}; "
               f"{m.reason}" + (f"; {'; '.join(c.notes)}" if c.notes else ""))
    if c.arithmetic_holds is False and row["verdict"] != "correct":
        row["verdict"] = "inconsistent"
        row["reason"] = f"its own arithmetic {c.arithmetic} gives {tidy(round(c.arithmetic_value, 6))} {c.unit}; " \
            + row["reason"]
    return {**base, **row}


def check_claim(claim: dict, ledger: dict, text: str) -> dict:
    """The ledger's claim validation, with the verdict left open (``expected`` is what a ledger pins)."""
    open_readings = {name: "correct" for name in claim.get("readings") or {}}
    out = validate_claim({**claim, "expected": "correct", "expected_readings": open_readings}, 0,
                         f"document {ledger['path'].name}", text, ledger["scenarios"], DEFAULT_TOLERANCE, set(),
                         ledger["quantities"])
    out["expected"], out["expected_readings"] = None, {name: None for name in open_readings}
    return out


def draft_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict, ``unmapped`` last, with the total: one row per document."""
    cols = [*VERDICTS, UNMAPPED]
    if df.empty:
        return pd.DataFrame(columns=[*cols, "total"])
    table = pd.crosstab(df["doc"], df["verdict"]).reindex(columns=cols, fill_value=0)
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table


__all__ = ["Draft", "draft_counts", "UNMAPPED", "ROW_KEYS", "draft_audit", "read_plan", "ledger_claim", "is_claim",
           "scenario_of", "unique_quote"]
