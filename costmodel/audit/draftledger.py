"""The drafted ledger: what ``costmodel audit my_plan.md --write-ledger out.yaml`` writes, and its re-run.

The draft becomes a ledger of the house schema (:mod:`.ledger`): the document named by a path relative to
the ledger, the scenarios read from the document (a model or GPU built from stated figures goes inline),
one claim per mapped number with its verdict pinned as ``expected`` and its value as ``recomputed``, and an
``unmapped`` list: every number no rule mapped, with the reason, for the user to complete. To map one by
hand, move it from ``unmapped`` to ``claims`` and give it a ``scenario``, ``quantity`` (or a ``check``),
``basis`` and ``expected``; ``costmodel audit out.yaml`` then judges it (``mapped_by: ledger``).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd
import yaml

from ..units import CostModelError
from .dimensions import UNITS
from .draft import UNMAPPED, Draft, is_claim, ledger_claim, unique_quote
from .ledger import load_ledger
from .mapping import map_claim
from .rows import audit_rows
from .verdicts import DEFAULT_TOLERANCE, VERDICTS

HEADER = """\
# Draft claims ledger of {name}, written by `costmodel audit {name} --write-ledger {out}`
# (schema: costmodel/audit/ledger.py). The rules mapped {mapped} of {total} numbers; review each claim's quantity,
# scenario and basis, and pin `expected` to the verdict you agree with. `unmapped` lists the rest: to map one by
# hand, move it to `claims` with a scenario, quantity (or check), basis and expected. Re-run: costmodel audit {out}
"""


def _title(text: str, fallback: str) -> str:
    m = re.search(r"^#\s+(.+)$", text, flags=re.M)
    return m.group(1).strip() if m else fallback


def draft_ledger(draft: Draft, out: Path) -> dict:
    """The ledger dict of a draft, the document named relative to the folder of ``out``."""
    maps = {c.id: map_claim(c) for c in draft.claims}
    rows = {r["claim_id"]: r for r in draft.rows}
    claims, unmapped = [], []
    for c in draft.claims:
        if not is_claim(c):
            continue
        row = rows[c.id]
        if row["verdict"] in VERDICTS and row["quantity"] != "own_arithmetic":
            entry = ledger_claim(draft, c, row["quantity"], row["basis"], row["scenario"])
            entry["recomputed"] = row["recomputed"]
            if "readings" in entry:
                entry["readings"] = {name: None for name in entry["readings"]}
                entry["expected_readings"] = dict(draft.reading_verdicts[c.id])
            entry["expected"] = row["verdict"]
            entry["why"] = f"drafted by {maps[c.id].reason}"
            claims.append(entry)
        else:
            unmapped.append({"id": c.id, "quote": unique_quote(draft.text, c), "line": c.line,
                             "claimed": c.claimed(), "unit": c.unit or "count",
                             "note": row["reason"] if row["verdict"] == UNMAPPED else
                             f"{row['verdict']}: {row['reason']}"})
    cfg = draft.config
    summary = "; ".join([*(f"{k}: {v}" for k, v in cfg.found.items() if k.startswith("plan")), *cfg.assumed,
                         *(f"not found: {m}" for m in cfg.missing)])
    return {
        "doc": draft.doc,
        "document": os.path.relpath(draft.path.resolve(), out.resolve().parent),
        "title": _title(draft.text, draft.path.stem),
        "slug": draft.doc,
        "summary": summary or "drafted automatically",
        "default_tolerance": DEFAULT_TOLERANCE,
        "scenarios": draft.specs,
        "claims": claims,
        "unmapped": unmapped,
    }


def write_ledger(draft: Draft, out) -> Path:
    """Write the drafted ledger to ``out`` (YAML with a header that says how to complete it)."""
    out = Path(out)
    if out.suffix not in (".yaml", ".yml"):
        raise CostModelError(f"--write-ledger: {str(out)!r} must end in .yaml or .yml")
    if not out.resolve().parent.is_dir():
        raise CostModelError(f"--write-ledger: folder {str(out.resolve().parent)!r} does not exist")
    ledger = draft_ledger(draft, out)
    header = HEADER.format(name=draft.path.name, out=out.name, mapped=len(ledger["claims"]),
                           total=len(ledger["claims"]) + len(ledger["unmapped"]))
    out.write_text(header + ledger_yaml(ledger))
    return out


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors or aliases for repeated mappings."""

    def ignore_aliases(self, data):
        return True


def _flow(value) -> str:
    text = yaml.dump(value, Dumper=_Dumper, default_flow_style=True, allow_unicode=True, width=10**6, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def ledger_yaml(ledger: dict) -> str:
    """A ledger as YAML in the bundled ledgers' layout: one key per line, claims as ``- id:`` blocks whose values
    are written inline (so :func:`~costmodel.audit.pins.write_pins` can rewrite their pins)."""
    out = []
    for key, value in ledger.items():
        if key in ("claims", "unmapped"):
            out.append(f"{key}:" if value else f"{key}: []")
            for entry in value:
                items = list(entry.items())
                out.append(f"  - {items[0][0]}: {_flow(items[0][1])}")
                out += [f"    {k}: {_flow(v)}" for k, v in items[1:]]
        elif key == "scenarios":
            out.append("scenarios:")
            for name, spec in value.items():
                out.append(f"  {name}:")
                out += [f"    {k}: {_flow(v)}" for k, v in spec.items()]
        elif key == "quantities" and value:
            out.append("quantities:")
            out += [f"  {name}: {_flow(spec)}" for name, spec in value.items()]
        else:
            out.append(f"{key}: {_flow(value)}")
    return "\n".join(out) + "\n"


def ledger_rows(ref) -> pd.DataFrame:
    """A ledger's audited claims (``mapped_by: ledger``) and its unmapped entries (verdict ``unmapped``)."""
    ledger = load_ledger(ref)
    rows = [{**r, "mapped_by": "ledger"} for r in audit_rows(ref)]
    for u in ledger.get("unmapped") or []:
        rows.append({"doc": ledger["doc"], "claim_id": u["id"], "quote": u["quote"], "line": u.get("line"),
                     "quantity": None, "claimed": u.get("claimed"), "unit": u.get("unit"), "recomputed": None,
                     "verdict": UNMAPPED, "reason": u.get("note", ""), "mapped_by": None})
    return pd.DataFrame(rows)




def compare_with_ledger(draft: Draft, ref) -> dict:
    """How a draft compares with a reviewed ledger of the same document (the figures the tests pin).

    recall: share of the ledger's claims whose quote overlaps the quote of a drafted claim; numeric_recall: the
    same over the ledger's claims with a number in their quote; agreement: share of the drafted claims that were
    mapped and match a ledger claim (its quote holds the number, same claimed value) whose verdict equals the
    ledger's; guessed: drafted rows with a house verdict but no mapping (must be 0); unmapped_share: share of the
    drafted rows left unmapped.
    """
    ledger = load_ledger(ref)
    text = draft.text
    spans = []
    for c in ledger["claims"]:
        start = _quote_start(text, c["quote"], c["line"])
        spans.append((start, start + len(c["quote"]), c))
    drafted = {c.id: c for c in draft.claims}
    rows = [r for r in draft.rows]
    covered = [any(a < c.quote_start + len(c.quote) and c.quote_start < b for c in draft.claims if is_claim(c))
               for a, b, _ in spans]
    numeric = [i for i, (_, _, lc) in enumerate(spans) if re.search(r"\d", lc["quote"])]
    pairs = []
    for r in rows:
        if r["mapped_by"] is None or r["verdict"] not in VERDICTS:
            continue
        c = drafted[r["claim_id"]]
        lo, hi = _si(c)
        hits = [lc for a, b, lc in spans if a <= c.start < b and not isinstance(lc["lo"], bool)
                and _close(lc["lo"], lo) and _close(lc["hi"], hi)]
        if hits:
            best = next((lc for lc in hits if lc.get("quantity") == r["quantity"]), hits[0])
            pairs.append((r, best))
    return {
        "doc": draft.doc, "ledger_claims": len(spans), "recall": sum(covered) / len(spans) if spans else 1.0,
        "numeric_claims": len(numeric),
        "numeric_recall": sum(covered[i] for i in numeric) / len(numeric) if numeric else 1.0,
        "rows": len(rows), "mapped": sum(r["verdict"] != UNMAPPED for r in rows),
        "unmapped_share": sum(r["verdict"] == UNMAPPED for r in rows) / len(rows) if rows else 0.0,
        "matched": len(pairs),
        "agreement": sum(r["verdict"] == lc["expected"] for r, lc in pairs) / len(pairs) if pairs else 1.0,
        "same_quantity": sum(r["quantity"] == lc.get("quantity") for r, lc in pairs) / len(pairs) if pairs else 1.0,
        "guessed": sum(r["mapped_by"] is None and r["verdict"] in VERDICTS for r in rows),
        "disagreements": [(r["claim_id"], lc["id"], r["verdict"], lc["expected"]) for r, lc in pairs
                          if r["verdict"] != lc["expected"]],
    }


def _quote_start(text: str, quote: str, line: int) -> int:
    """Where a ledger quote sits: its first occurrence on or after its line."""
    line_start = 0
    for _ in range(line - 1):
        line_start = text.index("\n", line_start) + 1
    pos = text.find(quote, line_start)
    return pos if pos >= 0 else text.find(quote)


def _si(c) -> tuple[float, float]:
    scale = UNITS.get(c.unit or "count", ("", 1.0))[1]
    lo, hi = c.lo * scale, c.hi * scale
    if c.bound == "min":
        return lo, math.inf
    if c.bound == "max":
        return -math.inf, hi
    return lo, hi


def _close(a: float, b: float) -> bool:
    return a == b or (math.isfinite(a) and math.isfinite(b) and math.isclose(a, b, rel_tol=1e-6))


__all__ = ["draft_ledger", "write_ledger", "ledger_rows", "ledger_yaml", "compare_with_ledger"]
