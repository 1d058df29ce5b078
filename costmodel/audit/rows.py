"""Audit a ledger claim by claim: recompute, judge, and collect one row per claim.

A row (:func:`audit_claim`) holds the quote, the claimed value, the document's own arithmetic, the
recomputed value (in the claim's unit), the worked line, the verdict with its factor and reason, and the
verdicts under the claim's other readings. :func:`audit_table` gathers rows as a DataFrame; full precision
stays here and in ``costmodel audit --json``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..display import ReaderTable
from ..units import CostModelError
from .concepts import run_check
from .dimensions import to_unit
from .figures import fill_quantity_figures
from .ledger import ledger_ids, load_ledger
from .quantities import Resolver
from .scenario import Scenario
from .verdicts import STATEMENT_BASES, VERDICTS, Verdict, verdict

JSON_KEYS = ("doc", "claim_id", "section", "line", "quote", "scenario", "plan", "quantity", "basis", "claimed", "unit",
             "tolerance", "own_arithmetic", "own_value", "recomputed", "worked", "factor", "verdict", "expected",
             "reason", "readings", "same_under_all_readings", "every_reading")
"""Keys of a row, in order (``costmodel audit --json`` prints these)."""


def recompute(claim: dict, sc: Scenario, scenarios: dict, local: dict | None = None) -> tuple:
    """(recomputed SI value, or None, or whether a statement holds; worked line or evidence) of a claim."""
    if claim["basis"] in STATEMENT_BASES:
        return run_check(claim["check"], sc, local)
    q = claim["quantity"]
    r = Resolver(sc, local)
    value, worked = r.value(q), r.worked(q)
    if claim.get("transform") and value is not None:
        base = claim["baseline"]
        base = scenarios[base[sc.name] if isinstance(base, dict) else base]
        b = Resolver(base, local)
        t = claim["transform"]
        value = {"reduction": 1 - value / b.value(q), "ratio": value / b.value(q), "increase": value / b.value(q) - 1}[t]
        worked = f"{t} vs {base.name}: [{worked}] vs [{b.worked(q)}] -> {value:.1%}"
    if isinstance(value, (np.floating, np.integer)):
        value = float(value)
    return value, worked


def judge(claim: dict, sc: Scenario, scenarios: dict, local: dict | None = None) -> tuple:
    """(recomputed, worked, :class:`Verdict`) of a claim under one scenario."""
    value, worked = recompute(claim, sc, scenarios, local)
    v = verdict(basis=claim["basis"], claimed=claim["claimed"], lo=claim["lo"], hi=claim["hi"],
                tolerance=claim["tolerance"], recomputed=value, own=claim["own"], unit=claim["unit"])
    if claim["basis"] in STATEMENT_BASES:
        v = Verdict(v.verdict, None, f"{'the statement holds' if value else 'the statement is false'}: {worked}")
    return value, worked, v


def claim_row(ledger: dict, c: dict) -> dict:
    """One audited claim as a row dict (keys :data:`JSON_KEYS`)."""
    scenarios, local = ledger["scenarios"], ledger["quantities"]
    sc = scenarios[c["scenario"]]
    try:
        value, worked, v = judge(c, sc, scenarios, local)
        readings = {}
        for name in c["readings"]:
            rv, _, rverdict = judge(c, scenarios[name], scenarios, local)
            readings[name] = {"recomputed": to_unit(rv, c["unit"]), "verdict": rverdict.verdict,
                              "factor": rverdict.factor, "expected": c["expected_readings"][name]}
        why = fill_quantity_figures(c["why"], scenarios, local, c["scenario"], "why")
    except CostModelError as exc:
        raise CostModelError(f"ledger {ledger['path'].name} claim {c['id']}: {exc}") from None
    reason = v.reason + (f"; {why}" if why else "")
    all_verdicts = {v.verdict} | {r["verdict"] for r in readings.values()}
    quantity = c["quantity"] if c["quantity"] is not None else _check_label(c["check"])
    return {
        "doc": ledger["doc"], "claim_id": c["id"], "section": c["section"], "line": c["line"], "quote": c["quote"],
        "scenario": c["scenario"], "plan": sc.plan.label(), "quantity": quantity, "basis": c["basis"],
        "claimed": c["claimed"], "unit": c["unit"], "tolerance": c["tolerance"],
        "own_arithmetic": c.get("own_arithmetic"), "own_value": to_unit(c["own"], c["unit"]),
        "recomputed": to_unit(value, c["unit"]), "worked": worked, "factor": v.factor,
        "verdict": v.verdict, "expected": c["expected"], "reason": reason,
        "readings": readings, "same_under_all_readings": len(all_verdicts) == 1,
        "every_reading": every_reading(c["scenario"], v.verdict, readings),
    }


def every_reading(scenario: str, main: str, readings: dict) -> str:
    """What holds under every reading of a claim: ``wrong in all 3 readings`` or, when the readings
    disagree, each verdict with its readings (``correct: refined_512; inconsistent: refined``); empty
    for a claim with one reading."""
    if not readings:
        return ""
    by_verdict: dict = {}
    for name, verdict_name in [(scenario, main), *((k, r["verdict"]) for k, r in readings.items())]:
        by_verdict.setdefault(verdict_name, []).append(name)
    if len(by_verdict) == 1:
        return f"{main} in all {len(readings) + 1} readings"
    return "; ".join(f"{verdict_name}: {', '.join(names)}" for verdict_name, names in by_verdict.items())


def _check_label(check: dict) -> str:
    """A short name of a check for tables: ``check:effect prefill_ep_comm_s``, ``check:rule NAME``."""
    kind = next(k for k in check if k not in ("holds", "evidence"))
    spec = check[kind]
    detail = spec.get("metric", "") if isinstance(spec, dict) else "" if kind == "reference" else str(spec)
    return f"check:{kind}" + (f" {detail}" if detail and kind != "feasible" else "")


def audit_claim(ref, claim_id: str) -> dict:
    """One audited claim of ledger ``ref`` (a bundled id or a path) as a row dict."""
    ledger = load_ledger(ref)
    for c in ledger["claims"]:
        if c["id"] == claim_id:
            return claim_row(ledger, c)
    raise CostModelError(f"ledger {ledger['path'].name}: claim {claim_id!r} is not one of "
                         f"{', '.join(c['id'] for c in ledger['claims'])}")


def audit_rows(ref) -> list[dict]:
    """Every claim of one ledger, audited (see :func:`audit_claim`)."""
    ledger = load_ledger(ref)
    return [claim_row(ledger, c) for c in ledger["claims"]]


def audit_table(refs=None) -> pd.DataFrame:
    """The ledgers with verdicts as one DataFrame (all bundled ledgers when ``refs`` is None)."""
    refs = ledger_ids() if refs is None else [str(d) for d in ([refs] if isinstance(refs, (str, int)) else refs)]
    return pd.DataFrame([row for ref in refs for row in audit_rows(ref)], columns=list(JSON_KEYS))


def verdict_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict (columns in :data:`VERDICTS` order) for each document."""
    table = pd.crosstab(df["doc"], df["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    table["total"] = table.sum(axis=1)
    table.columns.name = None
    return table


def readings_summary(df: pd.DataFrame) -> ReaderTable:
    """Claims checked under more than one reading: the quote (shortened), the verdict in the main reading,
    whether the verdict is the same in all, and what holds across them (:func:`every_reading`)."""
    rows = [{"claim": r.claim_id, "quote": r.quote if len(r.quote) <= 45 else r.quote[:42] + "...",
             "main reading": f"{r.scenario}: {r.verdict}", "same in all": r.same_under_all_readings,
             "across readings": r.every_reading} for r in df.itertuples() if r.readings]
    return ReaderTable(pd.DataFrame(rows, columns=["claim", "quote", "main reading", "same in all",
                                                   "across readings"]))


def to_json_rows(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows (NaN and inf become None)."""
    def clean(v):
        if isinstance(v, (np.floating,)):
            v = float(v)
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return None
        if isinstance(v, (np.bool_,)):
            return bool(v)
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
