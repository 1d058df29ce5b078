"""``costmodel search``: every plan up to a GPU budget, the best ones and the Pareto frontiers. With
``--batch``, one static batch (the documents' framing); without it, serving deployments (aggregated and
disaggregated) swept over the requests in flight under TTFT and TPOT limits (:mod:`costmodel.sla`)."""

from __future__ import annotations

import argparse
import json

from ..display import cell, sig, table, text_table
from ..hardware import load_hardware
from ..search import REQUIREMENT_METRICS, search
from ..search_views import format_table, plan_label
from ..sla import READER_COLUMNS, SERVING_MODES, default_concurrency, reader_table, serving_search
from ..units import MAX_BATCH, MAX_GPUS, CostModelError
from .args import (add_hardware_arg, add_model_args, add_scenario_args, add_serving_args, add_workload_args,
                   int_up_to, model_from_args, options_from_args, positive_number, speculation_from_args,
                   workload_from_args)

MAX_TOP = 100
"""Most plans ``--top`` lists: each is evaluated again one at a time for the output."""


def add(sub) -> None:
    p = sub.add_parser("search", help="every plan up to a GPU budget: the best ones and the Pareto frontiers")
    add_model_args(p)
    add_hardware_arg(p)
    add_workload_args(p, batch_required=False)
    p.add_argument("--max-gpus", type=int_up_to(MAX_GPUS), metavar="N",
                   help=f"GPU budget, at most {MAX_GPUS:,} (default: {STATIC_BUDGET} with --batch, "
                        f"{SERVING_BUDGET} for the serving search)")
    p.add_argument("--ttft-max", type=positive_number, metavar="S",
                   help="limit on TTFT, seconds (with --batch: of the whole batch)")
    p.add_argument("--tpot-max", type=positive_number, metavar="S",
                   help="limit on the time per output token, seconds (serving search, without --batch)")
    p.add_argument("--serving", type=serving_modes, default=",".join(SERVING_MODES), metavar="MODES",
                   help="deployments to search without --batch: agg, disagg or both (agg,disagg)")
    p.add_argument("--concurrency", type=concurrency_list, metavar="N,N,...",
                   help="requests in flight to sweep without --batch (default: 1, 2, 4, ... up to 128 per GPU "
                        "of --max-gpus, at least 1024)")
    p.add_argument("--min-tokens-per-s-per-gpu", type=positive_number, metavar="X",
                   help="floor on throughput per GPU (tokens/s), read as --throughput-metric")
    p.add_argument("--throughput-metric", choices=("output", "input"), default="output",
                   help="throughput per GPU: decode output tokens or prefill input tokens")
    p.add_argument("--min-tokens-per-s-per-user", type=positive_number, metavar="X", help="floor on 1 / TPOT")
    add_scenario_args(p)
    add_serving_args(p)
    p.add_argument("--top", type=int_up_to(MAX_TOP), default=10, metavar="N",
                   help=f"best plans to list, at most {MAX_TOP}")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def serving_modes(text: str) -> tuple:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    if not modes or set(modes) - set(SERVING_MODES):
        raise argparse.ArgumentTypeError(f"{text!r} must be agg, disagg or agg,disagg")
    return modes


def concurrency_list(text: str) -> tuple:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a comma-separated list of whole numbers") from None
    if not values or not all(1 <= v <= MAX_BATCH for v in values) or len(values) > 64:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} must list 1 to 64 whole numbers from 1 to {MAX_BATCH:,}")
    return values


STATIC_BUDGET, SERVING_BUDGET = 512, 64
"""Default GPU budgets: every plan of one batch up to 512 GPUs (well under a second); serving deployments,
each at every concurrency and prefill/decode split, up to 64 GPUs (about a second; larger budgets can be
asked for up to the serving search's point limit)."""


def run(args) -> int:
    if args.max_gpus is None:
        args.max_gpus = SERVING_BUDGET if args.batch is None else STATIC_BUDGET
    if args.batch is None:
        return run_serving(args)
    for flag, value in (("--tpot-max", args.tpot_max), ("--concurrency", args.concurrency), ("--mtp", args.mtp)):
        if value is not None:
            raise CostModelError(f"batch: {flag} belongs to the serving search: leave out --batch")
    wl = workload_from_args(args)
    r = search(model_from_args(args), load_hardware(args.hardware), wl, args.max_gpus, ttft_max_s=args.ttft_max,
               min_tokens_per_s_per_gpu=args.min_tokens_per_s_per_gpu,
               throughput_metric=f"{args.throughput_metric}_tokens_per_s_per_gpu",
               min_tokens_per_s_per_user=args.min_tokens_per_s_per_user, efficiency=args.efficiency,
               mfu=args.mfu, bw_util=args.bw_util, **options_from_args(args))
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
          f"HBM {r.efficiency.bw_util:.0%}, overlap {args.overlap}")
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


SERVING_COLUMNS = ("serving", "deployment", "gpus_total", "concurrency", "ttft_s", "tpot_s",
                   "output_tokens_per_s_per_gpu", "tokens_per_s_per_user")


def _serving_table(rows) -> str:
    return text_table(table(reader_table(rows[list(SERVING_COLUMNS)])), left=("serving", READER_COLUMNS["deployment"]))


def run_serving(args) -> int:
    """The serving search: the best deployments and the frontier of tokens/s per GPU against per user."""
    m, hw = model_from_args(args), load_hardware(args.hardware)
    wl = workload_from_args(args, batch=1)
    options = options_from_args(args)
    concurrency = args.concurrency or default_concurrency(args.max_gpus)
    r = serving_search(m, hw, wl, args.max_gpus, ttft_max_s=args.ttft_max, tpot_max_s=args.tpot_max,
                       modes=args.serving, concurrency=concurrency,
                       efficiency=args.efficiency, mfu=args.mfu, bw_util=args.bw_util,
                       speculation=speculation_from_args(args), **options)
    if args.json:
        print(json.dumps(r.as_dict(args.top), indent=2))
        return 0
    limits = ", ".join(f"{k} <= {cell(v)} s" for k, v in (("TTFT", args.ttft_max), ("TPOT", args.tpot_max)) if v)
    print(f"{m.name} on up to {args.max_gpus:,} x {hw.id}, S_in={wl.input_len:,} S_out={wl.output_len:,}, weights "
          f"{wl.weight_dtype}, KV {wl.kv_dtype}; {'/'.join(args.serving)}; {limits or 'no latency limits'}")
    print(f"deployments evaluated {r.plans_evaluated:,} at {len(concurrency)} "
          f"concurrencies: {len(r.points):,} points, {int(r.points['feasible'].sum()) if len(r.points) else 0:,} "
          f"meet the limits")
    if not len(r.feasible):
        print("no deployment meets the limits")
        return 0
    print(f"\nbest {args.top} by output tokens/s per GPU")
    print(_serving_table(r.best(args.top)))
    frontier = r.frontier()
    print("\nfrontier: output tokens/s per GPU against tokens/s per user")
    print(_serving_table(frontier))
    return 0
