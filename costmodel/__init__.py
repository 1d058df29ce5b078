"""costmodel: FLOP, byte and communication formulas for sizing MoE LLM inference deployments.

Flat public API, so a notebook reads ``cm.estimate(...)``. All quantities are SI floats
(bytes, FLOP, seconds, bytes/s, FLOP/s); names carry the unit.
"""

from . import catalog, charts, validation  # modules: tables, chart builders, validation
from . import search as plansearch  # the plan-search module (costmodel/search.py); cm.search is its function
from .audit import (audit_claim, audit_rows, audit_table, claim_card, corrected_strategy, findings_table, ledger_ids,
                    load_ledger, scenario_readings, scenario_table, verdict_counts)
from .architecture import (Model, attended_positions, kv_cache_positions, load_model, model_from_hf_config, model_ids,
                           official_params, param_breakdown)
from .comm import all_gather_s, all_reduce_s, all_to_all_s, p2p_s, reduce_scatter_s
from .flops import attention_core_flops, decode_flops, linear_flops_per_token, prefill_flops
from .efficiency import Efficiency, resolve_efficiency
from .hardware import Hardware, hardware_ids, load_hardware
from .memory import activation_bytes_per_gpu, kv_bytes_per_gpu, memory_bytes_per_gpu, weight_bytes_per_gpu
from .moe import RoutingSkew, experts_active_fraction
from .perf import Estimate, estimate, evaluate, validate
from .search import SearchResult, search  # binds cm.search to the function, after every import of the module
from .strategy import Plan, Violation, Workload
from .units import GB, GiB, TB, CostModelError


def enable_charts(theme: bool = True) -> None:
    """Show Altair charts through the offline renderer (costmodel.charts.render); imported lazily."""
    from .charts.render import enable

    enable(theme)


__all__ = [
    "Model", "load_model", "model_from_hf_config", "model_ids", "official_params", "param_breakdown",
    "attended_positions", "kv_cache_positions",
    "all_gather_s", "all_reduce_s", "all_to_all_s", "p2p_s", "reduce_scatter_s",
    "attention_core_flops", "decode_flops", "linear_flops_per_token", "prefill_flops",
    "Efficiency", "Hardware", "hardware_ids", "load_hardware", "resolve_efficiency",
    "activation_bytes_per_gpu", "kv_bytes_per_gpu", "memory_bytes_per_gpu", "weight_bytes_per_gpu",
    "Estimate", "estimate", "evaluate", "experts_active_fraction", "validate", "RoutingSkew",
    "Plan", "Violation", "Workload", "GB", "GiB", "TB", "CostModelError",
    "enable_charts", "catalog", "charts", "search", "SearchResult", "plansearch", "validation",
    "audit_claim", "audit_rows", "audit_table", "claim_card", "corrected_strategy", "findings_table", "ledger_ids",
    "load_ledger", "scenario_readings", "scenario_table", "verdict_counts",
]
