"""Fit the calibrated efficiency profile on the training split and write it into the package.

    .venv/bin/python tools/calibrate.py            # -> costmodel/data/efficiency/calibrated.yaml

Then re-execute the validation notebook and review the numbers that moved (``make notebooks``).
"""

from __future__ import annotations

import argparse
import sys
import time

from costmodel import validation as val


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the fitted profile, write nothing")
    args = parser.parse_args(argv)
    scenarios, _ = val.parse_all()
    start = time.time()
    profile = val.fit_profile(scenarios)
    print(val.profile_table(profile).to_string(index=False))
    if args.dry_run:
        print(f"fitted in {time.time() - start:.0f} s; nothing written (--dry-run)")
        return 0
    path = val.write_profile(val.bundled_profile_path(), profile)
    print(f"wrote {path} in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
