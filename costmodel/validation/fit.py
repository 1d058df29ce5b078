"""The calibrated efficiency profile: per hardware, the efficiency factors that best predict the
training rows, bundled as ``data/efficiency/calibrated.yaml`` (``efficiency="calibrated"``).

Search: a pattern search on a grid (:data:`GRID`: fractions in steps of 0.01; the per-layer overhead in
steps of 1 us; the per-request overhead in steps of 5 ms) that minimises
the sum of absolute log errors |ln(predicted / measured)| of the training rows (an L1 loss: the
median error is the target, and a few saturated runs with minutes of queueing must not steer the
factors of every other row). Each round evaluates, in one vectorised pass, the
current point moved one step along each factor (both ways) and along each pair of factors (the four
diagonals), 2 x 7 + 4 x 21 = 98 points, and moves to the best if it lowers the loss, else the step
shrinks (16, 8, 4, 2, 1 grid units). The diagonals follow the valleys where two factors trade off
(decode_mfu against bw_util). The result is a minimum over its grid neighbourhood; ties go to the first candidate in a fixed order.

A factor that no training row of a hardware exercises (scale-out traffic on a single-domain rig) keeps
its prior (:data:`PRIOR`). A GPU with no measured row gets the factors of a named sibling
(:data:`FALLBACK`).
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..display import ReaderTable
from ..units import read_yaml
from .predict import FACTORS, Factors, predict_matrix
from .scenario import Scenario, is_held_out, specs

GRID = {"mfu": (0.30, 1.0, 0.01), "decode_mfu": (0.10, 1.0, 0.01), "bw_util": (0.30, 1.0, 0.01),
        "scale_up_util": (0.30, 1.0, 0.01), "scale_out_util": (0.30, 1.0, 0.01),
        "layer_overhead_s": (0.0, 200e-6, 1e-6), "request_overhead_s": (0.0, 0.2, 0.005)}
"""factor -> (lowest, highest, grid unit). The ranges are what real engines reach, so that a factor
cannot stand in for a mechanism the model lacks: prefill GEMMs of a chunk of thousands of tokens run
at 30-100 % of the dense peak of their dtype (below that the fit would slow prefill to absorb the
TTFT of scheduling the model does not represent), HBM streams at 30-95 % of the datasheet, links at
30-100 % (DeepEP's kernels reach 80-100 % of a 50 GB/s NIC, NCCL 70-90 % of NVLink), kernels cost at
most 200 us a layer, and the serving stack adds at most 200 ms to a request (the single-request TTFTs of
the InferenceX runs sit 50-150 ms above their prefill)."""

STEPS = (16, 8, 4, 2, 1)
"""Step sizes of the pattern search, in grid units, coarse to fine."""

PRIOR = {"mfu": 0.6, "decode_mfu": 0.6, "bw_util": 0.8, "scale_up_util": 0.8, "scale_out_util": 0.8,
         "layer_overhead_s": 50e-6, "request_overhead_s": 0.1}
"""Starting point of the search, and the value of a factor no training row exercises. Link
utilisation 0.8: DeepEP's published internode kernels reach 39-58 GB/s on 50 GB/s NICs (DeepEP
README)."""

FAMILIES = {"a100-sxm-80gb": "ampere", "h100-sxm": "hopper", "h200-sxm": "hopper", "b200-sxm": "blackwell",
            "b300-sxm": "blackwell", "gb200-nvl72": "blackwell-nvl72", "gb300-nvl72": "blackwell-nvl72",
            "mi300x": "cdna3", "mi325x": "cdna3", "mi355x": "cdna4"}
"""GPU -> the silicon it shares with others (the same tensor cores, HBM controllers and engine kernels;
the datasheet figures that differ, memory, bandwidth and peak, are already in the hardware files). A GPU
with fewer than :data:`MIN_TRAINING_RUNS` measured runs in the training split (MI325X has one) is fitted
on the training rows of its whole family instead."""

MIN_TRAINING_RUNS = 3

FALLBACK = {"h800-sxm": "h100-sxm", "h20": "h200-sxm"}
"""GPUs without measured rows -> the measured GPU whose factors they take: the H800 is an H100 with
NVLink capped, the H20 a Hopper with cut compute and HBM3 (the same kernels and engines)."""

MAX_ROUNDS = 80


def _to_values(points: np.ndarray) -> np.ndarray:
    units = np.array([GRID[f][2] for f in FACTORS])
    return points * units


def _clip(points: np.ndarray) -> np.ndarray:
    lo = np.array([round(GRID[f][0] / GRID[f][2]) for f in FACTORS])
    hi = np.array([round(GRID[f][1] / GRID[f][2]) for f in FACTORS])
    return np.clip(points, lo, hi)


def exercised(scenarios: list[Scenario]) -> set[str]:
    """The factors some scenario depends on: scale_out_util only when a plan spans scale-up domains
    (EP or TP beyond the domain, or a KV transfer between pools that do not share one)."""
    names = set(FACTORS) - {"scale_out_util"}
    for sc in scenarios:
        hw = specs(sc.model_id, sc.hardware_id)[1]
        plans = [sc.plan] + ([sc.prefill_plan] if sc.prefill_plan else [])
        spans = any(p.ep * p.etp > hw.scale_up_gpus or p.tp > hw.scale_up_gpus for p in plans)
        pools = sc.plan.gpus * sc.workers + (sc.prefill_plan.gpus * sc.prefill_workers if sc.prefill_plan else 0)
        if spans or (sc.disaggregated and pools > hw.scale_up_gpus):
            names.add("scale_out_util")
    return names


def log_error(predicted, measured) -> np.ndarray:
    """|ln(predicted / measured)|, element-wise: the fit's loss per row."""
    return np.abs(np.log(np.asarray(predicted) / np.asarray(measured)))


def fit_hardware(scenarios: list[Scenario], start: dict | None = None) -> dict:
    """The pattern search of the module docstring for one hardware's training scenarios."""
    free = [f in exercised(scenarios) for f in FACTORS]
    current = np.array([round((start or PRIOR)[f] / GRID[f][2]) for f in FACTORS], dtype=float)
    measured = np.array([sc.measured for sc in scenarios])[:, None]
    offsets = np.array([o for o in itertools.product((-1, 0, 1), repeat=len(FACTORS))
                        if 0 < sum(map(abs, o)) <= 2 and all(f or d == 0 for f, d in zip(free, o))], dtype=float)
    level = 0
    for _ in range(MAX_ROUNDS):
        points = np.vstack([current, _clip(current + STEPS[level] * offsets)])  # row 0: the current point
        loss = log_error(predict_matrix(scenarios, Factors.from_points(_to_values(points))),
                                 measured).sum(axis=0)
        best = int(np.argmin(loss))
        if loss[best] < loss[0]:
            current = points[best]
        elif level + 1 < len(STEPS):
            level += 1
        else:
            break
    values = _to_values(current)
    return {f: round(float(v), 6) for f, v in zip(FACTORS, values)}


def training_rows(scenarios: list[Scenario], hardware_id: str) -> list[Scenario]:
    """The training rows a GPU's factors are fitted on: its own, or its family's when it has fewer than
    :data:`MIN_TRAINING_RUNS` runs of its own (:data:`FAMILIES`)."""
    train = [sc for sc in scenarios if not is_held_out(sc.run_key)]
    own = [sc for sc in train if sc.hardware_id == hardware_id]
    if len({sc.row_id for sc in own}) >= MIN_TRAINING_RUNS or hardware_id not in FAMILIES:
        return own
    return [sc for sc in train if FAMILIES.get(sc.hardware_id) == FAMILIES[hardware_id]]


def fit_profile(scenarios: list[Scenario]) -> dict:
    """{hardware id: {factor: value}} fitted per GPU on the training rows only (:func:`training_rows`),
    plus the fallbacks."""
    measured = sorted({sc.hardware_id for sc in scenarios if not is_held_out(sc.run_key)})
    profile = {hw: fit_hardware(training_rows(scenarios, hw)) for hw in measured}
    for gpu, sibling in FALLBACK.items():
        if gpu not in profile and sibling in profile:
            profile[gpu] = dict(profile[sibling])
    return profile


PROFILE_SOURCE = (
    "Fitted by costmodel.validation.fit_profile() to the training split of the published measurements "
    "(TensorRT-LLM 0.14/0.17 and MLPerf v4.1: dense and TP-only MoE on A100/H100/H200) and of the InferenceX "
    "DeepSeek-R1 serving runs (SGLang, TensorRT-LLM, ATOM; aggregated and disaggregated; nine GPUs); runs whose "
    "sha256 key falls in the held-out 30 % are excluded. Pattern search on a grid minimising the sum of absolute "
    "log errors. Fitted factors of real software stacks, not datasheet facts; decode_mfu, bw_util and "
    "layer_overhead_s trade off against each other, so read them together. FALLBACK GPUs copy a sibling's."
)


def profile_document(profile: dict) -> dict:
    """The YAML document of a fitted profile: {source, fallback, hardware: {id: {factor: value}}}."""
    return {"source": PROFILE_SOURCE, "fallback": dict(FALLBACK),
            "hardware": {hw: {f: float(profile[hw][f]) for f in FACTORS} for hw in sorted(profile)}}


def write_profile(path: str | Path, profile: dict) -> Path:
    """Write a fitted profile as YAML; returns the path."""
    path = Path(path)
    path.write_text(yaml.safe_dump(profile_document(profile), sort_keys=False, width=100))
    return path


def bundled_profile_path() -> Path:
    """Path of the bundled ``calibrated`` profile."""
    return Path(str(resources.files("costmodel") / "data" / "efficiency" / "calibrated.yaml"))


def bundled_profile() -> dict:
    """The bundled ``calibrated`` profile as {hardware id: {factor: value}}."""
    return read_yaml(bundled_profile_path().read_text())["hardware"]


def profile_table(profile: dict) -> pd.DataFrame:
    """A fitted profile ({hardware: {factor: value}}) as a table, one row per hardware (overhead in us)."""
    rows = [{"hardware": hw, **{f: profile[hw][f] for f in FACTORS if not f.endswith("overhead_s")},
             "layer_overhead_us": profile[hw]["layer_overhead_s"] * 1e6,
             "request_overhead_ms": profile[hw]["request_overhead_s"] * 1e3,
             "fallback from": FALLBACK.get(hw, "")} for hw in sorted(profile)]
    return ReaderTable(rows)


def neighbourhood_losses(scenarios: list[Scenario], hardware_id: str, profile: dict) -> pd.DataFrame:
    """Training loss at the profile's point and at each single-factor step of one grid unit (both
    ways): a fitted profile is a minimum, so no neighbour is lower. Cheap to check in a test."""
    train = training_rows(scenarios, hardware_id)
    centre = np.array([round(profile[f] / GRID[f][2]) for f in FACTORS], dtype=float)
    points = [centre] + [_clip(centre + d * np.eye(len(FACTORS))[i]) for i in range(len(FACTORS)) for d in (-1, 1)]
    measured = np.array([sc.measured for sc in train])[:, None]
    loss = log_error(predict_matrix(train, Factors.from_points(_to_values(np.array(points)))),
                             measured).sum(axis=0)
    labels = ["fitted"] + [f"{f} {'-' if d < 0 else '+'}1 unit" for f in FACTORS for d in (-1, 1)]
    return pd.DataFrame({"point": labels, "loss": loss})
