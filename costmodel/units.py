"""Units, dtypes and display helpers.

Inside the library every quantity is a plain float in SI base units (bytes, FLOP, seconds,
bytes/s, FLOP/s). Conversion happens only when loading data files and when displaying.
GB = 1e9 bytes and GiB = 2**30 bytes are different units; this module names both.
"""

from __future__ import annotations

import math
import numbers

import yaml

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


MAX_DEGREE = 2**16
"""Largest parallel degree (tp, dp, pp, ep, etp, micro-batches, redundant expert slots) accepted: 65,536."""

MAX_BATCH = 10**7
"""Largest batch accepted: 10 million sequences."""

MAX_TOKENS = 10**8
"""Largest input or output length accepted: 100 million tokens (the longest published context, 10 M, x 10)."""

MAX_GPUS = 10**6
"""Largest GPU count accepted (a plan's tp x dp x pp, a search budget): one million."""

MAX_WHOLE = 2**31 - 1
"""Default bound of :func:`positive_int` and :func:`whole_number`: any product of two such numbers and a
count up to 2**31 stays inside numpy's int64 (2**63 - 1) and is exact as a float64 (2**53)."""


def _whole(field: str, value, minimum: int, maximum: int) -> int:
    """value as an int if it is a finite whole number in [minimum, maximum], else raise naming the field."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or (isinstance(value, float) and not math.isfinite(value)) or value != int(value) or value < minimum):
        raise CostModelError(f"{field}: {value!r} must be a whole number >= {minimum}")
    if value > maximum:
        raise CostModelError(f"{field}: {value!r} must be a whole number between {minimum} and {maximum:,}")
    return int(value)


def positive_int(field: str, value, maximum: int = MAX_WHOLE) -> int:
    """Return value as an int if it is a whole number in [1, maximum], else raise naming the field."""
    return _whole(field, value, 1, maximum)


def whole_number(field: str, value, maximum: int = MAX_WHOLE) -> int:
    """Return value as an int if it is a whole number in [0, maximum], else raise naming the field."""
    return _whole(field, value, 0, maximum)


def fraction(field: str, value) -> float:
    """Return value as a float in (0, 1], else raise naming the field."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise CostModelError(f"{field}: {value!r} must be a number in (0, 1]")
    return float(value)


def read_yaml(text: str):
    """Parse YAML text with PyYAML's safe loader, the C one (libyaml, about 10 times faster) when the
    installed wheel has it."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
