"""Plans evaluated per second: the vectorised search against the same plans one by one through estimate,
and the serving (SLA) search over deployments and concurrencies.

Run from the repository root (a report, not a test; nothing is asserted):

    python benchmarks/search_speed.py [--model qwen3-235b-a22b] [--max-gpus 512] [--sample N]

The serving figures time :func:`costmodel.sla.serving_search` end to end on the two spaces of the
serving issue (Qwen3-235B FP8 on 8 H200s, DeepSeek-V3 FP8 on 64 H200s, TTFT <= 2 s, TPOT <= 50 ms,
aggregated and disaggregated, the default concurrency sweep: 11 levels on 8 GPUs, 14 on 64), against one
deployment point solved alone.

The vectorised figure times :func:`costmodel.search.search` end to end (enumeration, evaluation,
rule masks, requirement filters), best of ``--repeat`` runs. The loop figure times
:func:`costmodel.estimate` (which also runs :func:`costmodel.validate`) on the same plans, taken
from the search's own table; ``--sample`` times only the first N of them (a random order with a
fixed seed) and scales nothing: the rate is plans / seconds over the plans it ran.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import costmodel as cm
from costmodel import serving
from costmodel.search import DEGREE_FIELDS, search
from costmodel.sla import serving_search

SERVING_SPACES = (("qwen3-235b-a22b", "h200-sxm", 8), ("deepseek-v3", "h200-sxm", 64))
"""(model, GPU, GPU budget) of the serving benchmark."""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen3-235b-a22b", choices=cm.model_ids())
    p.add_argument("--hardware", default="seed-gpu", choices=cm.hardware_ids())
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--input-len", type=int, default=2048)
    p.add_argument("--output-len", type=int, default=2048)
    p.add_argument("--weight-dtype", default="fp8")
    p.add_argument("--kv-dtype", default="fp8")
    p.add_argument("--max-gpus", type=int, default=512)
    p.add_argument("--ttft-max", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=5, help="vectorised runs; the best is reported")
    p.add_argument("--sample", type=int, default=0, help="plans for the one-by-one loop (0: all of them)")
    args = p.parse_args(argv)

    model, hw = cm.load_model(args.model), cm.load_hardware(args.hardware)
    wl = cm.Workload(args.batch, args.input_len, args.output_len, args.weight_dtype, args.kv_dtype)

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = search(model, hw, wl, args.max_gpus, ttft_max_s=args.ttft_max)
        times.append(time.perf_counter() - t0)
    n = result.plans_evaluated
    vec_s = min(times)

    plans = result.plans[list(DEGREE_FIELDS)].to_numpy()
    order = np.random.default_rng(0).permutation(len(plans))
    if args.sample:
        order = order[: args.sample]
    chosen = [cm.Plan(*map(int, plans[i])) for i in order]
    t0 = time.perf_counter()
    for plan in chosen:
        cm.estimate(model, hw, plan, wl, result.efficiency)
    loop_s = time.perf_counter() - t0

    vec_rate, loop_rate = n / vec_s, len(chosen) / loop_s
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"space: {model.id} on up to {args.max_gpus} x {hw.id}, B={wl.batch} S_in={wl.input_len} "
          f"S_out={wl.output_len} ({wl.weight_dtype}/{wl.kv_dtype}), degrees powers of two")
    print(f"vectorised search: {n:,} plans in {vec_s * 1e3:.1f} ms (best of {args.repeat}) "
          f"= {vec_rate:,.0f} plans/s")
    print(f"one by one (estimate): {len(chosen):,} plans in {loop_s:.2f} s = {loop_rate:,.0f} plans/s")
    print(f"ratio: {vec_rate / loop_rate:,.0f} x")
    for model_id, hw_id, gpus in SERVING_SPACES:
        serving_benchmark(model_id, hw_id, gpus, args.repeat)
    return 0


def serving_benchmark(model_id: str, hw_id: str, gpus: int, repeat: int) -> None:
    """Deployment points (deployment x concurrency) per second of the SLA search, against one point
    solved alone through :func:`costmodel.serving.aggregated`."""
    model, hw = cm.load_model(model_id), cm.load_hardware(hw_id)
    wl = cm.Workload(1, 2000, 500, "fp8", "fp8")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = serving_search(model, hw, wl, gpus, ttft_max_s=2.0, tpot_max_s=0.05)
        times.append(time.perf_counter() - t0)
    points, best = len(r.points), min(times)
    plan, eff = cm.Plan(tp=8, ep=8), cm.resolve_efficiency(hw, None)
    t0 = time.perf_counter()
    for conc in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
        serving.aggregated(model, hw, serving.Pool(plan), wl, eff, conc)
    one_s = (time.perf_counter() - t0) / 11
    print(f"serving search: {model_id} on up to {gpus} x {hw_id}: {r.plans_evaluated:,} deployments x "
          f"concurrencies = {points:,} points in {best:.2f} s (best of {repeat}) = {points / best:,.0f} points/s; "
          f"one point alone {one_s * 1e3:.1f} ms = {1 / one_s:,.0f} points/s; ratio {points / best * one_s:,.0f} x")


if __name__ == "__main__":
    raise SystemExit(main())
