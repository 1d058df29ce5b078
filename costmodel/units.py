"""Units, dtypes and display helpers.

Inside the library every quantity is a plain float in SI base units (bytes, FLOP, seconds,
bytes/s, FLOP/s). Conversion happens only when loading data files and when displaying.
GB = 1e9 bytes and GiB = 2**30 bytes are different units; this module names both.
"""

from __future__ import annotations

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
GiB = 2.0**30
TFLOP = 1e12
MS = 1e-3
US = 1e-6

DTYPE_BYTES = {"fp4": 0.5 + 1 / 16, "mxfp4": 0.5 + 1 / 32, "fp8": 1.0, "int8": 1.0, "bf16": 2.0, "fp16": 2.0,
               "fp32": 4.0}
"""Bytes per element for each storage dtype, block scales included.

fp4 is NVFP4: 4-bit values with one FP8 (E4M3) scale per block of 16, so 0.5 + 1/16 = 0.5625 B
(the per-tensor FP32 scale is negligible); mxfp4 is the OCP MX format: one 8-bit (E8M0) scale per
block of 32, 0.5 + 1/32 = 0.53125 B. fp8 counts 1 B: DeepSeek-style block scaling adds one FP32 scale
per 128 x 128 weights (4 / 16384 B, 0.02 %), left out."""

WEIGHT_DTYPES = ("fp4", "mxfp4", "fp8", "bf16", "fp16")
"""Storage dtypes of the weights."""

KV_DTYPES = ("fp8", "bf16", "fp16")
"""Storage dtypes of the KV cache."""

ATTENTION_DTYPES = ("bf16", "fp16", "fp8")
"""Math dtypes of the attention core."""


class CostModelError(ValueError):
    """Bad input: the message is one line that names the field and the allowed values."""


def check_choice(field: str, value, allowed) -> None:
    """Raise CostModelError unless value is one of allowed."""
    if value not in allowed:
        raise CostModelError(f"{field}: {value!r} is not one of {', '.join(map(str, allowed))}")


def dtype_bytes(dtype: str, field: str = "dtype") -> float:
    """Bytes per element of a dtype name (see :data:`DTYPE_BYTES`)."""
    check_choice(field, dtype, tuple(DTYPE_BYTES))
    return DTYPE_BYTES[dtype]


def positive_int(field: str, value) -> int:
    """Return value as an int if it is a whole number >= 1, else raise naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise CostModelError(f"{field}: {value!r} must be a whole number >= 1")
    return int(value)


def whole_number(field: str, value) -> int:
    """Return value as an int if it is a whole number >= 0, else raise naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise CostModelError(f"{field}: {value!r} must be a whole number >= 0")
    return int(value)


def fraction(field: str, value) -> float:
    """Return value as a float in (0, 1], else raise naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise CostModelError(f"{field}: {value!r} must be a number in (0, 1]")
    return float(value)


def fmt_count(n: float) -> str:
    """Large counts for display: '235B', '22.2B', '512M'."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.4g}{unit}"
    return f"{n:.4g}"
