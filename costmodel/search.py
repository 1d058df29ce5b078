"""Strategy search: every plan up to a GPU budget, evaluated at once, filtered and ranked.

The space is the product of the degrees tp, dp, pp, ep, etp and micro-batches (powers of two by
default: the usual space of serving frameworks; pass ``degrees`` to widen it), cut only where a
plan can never be valid by construction:

  tp x dp x pp <= max_gpus,   ep x etp <= tp x dp,   microbatches <= ceil(B / dp).

The batch per replica is B / dp, so dp covers it; a caller who may choose the total batch passes
several values in ``batches``. Every remaining plan is evaluated by :func:`costmodel.perf.evaluate`
with numpy arrays in the plan's fields (the same code path as :func:`costmodel.estimate`) and
checked by :func:`costmodel.strategy.rule_masks`. A plan is ``valid`` when it breaks no rule of
severity ``error`` (memory included) and ``feasible`` when it is valid and meets the requirements
(TTFT limit, throughput per GPU, per-user speed). Two Pareto frontiers are drawn over the
feasible plans: throughput per GPU (output tokens/s/GPU, or input tokens/s/GPU when that is the
requirement's reading) against tokens/s per user (both maximised) and GPUs against TTFT (both
minimised).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .architecture import Model
from .efficiency import Efficiency, resolve_efficiency
from .hardware import Hardware
from .inputs import as_hardware, as_model, as_workload, check_options
from .memory import MEMORY_HEADROOM, RESERVED_BYTES_PER_GPU
from .moe import routing_skew
from .stage import overlap_policy
from .perf import Estimate, estimate, evaluate
from .strategy import RULES, Plan, Workload, rule_masks
from .units import MAX_BATCH, MAX_DEGREE, MAX_GPUS, CostModelError, check_choice, positive_int

DEGREE_FIELDS = ("tp", "dp", "pp", "ep", "etp", "microbatches")
"""Plan fields the search varies (see :class:`costmodel.Plan`)."""

PLAN_COLUMNS = DEGREE_FIELDS + ("batch",)

MAX_PLANS = 150_000
"""Most candidate plans one search evaluates (about 1 s and 200 MB); a larger space is refused before any
plan is evaluated, with a message that says how to narrow it (a lower GPU budget, a smaller batch, ``degrees``)."""

THROUGHPUT_METRICS = ("output_tokens_per_s_per_gpu", "input_tokens_per_s_per_gpu")
"""Readings of "throughput per GPU": decode output tokens/s/GPU or prefill input tokens/s/GPU."""

ERROR_RULES = tuple(name for name, (severity, _) in RULES.items() if severity == "error")
WARNING_RULES = tuple(name for name, (severity, _) in RULES.items() if severity == "warning")

CONSTRAINTS = ("ttft_max_s", "min_tokens_per_s_per_gpu", "min_tokens_per_s_per_user")
"""Names of the requirements a valid plan can miss (reported in the ``unmet`` column)."""

REQUIREMENT_METRICS = {"ttft_max_s": ("ttft_s", True), "min_tokens_per_s_per_gpu": (None, False),
                       "min_tokens_per_s_per_user": ("tokens_per_s_per_user", False)}
"""Requirement: (the metric it bounds, None for the throughput metric the search was asked to read;
True for an upper limit, False for a floor)."""


def powers_of_two(limit: int) -> list[int]:
    """1, 2, 4, ... up to and including ``limit`` (the default candidate degrees)."""
    limit = positive_int("limit", limit)
    return [2**i for i in range(limit.bit_length()) if 2**i <= limit]


def _candidates(name: str, values, limit: int, maximum: int = MAX_DEGREE) -> np.ndarray:
    if values is None:
        return np.array(powers_of_two(limit), dtype=np.int64)
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__") or not len(values):
        raise CostModelError(f"{name}: {values!r} must be a non-empty list of whole numbers >= 1")
    return np.array(sorted({positive_int(name, v, maximum) for v in values}), dtype=np.int64)


def _cross(table: dict, name: str, values: np.ndarray) -> dict:
    """Every row of ``table`` combined with every value of a new column."""
    n = len(next(iter(table.values()))) if table else 1
    out = {k: np.repeat(v, len(values)) for k, v in table.items()}
    out[name] = np.tile(values, n)
    return out


def _keep(table: dict, mask: np.ndarray) -> dict:
    return {k: v[mask] for k, v in table.items()}


def enumerate_plans(workload: Workload, max_gpus: int, degrees: dict | None = None,
                    batches=None) -> dict[str, np.ndarray]:
    """Columns tp, dp, pp, ep, etp, microbatches, batch of every candidate plan (see module doc).

    degrees: optional {field: candidate values} for any of :data:`DEGREE_FIELDS`; the others stay
    powers of two up to ``max_gpus`` (micro-batches: up to the largest batch).
    """
    max_gpus = positive_int("max_gpus", max_gpus, MAX_GPUS)
    if degrees is not None and not isinstance(degrees, dict):
        raise CostModelError(f"degrees: {degrees!r} must be a dict {{field: candidate values}}")
    degrees = dict(degrees or {})
    for name in degrees:
        check_choice("degrees", name, DEGREE_FIELDS)
    batch_values = _candidates("batches", [workload.batch] if batches is None else batches, 1, MAX_BATCH)
    limits = dict.fromkeys(DEGREE_FIELDS, max_gpus) | {"microbatches": int(batch_values.max())}
    cand = {name: _candidates(f"degrees[{name!r}]", degrees.get(name), limits[name]) for name in DEGREE_FIELDS}
    t: dict = {}
    for name in ("tp", "dp", "pp"):
        t = _cross(t, name, cand[name])
        t = _keep(t, np.prod([t[k] for k in t], axis=0) <= max_gpus)
    t = _cross(t, "ep", cand["ep"])
    t = _keep(t, t["ep"] <= t["tp"] * t["dp"])
    t = _cross(t, "etp", cand["etp"])
    t = _keep(t, t["ep"] * t["etp"] <= t["tp"] * t["dp"])
    count = sum(int(np.searchsorted(cand["microbatches"], -(-int(b) // t["dp"]), side="right").sum())
                for b in batch_values)
    if count > MAX_PLANS:
        raise CostModelError(f"max_gpus: {max_gpus:,} GPUs give {count:,} candidate plans, more than the "
                             f"{MAX_PLANS:,} one search evaluates; lower max_gpus or the batch, or narrow degrees")
    t = _cross(t, "batch", batch_values)
    t = _cross(t, "microbatches", cand["microbatches"])
    t = _keep(t, t["microbatches"] <= -(-t["batch"] // t["dp"]))
    return {k: t[k] for k in PLAN_COLUMNS}


def _names_column(masks: dict, names: tuple, n: int) -> np.ndarray:
    """Comma-joined names of the True masks per row (built once per distinct combination)."""
    if not names:
        return np.full(n, "", dtype=object)
    bits = np.stack([np.broadcast_to(np.asarray(masks[k], dtype=bool), (n,)) for k in names], axis=1)
    codes = bits.astype(np.int64) @ (1 << np.arange(len(names), dtype=np.int64))
    unique, inverse = np.unique(codes, return_inverse=True)
    labels = np.array([",".join(k for i, k in enumerate(names) if code >> i & 1) for code in unique], dtype=object)
    return labels[inverse.reshape(-1)]


def evaluate_plans(model: Model, hardware: Hardware, workload: Workload, plans: dict, efficiency: Efficiency,
                   **options) -> pd.DataFrame:
    """One row per plan: plan columns, every metric of :class:`costmodel.Estimate`, rule names, ``valid``.

    ``plans`` holds equal-length integer arrays for :data:`PLAN_COLUMNS`; each distinct batch is one
    vectorised call of :func:`costmodel.perf.evaluate`; ``options`` go to it (overlap, routing,
    reserved_bytes, memory_headroom, prefill_chunk_tokens).
    """
    frames = []
    for b in np.unique(plans["batch"]):
        rows = np.flatnonzero(plans["batch"] == b)
        cols = {k: plans[k][rows] for k in PLAN_COLUMNS}
        wl = replace(workload, batch=int(b))
        plan = SimpleNamespace(**{k: cols[k] for k in DEGREE_FIELDS})
        metrics = evaluate(model, hardware, plan, wl, efficiency, **options)
        masks = rule_masks(model, hardware, plan, wl, metrics["memory_bytes_per_gpu"],
                           options.get("memory_headroom", MEMORY_HEADROOM))
        k = len(rows)
        data = dict(cols)
        for name, value in metrics.items():
            data[name] = np.broadcast_to(value, (k,)).copy()
        data["gpus_total"] = data["gpus_total"].astype(np.int64)
        data["fits_memory"] = data["fits_memory"].astype(bool)
        errors = np.zeros(k, dtype=bool)
        for name in ERROR_RULES:
            errors |= np.broadcast_to(np.asarray(masks[name], dtype=bool), (k,))
        data["valid"] = ~errors
        data["errors"] = _names_column(masks, ERROR_RULES, k)
        data["warnings"] = _names_column(masks, WARNING_RULES, k)
        frames.append(pd.DataFrame(data, index=rows))
    return pd.concat(frames).sort_index().reset_index(drop=True)


def pareto_mask(x, y, maximize=(True, True)) -> np.ndarray:
    """True for the points no other point beats in both coordinates (non-dominated).

    A point is dominated when another is at least as good in x and y and better in one. Of
    exact duplicates only the first (in input order) is kept. Sorting by x (best first) and
    sweeping the best y seen so far makes it O(n log n).
    """
    x = np.asarray(x, dtype=float) * (1 if maximize[0] else -1)
    y = np.asarray(y, dtype=float) * (1 if maximize[1] else -1)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((np.arange(n), -y, -x))
    ys = y[order]
    best_before = np.concatenate(([-np.inf], np.maximum.accumulate(ys)[:-1]))
    mask = np.zeros(n, dtype=bool)
    mask[order] = ys > best_before
    return mask


RANK_KEYS = ("gpus_total", "tokens_per_s_per_user", "ttft_s") + PLAN_COLUMNS
"""Tie-breaks after the throughput metric (compared to 9 significant digits): fewer GPUs, faster per
user, lower TTFT, smaller degrees."""


def best_at_least_as_fast(feasible: pd.DataFrame, metric: str, tokens_per_s_per_user: float) -> pd.Series | None:
    """The row of ``feasible`` with the highest ``metric`` among those at least ``tokens_per_s_per_user`` fast per
    user (a relative tolerance of 1e-12 keeps a plan level with itself); None when no row is that fast."""
    faster = feasible[feasible["tokens_per_s_per_user"] >= tokens_per_s_per_user * (1 - 1e-12)]
    return None if faster.empty else faster.loc[faster[metric].idxmax()]


def _significant(values, digits: int = 9) -> np.ndarray:
    """Values rounded to ``digits`` significant digits, so float noise does not break a tie."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 10.0 ** (np.floor(np.log10(np.abs(v))) - (digits - 1))
        out = np.round(v / scale) * scale
    return np.where(np.isfinite(out) & (v != 0), out, v)


@dataclass
class SearchResult:
    """Every evaluated plan (``plans``) and what the search was asked (model, hardware, limits, and the
    ``options`` of :func:`costmodel.estimate`: overlap, routing, reserved_bytes, memory_headroom)."""

    model: Model
    hardware: Hardware
    workload: Workload
    efficiency: Efficiency
    options: dict
    requirements: dict
    plans: pd.DataFrame = field(repr=False)

    @property
    def plans_evaluated(self) -> int:
        return len(self.plans)

    @property
    def feasible(self) -> pd.DataFrame:
        """Valid plans that meet every requirement."""
        return self.plans[self.plans["feasible"]]

    def best(self, n: int = 10) -> pd.DataFrame:
        """The n feasible plans with the highest throughput per GPU (the requirement's reading)."""
        f = self.feasible
        metric = self.requirements["throughput_metric"]
        keys = f.assign(_rank=_significant(f[metric]))
        ascending = [False, True, False, True] + [True] * len(PLAN_COLUMNS)
        order = keys.sort_values(["_rank", *RANK_KEYS], ascending=ascending, kind="mergesort").index
        return f.loc[order].head(n)

    def fastest(self, kind: str = "user", n: int = 1) -> pd.DataFrame:
        """The n feasible plans with the most tokens/s per user (``user``) or the lowest TTFT
        (``ttft``); ties go to fewer GPUs, then the higher throughput per GPU."""
        check_choice("kind", kind, ("user", "ttft"))
        f = self.feasible
        metric = self.requirements["throughput_metric"]
        first = "tokens_per_s_per_user" if kind == "user" else "ttft_s"
        keys = f.assign(_rank=_significant(f[first]), _tput=_significant(f[metric]))
        order = keys.sort_values(["_rank", "gpus_total", "_tput", *PLAN_COLUMNS],
                                 ascending=[kind == "ttft", True, False] + [True] * len(PLAN_COLUMNS),
                                 kind="mergesort").index
        return f.loc[order].head(n)

    def corrected(self) -> tuple[pd.Series | None, list[str]]:
        """The best plan and the requirements dropped to find one: none when a plan meets them all,
        else the throughput floor, then every requirement (``(None, [...])`` when no plan is valid)."""
        for names in ((), ("min_tokens_per_s_per_gpu",), CONSTRAINTS):
            best = self.relaxed(*names).best(1) if names else self.best(1)
            if not best.empty:
                return best.iloc[0], [n for n in names if self.requirements.get(n)]
        return None, list(CONSTRAINTS)

    def rule_counts(self) -> pd.DataFrame:
        """Plans that break each rule (a plan can break several), and the requirement misses of the
        valid ones."""
        rows = []
        for column, severity in (("errors", "error"), ("warnings", "warning")):
            names = self.plans[column].str.split(",").explode()
            for name, count in names[names != ""].value_counts(sort=False).items():
                rows.append({"rule": name, "severity": severity, "plans": int(count)})
        valid = self.plans.loc[self.plans["valid"], "unmet"].str.split(",").explode()
        for name, count in valid[valid != ""].value_counts(sort=False).items():
            rows.append({"rule": name, "severity": "requirement (valid plans)", "plans": int(count)})
        order = {n: i for i, n in enumerate((*RULES, *CONSTRAINTS))}
        return pd.DataFrame(rows).sort_values("rule", key=lambda c: c.map(order), kind="mergesort").reset_index(
            drop=True)

    def requirement_misses(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Relative shortfall of each row against each requirement that is set (0 when met):
        TTFT (t - limit) / limit; floors (floor - x) / floor."""
        req, out = self.requirements, pd.DataFrame(index=rows.index)
        for name, (column, is_limit) in REQUIREMENT_METRICS.items():
            bound = req.get(name)
            if bound:
                values = rows[req["throughput_metric"] if column is None else column].to_numpy(dtype=float)
                out[name] = np.maximum((values - bound) / bound if is_limit else (bound - values) / bound, 0.0)
        return out

    def why_none(self) -> dict | None:
        """Why no plan is feasible (None when some plan is): the binding constraint and the closest plan.

        ``binding``: among the plans that fail the fewest rules of severity error and requirements (``fewest``
        of them; 1: the plans that this constraint alone rules out), the rule or requirement they fail most
        often, with ``binding_plans`` of them failing it. ``closest``: the valid plan whose largest relative
        shortfall against a requirement (:meth:`requirement_misses`) is the smallest (ties: fewer GPUs, then
        smaller degrees), ``misses`` its shortfalls; None when no plan is valid.
        """
        if self.plans["feasible"].any() or self.plans.empty:
            return None
        combos = (self.plans["errors"] + "|" + self.plans["unmet"]).value_counts(sort=False)
        failed = {combo: {n for n in combo.replace("|", ",").split(",") if n} for combo in combos.index}
        fewest = min(len(names) for names in failed.values())
        tally: dict = {}
        for combo, names in failed.items():
            if len(names) == fewest:
                for name in names:
                    tally[name] = tally.get(name, 0) + int(combos[combo])
        order = {n: i for i, n in enumerate((*RULES, *CONSTRAINTS))}
        binding = max(tally, key=lambda n: (tally[n], -order.get(n, len(order))))
        out = {"binding": binding, "binding_plans": tally[binding], "fewest": fewest, "closest": None,
               "misses": {}}
        valid = self.plans[self.plans["valid"]]
        if not valid.empty:
            misses = self.requirement_misses(valid)
            worst = misses.max(axis=1) if len(misses.columns) else pd.Series(0.0, index=valid.index)
            ranked = valid.assign(_worst=_significant(worst)).sort_values(["_worst", "gpus_total", *PLAN_COLUMNS],
                                                                          kind="mergesort")
            out["closest"] = ranked.drop(columns="_worst").iloc[0]
            out["misses"] = {k: float(v) for k, v in misses.loc[ranked.index[0]].items() if v > 0}
        return out

    def relaxed(self, *names: str) -> "SearchResult":
        """The same plans with the named requirements (see :data:`CONSTRAINTS`) dropped: what comes
        closest when nothing meets them all. No plan is evaluated again."""
        for name in names:
            check_choice("requirement", name, CONSTRAINTS)
        df = self.plans.copy()
        # a few distinct ``unmet`` strings among many plans: work on those, then map them back
        combos = {u: [x for x in u.split(",") if x] for u in df["unmet"].unique()}
        misses_kept = {u: any(x not in names for x in xs) for u, xs in combos.items()}
        df["feasible"] = df["valid"].to_numpy() & ~df["unmet"].map(misses_kept).to_numpy(dtype=bool)
        df["unmet"] = df["unmet"].map({u: ",".join(x for x in xs if x not in names) for u, xs in combos.items()})
        requirements = {**self.requirements, **dict.fromkeys(names)}
        return SearchResult(self.model, self.hardware, self.workload, self.efficiency, self.options,
                            requirements, df)

    def frontier(self, kind: str = "throughput") -> pd.DataFrame:
        """Pareto frontier of the feasible plans.

        ``throughput``: throughput per GPU (the requirement's reading, output tokens/s/GPU unless
        asked otherwise) against tokens/s per user (both maximised), sorted by per-user speed;
        ``ttft``: GPUs against TTFT (both minimised), sorted by GPUs.
        """
        check_choice("frontier", kind, ("throughput", "ttft"))
        f = self.feasible.sort_values(["gpus_total", *PLAN_COLUMNS], kind="mergesort")
        if kind == "throughput":
            metric = self.requirements["throughput_metric"]
            keep = pareto_mask(f[metric], f["tokens_per_s_per_user"], (True, True))
            return f[keep].sort_values("tokens_per_s_per_user", kind="mergesort")
        keep = pareto_mask(f["gpus_total"], f["ttft_s"], (False, False))
        return f[keep].sort_values("gpus_total", kind="mergesort")

    def workload_of(self, row) -> Workload:
        wl = self.workload
        return replace(wl, batch=int(row["batch"]))

    def estimate(self, row) -> Estimate:
        """The same plan through :func:`costmodel.estimate` (one at a time), for a row of ``plans``."""
        return estimate(self.model, self.hardware, plan_of(row), self.workload_of(row), self.efficiency,
                        **self.options)


    def as_dict(self, top: int = 10) -> dict:
        """JSON-ready summary: counts, requirements, the best plans and both frontiers, each plan as
        :meth:`costmodel.Estimate.as_dict` gives it (computed again one at a time through ``estimate``)."""
        wl = self.workload
        return {
            "model": self.model.id, "hardware": self.hardware.id,
            "workload": {"batch": wl.batch, "input_len": wl.input_len, "output_len": wl.output_len,
                         "weight_dtype": wl.weight_dtype, "kv_dtype": wl.kv_dtype},
            "efficiency": {"mfu": self.efficiency.mfu, "bw_util": self.efficiency.bw_util,
                           "scale_up_util": self.efficiency.scale_up_util,
                           "scale_out_util": self.efficiency.scale_out, "overlap": self.options["overlap"]},
            "requirements": dict(self.requirements),
            "plans_evaluated": self.plans_evaluated,
            "plans_valid": int(self.plans["valid"].sum()),
            "plans_feasible": int(self.plans["feasible"].sum()),
            "best": [self.estimate(r).as_dict() for _, r in self.best(top).iterrows()],
            "frontier": {
                "throughput_vs_user": [self.estimate(r).as_dict() for _, r in self.frontier("throughput").iterrows()],
                "gpus_vs_ttft": [self.estimate(r).as_dict() for _, r in self.frontier("ttft").iterrows()],
            },
        }


def plan_of(row) -> Plan:
    """The :class:`Plan` of a result row (a pandas Series or dict)."""
    return Plan(*(int(row[k]) for k in DEGREE_FIELDS))


def search(model: Model | str, hardware: Hardware | str, workload: Workload, max_gpus: int = 512, *,
           ttft_max_s: float | None = None, min_tokens_per_s_per_gpu: float | None = None,
           throughput_metric: str = "output_tokens_per_s_per_gpu", min_tokens_per_s_per_user: float | None = None,
           degrees: dict | None = None, batches=None, efficiency=None, mfu: float | None = None,
           bw_util: float | None = None, overlap="none", routing=None,
           reserved_bytes: float = RESERVED_BYTES_PER_GPU, memory_headroom: float = MEMORY_HEADROOM) -> SearchResult:
    """Evaluate every plan up to ``max_gpus`` GPUs and flag the ones that meet the requirements.

    ttft_max_s: limit on the whole-batch TTFT (s); min_tokens_per_s_per_gpu: floor on
    ``throughput_metric`` (output or input tokens/s/GPU); min_tokens_per_s_per_user: floor on
    1 / TPOT. efficiency / mfu / bw_util / overlap / routing / memory_headroom as in :func:`costmodel.estimate`.
    Columns ``unmet`` (requirement names) and ``feasible`` join the ones of :func:`evaluate_plans`.
    model and hardware may be bundled ids (``"qwen3-235b-a22b"``, ``"h100-sxm"``).
    """
    model, hardware, workload = as_model(model), as_hardware(hardware), as_workload(workload)
    check_options(reserved_bytes, memory_headroom)
    check_choice("throughput_metric", throughput_metric, THROUGHPUT_METRICS)
    limits = {"ttft_max_s": ttft_max_s, "min_tokens_per_s_per_gpu": min_tokens_per_s_per_gpu,
              "min_tokens_per_s_per_user": min_tokens_per_s_per_user}
    for name, value in limits.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not 0 < value < math.inf):
            raise CostModelError(f"{name}: {value!r} must be a finite number > 0, or None")
    eff = resolve_efficiency(hardware, efficiency, mfu, bw_util)
    plans = enumerate_plans(workload, max_gpus, degrees, batches)
    options = {"overlap": overlap_policy(overlap), "routing": routing_skew(routing), "reserved_bytes": reserved_bytes,
               "memory_headroom": memory_headroom}
    df = evaluate_plans(model, hardware, workload, plans, eff, **options)
    n = len(df)
    unmet = {
        "ttft_max_s": (df["ttft_s"].to_numpy() > ttft_max_s) if ttft_max_s else np.zeros(n, bool),
        "min_tokens_per_s_per_gpu": ((df[throughput_metric].to_numpy() < min_tokens_per_s_per_gpu)
                                     if min_tokens_per_s_per_gpu else np.zeros(n, bool)),
        "min_tokens_per_s_per_user": ((df["tokens_per_s_per_user"].to_numpy() < min_tokens_per_s_per_user)
                                      if min_tokens_per_s_per_user else np.zeros(n, bool)),
    }
    df["unmet"] = _names_column(unmet, CONSTRAINTS, n)
    df["feasible"] = df["valid"].to_numpy() & ~np.any(np.stack(list(unmet.values())), axis=0)
    requirements = dict(limits, throughput_metric=throughput_metric, max_gpus=int(max_gpus))
    return SearchResult(model, hardware, workload, eff, options, requirements, df)
