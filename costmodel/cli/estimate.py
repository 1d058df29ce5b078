"""``costmodel estimate``: one plan for one static batch (``--batch``), or a serving deployment under a
closed loop of requests in flight (``--concurrency``), aggregated or with separate prefill and decode
pools (``--prefill-plan`` ... ``--decode-workers``), with or without MTP."""

from __future__ import annotations

import json
import math

import numpy as np

from .. import serving
from ..display import cell
from ..efficiency import resolve_efficiency
from ..hardware import load_hardware
from ..perf import estimate, validate
from ..report import estimate_rows, scenario_line
from ..units import GB, MAX_BATCH, MAX_WHOLE, CostModelError
from .args import (add_hardware_arg, add_model_args, add_plan_args, add_scenario_args, add_serving_args,
                   add_workload_args, int_up_to, model_from_args, options_from_args, plan_from_args, plan_text,
                   print_table, speculation_from_args, workload_from_args)


def add(sub) -> None:
    p = sub.add_parser("estimate", help="memory, TTFT, decode step and throughput of one plan or deployment")
    add_model_args(p)
    add_hardware_arg(p)
    add_plan_args(p)
    add_workload_args(p, batch_required=False)
    p.add_argument("--concurrency", type=int_up_to(MAX_BATCH), metavar="N",
                   help="requests in flight across the deployment (a closed loop, as benchmark clients count "
                        "them), instead of one static --batch")
    p.add_argument("--workers", type=int_up_to(MAX_WHOLE), default=1, metavar="N",
                   help="replicas of the plan sharing --concurrency")
    p.add_argument("--prefill-plan", type=plan_text, metavar="TEXT", help='plan of the prefill pool, "tp=4,ep=4"')
    p.add_argument("--prefill-workers", type=int_up_to(MAX_WHOLE), default=1, metavar="N",
                   help="replicas in the prefill pool")
    p.add_argument("--decode-plan", type=plan_text, metavar="TEXT", help='plan of the decode pool, "tp=1,dp=8,ep=8"')
    p.add_argument("--decode-workers", type=int_up_to(MAX_WHOLE), default=1, metavar="N",
                   help="replicas in the decode pool")
    add_scenario_args(p)
    add_serving_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    m = model_from_args(args)
    disaggregated = args.prefill_plan is not None or args.decode_plan is not None
    if args.concurrency is None:
        if disaggregated:
            raise CostModelError("concurrency: separate prefill and decode pools are a serving deployment: "
                                 "give --concurrency N")
        if args.batch is None:
            raise CostModelError("batch: give --batch N (one static batch) or --concurrency N (requests in flight)")
        if args.mtp is not None:
            raise CostModelError("mtp: speculative decoding is part of a serving deployment: give --concurrency N")
        return run_static(m, args)
    if args.batch is not None:
        raise CostModelError("batch: --batch (one static batch) and --concurrency (requests in flight) exclude each "
                             "other")
    return run_serving(m, args, disaggregated)


def _check_heads(m, plan) -> None:
    if m.num_heads % plan.tp:
        allowed = [n for n in range(1, m.num_heads + 1) if m.num_heads % n == 0]
        raise CostModelError(f"tp: {plan.tp} does not divide the {m.num_heads} attention heads; "
                             f"allowed: {', '.join(map(str, allowed))}")


def run_static(m, args) -> int:
    plan = plan_from_args(args)
    _check_heads(m, plan)
    wl = workload_from_args(args)
    e = estimate(m, load_hardware(args.hardware), plan, wl, args.efficiency, mfu=args.mfu, bw_util=args.bw_util,
                 **options_from_args(args))
    if args.json:
        print(json.dumps(e.as_dict(), indent=2))
        return 0
    x = e.metrics
    print(m.name)
    print(scenario_line(e))
    rows = estimate_rows(x)
    usable = f" of {cell(x['memory_usable_bytes_per_gpu'] / GB)} usable ({'fits' if x['fits_memory'] else 'DOES NOT FIT'})"
    print_table([(name, value, unit + usable if name == "memory per GPU" else unit) for name, value, unit in rows
                 if name != "memory capacity per GPU"])
    _print_violations(e.violations)
    return 0


def _print_violations(violations, title: str = "violations") -> None:
    if not violations:
        print(f"{title}: none")
        return
    print(f"{title}:")
    for v in violations:
        print(f"  {v.severity:7s} {v.name}: {v.message}")


SERVING_ROWS = (
    # (quantity, key, scale, unit)
    ("GPUs", "gpus_total", 1, ""),
    ("TTFT", "ttft_s", 1, "s"),
    ("TPOT", "tpot_s", 1e-3, "ms"),
    ("tokens/s per user", "tokens_per_s_per_user", 1, "tokens/s"),
    ("output tokens/s per GPU", "output_tokens_per_s_per_gpu", 1, "tokens/s/GPU (all GPUs)"),
    ("input tokens/s per GPU", "input_tokens_per_s_per_gpu", 1, "tokens/s/GPU (all GPUs)"),
    ("output tokens/s per decode GPU", "output_tokens_per_s_per_decode_gpu", 1, "tokens/s/GPU"),
    ("input tokens/s per prefill GPU", "input_tokens_per_s_per_prefill_gpu", 1, "tokens/s/GPU"),
    ("requests/s", "requests_per_s", 1, "requests/s"),
    ("decode batch per worker", "decode_batch", 1, "sequences"),
    ("prefill utilisation", "prefill_utilisation", 0.01, "%"),
    ("KV transfer of the last chunk", "kv_transfer_s", 1e-3, "ms"),
    ("prefill workers matching the decode rate", "matched_prefill_workers", 1, "workers"),
)


def run_serving(m, args, disaggregated: bool) -> int:
    hw = load_hardware(args.hardware)
    wl = workload_from_args(args, batch=1)
    eff = resolve_efficiency(hw, args.efficiency, args.mfu, args.bw_util)
    options = options_from_args(args)
    spec = speculation_from_args(args)
    if disaggregated:
        if args.prefill_plan is None or args.decode_plan is None:
            raise CostModelError("plan: a disaggregated deployment needs both --prefill-plan and --decode-plan")
        if args.plan is not None or any(getattr(args, k) is not None for k in ("tp", "dp", "pp", "ep", "etp")):
            raise CostModelError("plan: with --prefill-plan / --decode-plan, give no --plan or degree flags")
        pools = {"prefill": serving.Pool(args.prefill_plan, args.prefill_workers),
                 "decode": serving.Pool(args.decode_plan, args.decode_workers)}
        out = serving.disaggregated(m, hw, pools["prefill"], pools["decode"], wl, eff, args.concurrency,
                                    speculation=spec, options=options)
    else:
        pools = {"aggregated": serving.Pool(plan_from_args(args), args.workers)}
        out = serving.aggregated(m, hw, pools["aggregated"], wl, eff, args.concurrency, speculation=spec,
                                 options=options)
    for pool in pools.values():
        _check_heads(m, pool.plan)
    values = {k: float(np.asarray(v)) for k, v in out.items()}
    violations = {name: validate(m, hw, pool.plan, wl.__class__(pool.plan.dp, wl.input_len, wl.output_len,
                                                                 wl.weight_dtype, wl.kv_dtype),
                                 memory_headroom=args.memory_headroom)
                  for name, pool in pools.items()}
    if args.json:
        print(json.dumps({
            "model": m.id, "hardware": hw.id, "serving": "disagg" if disaggregated else "agg",
            "concurrency": args.concurrency, "input_len": wl.input_len, "output_len": wl.output_len,
            "weight_dtype": wl.weight_dtype, "kv_dtype": wl.kv_dtype, "efficiency": eff.name,
            "mtp": spec.draft_tokens if spec else 0, "acceptance": spec.acceptance if spec else None,
            **{f"{name}_plan": {**pool.plan.__dict__, "workers": pool.workers} for name, pool in pools.items()},
            **{k: (None if not math.isfinite(v) else v) for k, v in values.items()},
            "violations": {name: [v.__dict__ for v in found] for name, found in violations.items()},
        }, indent=2))
        return 0
    where = ", ".join(f"{name} {pool.plan.label()} x{pool.workers}" for name, pool in pools.items())
    print(m.name)
    print(f"{m.id} on {hw.id}: {where}; {args.concurrency:,} requests in flight, S_in={wl.input_len:,} "
          f"S_out={wl.output_len:,}, weights {wl.weight_dtype}, KV {wl.kv_dtype}, efficiency {eff.name}"
          + (f", MTP {spec.draft_tokens} (accepting {spec.acceptance:g} tokens a step)" if spec else ""))
    if not math.isfinite(values["ttft_s"]):
        print("no sequence fits in memory: the deployment cannot serve (see the violations)")
    print_table([(name, cell(values[key] / scale), unit) for name, key, scale, unit in SERVING_ROWS
                 if key in values and math.isfinite(values[key])])
    for name, found in violations.items():
        _print_violations(found, f"violations of the {name} plan")
    return 0
