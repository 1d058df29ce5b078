"""``costmodel audit``: the claims ledgers of the documents with their verdicts."""

from __future__ import annotations

import json

from ..audit import audit_table, findings_table, ledger_ids, load_ledger, to_json_rows, verdict_counts
from ..units import CostModelError


def add(sub) -> None:
    p = sub.add_parser("audit", help="the claims ledgers of the documents with their verdicts")
    p.add_argument("docs", nargs="*", metavar="DOC_ID", help="document ids (default: every ledger)")
    p.add_argument("--json", action="store_true", help="machine-readable output: one row per claim")
    p.set_defaults(run=run)


def run(args) -> int:

    for doc in args.docs:
        if doc not in ledger_ids():
            raise CostModelError(f"audit: document {doc!r} is not one of {', '.join(ledger_ids())}")
    df = audit_table(args.docs or None)
    if args.json:
        print(json.dumps(to_json_rows(df), indent=2, ensure_ascii=False))
        return 0
    for doc, rows in df.groupby("doc", sort=True):
        print(f"document {doc}: {load_ledger(doc)['title']}")
        print(findings_table(rows).to_string(index=False))
        print()
    print(verdict_counts(df).to_string())
    return 0


