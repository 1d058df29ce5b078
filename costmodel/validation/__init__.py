"""Validation against published measurements of real systems, and the calibrated efficiency profile.

Two datasets, each parsed into :class:`Scenario` objects (one measured value each) or listed with the
reason the model cannot represent a row:

* :mod:`~costmodel.validation.published`: dense and TP-only MoE on A100/H100/H200 (TensorRT-LLM
  offline and online, MLPerf v4.1), 411 rows;
* :mod:`~costmodel.validation.inferencex`: DeepSeek-R1 serving with expert parallelism, disaggregated
  pools and MTP on nine GPU types (InferenceX), 257 runs.

:mod:`~costmodel.validation.predict` predicts them under an efficiency profile (vectorised over
candidate profiles), :mod:`~costmodel.validation.fit` fits the calibrated profile on the training split
(:func:`is_held_out`), :mod:`~costmodel.validation.report` reports errors, roofline violations and
intervals on the held-out rows.
"""

import pandas as pd

from . import inferencex, published
from .fit import (FALLBACK, bundled_profile, bundled_profile_path, fit_hardware, fit_profile, neighbourhood_losses,
                  profile_document, profile_table, log_error, write_profile)
from .predict import (FACTORS, MAX_BATCH, Factors, abs_pct_error, closed_loop, explain_max_load, max_batch, predict,
                      predict_matrix)
from .report import (GROUPS, beats_bound, bound_violations, error_table, hardware_pair_ratios, interval_coverage,
                     largest_errors, max_load_consistency, prediction_intervals, profile_comparison, ratio_by_lengths,
                     roofline, split_counts)
from .scenario import HELD_OUT_PERCENT, Scenario, is_held_out


def parse_all():
    """(scenarios, not_represented) of both datasets; not_represented has a ``dataset`` column."""
    a, skipped_a = published.parse()
    b, skipped_b = inferencex.parse()
    skipped = pd.concat([skipped_a.assign(dataset="published"), skipped_b.assign(dataset="inferencex")],
                        ignore_index=True)
    return a + b, skipped


__all__ = [
    "inferencex", "published", "Scenario", "is_held_out", "HELD_OUT_PERCENT", "parse_all",
    "FACTORS", "MAX_BATCH", "Factors", "abs_pct_error", "closed_loop", "explain_max_load", "max_batch", "predict",
    "predict_matrix", "FALLBACK", "bundled_profile", "bundled_profile_path", "fit_hardware", "fit_profile",
    "neighbourhood_losses", "profile_document", "profile_table", "log_error", "write_profile",
    "GROUPS", "beats_bound", "bound_violations", "error_table", "hardware_pair_ratios", "interval_coverage",
    "largest_errors", "max_load_consistency", "prediction_intervals", "profile_comparison", "ratio_by_lengths",
    "roofline", "split_counts",
]
