"""Named efficiency profiles fitted to published measurements (``data/efficiency/<name>.yaml``).

Each file maps a hardware id to its fitted factors. The fit itself lives with the validation
chapter; this module only loads its results so that the API and CLI can use them by name.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from .hardware import Efficiency


@lru_cache(maxsize=None)
def calibrated_profiles() -> dict[str, dict[str, Efficiency]]:
    """{profile name: {hardware id: Efficiency}} for every profile file that is bundled."""
    folder = resources.files("costmodel") / "data" / "efficiency"
    if not folder.is_dir():
        return {}
    profiles = {}
    for path in folder.iterdir():
        if path.name.endswith(".yaml"):
            name = path.name[: -len(".yaml")]
            doc = yaml.safe_load(path.read_text())
            profiles[name] = {hw: Efficiency(name=name, **factors) for hw, factors in doc["hardware"].items()}
    return profiles
