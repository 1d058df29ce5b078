"""How one estimate reads: the rows of the ``costmodel estimate`` table and of an :class:`Estimate` in a notebook.

Numbers go through :mod:`costmodel.display` (3 significant digits, thousands separators, ``—`` for empty);
the estimate itself keeps full precision (``Estimate.metrics``, ``--json``).
"""

from __future__ import annotations

import html

import pandas as pd

from .display import cell, html_table, sig
from .units import GB, MS

ESTIMATE_ROWS = (
    # (quantity, metric, scale the SI value is divided by, unit)
    ("weights per GPU", "weight_bytes_per_gpu", GB, "GB"),
    ("KV cache per GPU", "kv_bytes_per_gpu", GB, "GB"),
    ("activations per GPU", "activation_bytes_per_gpu", GB, "GB"),
    ("reserved per GPU", "reserved_bytes_per_gpu", GB, "GB"),
    ("memory per GPU", "memory_bytes_per_gpu", GB, "GB"),
    ("memory capacity per GPU", "memory_capacity_bytes_per_gpu", GB, "GB"),
    ("prefill FLOPs (whole batch)", "prefill_flops", 1, "FLOP"),
    ("TTFT, whole batch", "ttft_s", 1, "s"),
    ("TTFT, one request", "ttft_single_request_s", 1, "s"),
    ("communication on the TTFT path", "comm_s", 1, "s"),
    ("decode step (TPOT)", "decode_step_s", MS, "ms"),
    ("output tokens/s per GPU (decode)", "output_tokens_per_s_per_gpu", 1, "tokens/s/GPU"),
    ("input tokens/s per GPU (prefill)", "input_tokens_per_s_per_gpu", 1, "tokens/s/GPU"),
    ("tokens/s per user", "tokens_per_s_per_user", 1, "tokens/s"),
)
"""The quantities an estimate shows, in order; a metric the estimate lacks is left out."""


def estimate_rows(metrics: dict) -> list[tuple[str, str, str]]:
    """(quantity, value, unit) for each of :data:`ESTIMATE_ROWS` that ``metrics`` holds, values through
    :func:`costmodel.display.cell`."""
    return [(name, cell(metrics[key] / scale), unit) for name, key, scale, unit in ESTIMATE_ROWS if key in metrics]


def status(e) -> str:
    """``fits`` for a valid plan, else ``invalid:`` and the names of the rules of severity error it breaks."""
    broken = [v.name for v in e.violations if v.severity == "error"]
    return "fits" if not broken else "invalid: " + ", ".join(broken)


def scenario_line(e) -> str:
    """Model, GPUs, plan, workload, dtypes, efficiency and overlap of an estimate, on one line."""
    wl, x = e.workload, e.metrics
    return (f"{e.model_id} on {x['gpus_total']:,} x {e.hardware_id}, {e.plan.label()}, B={wl.batch:,} "
            f"S_in={wl.input_len:,} S_out={wl.output_len:,}, weights {wl.weight_dtype}, KV {wl.kv_dtype}, "
            f"MFU {e.efficiency.mfu:.0%}, HBM {e.efficiency.bw_util:.0%}, overlap {e.overlap}")


class EstimateView:
    """Notebook and ``repr`` views of an estimate (mixed into :class:`costmodel.Estimate`): a one-line
    ``repr``, an HTML table, and the metrics listed by ``dir()`` (they are attributes: ``e.ttft_s``)."""

    def __repr__(self) -> str:
        x = self.metrics
        return (f"Estimate({self.model_id} on {x['gpus_total']:,} x {self.hardware_id}, {self.plan.label()}, "
                f"TTFT {sig(x['ttft_s'])} s, TPOT {sig(x['decode_step_s'] / MS)} ms, "
                f"{sig(x['output_tokens_per_s_per_gpu'])} output tok/s/GPU, {status(self)})")

    def _repr_html_(self) -> str:
        rows = pd.DataFrame(estimate_rows(self.metrics), columns=["quantity", "value", "unit"])
        problems = "".join(f"<li>{html.escape(v.severity)} <code>{html.escape(v.name)}</code>: "
                           f"{html.escape(v.message)}</li>" for v in self.violations)
        return (f'<div class="cm-estimate"><p>{html.escape(scenario_line(self))}</p>'
                + html_table(rows)
                + (f"<p>violations:</p><ul>{problems}</ul>" if problems else "<p>violations: none</p>")
                + "</div>")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.metrics))
