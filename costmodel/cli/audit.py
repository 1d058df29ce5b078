"""``costmodel audit``: claims ledgers with their verdicts (bundled ids or ledger files from anywhere), and an
automatic first audit of a plan document the workbook has never seen (``costmodel audit my_plan.md``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..audit import audit_table, findings_table, ledger_ids, ledger_path, load_ledger, to_json_rows, verdict_counts
from ..audit.draft import ROW_KEYS, draft_audit, draft_counts
from ..audit.draftledger import ledger_rows, write_ledger
from ..audit.pins import drift_message, pin_drift, write_pins
from ..units import CostModelError


def add(sub) -> None:
    p = sub.add_parser("audit", help="the claims ledgers of plan documents with their verdicts, or an automatic first "
                                     "audit of a plan document")
    p.add_argument("refs", nargs="*", metavar="LEDGER_OR_DOCUMENT",
                   help=f"a bundled ledger id ({', '.join(ledger_ids())}), a path to a ledger .yaml, or a plan "
                        "document (Markdown or text) to audit automatically (default: every bundled ledger)")
    p.add_argument("--json", action="store_true", help="machine-readable output: one row per claim, full precision")
    p.add_argument("--write-ledger", metavar="OUT.yaml",
                   help="with one plan document: write the drafted claims ledger (mapped claims with their verdicts "
                        "pinned, the unmapped ones to complete); re-run with `costmodel audit OUT.yaml`")
    p.add_argument("--write-pins", action="store_true",
                   help="rewrite each claim's pinned 'recomputed' values in the ledger files (after a deliberate "
                        "change of the formulas; review the diff)")
    p.set_defaults(run=run)


def is_ledger(ref: str) -> bool:
    """A bundled id or a .yaml / .yml path is a ledger; anything else is a plan document."""
    return ref in ledger_ids() or Path(ref).suffix in (".yaml", ".yml")


def run(args) -> int:
    refs = args.refs or ledger_ids()
    documents = [r for r in refs if not is_ledger(r)]
    if args.write_ledger and (len(documents) != 1 or len(refs) != 1):
        raise CostModelError("--write-ledger: give exactly one plan document (not a ledger)")
    if documents and args.write_pins:
        raise CostModelError("--write-pins: works on ledgers, not on plan documents")
    if documents:
        return run_documents(documents, args)
    for ref in refs:
        ledger_path(ref)  # a one-line error for a ledger that does not exist
    if args.write_pins:
        for ref in refs:
            moved = pin_drift(ref)
            write_pins(ref)
            print(f"{ledger_path(ref)}: {len(moved)} pin(s) rewritten")
            for d in moved:
                print(f"  {drift_message(d)}")
        return 0
    drafted = [ref for ref in refs if load_ledger(ref).get("unmapped") is not None]
    if args.json:
        df = pd.concat([ledger_rows(ref) for ref in refs], ignore_index=True)
        print(json.dumps(to_json_rows(df), indent=2, ensure_ascii=False))
        return 0
    df = audit_table(refs)
    for ref in refs:
        ledger = load_ledger(ref)
        print(f"document {ledger['doc']}: {ledger['title']}")
        rows = ledger_rows(ref) if ref in drafted else df[df["doc"] == ledger["doc"]]
        print(repr(findings_table(rows)))
        print()
    print(verdict_counts(df).to_string())
    return 0


def _missing(ref: str) -> bool:
    """True when no file of that name exists (a name the system cannot even look up is left to read_plan)."""
    try:
        return not Path(ref).exists()
    except OSError:
        return False


def run_documents(documents: list[str], args) -> int:
    for ref in documents:
        if not Path(ref).suffix and _missing(ref):
            raise CostModelError(f"audit: {ref[:80]!r} is neither a bundled ledger ({', '.join(ledger_ids())}), "
                                 "a ledger .yaml file nor a plan document that exists")
    drafts = [draft_audit(d) for d in documents]
    if args.write_ledger:
        out = write_ledger(drafts[0], args.write_ledger)
        if not args.json:
            print(f"drafted ledger: {out} (review it, then: costmodel audit {out})")
    if args.json:
        rows = [{k: r.get(k) for k in ROW_KEYS} for d in drafts for r in d.rows]
        print(json.dumps(to_json_rows(pd.DataFrame(rows, columns=list(ROW_KEYS))), indent=2, ensure_ascii=False))
        return 0
    for d in drafts:
        print(f"document {d.path.name} (automatic first audit)")
        for name, sc in d.scenarios.items():
            if not name.endswith("_input_reading"):
                print(f"  scenario {name}: {sc.model.id}, {sc.hardware.id}, {sc.plan.label()}, B={sc.workload.batch}, "
                      f"S_in={sc.workload.input_len}, S_out={sc.workload.output_len}")
        for note in d.config.assumed:
            print(f"  assumed: {note}")
        for note in d.config.missing:
            print(f"  not found: {note}")
        df = pd.DataFrame(d.rows)
        if not df.empty:
            print(repr(findings_table(df)))
        print(draft_counts(df).to_string())
        print()
    return 0
