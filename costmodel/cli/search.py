"""``costmodel search``: every plan up to a GPU budget, the best ones and the Pareto frontiers."""

from __future__ import annotations

import json

from ..hardware import load_hardware
from ..display import sig
from ..search import REQUIREMENT_METRICS, format_table, plan_label, search
from ..units import MAX_GPUS
from .args import (add_hardware_arg, add_model_args, add_scenario_args, add_workload_args, model_from_args,
                   int_up_to, positive_number, workload_from_args)

MAX_TOP = 100
"""Most plans ``--top`` lists: each is evaluated again one at a time for the output."""


def add(sub) -> None:
    p = sub.add_parser("search", help="every plan up to a GPU budget: the best ones and the Pareto frontiers")
    add_model_args(p)
    add_hardware_arg(p)
    add_workload_args(p)
    p.add_argument("--max-gpus", type=int_up_to(MAX_GPUS), default=512, metavar="N",
                   help=f"GPU budget, at most {MAX_GPUS:,}")
    p.add_argument("--ttft-max", type=positive_number, metavar="S", help="limit on the whole-batch TTFT, seconds")
    p.add_argument("--min-tokens-per-s-per-gpu", type=positive_number, metavar="X",
                   help="floor on throughput per GPU (tokens/s), read as --throughput-metric")
    p.add_argument("--throughput-metric", choices=("output", "input"), default="output",
                   help="throughput per GPU: decode output tokens or prefill input tokens")
    p.add_argument("--min-tokens-per-s-per-user", type=positive_number, metavar="X", help="floor on 1 / TPOT")
    add_scenario_args(p)
    p.add_argument("--top", type=int_up_to(MAX_TOP), default=10, metavar="N",
                   help=f"best plans to list, at most {MAX_TOP}")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    wl = workload_from_args(args)
    r = search(model_from_args(args), load_hardware(args.hardware), wl, args.max_gpus, ttft_max_s=args.ttft_max,
               min_tokens_per_s_per_gpu=args.min_tokens_per_s_per_gpu,
               throughput_metric=f"{args.throughput_metric}_tokens_per_s_per_gpu",
               min_tokens_per_s_per_user=args.min_tokens_per_s_per_user, efficiency=args.efficiency,
               mfu=args.mfu, bw_util=args.bw_util, overlap=args.overlap)
    if args.json:
        out = r.as_dict(args.top)
        why = r.why_none()
        if why is not None:
            out["why_none"] = {k: v for k, v in why.items() if k != "closest"} | {
                "closest": None if why["closest"] is None else r.estimate(why["closest"]).as_dict()}
        print(json.dumps(out, indent=2))
        return 0
    out = r.as_dict(0)
    print(f"{r.model.name} on up to {args.max_gpus:,} x {args.hardware}, B={wl.batch:,} S_in={wl.input_len:,} "
          f"S_out={wl.output_len:,}, weights {wl.weight_dtype}, KV {wl.kv_dtype}, MFU {r.efficiency.mfu:.0%}, "
          f"HBM {r.efficiency.bw_util:.0%}, overlap {'on' if args.overlap else 'off'}")
    print(f"plans evaluated {out['plans_evaluated']:,}, valid {out['plans_valid']:,}, "
          f"meeting the requirements {out['plans_feasible']:,} (degrees: powers of two)")
    if not out["plans_feasible"]:
        print("no plan meets the requirements")
        print("\n".join(why_none_lines(r)))
        return 0
    for title, rows in ((f"best {args.top} by {args.throughput_metric} tokens/s per GPU", r.best(args.top)),
                        (f"frontier: {args.throughput_metric} tokens/s/GPU vs tokens/s per user",
                         r.frontier("throughput")),
                        ("frontier: GPUs vs TTFT", r.frontier("ttft"))):
        print(f"\n{title}")
        print(format_table(rows))
    return 0


REQUIREMENT_TEXT = {"ttft_max_s": ("TTFT", "s"), "min_tokens_per_s_per_gpu": ("throughput", "tokens/s/GPU"),
                    "min_tokens_per_s_per_user": ("speed per user", "tokens/s")}
"""Requirement: (words, unit); the metric it bounds is in :data:`costmodel.search.REQUIREMENT_METRICS`."""


def why_none_lines(r) -> list[str]:
    """The binding constraint and the closest plan of a search that found nothing (:meth:`SearchResult.why_none`)."""
    why = r.why_none()
    n, name, fewest = why["binding_plans"], why["binding"], why["fewest"]
    if fewest == 1:
        lines = [f"binding constraint: {name}, the only rule or requirement that {n:,} plans fail"]
    else:
        lines = [f"binding constraint: {name}, failed by {n:,} of the plans that fail the fewest ({fewest}) "
                 f"rules and requirements"]
    best = why["closest"]
    if best is None:
        return lines + ["closest plan: none, every plan breaks a rule"]
    misses = []
    for req, shortfall in why["misses"].items():
        (words, unit), (metric, is_limit) = REQUIREMENT_TEXT[req], REQUIREMENT_METRICS[req]
        value = best[metric or r.requirements["throughput_metric"]]
        misses.append(f"{words} {sig(value)} {unit} against the {'limit' if is_limit else 'floor'} "
                      f"{sig(r.requirements[req])} ({sig(100 * shortfall)} % {'over' if is_limit else 'short'})")
    return lines + [f"closest plan: {plan_label(best)} on {int(best['gpus_total']):,} GPUs: " + "; ".join(misses)]
