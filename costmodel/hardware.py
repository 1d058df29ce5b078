"""Hardware specs: datasheet facts of one GPU and the links around it (efficiency kept apart).

A file ``data/hardware/<id>.yaml`` states human-scale decimals with the unit in the key
(``hbm_bandwidth_TBps: 3.35``); the loader type-checks them and converts to SI. FLOPS are dense
(no sparsity doubling). Links are two tiers, bandwidth decimal, per GPU and per direction:

* ``scale_up``: the NVLink / xGMI domain (8 GPUs on HGX and MI boards, 72 on an NVL72 rack);
* ``scale_out``: the RDMA NIC(s) of one GPU, for traffic between scale-up domains.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from .efficiency import Efficiency
from .units import (
    GB,
    MAX_GPUS,
    TB,
    TFLOP,
    US,
    CostModelError,
    check_choice,
    positive_int,
    read_yaml,
)

PEAK_FALLBACK = {"fp4": ("fp4", "fp8", "bf16"), "mxfp4": ("fp4", "fp8", "bf16"), "fp8": ("fp8", "bf16"),
                 "int8": ("int8", "fp8", "bf16"), "bf16": ("bf16",), "fp16": ("fp16", "bf16"),
                 "fp32": ("fp32", "bf16")}
"""Compute dtype -> the tensor-core rates to try in order: a part without FP4 (or FP8) units runs
those GEMMs at the next wider rate it has (weights are dequantised on the fly)."""


@dataclass(frozen=True)
class Hardware:
    """One GPU kind and its links. All values SI: bytes, bytes/s, FLOP/s, s."""

    id: str
    name: str
    memory_bytes: float
    hbm_bandwidth_bytes_per_s: float
    dense_flops_per_s: dict
    scale_up_gpus: int
    scale_up_bandwidth_bytes_per_s: float
    scale_out_bandwidth_bytes_per_s: float
    scale_up_latency_s: float
    scale_out_latency_s: float
    efficiency: Efficiency
    source: str = ""

    def peak_flops_per_s(self, dtype: str) -> float:
        """Dense peak for a compute dtype, falling back to the next wider rate the part has
        (see :data:`PEAK_FALLBACK`)."""
        for candidate in PEAK_FALLBACK.get(dtype, (dtype, "bf16")):
            if candidate in self.dense_flops_per_s:
                return self.dense_flops_per_s[candidate]
        return self.dense_flops_per_s["bf16"]

    def with_interconnect(self, scale_up_bytes_per_s: float | None = None,
                          scale_out_bytes_per_s: float | None = None,
                          scale_up_gpus: int | None = None) -> "Hardware":
        """A copy with other link bandwidths (bytes/s per GPU per direction) or another scale-up domain size
        (GPUs), for sensitivity studies; None keeps the part's value, anything else must be a positive number
        (a whole one for the domain)."""
        given = {"scale_up_bandwidth_bytes_per_s": scale_up_bytes_per_s,
                 "scale_out_bandwidth_bytes_per_s": scale_out_bytes_per_s}
        changes = {k: _number(given, k, f"hardware {self.id}") for k, v in given.items() if v is not None}
        if scale_up_gpus is not None:
            changes["scale_up_gpus"] = positive_int("scale_up_gpus", scale_up_gpus, MAX_GPUS)
        return replace(self, **changes)


def _number(doc: dict, key: str, where: str) -> float:
    value = doc.get(key) if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise CostModelError(f"{where}: {key!r} = {value!r} must be a positive number")
    return float(value)


def hardware_from_dict(doc: dict) -> Hardware:
    """Convert a hardware file's dict (human units in the keys) to a :class:`Hardware`."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise CostModelError("hardware: a file must be a mapping with an 'id'")
    where = f"hardware {doc['id']}"
    if "memory_GB" in doc:
        memory = _number(doc, "memory_GB", where) * GB
    else:
        memory = _number(doc, "memory_MiB", where) * 2**20
    up, out = doc.get("scale_up") or {}, doc.get("scale_out") or {}
    eff = doc.get("scenario_efficiency") or {}
    flops = doc.get("dense_TFLOPS") or {}
    if "bf16" not in flops:
        raise CostModelError(f"{where}: 'dense_TFLOPS' needs a 'bf16' entry")
    gpus = _number(up, "gpus", f"{where} scale_up")
    if gpus != int(gpus):
        raise CostModelError(f"{where} scale_up: 'gpus' = {gpus:g} must be a whole number")
    return Hardware(
        id=doc["id"],
        name=doc.get("name", doc["id"]),
        memory_bytes=memory,
        hbm_bandwidth_bytes_per_s=_number(doc, "hbm_bandwidth_TBps", where) * TB,
        dense_flops_per_s={k: _number(flops, k, f"{where} dense_TFLOPS") * TFLOP for k in flops},
        scale_up_gpus=int(gpus),
        scale_up_bandwidth_bytes_per_s=_number(up, "GBps_per_direction", f"{where} scale_up") * GB,
        scale_out_bandwidth_bytes_per_s=_number(out, "GBps_per_direction", f"{where} scale_out") * GB,
        scale_up_latency_s=_number(up, "latency_us", f"{where} scale_up") * US,
        scale_out_latency_s=_number(out, "latency_us", f"{where} scale_out") * US,
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


def load_hardware(hardware_id) -> Hardware:
    """Load a bundled GPU spec by id (see :func:`hardware_ids`); a :class:`Hardware` passes through."""
    if isinstance(hardware_id, Hardware):
        return hardware_id
    files = _hardware_files()
    check_choice("hardware", hardware_id, sorted(files))
    return hardware_from_dict(read_yaml(files[hardware_id].read_text()))


__all__ = ["Hardware", "hardware_ids", "load_hardware", "hardware_from_dict", "PEAK_FALLBACK"]
