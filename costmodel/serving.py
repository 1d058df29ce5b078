"""Serving as production runs it: N requests in flight, aggregated or disaggregated pools, and
speculative decoding (MTP).

Closed loop (as benchmark clients count concurrency): N requests are in flight across the deployment;
each one, once its S_out tokens are out, is replaced at once. W workers (replicas of one plan) share
them evenly, N_w = N / W each. In the steady state of one worker:

  decode batch B (requests decoding) and completion rate X (requests/s) obey Little's law,
      N_w = X (TTFT + (S_out - 1) TPOT) = B + X TTFT.
  decode: s(B) = max(mb, pp) decode stage times at B sequences (:func:`costmodel.perf.decode_stage`);
      with speculation a verify step runs 1 + n tokens per sequence, n draft passes of the MTP module
      (one layer plus the LM head, costed as two layers' share of a one-token step) precede it, and
      tau tokens are accepted: s_eff(B) = (s_verify(B) + draft(B)) / tau.
  prefill: a worker prefills requests at rate mu = dp b / t_chunk, b = C / S_in sequences per chunk of
      C tokens per replica (fewer than one when a prompt spans chunks) and t_chunk their prefill stage
      time; one request alone takes t_1 = pp x its stage time; utilisation rho = X / mu.

Aggregated (prefill chunks interleave with decode steps on the same GPUs):
      TPOT = s_eff(B) / (1 - rho),   X = B / ((S_out - 1) TPOT)   =>   rho = a / (1 + a),
      a = B / ((S_out - 1) s_eff(B) mu);
      TTFT = t_1 + s(B) / 2 + rho / (2 mu (1 - rho))    (own prefill, the running step, the M/D/1 queue)
Disaggregated (P prefill workers, D decode workers):
      TPOT = s_eff(B),   X = D B / ((S_out - 1) TPOT),   rho = X / (P mu_p);
      TTFT = t_1 + rho / (2 mu_p (1 - rho)) + KV transfer of the last prompt chunk (earlier chunks move
      while later ones compute; over NVLink when both pools fit one scale-up domain, else the NIC)
             + 1.5 s(B) (the decode worker takes the request at its next step and emits the first
             token after one step of its own).
t_1 includes the efficiency's ``request_overhead_s``: what a request waits outside the GPUs (HTTP,
tokenisation, scheduling, streaming); 0 in the roofline.
Memory caps the decode batch at B_max (KV for the full context of each sequence); past it requests
wait for a slot and the wait joins TTFT. B solves N(B) = N_w by bisection (N grows with B).
All functions take numpy arrays in the plan's fields and in the concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .architecture import kv_elements_per_token_per_layer
from .memory import (MEMORY_HEADROOM, PREFILL_CHUNK_TOKENS, activation_bytes_per_token, kv_shards,
                     memory_bytes_per_gpu, usable_memory_bytes)
from .perf import decode_rounds, decode_stage, prefill_stage
from .strategy import Plan
from .units import CostModelError, dtype_bytes, positive_int

PUBLISHED_ACCEPTANCE = {1: 1.85, 2: 2.18, 3: 2.44}
"""Expected tokens accepted per verify step, by draft tokens n, for DeepSeek-V3/R1 MTP:
n = 1: 1.85, the DeepSeek-V3 technical report (arXiv:2412.19437, section 5.4.3: "the acceptance rate of
the second token prediction ranges between 85% and 90%", lower end); n = 2: 2.18 and n = 3: 2.44, the
SGLang MTP blog (lmsys.org, 2025-07-17: "average acceptance length of 2.18 tokens" with a 3-token window,
2.44 with a 4-token window, topk 1). Beyond 3 the per-token rate p of 1 + p + p^2 + p^3 = 2.44 extends it."""

BISECTION_STEPS = 12
"""Halvings, on a log scale, of the interval between two grid batches that brackets the solution (a
ratio of at most 1.4 for a largest batch of 10^4): within 1e-4 of the exact batch."""

GRID_POINTS = 33
"""Decode batches at which the step time is evaluated (geometric from 1/8 to the largest batch); the
solve interpolates linearly between neighbours (a step time is piecewise linear in the batch), within
1 % of a direct evaluation."""


@dataclass(frozen=True)
class Speculation:
    """Speculative decoding: n draft tokens per verify step, ``acceptance`` = expected tokens accepted
    per step including the verified one (1 <= acceptance <= n + 1; None: :func:`published_acceptance`)."""

    draft_tokens: int
    acceptance: float | None = None

    def __post_init__(self):
        n = positive_int("mtp", self.draft_tokens)
        tau = published_acceptance(n) if self.acceptance is None else self.acceptance
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not 1 <= tau <= n + 1:
            raise CostModelError(f"acceptance: {tau!r} must be a number of tokens in [1, {n + 1}] for mtp {n}")
        object.__setattr__(self, "acceptance", float(tau))


def published_acceptance(draft_tokens: int) -> float:
    """Default accepted tokens per verify step for n draft tokens (:data:`PUBLISHED_ACCEPTANCE`)."""
    n = positive_int("mtp", draft_tokens)
    if n in PUBLISHED_ACCEPTANCE:
        return PUBLISHED_ACCEPTANCE[n]
    lo, hi = 0.0, 1.0
    for _ in range(60):  # per-token rate p with 1 + p + p^2 + p^3 = 2.44
        p = (lo + hi) / 2
        lo, hi = (p, hi) if 1 + p + p**2 + p**3 < PUBLISHED_ACCEPTANCE[3] else (lo, p)
    return PUBLISHED_ACCEPTANCE[3] + sum(p**i for i in range(4, n + 1))


@dataclass(frozen=True)
class Pool:
    """``workers`` replicas of one plan serving one phase (or both, aggregated)."""

    plan: Plan
    workers: int = 1

    def __post_init__(self):
        if np.ndim(self.workers):  # a search passes arrays of worker counts
            if not np.all(np.asarray(self.workers) >= 1):
                raise CostModelError("workers: every count must be a whole number >= 1")
        else:
            positive_int("workers", self.workers)


def _gpus(plan):
    return plan.tp * plan.dp * plan.pp


def _stage(options: dict) -> dict:
    """The options a stage time takes (overlap, routing); the rest are memory options."""
    return {k: options[k] for k in ("overlap", "routing") if k in options}


def decode_step(model, hw, plan, wl, eff, batch, speculation: Speculation | None, options: dict):
    """(s(B), s_eff(B)): seconds of one decode step of ``batch`` sequences per worker, and the
    seconds per output token with speculation (module docstring). Arrays broadcast."""
    rounds = decode_rounds(plan)
    one = rounds * decode_stage(model, hw, plan, wl, eff, batch=batch, **_stage(options))["total"]
    if speculation is None:
        return one, one
    n = speculation.draft_tokens
    verify = rounds * decode_stage(model, hw, plan, wl, eff, batch=batch, new_tokens=1 + n,
                                   **_stage(options))["total"]
    draft = n * 2.0 * one / model.num_layers
    return one, (verify + draft) / speculation.acceptance


def prefill_rate(model, hw, plan, wl, eff, options: dict, chunk_tokens=PREFILL_CHUNK_TOKENS):
    """(mu, t_1): requests/s one worker prefills when busy, and the TTFT of one request alone (its
    prefill, pp stage times, plus the efficiency's request overhead outside the GPUs)."""
    per_chunk = chunk_tokens / wl.input_len  # sequences per replica in one chunk (below 1: a prompt spans chunks)
    stage = prefill_stage(model, hw, plan, wl, eff, batch=per_chunk * plan.dp, **_stage(options))["total"]
    single = prefill_stage(model, hw, plan, wl, eff, batch=1, **_stage(options))["total"]
    return plan.dp * per_chunk / stage, plan.pp * single + getattr(eff, "request_overhead_s", 0.0)


def max_decode_batch(model, hw, plan, wl, options: dict, phase: str = "aggregated",
                     chunk_tokens=PREFILL_CHUNK_TOKENS):
    """Most sequences one worker holds, dp x floor(free / (KV + logits per sequence)):

      free = usable memory - weights - reserve - activations of one prefill chunk of C tokens
             (none in a decode pool, whose activations of one token a sequence are negligible);
      per sequence: KV at the full context (:func:`costmodel.memory.kv_bytes_per_gpu`) and the fp32
      logits of its position, V / tp x 4 bytes.
    """
    mem = memory_bytes_per_gpu(model, plan, replace(wl, batch=1), options.get("reserved_bytes", 1e9), phase,
                               chunk_tokens)
    chunk = 0.0 if phase == "decode" else chunk_tokens * activation_bytes_per_token(model, plan, wl.act_bytes)
    free = usable_memory_bytes(hw, options.get("memory_headroom", MEMORY_HEADROOM)) - mem["weights"] \
        - mem["reserved"] - chunk
    per_sequence = mem["kv_cache"] + model.vocab_size / plan.tp * 4.0
    return np.floor(np.maximum(free, 0.0) / per_sequence) * plan.dp


def kv_transfer_s(model, hw, plan_prefill, wl, eff, same_domain, chunk_tokens=PREFILL_CHUNK_TOKENS):
    """Seconds to move the KV of a prompt's last chunk (min(S_in, C) tokens) from a prefill worker:
    bytes per token x tokens / (GPUs holding distinct KV shards x link bandwidth) + latency, over
    NVLink when both pools sit in one scale-up domain, else over the NIC."""
    per_token = kv_elements_per_token_per_layer(model) * model.num_layers * dtype_bytes(wl.kv_dtype)
    senders = kv_shards(model, plan_prefill.tp) * plan_prefill.pp
    nbytes = np.minimum(wl.input_len, chunk_tokens) * per_token
    bw = np.where(same_domain, hw.scale_up_bandwidth_bytes_per_s * eff.scale_up_util,
                  hw.scale_out_bandwidth_bytes_per_s * eff.scale_out)
    latency = np.where(same_domain, hw.scale_up_latency_s, hw.scale_out_latency_s)
    return latency + nbytes / (senders * bw)


class StepCurve:
    """s(B) and s_eff(B) of :func:`decode_step` on a geometric grid of batches from 1/8 to ``largest``,
    interpolated linearly between neighbours. The grid axis is first, the plan's (or efficiency's)
    shape follows; a query broadcasts against that trailing shape."""

    def __init__(self, model, hw, plan, wl, eff, largest, speculation, options):
        shape = np.broadcast(largest, plan.tp, plan.dp, plan.pp, plan.ep, plan.etp, plan.microbatches, eff.mfu,
                             eff.decode_compute, eff.bw_util, eff.scale_up_util, eff.scale_out).shape
        top = np.log(np.maximum(np.broadcast_to(np.asarray(largest, dtype=float), shape), 1.0))
        self.log_first, self.log_step = np.log(0.125), (top - np.log(0.125)) / (GRID_POINTS - 1)
        steps = np.arange(GRID_POINTS).reshape((-1,) + (1,) * len(shape))
        self.batches = np.exp(self.log_first + steps * self.log_step)
        self.step, self.eff_step = decode_step(model, hw, plan, wl, eff, self.batches, speculation, options)

    def __call__(self, batch):
        """(s(B), s_eff(B)) at ``batch``."""
        b = np.maximum(np.asarray(batch, dtype=float), 0.125)

        def widen(values):  # grid axis first, then right-aligned with the query
            values = np.asarray(values)
            missing = max(np.ndim(b) - (values.ndim - 1), 0)
            return values.reshape((GRID_POINTS,) + (1,) * missing + values.shape[1:])

        step, eff_step = widen(self.step), widen(self.eff_step)
        log_step = np.reshape(self.log_step, (1,) * (step.ndim - 1 - np.ndim(self.log_step)) + np.shape(self.log_step))
        shape = np.broadcast(b, step[0], eff_step[0]).shape
        i = np.clip(np.floor((np.log(b) - self.log_first) / log_step), 0, GRID_POINTS - 2).astype(int)
        i = np.broadcast_to(i, shape)[None]
        b0 = np.exp(self.log_first + i[0] * log_step)
        w = np.clip((b - b0) / (b0 * np.exp(log_step) - b0), 0.0, 1.0)

        def at(values):
            lo = np.take_along_axis(values, i, 0)[0]
            return lo + (np.take_along_axis(values, i + 1, 0)[0] - lo) * w
        return at(step), at(eff_step)


def _solve(count, target, hi, curve: StepCurve):
    """(B, found): the smallest B in (0, hi] with count(B) >= target (count increasing in B), and
    whether one exists (where none does, B = hi: the cap binds). count is first taken at the curve's
    grid batches to bracket the root between two neighbours, then bisected there on a log scale."""
    at_cap = count(np.asarray(hi, dtype=float))
    shape = np.broadcast(target, hi, at_cap).shape
    hi = np.broadcast_to(np.asarray(hi, dtype=float), shape)
    found = np.broadcast_to(at_cap >= target, shape)
    extra = (1,) * max(len(shape) - curve.batches.ndim + 1, 0)
    grid = np.broadcast_to(curve.batches.reshape(curve.batches.shape[:1] + extra + curve.batches.shape[1:]),
                           (GRID_POINTS,) + shape)
    exact = tuple(v.reshape(v.shape[:1] + extra + v.shape[1:]) for v in (curve.step, curve.eff_step))
    below = ((count(grid, *exact) < target) & (grid < hi)).sum(axis=0)  # grid points under the root
    lo = np.where(below > 0, np.take_along_axis(grid, np.maximum(below - 1, 0)[None], 0)[0], 1e-6)
    top = np.where(below < GRID_POINTS, np.take_along_axis(grid, np.minimum(below, GRID_POINTS - 1)[None], 0)[0], hi)
    lo, top = np.minimum(lo, hi), np.minimum(top, hi)
    for _ in range(BISECTION_STEPS):
        mid = np.sqrt(lo * top)
        above = count(mid) >= target
        top, lo = np.where(above, mid, top), np.where(above, lo, mid)
    return np.where(found, top, hi), found


def aggregated(model, hw, pool: Pool, wl, eff, concurrency, *, speculation: Speculation | None = None,
               options: dict | None = None, queueing: bool = True) -> dict:
    """Steady state of ``pool.workers`` replicas of ``pool.plan`` serving ``concurrency`` requests in a
    closed loop, prefill and decode on the same GPUs (module docstring). Values in SI; keys as
    :func:`metrics` gives them. ``queueing=False`` leaves every wait out of TTFT (own prefill only):
    the roofline's lower bound."""
    options = dict(options or {})
    plan, workers = pool.plan, pool.workers
    n_w = np.asarray(concurrency, dtype=float) / workers
    mu, t_1 = prefill_rate(model, hw, plan, wl, eff, options)
    cap = max_decode_batch(model, hw, plan, wl, options)
    s_out = max(wl.output_len - 1, 1)
    curve = StepCurve(model, hw, plan, wl, eff, np.maximum(np.max(n_w), 1.0) + 0 * cap, speculation, options)

    def state(b, step=None, eff_step=None):
        if step is None:
            step, eff_step = curve(b)
        a = b / (s_out * eff_step * mu)
        rho = a / (1 + a)
        tpot = eff_step / (1 - rho)
        x = b / (s_out * tpot)
        ttft = t_1 + queueing * (step / 2 + rho / (2 * mu * (1 - rho)))
        return {"tpot": tpot, "x": x, "ttft": ttft, "rho": rho}

    def count(b, *steps):
        s = state(b, *steps)
        return b + s["x"] * s["ttft"]

    b, unsaturated = _solve(count, n_w, np.minimum(n_w, cap), curve)
    s = state(b)
    slot_wait = queueing * _slot_wait(unsaturated, n_w, s, s_out)
    return metrics(wl, s["x"] * workers, s["ttft"] + slot_wait, s["tpot"], workers * _gpus(plan),
                   batch=b, prefill_utilisation=s["rho"], fits=cap >= 1)


def disaggregated(model, hw, prefill: Pool, decode: Pool, wl, eff, concurrency, *,
                  speculation: Speculation | None = None, options: dict | None = None, queueing: bool = True) -> dict:
    """Steady state of separate prefill and decode pools serving ``concurrency`` requests in a closed
    loop (module docstring). Adds per-pool throughputs and the prefill workers that would match the
    decode pool's rate. ``queueing=False``: TTFT without waits (own prefill and KV transfer)."""
    options = dict(options or {})
    n = np.asarray(concurrency, dtype=float)
    mu, t_1 = prefill_rate(model, hw, prefill.plan, wl, eff, options)
    capacity = prefill.workers * mu
    cap = max_decode_batch(model, hw, decode.plan, wl, options, "decode")
    s_out = max(wl.output_len - 1, 1)
    gpus_p, gpus_d = prefill.workers * _gpus(prefill.plan), decode.workers * _gpus(decode.plan)
    same_domain = gpus_p + gpus_d <= hw.scale_up_gpus
    transfer = kv_transfer_s(model, hw, prefill.plan, wl, eff, same_domain)
    curve = StepCurve(model, hw, decode.plan, wl, eff, np.maximum(np.max(n) / decode.workers, 1.0) + 0 * cap,
                      speculation, options)

    def state(b, step=None, tpot=None):
        if tpot is None:
            step, tpot = curve(b)
        x = decode.workers * b / (s_out * tpot)
        rho = x / capacity
        wait = np.where(rho < 1, rho / (2 * mu * np.maximum(1 - rho, 1e-12)), np.inf) if queueing else 0.0
        return {"tpot": tpot, "x": x, "ttft": t_1 + wait + transfer + queueing * 1.5 * step, "rho": rho}

    def count(b, *steps):
        s = state(b, *steps)
        return decode.workers * b + s["x"] * s["ttft"]

    b, unsaturated = _solve(count, n, np.minimum(n / decode.workers, cap), curve)
    s = state(b)
    slot_wait = queueing * _slot_wait(unsaturated, n, s, s_out)
    out = metrics(wl, s["x"], s["ttft"] + slot_wait, s["tpot"], gpus_p + gpus_d, batch=b,
                  prefill_utilisation=s["rho"], fits=cap >= 1)
    out["output_tokens_per_s_per_decode_gpu"] = s["x"] * wl.output_len / gpus_d
    out["input_tokens_per_s_per_prefill_gpu"] = s["x"] * wl.input_len / gpus_p
    out["kv_transfer_s"] = transfer + 0.0 * b
    out["matched_prefill_workers"] = s["x"] / mu
    return out


def _slot_wait(unsaturated, n, state, s_out):
    """Wait for a decode slot when memory caps the batch: N / X - TTFT - (S_out - 1) TPOT (Little's law
    over the whole loop); 0 where the batch is not capped, inf where nothing fits."""
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.maximum(n / state["x"] - state["ttft"] - s_out * state["tpot"], 0.0)
    return np.where(unsaturated, 0.0, np.where(state["x"] > 0, wait, np.inf))


def metrics(wl, requests_per_s, ttft, tpot, gpus, *, batch, prefill_utilisation, fits) -> dict:
    """The serving metrics of a steady state (SI): TTFT, TPOT, tokens/s per GPU and per user."""
    return {
        "ttft_s": ttft, "tpot_s": tpot, "requests_per_s": requests_per_s,
        "output_tokens_per_s_per_gpu": requests_per_s * wl.output_len / gpus,
        "input_tokens_per_s_per_gpu": requests_per_s * wl.input_len / gpus,
        "tokens_per_s_per_user": 1.0 / tpot, "decode_batch": batch,
        "prefill_utilisation": prefill_utilisation, "fits_memory": fits, "gpus_total": gpus + 0 * batch,
    }
