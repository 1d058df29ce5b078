"""Audit plan documents claim by claim against the cost model.

A claims ledger (YAML data, :mod:`.ledger`) lists each checkable claim of one document with its verbatim
quote, the scenario it belongs to (:mod:`.scenario`), the quantity it states (:mod:`.quantities`, a
vocabulary of data) or the check that decides a statement (:mod:`.concepts`), the claimed value and the
pinned verdict. :mod:`.rows` recomputes and judges each claim by the rules of :mod:`.verdicts`; :mod:`.cards`
shows the result to readers; :mod:`.chapter` gives chart data and the corrected strategy;
:mod:`.requirements` holds the documents' requirement sets; :mod:`.pins` keeps each recomputed value pinned
in its ledger; :mod:`.narrative` fills a chapter's prose with figures from the audit.

Modules import one way: expressions, dimensions -> scenario -> quantities -> figures -> concepts -> verdicts -> ledger
-> rows -> pins, cards, chapter -> narrative; requirements.
"""

from .cards import ClaimCard, Readings, claim_card, findings_table, scenario_readings, scenario_table
from .chapter import (MEMORY_METRICS, WHOLE_SYSTEM_QUANTITIES, claim_value_per_gpu, corrected_strategy,
                      interconnect_sensitivity, memory_breakdown, scaling_table)
from .concepts import CHECKS, run_check
from .dimensions import UNITS, show
from .expressions import evaluate, own_arithmetic
from .ledger import MEMORY_PARTS, document_text, ledger_ids, ledger_path, load_ledger
from .narrative import Prose, prose
from .quantities import Quantity, Resolver, resolve, vocabulary
from .requirements import RequirementSet, comparison, frontier_gaps, requirement_sets, requirement_table
from .rows import (JSON_KEYS, audit_claim, audit_rows, audit_table, readings_summary, recompute, to_json_rows,
                   verdict_counts)
from .scenario import Scenario, build_scenario, model_with_params, scenario_estimate
from .verdicts import BASES, VERDICTS, Verdict, agrees, claimed_bounds, off_factor, verdict

__all__ = [
    "ClaimCard", "Readings", "claim_card", "findings_table", "scenario_readings", "scenario_table",
    "MEMORY_METRICS", "WHOLE_SYSTEM_QUANTITIES", "claim_value_per_gpu", "corrected_strategy", "memory_breakdown",
    "scaling_table", "interconnect_sensitivity", "CHECKS", "run_check", "UNITS", "show", "evaluate", "own_arithmetic",
    "Prose", "prose", "MEMORY_PARTS", "document_text", "ledger_ids", "ledger_path", "load_ledger",
    "Quantity", "Resolver", "resolve", "vocabulary",
    "RequirementSet", "comparison", "frontier_gaps", "requirement_sets", "requirement_table",
    "JSON_KEYS", "audit_claim", "audit_rows", "audit_table", "readings_summary", "recompute", "to_json_rows",
    "verdict_counts", "Scenario", "build_scenario", "model_with_params", "scenario_estimate",
    "BASES", "VERDICTS", "Verdict", "agrees", "claimed_bounds", "off_factor", "verdict",
]
