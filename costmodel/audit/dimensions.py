"""Dimensions of audited quantities, the units a claim may be written in, and how values read.

Inside the library every value is SI (bytes, seconds, FLOP/s, ...). A claim is written in a unit of
:data:`UNITS` (``GB``, ``ms``, ``tokens/ms``, ``%``); a quantity has a dimension (``bytes``,
``seconds``, ...). A dotted path's dimension follows the house naming rule that names carry their
unit (``kv_bytes_per_gpu`` -> bytes, ``ttft_s`` -> seconds): :func:`dimension_of_name`.
Worked lines show values through :func:`show`: bytes in GB / MB with four significant digits, never
as ``85520809984.0``.
"""

from __future__ import annotations

import math

from ..display import sig
from ..units import CostModelError

UNITS = {
    "params": ("params", 1.0), "M params": ("params", 1e6), "B params": ("params", 1e9), "T params": ("params", 1e12),
    "bytes": ("bytes", 1.0), "KB": ("bytes", 1e3), "MB": ("bytes", 1e6), "MiB": ("bytes", 2.0**20),
    "GB": ("bytes", 1e9), "GiB": ("bytes", 2.0**30), "TB": ("bytes", 1e12),
    "s": ("seconds", 1.0), "ms": ("seconds", 1e-3), "us": ("seconds", 1e-6),
    "tokens/s": ("tokens/s", 1.0), "tokens/ms": ("tokens/s", 1e3),
    "GPUs": ("gpus", 1.0), "count": ("count", 1.0),
    "%": ("ratio", 0.01), "fraction": ("ratio", 1.0), "x": ("ratio", 1.0),
    "TFLOPS": ("flops/s", 1e12), "PFLOPS": ("flops/s", 1e15),
    "GFLOP": ("flop", 1e9), "TFLOP": ("flop", 1e12), "PFLOP": ("flop", 1e15),
    "TB/s": ("bytes/s", 1e12), "GB/s": ("bytes/s", 1e9),
    "bytes/param": ("bytes/param", 1.0),
    "bool": ("bool", 1.0),
}
"""Claim unit -> (dimension, SI factor): a claimed value is written in the unit and compared in SI."""

DIMENSIONS = ("params", "bytes", "seconds", "tokens/s", "gpus", "count", "ratio", "flops/s", "bytes/s", "flop",
              "bytes/param", "bool", "any")
"""Dimensions a quantity may have (``any``: no value, see the ``unmodelled`` quantity)."""

NAME_RULES = (
    # (test on the last part of a dotted name, dimension), first match wins: names carry their unit
    (lambda n: "bytes_per_s" in n, "bytes/s"),
    (lambda n: "flops_per_s" in n, "flops/s"),
    (lambda n: "tokens_per_s" in n, "tokens/s"),
    (lambda n: n.endswith("_bytes") or "_bytes_" in n or n.startswith("bytes"), "bytes"),
    (lambda n: n.endswith("_s"), "seconds"),
    (lambda n: n.endswith("flops"), "flop"),
    (lambda n: n.startswith("params") or n.endswith("params"), "params"),
    (lambda n: n.startswith("gpus") or n.endswith("gpus") or n == "scale_up_gpus", "gpus"),
    (lambda n: n.endswith(("fraction", "util", "mfu", "decode_compute")), "ratio"),
    (lambda n: n.startswith(("fits_", "meets_")) or n in ("valid", "feasible", "mlp_gated", "qk_norm",
                                                           "tied_embeddings", "is_moe"), "bool"),
)


def dimension_of_name(name: str) -> str:
    """The dimension a name states by its unit suffix (``count`` when it names none)."""
    last = name.rsplit(".", 1)[-1]
    for test, dimension in NAME_RULES:
        if test(last):
            return dimension
    return "count"


def unit_dimension(unit: str, where: str = "unit") -> str:
    """The dimension of a claim unit; a one-line error for an unknown unit."""
    if unit not in UNITS:
        raise CostModelError(f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}")
    return UNITS[unit][0]


def to_unit(value, unit: str):
    """An SI value in ``unit`` (None and booleans pass through)."""
    if value is None or isinstance(value, bool):
        return value
    return float(value) / UNITS[unit][1]


def number(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits without padding zeros: 12.1 -> '12.1', 64 -> '64'."""
    return _trim(sig(float(x), digits))


def in_unit(value, unit: str, digits: int = 4) -> str:
    """An SI value written in a claim unit: ``12.1 GB``; booleans as true / false."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{number(to_unit(value, unit), digits)} {unit}".strip()


SCALES = {
    # dimension -> ((threshold, divisor, unit), ...) largest first; the first threshold <= |value| is used
    "bytes": ((1e9, 1e9, "GB"), (1e6, 1e6, "MB"), (1e3, 1e3, "KB"), (0, 1, "B")),
    "seconds": ((1, 1, "s"), (1e-3, 1e-3, "ms"), (0, 1e-6, "µs")),
    "flops/s": ((1e15, 1e15, "PFLOPS"), (0, 1e12, "TFLOPS")),
    "bytes/s": ((1e12, 1e12, "TB/s"), (0, 1e9, "GB/s")),
    "flop": ((1e15, 1e15, "PFLOP"), (0, 1e12, "TFLOP")),
    "params": ((1e9, 1e9, "B params"), (1e6, 1e6, "M params"), (0, 1, "params")),
    "tokens/s": ((0, 1, "tokens/s"),),
    "bytes/param": ((0, 1, "B/param"),),
    "ratio": ((0, 0.01, "%"),),
}


def _trim(text: str) -> str:
    """'64.00' -> '64', '2.500' -> '2.5' (a worked line shows no padding zeros)."""
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def show(value, dimension: str, digits: int = 4) -> str:
    """A value of a dimension for a worked line: ``41.23 GB``, ``2.41 s``, ``18.9 %``, ``16``, ``true``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    v = float(value)
    if dimension in SCALES and math.isfinite(v):
        threshold, divisor, unit = next(s for s in SCALES[dimension] if abs(v) >= s[0])
        if divisor == 1 and v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,} {unit}"
        return f"{number(v / divisor, digits)} {unit}"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return number(v, digits)
