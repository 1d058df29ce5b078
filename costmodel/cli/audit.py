"""``costmodel audit``: claims ledgers with their verdicts (bundled ids or ledger files from anywhere)."""

from __future__ import annotations

import json

from ..audit import audit_table, findings_table, ledger_ids, ledger_path, load_ledger, to_json_rows, verdict_counts
from ..audit.pins import drift_message, pin_drift, write_pins


def add(sub) -> None:
    p = sub.add_parser("audit", help="the claims ledgers of plan documents with their verdicts")
    p.add_argument("ledgers", nargs="*", metavar="LEDGER",
                   help=f"a bundled ledger id ({', '.join(ledger_ids())}) or a path to a ledger .yaml "
                        "(default: every bundled ledger)")
    p.add_argument("--json", action="store_true", help="machine-readable output: one row per claim, full precision")
    p.add_argument("--write-pins", action="store_true",
                   help="rewrite each claim's pinned 'recomputed' values in the ledger files (after a deliberate "
                        "change of the formulas; review the diff)")
    p.set_defaults(run=run)


def run(args) -> int:
    refs = args.ledgers or ledger_ids()
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
    df = audit_table(refs)
    if args.json:
        print(json.dumps(to_json_rows(df), indent=2, ensure_ascii=False))
        return 0
    for ref in refs:
        ledger = load_ledger(ref)
        print(f"document {ledger['doc']}: {ledger['title']}")
        print(repr(findings_table(df[df["doc"] == ledger["doc"]])))
        print()
    print(verdict_counts(df).to_string())
    return 0
