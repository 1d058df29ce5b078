"""``costmodel estimate``: memory, TTFT, decode step and throughput of one plan."""

from __future__ import annotations

import json

from ..hardware import load_hardware
from ..display import cell
from ..perf import estimate
from ..report import estimate_rows, scenario_line
from ..strategy import Plan
from ..units import GB, MAX_DEGREE, CostModelError
from .args import (add_hardware_arg, add_model_args, add_scenario_args, add_workload_args, model_from_args,
                   degree, print_table, workload_from_args)


def add(sub) -> None:
    p = sub.add_parser("estimate", help="memory, TTFT, decode step and throughput of one plan")
    add_model_args(p)
    add_hardware_arg(p)
    for name, text in (("tp", "attention tensor parallel"), ("dp", "attention data parallel"),
                       ("pp", "pipeline stages"), ("ep", "expert parallel")):
        p.add_argument(f"--{name}", type=degree, required=True, metavar="N", help=f"{text}, at most {MAX_DEGREE:,}")
    p.add_argument("--etp", type=degree, default=1, metavar="N", help="expert tensor parallel")
    p.add_argument("--microbatches", type=degree, default=1, metavar="N", help="pipeline micro-batches")
    add_workload_args(p)
    add_scenario_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    m = model_from_args(args)
    if m.num_heads % args.tp:
        allowed = [n for n in range(1, m.num_heads + 1) if m.num_heads % n == 0]
        raise CostModelError(f"tp: {args.tp} does not divide the {m.num_heads} attention heads; "
                             f"allowed: {', '.join(map(str, allowed))}")
    plan = Plan(args.tp, args.dp, args.pp, args.ep, args.etp, args.microbatches)
    wl = workload_from_args(args)
    e = estimate(m, load_hardware(args.hardware), plan, wl, args.efficiency, mfu=args.mfu, bw_util=args.bw_util,
                 overlap=args.overlap)
    if args.json:
        print(json.dumps(e.as_dict(), indent=2))
        return 0
    x = e.metrics
    print(m.name)
    print(scenario_line(e))
    rows = estimate_rows(x)
    fits = f" of {cell(x['memory_capacity_bytes_per_gpu'] / GB)} ({'fits' if x['fits_memory'] else 'DOES NOT FIT'})"
    print_table([(name, value, unit + fits if name == "memory per GPU" else unit) for name, value, unit in rows
                 if name != "memory capacity per GPU"])
    if e.violations:
        print("violations:")
        for v in e.violations:
            print(f"  {v.severity:7s} {v.name}: {v.message}")
    else:
        print("violations: none")
    return 0


