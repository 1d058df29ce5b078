"""Open-loop serving at a fixed request rate (the published TensorRT-LLM online rows, S4).

Requests arrive at ``qps`` (math.inf: all at once); the engine batches prefills and decodes. The
closed-loop model of benchmark clients with a fixed concurrency is :mod:`costmodel.serving`.
"""

from __future__ import annotations

import math

import numpy as np

FIXED_POINT_ITERATIONS = 40
"""Iterations of Little's-law fixed point for the online decode batch (from below, so it reaches
the smallest, stable solution)."""


def interp(x, xp, fp):
    """Column-wise linear interpolation: x (K,), xp (n,) increasing, fp (n, K) -> (K,)."""
    if len(xp) == 1:
        return fp[0]
    i = np.minimum(np.maximum(np.searchsorted(xp, x, side="right") - 1, 0), len(xp) - 2)
    cols = np.arange(fp.shape[1])
    x0 = xp[i]
    w = np.minimum(np.maximum((x - x0) / (xp[i + 1] - x0), 0.0), 1.0)
    return fp[i, cols] * (1 - w) + fp[i + 1, cols] * w


def online_metrics(qps: float, requests: int, output_len: int, batch_max: int, batches, decode_step_s,
                   ttft_batch_s, ttft_single_s) -> dict:
    """Mean TTFT, mean inter-token latency, output tokens/s and decode batch of a serving run.

    Inputs (arrays over K candidate efficiencies): decode_step_s (n, K) and ttft_batch_s (n, K) are
    the library's decode step and whole-batch prefill at each batch in ``batches`` (n,), whose last
    element is batch_max = min(batch that fits, requests, MAX_BATCH); ttft_single_s (K,) is the
    prefill of one request alone. With lambda = qps, N = requests, S_out = output_len:

      s_b = TTFT(batch_max) / batch_max          prefill work per request when chunks are batched
      rho = lambda s_b                            prefill utilisation
    Steady state (rho < 1 and the batch below batch_max), B from Little's law by fixed-point
    iteration, B = lambda (TTFT + (S_out - 1) ITL):
      ITL  = step(B) / (1 - rho)                  decode iterations share the GPU with prefill chunks
      TTFT = s_1 + rho s_b / (2 (1 - rho)) + 1.5 step(B)
             (prefill alone, M/D/1 queueing for the prefill, half an iteration waiting for the
              running one plus the iteration that carries the new context)
      tokens/s = N S_out / (N / lambda + TTFT + (S_out - 1) ITL)     (arrivals span N / lambda)
    Saturated (rho >= 1, QPS=INF, or the batch reaches batch_max), B = batch_max:
      T_wave = TTFT(B) + S_out step(B);  T_run = max(N / B x T_wave, N / lambda + s_1 + (S_out - 1) step(1))
      TTFT = s_1 + (N - 1) / 2 x max(s_b - 1 / lambda, 0) + [N > B] (N - B)^2 / (2 N) x T_wave / B
             + 1.5 step(B)
             (the prefill backlog grows for the whole arrival span; requests beyond B wait for slots)
      ITL  = max((T_run - N / (2 lambda) - TTFT) / (S_out - 1), step(B))
             (all requests finish together at T_run: mean finish minus mean first-token time)
      tokens/s = N S_out / T_run
    """
    lam, n, s_out = qps, requests, output_len
    inv_lam = 0.0 if math.isinf(lam) else 1.0 / lam
    s1 = ttft_single_s
    s_b = ttft_batch_s[-1] / batch_max
    step_max, step_1 = decode_step_s[-1], decode_step_s[0]

    # saturated branch
    t_wave = ttft_batch_s[-1] + s_out * step_max
    t_run = np.maximum(n / batch_max * t_wave, n * inv_lam + s1 + (s_out - 1) * step_1)
    slot_wait = max(n - batch_max, 0) ** 2 / (2 * n) * t_wave / batch_max
    ttft_sat = s1 + (n - 1) / 2 * np.maximum(s_b - inv_lam, 0.0) + slot_wait + 1.5 * step_max
    itl_sat = np.maximum((t_run - n * inv_lam / 2 - ttft_sat) / max(s_out - 1, 1), step_max)
    result = {"ttft_s": ttft_sat, "itl_s": itl_sat, "output_tokens_per_s": n * s_out / t_run,
              "batch": np.full(np.shape(s1), float(batch_max))}
    if math.isinf(lam):
        return result

    # steady-state branch
    rho = lam * s_b
    free = np.clip(1.0 - rho, 1e-9, None)
    batch = np.minimum(lam * (s1 + s_out * step_1), batch_max)
    for _ in range(FIXED_POINT_ITERATIONS):
        step = interp(batch, batches, decode_step_s)
        itl = step / free
        ttft = s1 + rho * s_b / (2 * free) + 1.5 * step
        batch = np.minimum(lam * (ttft + (s_out - 1) * itl), batch_max)
    steady = (rho < 1.0) & (batch < batch_max)
    tokens = n * s_out / (n / lam + ttft + (s_out - 1) * itl)
    return {"ttft_s": np.where(steady, ttft, ttft_sat), "itl_s": np.where(steady, itl, itl_sat),
            "output_tokens_per_s": np.where(steady, tokens, result["output_tokens_per_s"]),
            "batch": np.where(steady, batch, batch_max)}


def batch_grid(batch_max: int, points: int = 16) -> np.ndarray:
    """Batches 1 ... batch_max, geometric, at which the online model evaluates the library; the decode
    step between them is interpolated linearly (it is piecewise linear in B)."""
    return np.unique(np.round(np.geomspace(1, max(batch_max, 1), points)).astype(int))


