"""Plans evaluated per second: the vectorised search against the same plans one by one through estimate.

Run from the repository root (a report, not a test; nothing is asserted):

    python benchmarks/search_speed.py [--model qwen3-235b-a22b] [--max-gpus 512] [--sample N]

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
from costmodel.search import DEGREE_FIELDS, search


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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
