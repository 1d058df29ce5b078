"""Fit the calibrated efficiency profile on the training split and write it into the package.

    .venv/bin/python tools/calibrate.py            # -> costmodel/data/efficiency/calibrated.yaml

Then re-execute the validation notebook and review the numbers that moved (``make notebooks``).
"""

from __future__ import annotations

import sys
import time

from costmodel import validation as val


def main() -> int:
    scenarios, _ = val.parse_all()
    start = time.time()
    profile = val.fit_profile(scenarios)
    path = val.write_profile(val.bundled_profile_path(), profile)
    print(val.profile_table(profile).to_string(index=False))
    print(f"wrote {path} in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
