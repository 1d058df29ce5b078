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

DTYPE_BYTES = {"fp8": 1.0, "int8": 1.0, "bf16": 2.0, "fp16": 2.0, "fp32": 4.0}
"""Bytes per element for each storage dtype the model understands."""


class CostModelError(ValueError):
    """Bad input: the message is one line that names the field and the allowed values."""


def check_choice(field: str, value, allowed) -> None:
    """Raise CostModelError unless value is one of allowed."""
    if value not in allowed:
        raise CostModelError(f"{field}: {value!r} is not one of {', '.join(map(str, allowed))}")


def dtype_bytes(dtype: str, field: str = "dtype") -> float:
    """Bytes per element of a dtype name (``fp8``, ``bf16``, ``fp16``, ``fp32``, ``int8``)."""
    check_choice(field, dtype, tuple(DTYPE_BYTES))
    return DTYPE_BYTES[dtype]


def positive_int(field: str, value) -> int:
    """Return value as an int if it is a whole number >= 1, else raise naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise CostModelError(f"{field}: {value!r} must be a whole number >= 1")
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
