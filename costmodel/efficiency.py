"""Efficiency: the fractions of datasheet peaks a deployment reaches (scenario inputs, never spec facts).

Three kinds of profile, chosen by name (:func:`resolve_efficiency`):

* ``scenario``: the hardware file's ``scenario_efficiency`` (the documents' 60 % MFU / 80 % HBM for
  their hypothetical GPU, a generic default elsewhere);
* ``datasheet``: 100 % of every peak, the pure roofline (a lower bound on time);
* a fitted profile bundled as ``data/efficiency/<name>.yaml`` (``calibrated``), one set of factors
  per hardware id, fitted by :mod:`costmodel.validation` on the training split of the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from .units import CostModelError, check_choice, fraction, read_yaml

BUILTIN_PROFILES = ("scenario", "datasheet")
"""``scenario``: the hardware file's scenario efficiency (default); ``datasheet``: 100 % of peak."""


@dataclass(frozen=True)
class Efficiency:
    """Fractions of the datasheet peaks (each in (0, 1]).

    mfu: compute efficiency in prefill; decode_mfu: in decode (defaults to mfu);
    bw_util: HBM bandwidth utilisation; scale_up_util: NVLink / xGMI link utilisation;
    scale_out_util: RDMA NIC utilisation across scale-up domains (defaults to scale_up_util);
    layer_overhead_s: seconds per layer per forward step that no roofline term covers (kernel
    launch and synchronisation floors of a real engine; 0 for the roofline);
    request_overhead_s: seconds every request's TTFT pays outside the GPUs (HTTP, tokenisation,
    scheduling, streaming the first token; 0 for the roofline).
    """

    mfu: float
    bw_util: float
    scale_up_util: float = 1.0
    decode_mfu: float | None = None
    scale_out_util: float | None = None
    layer_overhead_s: float = 0.0
    request_overhead_s: float = 0.0
    name: str = "custom"

    def __post_init__(self):
        for key in ("mfu", "bw_util", "scale_up_util"):
            fraction(key, getattr(self, key))
        for key in ("decode_mfu", "scale_out_util"):
            if getattr(self, key) is not None:
                fraction(key, getattr(self, key))
        for key, top in (("layer_overhead_s", 0.01), ("request_overhead_s", 10.0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < top:
                raise CostModelError(f"{key}: {value!r} must be a number of seconds in [0, {top:g})")

    @property
    def decode_compute(self) -> float:
        """Compute efficiency in decode: decode_mfu, or mfu when not set."""
        return self.mfu if self.decode_mfu is None else self.decode_mfu

    @property
    def scale_out(self) -> float:
        """Scale-out link utilisation: scale_out_util, or scale_up_util when not set."""
        return self.scale_up_util if self.scale_out_util is None else self.scale_out_util


DATASHEET = Efficiency(mfu=1.0, bw_util=1.0, scale_up_util=1.0, name="datasheet")
"""100 % of every peak: the roofline bound."""


@lru_cache(maxsize=None)
def fitted_profiles() -> dict[str, dict[str, Efficiency]]:
    """{profile name: {hardware id: Efficiency}} for every bundled ``data/efficiency/*.yaml``."""
    folder = resources.files("costmodel") / "data" / "efficiency"
    profiles = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name) if folder.is_dir() else ():
        if path.name.endswith(".yaml"):
            name = path.name[: -len(".yaml")]
            doc = read_yaml(path.read_text())
            profiles[name] = {hw: Efficiency(name=name, **factors) for hw, factors in doc["hardware"].items()}
    return profiles


def profile_names() -> list[str]:
    """Every efficiency profile name: the built-in ones, then the fitted ones."""
    return list(BUILTIN_PROFILES) + sorted(fitted_profiles())


def resolve_efficiency(hardware, efficiency=None, mfu: float | None = None,
                       bw_util: float | None = None) -> Efficiency:
    """The efficiency to use for ``hardware``: a profile name, an :class:`Efficiency`, or the
    hardware's scenario efficiency (None). ``mfu`` / ``bw_util`` override the profile's values
    (``mfu`` sets the decode compute efficiency too).
    """
    if not (efficiency is None or isinstance(efficiency, (str, Efficiency))):
        raise CostModelError(f"efficiency: {efficiency!r} must be a profile name ({', '.join(profile_names())}) "
                             "or an Efficiency")
    if efficiency is None or efficiency == "scenario":
        eff = hardware.efficiency
    elif isinstance(efficiency, Efficiency):
        eff = efficiency
    elif efficiency == "datasheet":
        eff = DATASHEET
    else:
        profiles = fitted_profiles()
        check_choice("efficiency", efficiency, profile_names())
        eff = profiles[efficiency].get(hardware.id)
        if eff is None:
            raise CostModelError(f"efficiency: profile {efficiency!r} has no factors for hardware {hardware.id!r}; "
                                 f"it covers {', '.join(sorted(profiles[efficiency]))}")
    if mfu is not None or bw_util is not None:
        eff = replace(eff, mfu=eff.mfu if mfu is None else mfu, bw_util=eff.bw_util if bw_util is None else bw_util,
                      decode_mfu=eff.decode_mfu if mfu is None else mfu, name="custom")
    return eff
