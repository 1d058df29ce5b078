"""SLA search over serving deployments: aggregated and disaggregated, across concurrency.

The question AIConfigurator answers ("8 H200s, Qwen3-235B FP8, TTFT <= 2 s, TPOT <= 50 ms: which
deployment gives the most tokens/s per GPU?"), answered analytically with :mod:`costmodel.serving`:

* candidate plans: tp, dp, pp and ep in powers of two up to the GPU budget, experts spread over every
  GPU of a stage (the engine default etp = tp x dp / ep), no micro-batching; a plan must pass the
  batch-independent validity rules and hold at least one sequence (KV at the full context);
* aggregated: every plan at every concurrency of the sweep (per replica: replicas of one plan scale
  per-GPU numbers unchanged, so one replica stands for the deployment);
* disaggregated (xPyD): the prefill plans with the highest prefill rate per GPU whose single-request
  prefill meets the TTFT limit, each paired with every decode plan and every worker split
  P x GPUs(prefill) + D x GPUs(decode) <= the budget with P and D coprime and at most
  :data:`MAX_POOL_WORKERS` (2P : 2D workers give the per-GPU numbers of P : D at twice the concurrency);
* feasible: TTFT <= ``ttft_max_s``, TPOT <= ``tpot_max_s`` (either may be None), and the batch fits;
* best: the most output tokens/s per GPU (over all GPUs of the deployment); the Pareto frontier of
  tokens/s per GPU against tokens/s per user, each point with the deployment that reaches it.

Everything is evaluated in numpy arrays: plans x concurrencies (x worker splits).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import display, serving
from .efficiency import resolve_efficiency
from .inputs import as_hardware, as_model, as_workload, check_options
from .memory import MEMORY_HEADROOM, RESERVED_BYTES_PER_GPU
from .moe import routing_skew
from .search import best_at_least_as_fast, pareto_mask, powers_of_two
from .stage import overlap_policy
from .strategy import RULES, Workload, plan_label, rule_masks
from .units import CostModelError, check_choice, positive_int

SERVING_MODES = ("agg", "disagg")
REQUESTS_PER_GPU = 128
"""The default sweep reaches 128 requests in flight per GPU of the budget (at least 1,024): a decode GPU holds a
few hundred sequences at most (the KV cache caps it), so a frontier that ends at the sweep's top rather than at
the limits or the memory would be an artefact of the sweep."""


def default_concurrency(max_gpus: int) -> tuple[int, ...]:
    """Requests in flight swept by default: 1, 2, 4, ... up to max(1024, 128 x max_gpus), a power of two
    (1,024 for 8 GPUs, 8,192 for 64); per aggregated replica, per disaggregated deployment."""
    top = max(1024, REQUESTS_PER_GPU * positive_int("max_gpus", max_gpus))
    return tuple(2**i for i in range(math.ceil(math.log2(top)) + 1))


PREFILL_CANDIDATES = 4
"""Prefill plans kept for disaggregated pairs: the fastest per GPU."""

MAX_POOL_WORKERS = 8
"""Most workers in either pool of a disaggregated deployment, as a ratio P : D of coprime counts: k P : k D
workers give the per-GPU numbers of P : D at k times the concurrency, and ratios from 1 : 8 to 8 : 1 match
any prefill pool to any decode pool within a few per cent of balance."""

MAX_SERVING_POINTS = 200_000
"""Most disaggregated points (deployments x concurrencies) one search evaluates: about a second of compute, the
budget of an interactive answer. 64 GPUs at the default 14 concurrencies stay below it for every bundled model
(the largest, gpt-oss-120b on H200: 192,206 points in 1.1 s on a 2-core machine); a larger space is refused before
it is built, with a message that says how to narrow it (fewer GPUs or concurrencies, or the aggregated mode only)."""

PLAN_FIELDS = ("tp", "dp", "pp", "ep", "etp")

FRONTIER_STEP = 0.05
"""Neighbouring frontier points differ by at least 5 % in tokens/s per GPU or per user (the others are
variants of the same deployment that a reader cannot tell apart)."""

BATCH_FREE_RULES = tuple(n for n, (severity, _) in RULES.items() if severity == "error" and n not in (
    "memory_exceeds_capacity", "batch_not_divisible_by_dp", "microbatches_not_dividing"))
"""The error rules that do not depend on the batch (memory is checked by the sequences a plan holds)."""


def worker_ratios(limit: int = MAX_POOL_WORKERS) -> np.ndarray:
    """(P, D) rows: prefill and decode worker counts up to ``limit`` with no common factor."""
    p, d = (a.ravel() for a in np.meshgrid(np.arange(1, limit + 1), np.arange(1, limit + 1), indexing="ij"))
    keep = np.gcd(p, d) == 1
    return np.stack([p[keep], d[keep]], axis=1)


def candidate_plans(model, hardware, workload: Workload, max_gpus: int, phase: str, options: dict) -> dict:
    """Columns tp, dp, pp, ep, etp (and ``fits``: sequences one worker holds) of the valid plans up to
    ``max_gpus`` GPUs that hold at least one sequence in ``phase`` (``aggregated`` or ``decode``)."""
    p2 = np.array(powers_of_two(max_gpus))
    tp, dp, pp, ep = (a.ravel() for a in np.meshgrid(p2, p2, np.array([1, 2, 4]), p2, indexing="ij"))
    keep = (tp * dp * pp <= max_gpus) & (ep <= tp * dp) & ((tp * dp) % ep == 0)
    tp, dp, pp, ep = tp[keep], dp[keep], pp[keep], ep[keep]
    if not model.is_moe:
        keep = ep == 1
        tp, dp, pp, ep = tp[keep], dp[keep], pp[keep], ep[keep]
    etp = tp * dp // ep
    plan = SimpleNamespace(tp=tp, dp=dp, pp=pp, ep=ep, etp=etp, microbatches=np.ones_like(tp),
                           redundant_experts=np.zeros_like(tp))
    masks = rule_masks(model, hardware, plan, replace(workload, batch=1), 0.0)
    broken = np.zeros(len(tp), dtype=bool)
    for name in BATCH_FREE_RULES:
        broken |= np.broadcast_to(np.asarray(masks[name], dtype=bool), broken.shape)
    fits = serving.max_decode_batch(model, hardware, plan, workload, options, phase)
    ok = ~broken & (fits >= dp)
    return {"tp": tp[ok], "dp": dp[ok], "pp": pp[ok], "ep": ep[ok], "etp": etp[ok], "fits": fits[ok]}


def _namespace(columns: dict, index=None, shape=None) -> SimpleNamespace:
    values = {k: (columns[k] if index is None else columns[k][index]) for k in PLAN_FIELDS}
    if shape is not None:
        values = {k: v.reshape(shape) for k, v in values.items()}
    return SimpleNamespace(**values, microbatches=np.ones_like(values["tp"]),
                           redundant_experts=np.zeros_like(values["tp"]))


def _labels(columns: dict, index=None) -> np.ndarray:
    """Compact labels of the candidate plans (all, or at ``index``)."""
    labels = np.array([plan_label(*(int(columns[k][i]) for k in PLAN_FIELDS)) for i in range(len(columns["tp"]))],
                      dtype=object)
    return labels if index is None else labels[index]


@dataclass
class ServingSearch:
    """Every evaluated deployment x concurrency (``points``) and what was asked."""

    model: object
    hardware: object
    workload: Workload
    requirements: dict
    points: pd.DataFrame
    efficiency: object = None
    speculation: serving.Speculation | None = None
    options: dict | None = None

    @property
    def plans_evaluated(self) -> int:
        """Deployments (plan or prefill/decode pair with worker split) evaluated, each at every concurrency."""
        return int(self.points.groupby(["serving", "deployment"]).ngroups) if len(self.points) else 0

    @property
    def feasible(self) -> pd.DataFrame:
        return self.points[self.points["feasible"]]

    def best(self, n: int = 10) -> pd.DataFrame:
        """The n feasible points with the most output tokens/s per GPU (ties: faster per user)."""
        return self.feasible.sort_values(["output_tokens_per_s_per_gpu", "tokens_per_s_per_user", "deployment"],
                                         ascending=[False, False, True], kind="mergesort").head(n)

    def frontier(self, step: float = FRONTIER_STEP) -> pd.DataFrame:
        """Pareto frontier of the feasible points: output tokens/s per GPU against tokens/s per user,
        sorted by per-user speed, thinned so that neighbours differ by at least ``step`` (a fraction) in
        one of the two, each with ``why`` (the deployment and its numbers)."""
        f = self.feasible.sort_values(["gpus_total", "deployment", "concurrency"], kind="mergesort")
        keep = pareto_mask(f["output_tokens_per_s_per_gpu"], f["tokens_per_s_per_user"], (True, True))
        out = f[keep].sort_values("tokens_per_s_per_user", kind="mergesort")
        kept, last = [], None
        for i, row in out.iterrows():
            point = (row["output_tokens_per_s_per_gpu"], row["tokens_per_s_per_user"])
            if last is None or point[0] < last[0] * (1 - step) or point[1] > last[1] * (1 + step):
                kept.append(i)
                last = point
        out = out.loc[kept]
        return out.assign(why=[_why(r) for _, r in out.iterrows()])

    def place(self, label: str, plan, concurrency: int, workers: int = 1) -> dict:
        """One aggregated deployment (a document's plan, say) at ``concurrency`` requests in flight, under
        the search's efficiency and options: the columns of :attr:`points` plus ``label`` and ``fits``."""
        out = serving.aggregated(self.model, self.hardware, serving.Pool(plan, workers), self.workload,
                                 self.efficiency, concurrency, speculation=self.speculation, options=self.options)
        row = {k: float(np.asarray(out[k])) for k in ("gpus_total", "ttft_s", "tpot_s", "output_tokens_per_s_per_gpu",
                                                       "input_tokens_per_s_per_gpu", "tokens_per_s_per_user")}
        limits = self.requirements
        meets = np.isfinite(row["ttft_s"]) and all(
            not limits[k] or row[m] <= limits[k] for k, m in (("ttft_max_s", "ttft_s"), ("tpot_max_s", "tpot_s")))
        return {"label": label, "serving": "agg", "deployment": (f"{workers}×" if workers > 1 else "") + plan.label(),
                "concurrency": int(concurrency), **row, "gpus_total": int(row["gpus_total"]),
                "fits": bool(np.isfinite(row["ttft_s"])), "meets": bool(meets)}

    def gaps(self, placed: list[dict]) -> pd.DataFrame:
        """How far each placed deployment (:meth:`place`) sits below the frontier: the feasible point with the
        most output tokens/s per GPU among those at least as fast per user, and ``gain`` = its tokens/s per GPU
        over the placed one's (1: on the frontier; NaN: no feasible point is as fast)."""
        rows = []
        for p in placed:
            best = best_at_least_as_fast(self.feasible, "output_tokens_per_s_per_gpu", p["tokens_per_s_per_user"])
            row = {k: p[k] for k in ("label", "deployment", "gpus_total", "concurrency", "tokens_per_s_per_user",
                                      "output_tokens_per_s_per_gpu")}
            if best is None:
                row |= {"frontier_deployment": "none", "frontier_serving": "none", "frontier_gpus": np.nan,
                        "frontier_tokens_per_s_per_gpu": np.nan, "gain": np.nan}
            else:
                row |= {"frontier_deployment": best["deployment"], "frontier_serving": best["serving"],
                        "frontier_gpus": int(best["gpus_total"]),
                        "frontier_tokens_per_s_per_gpu": float(best["output_tokens_per_s_per_gpu"]),
                        "gain": float(best["output_tokens_per_s_per_gpu"]) / p["output_tokens_per_s_per_gpu"]}
            rows.append(row)
        return pd.DataFrame(rows)

    def as_dict(self, top: int = 10) -> dict:
        wl = self.workload
        columns = ["serving", "deployment", "prefill_plan", "prefill_workers", "decode_plan", "decode_workers",
                   "gpus_total", "concurrency", "ttft_s", "tpot_s", "output_tokens_per_s_per_gpu",
                   "input_tokens_per_s_per_gpu", "tokens_per_s_per_user"]

        def rows(frame, extra=()):
            return [{k: _plain(r[k]) for k in (*columns, *extra)} for _, r in frame.iterrows()]
        return {"model": self.model.id, "hardware": self.hardware.id,
                "workload": {"input_len": wl.input_len, "output_len": wl.output_len, "weight_dtype": wl.weight_dtype,
                             "kv_dtype": wl.kv_dtype},
                "requirements": dict(self.requirements), "plans_evaluated": self.plans_evaluated,
                "points_evaluated": len(self.points), "points_feasible": int(self.points["feasible"].sum()),
                "best": rows(self.best(top)), "frontier": rows(self.frontier(), ("why",))}


READER_COLUMNS = {
    # column: heading with unit (TPOT shown in ms)
    "label": "document", "serving": "serving", "deployment": "deployment (prefill / decode)", "gpus_total": "GPUs",
    "concurrency": "in flight", "ttft_s": "TTFT (s)", "tpot_s": "TPOT (ms)",
    "output_tokens_per_s_per_gpu": "output tok/s/GPU", "tokens_per_s_per_user": "tok/s/user", "meets": "meets limits",
    "frontier_deployment": "best deployment as fast per user", "frontier_serving": "its serving",
    "frontier_gpus": "its GPUs", "frontier_tokens_per_s_per_gpu": "its output tok/s/GPU", "gain": "gain (x)",
}


def reader_table(rows) -> display.ReaderTable:
    """Deployment points (rows of :attr:`ServingSearch.points`, :meth:`ServingSearch.place` dicts or
    :meth:`ServingSearch.gaps`) for readers: the columns of :data:`READER_COLUMNS` they have, in that order,
    headings with units, TPOT in ms."""
    frame = pd.DataFrame(rows).reset_index(drop=True)
    shown = frame[[c for c in READER_COLUMNS if c in frame]]
    if "tpot_s" in shown:
        shown = shown.assign(tpot_s=shown["tpot_s"] * 1e3)
    return display.ReaderTable(shown.rename(columns=READER_COLUMNS))


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def _why(row) -> str:
    where = (f"aggregated {row['decode_plan']} (x{row['decode_workers']} replicas)" if row["serving"] == "agg" else
             f"disaggregated {row['prefill_workers']} x {row['prefill_plan']} prefill + {row['decode_workers']} x "
             f"{row['decode_plan']} decode")
    return (f"{where} on {row['gpus_total']} GPUs at {row['concurrency']} requests in flight: TTFT "
            f"{row['ttft_s']:.3g} s, TPOT {row['tpot_s'] * 1e3:.3g} ms, {row['output_tokens_per_s_per_gpu']:,.0f} "
            f"output tokens/s per GPU, {row['tokens_per_s_per_user']:.3g} tokens/s per user")


def _frame(serving_mode, out, concurrency, deployment, prefill_plan, prefill_workers, decode_plan, decode_workers,
           limits) -> pd.DataFrame:
    n = out["tpot_s"].size
    shape = out["tpot_s"].shape

    def spread(values):
        return np.broadcast_to(np.asarray(values).reshape((-1,) + (1,) * (len(shape) - 1)), shape).ravel()
    frame = pd.DataFrame({
        "serving": serving_mode, "deployment": spread(deployment), "prefill_plan": spread(prefill_plan),
        "prefill_workers": spread(prefill_workers), "decode_plan": spread(decode_plan),
        "decode_workers": spread(decode_workers),
        "concurrency": np.broadcast_to(concurrency, shape).ravel().astype(int),
        **{k: np.broadcast_to(out[k], shape).ravel() for k in ("gpus_total", "ttft_s", "tpot_s",
                                                               "output_tokens_per_s_per_gpu",
                                                               "input_tokens_per_s_per_gpu", "tokens_per_s_per_user",
                                                               "decode_batch")},
    }, index=range(n))
    frame["gpus_total"] = frame["gpus_total"].astype(int)
    ok = np.isfinite(frame["ttft_s"]) & (frame["output_tokens_per_s_per_gpu"] > 0)
    if limits["ttft_max_s"]:
        ok &= frame["ttft_s"] <= limits["ttft_max_s"]
    if limits["tpot_max_s"]:
        ok &= frame["tpot_s"] <= limits["tpot_max_s"]
    frame["feasible"] = ok
    return frame


def serving_search(model, hardware, workload: Workload, max_gpus: int = 8, *, ttft_max_s: float | None = None,
                   tpot_max_s: float | None = None, modes=SERVING_MODES, concurrency=None,
                   efficiency=None, mfu: float | None = None, bw_util: float | None = None, overlap="none",
                   routing=None, speculation: serving.Speculation | None = None,
                   memory_headroom: float = MEMORY_HEADROOM,
                   reserved_bytes: float = RESERVED_BYTES_PER_GPU) -> ServingSearch:
    """Aggregated and disaggregated deployments on up to ``max_gpus`` GPUs over a concurrency sweep
    (module docstring). ``workload`` gives the lengths and dtypes (its batch is ignored); model and hardware may be
    bundled ids; ``concurrency`` defaults to :func:`default_concurrency` of the budget."""
    model, hardware, workload = as_model(model), as_hardware(hardware), as_workload(workload)
    max_gpus = positive_int("max_gpus", max_gpus)
    modes = tuple(modes)
    for mode in modes:
        check_choice("serving", mode, SERVING_MODES)
    for name, value in (("ttft_max_s", ttft_max_s), ("tpot_max_s", tpot_max_s)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not 0 < value < math.inf):
            raise CostModelError(f"{name}: {value!r} must be a finite number > 0, or None")
    check_options(reserved_bytes, memory_headroom)
    if speculation is not None and not isinstance(speculation, serving.Speculation):
        raise CostModelError(f"speculation: {speculation!r} must be a costmodel.serving.Speculation or None")
    if concurrency is None:
        concurrency = default_concurrency(max_gpus)
    counts = list(concurrency) if np.iterable(concurrency) and not isinstance(concurrency, (str, bytes)) else []
    if not counts:
        raise CostModelError(f"concurrency: {concurrency!r} must be a non-empty list of whole numbers >= 1")
    conc = np.array(sorted({positive_int("concurrency", c) for c in counts}), dtype=float)
    eff = resolve_efficiency(hardware, efficiency, mfu, bw_util)
    options = {"overlap": overlap_policy(overlap), "routing": routing_skew(routing),
               "memory_headroom": memory_headroom, "reserved_bytes": reserved_bytes}
    limits = {"ttft_max_s": ttft_max_s, "tpot_max_s": tpot_max_s}
    frames = []
    if "agg" in modes:
        frames.append(_aggregated(model, hardware, workload, max_gpus, conc, eff, speculation, options, limits))
    if "disagg" in modes:
        frames.append(_disaggregated(model, hardware, workload, max_gpus, conc, eff, speculation, options, limits))
    points = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else \
        pd.DataFrame(columns=["serving", "deployment", "feasible", "gpus_total"])
    requirements = dict(limits, max_gpus=max_gpus, serving=",".join(modes),
                        mtp=speculation.draft_tokens if speculation else 0)
    return ServingSearch(model, hardware, workload, requirements, points, eff, speculation, options)


def _aggregated(model, hardware, wl, max_gpus, conc, eff, speculation, options, limits) -> pd.DataFrame:
    plans = candidate_plans(model, hardware, wl, max_gpus, "aggregated", options)
    if not len(plans["tp"]):
        return pd.DataFrame()
    plan = _namespace(plans, shape=(-1, 1))
    out = serving.aggregated(model, hardware, serving.Pool(plan, 1), wl, eff, conc[None, :], speculation=speculation,
                             options=options)
    labels = _labels(plans)
    return _frame("agg", out, conc[None, :], labels, "", 0, labels, 1, limits)


def _disaggregated(model, hardware, wl, max_gpus, conc, eff, speculation, options, limits) -> pd.DataFrame:
    if max_gpus < 2:
        return pd.DataFrame()
    prefill = candidate_plans(model, hardware, wl, max_gpus - 1, "prefill", options)
    decode = candidate_plans(model, hardware, wl, max_gpus - 1, "decode", options)
    if not len(prefill["tp"]) or not len(decode["tp"]):
        return pd.DataFrame()
    mu, t_1 = serving.prefill_rate(model, hardware, _namespace(prefill), wl, eff, options)
    gpus_p = prefill["tp"] * prefill["dp"] * prefill["pp"]
    order = np.lexsort((np.arange(len(mu)), -mu / gpus_p))
    meets = order[t_1[order] <= (limits["ttft_max_s"] or np.inf)][:PREFILL_CANDIDATES]
    gpus_d = decode["tp"] * decode["dp"] * decode["pp"]
    if not len(meets):
        return pd.DataFrame()
    ratios = worker_ratios()
    pi, di, ri = [], [], []
    for i in meets:  # every decode plan x every worker ratio that fits the budget
        fits = ratios[None, :, 0] * gpus_p[i] + ratios[None, :, 1] * gpus_d[:, None] <= max_gpus
        j, r = np.nonzero(fits)
        pi.append(np.full(len(j), i))
        di.append(j)
        ri.append(r)
    pi, di, ri = (np.concatenate(v) for v in (pi, di, ri))
    if len(pi) * len(conc) > MAX_SERVING_POINTS:
        raise CostModelError(f"max_gpus: {max_gpus:,} GPUs give {len(pi):,} disaggregated deployments x "
                             f"{len(conc)} concurrencies, more than the {MAX_SERVING_POINTS:,} points one search "
                             "evaluates; lower max_gpus or the concurrencies, or search the aggregated mode only")
    pw, dw = ratios[ri, 0], ratios[ri, 1]
    if not len(pi):
        return pd.DataFrame()
    # one step curve per distinct decode plan (reaching the largest concurrency), handed to every pair using it
    curve = serving.StepCurve(model, hardware, _namespace(decode, shape=(-1, 1)), wl, eff, max(conc.max(), 1.0),
                              speculation, options).take(di)
    out = serving.disaggregated(model, hardware, serving.Pool(_namespace(prefill, pi, (-1, 1)), pw[:, None]),
                                serving.Pool(_namespace(decode, di, (-1, 1)), dw[:, None]), wl, eff, conc[None, :],
                                speculation=speculation, options=options, decode_curve=curve)
    p_labels, d_labels = _labels(prefill, pi), _labels(decode, di)
    deployment = np.array([f"{p}×{a} / {d}×{b}" for a, p, b, d in zip(p_labels, pw, d_labels, dw)], dtype=object)
    return _frame("disagg", out, conc[None, :], deployment, p_labels, pw, d_labels, dw, limits)
