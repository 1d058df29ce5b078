"""One measured value in model terms, and the train / held-out split.

A :class:`Scenario` is one metric of one measured run (a row of a CSV, or one of its metric columns):
the model, hardware, plan(s), workload, the load (offline max-load, an open-loop request rate, or a
closed loop of concurrent requests), the metric and the measured value in SI units.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

from ..architecture import load_model
from ..hardware import load_hardware
from ..strategy import Plan

HELD_OUT_PERCENT = 30
"""Share of runs held out (see :func:`is_held_out`)."""

REGIMES = ("offline", "online", "closed")
"""offline: a max-load run that fills memory; online: requests arriving at ``qps`` (open loop);
closed: ``concurrency`` requests in flight, each replaced when it finishes (benchmark clients)."""


@dataclass(frozen=True)
class Scenario:
    """One measured value. ``plan`` is the aggregated plan or the decode pool's; ``measured`` is SI:
    tokens/s per GPU or seconds. ``run_key`` is what the train / held-out split hashes."""

    row_id: str
    dataset: str
    source_id: str
    run_key: str
    model_id: str
    hardware_id: str
    framework: str
    plan: Plan
    input_len: int
    output_len: int
    weight_dtype: str
    kv_dtype: str
    regime: str
    metric: str
    group: str
    measured: float
    qps: float = math.inf
    requests: int = 0
    concurrency: int = 0
    workers: int = 1
    prefill_plan: Plan | None = None
    prefill_workers: int = 0
    mtp: int = 0
    attention_dtype: str = "bf16"
    routing: str = "measured"

    @property
    def disaggregated(self) -> bool:
        return self.prefill_plan is not None

    @property
    def setup(self) -> tuple:
        """What the prediction depends on besides the load and the metric."""
        return (self.model_id, self.hardware_id, self.plan, self.workers, self.prefill_plan, self.prefill_workers,
                self.input_len, self.output_len, self.weight_dtype, self.kv_dtype, self.attention_dtype,
                self.routing, self.mtp, self.regime)

    @property
    def plan_label(self) -> str:
        decode = self.plan.label() + (f" x{self.workers}" if self.workers > 1 else "")
        if not self.disaggregated:
            return decode
        prefill = self.prefill_plan.label() + (f" x{self.prefill_workers}" if self.prefill_workers > 1 else "")
        return f"P {prefill} / D {decode}"


def is_held_out(key: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """Deterministic split: held out when int(sha256(key)[:8], 16) mod 100 < percent."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100 < percent


@lru_cache(maxsize=None)
def specs(model_id: str, hardware_id: str):
    """Loaded model and hardware, parsed once (the fit evaluates thousands of times)."""
    return load_model(model_id), load_hardware(hardware_id)
