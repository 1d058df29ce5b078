"""Compare two audit runs claim by claim: verdicts and recomputed values (also under each reading).

    costmodel audit --json > before.json        # e.g. on main, before a change
    costmodel audit --json > after.json
    python tools/compare_audits.py before.json after.json [--rel 1e-9]

Prints one line per claim whose verdict changed or whose recomputed value moved by more than ``--rel``
(relative), and a summary; exits 1 when anything changed. A statement whose claimed value was restated
(the ledger now asks the opposite question, so the pinned truth value flips with it) is listed apart.
"""

from __future__ import annotations

import argparse
import json
import math
import sys


def _key(row: dict) -> tuple:
    return str(row["doc"]), str(row["claim_id"])


def _moved(a, b, rel: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a != b
    return not math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def compare(before: list[dict], after: list[dict], rel: float = 1e-9) -> list[str]:
    """Lines describing every difference of verdict or recomputed value between two runs."""
    old, new = {_key(r): r for r in before}, {_key(r): r for r in after}
    lines = [f"{d} {c}: only before" for d, c in sorted(set(old) - set(new))]
    lines += [f"{d} {c}: only after" for d, c in sorted(set(new) - set(old))]
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        where = f"{key[0]} {key[1]}"
        if a["verdict"] != b["verdict"]:
            lines.append(f"{where}: verdict {a['verdict']} -> {b['verdict']}")
        restated = isinstance(a["claimed"], bool) and a["claimed"] != b["claimed"]
        if restated:
            lines.append(f"{where}: statement restated (claimed {a['claimed']} -> {b['claimed']}); holds "
                         f"{a['recomputed']} -> {b['recomputed']}")
        elif _moved(a["recomputed"], b["recomputed"], rel):
            lines.append(f"{where}: recomputed {a['recomputed']!r} -> {b['recomputed']!r} {b['unit']}")
        ra, rb = a.get("readings") or {}, b.get("readings") or {}
        for name in sorted(set(ra) | set(rb)):
            if name not in ra or name not in rb:
                lines.append(f"{where} reading {name}: only {'after' if name in rb else 'before'}")
                continue
            if ra[name]["verdict"] != rb[name]["verdict"]:
                lines.append(f"{where} reading {name}: verdict {ra[name]['verdict']} -> {rb[name]['verdict']}")
            if not restated and _moved(ra[name]["recomputed"], rb[name]["recomputed"], rel):
                lines.append(f"{where} reading {name}: recomputed {ra[name]['recomputed']!r} -> "
                             f"{rb[name]['recomputed']!r} {b['unit']}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rel", type=float, default=1e-9, help="relative change that counts (default 1e-9)")
    args = parser.parse_args(argv)
    with open(args.before) as f:
        before = json.load(f)
    with open(args.after) as f:
        after = json.load(f)
    lines = compare(before, after, args.rel)
    print("\n".join(lines) if lines else "no verdict or recomputed value changed")
    print(f"{len(before)} claims before, {len(after)} after; {len(lines)} difference(s)")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
