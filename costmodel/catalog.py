"""Tables of the bundled hardware and models, in display units (GB = 1e9 bytes) at full precision; they show
with 3 significant digits and ``—`` for a missing value (:class:`costmodel.display.ReaderTable`)."""

from __future__ import annotations

from .architecture import load_model, model_ids, official_params
from .display import ReaderTable
from .hardware import hardware_ids, load_hardware
from .units import GB, TB, TFLOP


def hardware_table() -> ReaderTable:
    """One row per bundled GPU: datasheet facts, node interconnect and the scenario efficiency."""
    rows = []
    for hw_id in hardware_ids():
        hw = load_hardware(hw_id)
        rows.append({
            "id": hw.id,
            "dense BF16 (TFLOP/s)": hw.peak_flops_per_s("bf16") / TFLOP,
            "dense FP8 (TFLOP/s)": hw.dense_flops_per_s.get("fp8", float("nan")) / TFLOP,  # NaN: no FP8 units
            "dense FP4 (TFLOP/s)": hw.dense_flops_per_s.get("fp4", float("nan")) / TFLOP,
            "HBM (GB)": hw.memory_bytes / GB,
            "HBM bandwidth (TB/s)": hw.hbm_bandwidth_bytes_per_s / TB,
            "GPUs per scale-up domain": hw.scale_up_gpus,
            "scale-up (GB/s per GPU per direction)": hw.scale_up_bandwidth_bytes_per_s / GB,
            "scale-out (GB/s per GPU per direction)": hw.scale_out_bandwidth_bytes_per_s / GB,
            "scenario MFU": hw.efficiency.mfu,
            "scenario HBM utilisation": hw.efficiency.bw_util,
        })
    return ReaderTable(rows)


def model_table(weight_dtype_bytes: float = 1.0) -> ReaderTable:
    """One row per bundled model: shape, parameter counts (B = 1e9), KV bytes per token, weight bytes.

    ``weight_dtype_bytes``: bytes per weight for the weight-bytes column (1 = FP8, 2 = BF16).
    """
    rows = []
    for model_id in model_ids():
        m = load_model(model_id)
        published = official_params(model_id)
        rows.append({
            "id": m.id,
            "layers": m.num_layers,
            "d_model": m.d_model,
            "heads / KV heads": f"{m.num_heads} / {m.num_kv_heads}" if m.attention == "gqa" else f"{m.num_heads} / MLA",
            "experts (top-k)": f"{m.num_experts} ({m.experts_per_token})" if m.is_moe else "dense",
            "params total (B)": m.params_total / 1e9,
            "params active (B)": m.params_active / 1e9,
            "published total (B)": published.get("params_total", published.get("params_total_claimed", float("nan"))) / 1e9,
            "KV per token, BF16 (KB)": m.kv_bytes_per_token("bf16") / 1e3,
            f"weights at {weight_dtype_bytes:g} B/param (GB)": m.params_total * weight_dtype_bytes / GB,
        })
    return ReaderTable(rows)
