"""The documents' requirement sets: a ledger scenario's requirements and the documents' plans beside them.

Data, not code: ``data/audits/requirement_sets.yaml`` (or any file of the same form) maps a set name to
a title, the ledger scenario that gives model, hardware, workload, efficiency and requirements
(``from: 000/as_written``), and the documents' plans to compare (``documents: {label: LEDGER/SCENARIO}``).
The strategy search itself (:mod:`costmodel.search`) knows nothing of ledgers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..perf import Estimate, estimate
from ..search import SearchResult, plan_of, search
from ..search_views import change_path, frontier_gap, sensitivity, summary_row
from ..strategy import Plan
from ..units import CostModelError, check_choice, read_yaml
from .ledger import bundled_folder, ledger_ids, load_ledger
from .scenario import Scenario

SET_KEYS = ("title", "from", "documents")


@dataclass(frozen=True)
class RequirementSet:
    """A document's requirements (from its ledger scenario) and the documents' plans to compare."""

    name: str
    title: str
    scenario: Scenario
    documents: dict  # label -> Plan

    def search_kwargs(self) -> dict:
        """Keyword arguments of :func:`costmodel.search.search` for this set's requirements and efficiency."""
        sc = self.scenario
        return {"ttft_max_s": sc.requirements.get("ttft_s"),
                "min_tokens_per_s_per_gpu": sc.requirements.get("throughput_tokens_per_s_per_gpu"),
                "throughput_metric": sc.throughput_metric, "efficiency": sc.efficiency, "overlap": sc.overlap}

    def search(self, max_gpus: int = 512, **overrides) -> SearchResult:
        """:func:`costmodel.search.search` over this set (``overrides`` replace its keyword arguments)."""
        sc = self.scenario
        return search(sc.model, sc.hardware, sc.workload, max_gpus, **(self.search_kwargs() | overrides))

    def estimate(self, plan: Plan) -> Estimate:
        """A plan under this set's model, hardware, workload and efficiency."""
        sc = self.scenario
        return estimate(sc.model, sc.hardware, plan, sc.workload, sc.efficiency, overlap=sc.overlap)

    def sensitivity(self, values: dict, objective: str = "throughput", max_gpus: int = 512,
                    **overrides) -> pd.DataFrame:
        """:func:`costmodel.search_views.sensitivity` for each {parameter: values} under this set, rows concatenated."""
        sc = self.scenario
        kwargs = self.search_kwargs() | overrides
        return pd.concat([sensitivity(sc.model, sc.hardware, sc.workload, max_gpus, parameter, vals, objective,
                                      **kwargs) for parameter, vals in values.items()], ignore_index=True)

    def document_estimates(self) -> dict:
        """{label: Estimate} of the documents' plans under this set."""
        return {label: self.estimate(plan) for label, plan in self.documents.items()}


def _scenario(ref: str, folder: Path, where: str) -> Scenario:
    ledger, sep, name = str(ref).rpartition("/")
    if not sep:
        raise CostModelError(f"{where}: {ref!r} must be LEDGER/SCENARIO (e.g. 000/as_written)")
    source = ledger if ledger in ledger_ids() else str(folder / ledger)
    scenarios = load_ledger(source)["scenarios"]
    if name not in scenarios:
        raise CostModelError(f"{where}: scenario {name!r} is not one of {', '.join(scenarios)}")
    return scenarios[name]


@lru_cache(maxsize=None)
def _read_sets(path_text: str) -> dict:
    path = Path(path_text)
    raw = read_yaml(path.read_text())
    if not isinstance(raw, dict):
        raise CostModelError(f"requirement sets {path.name}: must be a mapping of set names")
    out = {}
    for name, spec in raw.items():
        where = f"requirement sets {path.name} set {name!r}"
        if not isinstance(spec, dict) or set(spec) != set(SET_KEYS) or not isinstance(spec["documents"], dict):
            raise CostModelError(f"{where}: needs exactly the keys {', '.join(SET_KEYS)} (documents a mapping)")
        plans = {str(label): _scenario(ref, path.parent, f"{where} documents.{label}").plan
                 for label, ref in spec["documents"].items()}
        out[name] = RequirementSet(name, str(spec["title"]), _scenario(spec["from"], path.parent, f"{where} from"),
                                   plans)
    return out


def requirement_sets(names=None, path=None) -> dict[str, RequirementSet]:
    """The requirement sets of ``path`` (default: the bundled ``requirement_sets.yaml``), all or the named ones."""
    sets = _read_sets(str(Path(path) if path else bundled_folder() / "requirement_sets.yaml"))
    for name in names or ():
        check_choice("requirement set", name, tuple(sets))
    return {name: sets[name] for name in (names or sets)}


def requirement_table(sets: dict) -> pd.DataFrame:
    """One row per requirement set: model and size, workload, requirements, documents placed."""
    rows = []
    for rs in sets.values():
        sc, kw = rs.scenario, rs.search_kwargs()
        wl = sc.workload
        rows.append({"set": rs.name, "model": sc.model.id, "params (B)": sc.model.params_total / 1e9,
                     "B": wl.batch, "S_in": wl.input_len, "S_out": wl.output_len,
                     "dtypes (w/kv)": f"{wl.weight_dtype}/{wl.kv_dtype}",
                     "TTFT limit (s)": kw["ttft_max_s"],
                     "throughput floor (tok/s/GPU)": kw["min_tokens_per_s_per_gpu"],
                     "reading": kw["throughput_metric"].split("_")[0],
                     "MFU / HBM": f"{sc.efficiency.mfu:.0%} / {sc.efficiency.bw_util:.0%}",
                     "documents": ", ".join(f"{k} ({p.label()})" for k, p in rs.documents.items())})
    return pd.DataFrame(rows)


def comparison(rs: RequirementSet, result: SearchResult) -> pd.DataFrame:
    """Each document's plan beside the corrected plan of the set, and why each change helps.

    Rows: ``document`` (the plan as the document gives it, under the set's workload) then
    ``corrected``; column ``why`` holds, on the corrected row, one sentence per move of
    :func:`costmodel.search_views.change_path` from the document's plan (newline-separated; see
    :func:`costmodel.search_views.why_markdown`).
    """
    best, dropped = result.corrected()
    rows = []
    if best is None:
        return pd.DataFrame(rows)
    best_plan, sc = plan_of(best), rs.scenario
    for label, plan in rs.documents.items():
        rows.append(summary_row(rs.estimate(plan), result.requirements, document=label, role="document")
                    | {"why": ""})
        path = change_path(sc.model, sc.hardware, sc.workload, plan, best_plan, sc.efficiency, overlap=sc.overlap,
                           metric=result.requirements["throughput_metric"])
        why = list(path["why"].iloc[1:]) or ["The document's plan is already the best one."]
        if dropped:
            why.append(f"No plan meets {', '.join(dropped)}: this is the best plan without it.")
        rows.append(summary_row(rs.estimate(best_plan), result.requirements, document=label, role="corrected")
                    | {"why": "\n".join(why)})
    return pd.DataFrame(rows)


def frontier_gaps(sets: dict, results: dict) -> pd.DataFrame:
    """:func:`costmodel.search_views.frontier_gap` of every set's documents, against the plans the set's chart shows
    (those meeting every requirement, or the rest when none does: see :meth:`SearchResult.corrected`)."""
    frames = []
    for name, rs in sets.items():
        r = results[name]
        dropped = r.corrected()[1]
        shown = r.relaxed(*dropped) if dropped else r
        frames.append(frontier_gap(shown, rs.document_estimates()).assign(set=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["set", *out.columns[:-1]]]
