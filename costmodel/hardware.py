"""Hardware specs (datasheet facts) and efficiency scenarios (kept apart from the datasheet).

A file ``data/hardware/<id>.yaml`` states human-scale decimals with the unit in the key
(``hbm_bandwidth_TBps: 3.35``); the loader type-checks them and converts to SI. Link bandwidths
are decimal, per GPU and per direction. FLOPS are dense (no sparsity doubling).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import yaml

from .units import GB, TB, TFLOP, US, CostModelError, check_choice, fraction

EFFICIENCY_PROFILES = ("scenario", "datasheet")
"""``scenario``: the hardware file's scenario efficiency (default); ``datasheet``: 100 % of peak."""


@dataclass(frozen=True)
class Efficiency:
    """Fractions of datasheet peaks a deployment reaches (scenario inputs, never spec facts).

    mfu: compute efficiency in prefill; decode_mfu: in decode (defaults to mfu);
    bw_util: HBM bandwidth utilisation; comm_util: link bandwidth utilisation.
    """

    mfu: float
    bw_util: float
    comm_util: float = 1.0
    decode_mfu: float | None = None
    name: str = "custom"

    def __post_init__(self):
        fraction("mfu", self.mfu)
        fraction("bw_util", self.bw_util)
        fraction("comm_util", self.comm_util)
        if self.decode_mfu is not None:
            fraction("decode_mfu", self.decode_mfu)

    @property
    def decode_compute(self) -> float:
        return self.mfu if self.decode_mfu is None else self.decode_mfu


@dataclass(frozen=True)
class Hardware:
    """One GPU kind and the node it sits in. All values SI: bytes, bytes/s, FLOP/s, s."""

    id: str
    name: str
    memory_bytes: float
    hbm_bandwidth_bytes_per_s: float
    dense_flops_per_s: dict
    gpus_per_node: int
    intra_node_bandwidth_bytes_per_s: float
    inter_node_bandwidth_bytes_per_s: float
    intra_node_latency_s: float
    inter_node_latency_s: float
    efficiency: Efficiency
    source: str = ""

    def peak_flops_per_s(self, dtype: str) -> float:
        """Dense peak for a compute dtype; a dtype without tensor cores falls back to bf16."""
        return self.dense_flops_per_s.get(dtype, self.dense_flops_per_s["bf16"])

    def with_interconnect(self, intra_bytes_per_s: float | None = None, inter_bytes_per_s: float | None = None,
                          gpus_per_node: int | None = None) -> "Hardware":
        """A copy with other link bandwidths or node size (for sensitivity studies)."""
        return replace(
            self,
            intra_node_bandwidth_bytes_per_s=intra_bytes_per_s or self.intra_node_bandwidth_bytes_per_s,
            inter_node_bandwidth_bytes_per_s=inter_bytes_per_s or self.inter_node_bandwidth_bytes_per_s,
            gpus_per_node=gpus_per_node or self.gpus_per_node,
        )


def _number(doc: dict, key: str, where: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise CostModelError(f"{where}: {key!r} = {value!r} must be a positive number")
    return float(value)


def hardware_from_dict(doc: dict) -> Hardware:
    """Convert a hardware file's dict (human units in the keys) to a :class:`Hardware`."""
    where = f"hardware {doc.get('id', '?')}"
    if "memory_GB" in doc:
        memory = _number(doc, "memory_GB", where) * GB
    else:
        memory = _number(doc, "memory_MiB", where) * 2**20
    link = doc.get("interconnect") or {}
    eff = doc.get("scenario_efficiency") or {}
    flops = doc.get("dense_TFLOPS") or {}
    if "bf16" not in flops:
        raise CostModelError(f"{where}: 'dense_TFLOPS' needs a 'bf16' entry")
    return Hardware(
        id=doc["id"],
        name=doc.get("name", doc["id"]),
        memory_bytes=memory,
        hbm_bandwidth_bytes_per_s=_number(doc, "hbm_bandwidth_TBps", where) * TB,
        dense_flops_per_s={k: _number(flops, k, where) * TFLOP for k in flops},
        gpus_per_node=int(_number(link, "gpus_per_node", where)),
        intra_node_bandwidth_bytes_per_s=_number(link, "intra_node_GBps_per_direction", where) * GB,
        inter_node_bandwidth_bytes_per_s=_number(link, "inter_node_GBps_per_direction", where) * GB,
        intra_node_latency_s=_number(link, "intra_node_latency_us", where) * US,
        inter_node_latency_s=_number(link, "inter_node_latency_us", where) * US,
        efficiency=Efficiency(mfu=_number(eff, "mfu", where), bw_util=_number(eff, "bw_util", where),
                              name="scenario"),
        source=" ".join(str(doc.get("source", "")).split()),
    )


def _hardware_files() -> dict[str, Path]:
    folder = resources.files("costmodel") / "data" / "hardware"
    return {p.name[: -len(".yaml")]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def hardware_ids() -> list[str]:
    """Ids of the bundled hardware files."""
    return sorted(_hardware_files())


def load_hardware(hardware_id: str) -> Hardware:
    """Load a bundled GPU spec by id (see :func:`hardware_ids`)."""
    files = _hardware_files()
    check_choice("hardware", hardware_id, sorted(files))
    return hardware_from_dict(yaml.safe_load(files[hardware_id].read_text()))


def resolve_efficiency(hardware: Hardware, efficiency=None, mfu: float | None = None,
                       bw_util: float | None = None) -> Efficiency:
    """The efficiency to use: a profile name, an :class:`Efficiency`, or the hardware's scenario.

    ``mfu`` / ``bw_util`` given explicitly override the chosen profile's values.
    """
    if efficiency is None or efficiency == "scenario":
        eff = hardware.efficiency
    elif isinstance(efficiency, Efficiency):
        eff = efficiency
    elif efficiency == "datasheet":
        eff = Efficiency(mfu=1.0, bw_util=1.0, comm_util=1.0, name="datasheet")
    else:
        from .calibration import calibrated_profiles  # late import: profiles are data fitted later

        profiles = calibrated_profiles()
        check_choice("efficiency", efficiency, EFFICIENCY_PROFILES + tuple(profiles))
        eff = profiles[efficiency].get(hardware.id)
        if eff is None:
            raise CostModelError(f"efficiency: profile {efficiency!r} has no factors for hardware {hardware.id!r}")
    if mfu is not None or bw_util is not None:
        eff = replace(eff, mfu=eff.mfu if mfu is None else mfu, bw_util=eff.bw_util if bw_util is None else bw_util,
                      decode_mfu=eff.decode_mfu if mfu is None else mfu, name="custom")
    return eff


__all__ = ["Efficiency", "Hardware", "hardware_ids", "load_hardware", "resolve_efficiency", "hardware_from_dict",
           "EFFICIENCY_PROFILES"]
