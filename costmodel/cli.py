"""Command line: ``costmodel params | estimate`` (and the subcommands other modules register).

Bad input exits with status 2 and one line naming the field and the allowed values; an
infeasible plan is a result: it exits 0 and lists its violations.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .architecture import load_model, model_from_hf_config, model_ids
from .hardware import EFFICIENCY_PROFILES, hardware_ids, load_hardware
from .perf import estimate
from .strategy import Plan, Workload
from .units import GB, CostModelError, fmt_count

DTYPES = ("fp8", "bf16", "fp16")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (no usage dump, no traceback)."""

    def error(self, message):
        self.exit(2, f"costmodel: error: {message}\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in (0, 1]") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number in (0, 1]")
    return value


def add_model_args(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", choices=model_ids(), metavar="ID", help=f"bundled model: {', '.join(model_ids())}")
    which.add_argument("--hf-config", metavar="PATH", help="a Hugging Face config.json")


def model_from_args(args):
    return load_model(args.model) if args.model else model_from_hf_config(args.hf_config)


def print_table(rows: list[tuple[str, str, str]]) -> None:
    """Three aligned columns: quantity, value, unit."""
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {unit}")


# --- params ----------------------------------------------------------------------------
def add_params(sub) -> None:
    p = sub.add_parser("params", help="parameter counts and KV bytes per token")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_params)


def run_params(args) -> int:
    m = model_from_args(args)
    out = {"model": m.id, "params_total": m.params_total, "params_active": m.params_active,
           "kv_bytes_per_token_bf16": m.kv_bytes_per_token("bf16"),
           "kv_bytes_per_token_fp8": m.kv_bytes_per_token("fp8")}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{m.name}")
    print_table([
        ("parameters, total", fmt_count(m.params_total), f"({m.params_total:,})"),
        ("parameters, active per token", fmt_count(m.params_active), f"({m.params_active:,})"),
        ("KV cache per token, bf16", f"{out['kv_bytes_per_token_bf16']:,.0f}", "bytes"),
        ("KV cache per token, fp8", f"{out['kv_bytes_per_token_fp8']:,.0f}", "bytes"),
    ])
    return 0


# --- estimate --------------------------------------------------------------------------
def efficiency_choices() -> list[str]:
    from .calibration import calibrated_profiles

    return list(EFFICIENCY_PROFILES) + sorted(calibrated_profiles())


def efficiency_help() -> str:
    from .calibration import calibrated_profiles

    fitted = "; ".join(f"{name}: fitted for {', '.join(sorted(per_hw))}" for name, per_hw in
                       sorted(calibrated_profiles().items()))
    return ("efficiency profile: scenario (the hardware file's values, default), datasheet (100 %% of peak)"
            + (f"; {fitted}" if fitted else ""))


def add_workload_args(p: argparse.ArgumentParser) -> None:
    """--batch, --input-len, --output-len (the dtypes come with :func:`add_scenario_args`)."""
    p.add_argument("--batch", type=positive_int, required=True, metavar="N", help="sequences B")
    p.add_argument("--input-len", type=positive_int, required=True, metavar="N", help="prompt tokens S_in")
    p.add_argument("--output-len", type=positive_int, required=True, metavar="N", help="generated tokens S_out")


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    """Dtypes, efficiency profile and overrides, and the overlap policy."""
    p.add_argument("--weight-dtype", choices=DTYPES, default="bf16")
    p.add_argument("--kv-dtype", choices=DTYPES, default="bf16")
    p.add_argument("--efficiency", choices=efficiency_choices(), default="scenario", help=efficiency_help())
    p.add_argument("--mfu", type=fraction, metavar="F", help="compute efficiency, overrides the profile")
    p.add_argument("--bw-util", type=fraction, metavar="F", help="HBM bandwidth utilisation, overrides the profile")
    p.add_argument("--overlap", action="store_true", help="hide communication behind compute")


def workload_from_args(args) -> Workload:
    return Workload(args.batch, args.input_len, args.output_len, args.weight_dtype, args.kv_dtype)


def add_estimate(sub) -> None:
    p = sub.add_parser("estimate", help="memory, TTFT, decode step and throughput of one plan")
    add_model_args(p)
    p.add_argument("--hardware", required=True, choices=hardware_ids(), metavar="ID",
                   help=f"GPU: {', '.join(hardware_ids())}")
    for name, text in (("tp", "attention tensor parallel"), ("dp", "attention data parallel"),
                       ("pp", "pipeline stages"), ("ep", "expert parallel")):
        p.add_argument(f"--{name}", type=positive_int, required=True, metavar="N", help=text)
    p.add_argument("--etp", type=positive_int, default=1, metavar="N", help="expert tensor parallel (default 1)")
    p.add_argument("--microbatches", type=positive_int, default=1, metavar="N", help="pipeline micro-batches")
    add_workload_args(p)
    add_scenario_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_estimate)


def run_estimate(args) -> int:
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
    print(f"{m.name} on {x['gpus_total']} x {args.hardware}, {plan.label()}, B={wl.batch} "
          f"S_in={wl.input_len} S_out={wl.output_len}, weights {wl.weight_dtype}, KV {wl.kv_dtype}, "
          f"MFU {e.efficiency.mfu:.0%}, HBM {e.efficiency.bw_util:.0%}, overlap {'on' if args.overlap else 'off'}")
    print_table([
        ("weights per GPU", f"{x['weight_bytes_per_gpu'] / GB:.2f}", "GB"),
        ("KV cache per GPU", f"{x['kv_bytes_per_gpu'] / GB:.2f}", "GB"),
        ("activations per GPU", f"{x['activation_bytes_per_gpu'] / GB:.2f}", "GB"),
        ("reserved per GPU", f"{x['reserved_bytes_per_gpu'] / GB:.2f}", "GB"),
        ("memory per GPU", f"{x['memory_bytes_per_gpu'] / GB:.2f}",
         f"GB of {x['memory_capacity_bytes_per_gpu'] / GB:.1f} ({'fits' if x['fits_memory'] else 'DOES NOT FIT'})"),
        ("prefill FLOPs (whole batch)", f"{x['prefill_flops']:.3e}", "FLOP"),
        ("TTFT, whole batch", f"{x['ttft_s']:.4g}", "s"),
        ("TTFT, one request", f"{x['ttft_single_request_s']:.4g}", "s"),
        ("communication on the TTFT path", f"{x['comm_s']:.4g}", "s"),
        ("decode step (TPOT)", f"{x['decode_step_s'] * 1e3:.4g}", "ms"),
        ("output tokens/s per GPU (decode)", f"{x['output_tokens_per_s_per_gpu']:.4g}", "tokens/s/GPU"),
        ("input tokens/s per GPU (prefill)", f"{x['input_tokens_per_s_per_gpu']:.4g}", "tokens/s/GPU"),
        ("tokens/s per user", f"{x['tokens_per_s_per_user']:.4g}", "tokens/s"),
    ])
    if e.violations:
        print("violations:")
        for v in e.violations:
            print(f"  {v.severity:7s} {v.name}: {v.message}")
    else:
        print("violations: none")
    return 0


# --- entry point -----------------------------------------------------------------------
SUBCOMMANDS = [add_params, add_estimate]
"""Each adds one subcommand; modules such as audit and search append theirs here."""


# --- search (costmodel.search) ---------------------------------------------------------
def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def add_search(sub) -> None:
    p = sub.add_parser("search", help="every plan up to a GPU budget: the best ones and the Pareto frontiers")
    add_model_args(p)
    p.add_argument("--hardware", required=True, choices=hardware_ids(), metavar="ID",
                   help=f"GPU: {', '.join(hardware_ids())}")
    add_workload_args(p)
    p.add_argument("--max-gpus", type=positive_int, default=512, metavar="N", help="GPU budget (default 512)")
    p.add_argument("--ttft-max", type=positive_number, metavar="S", help="limit on the whole-batch TTFT, seconds")
    p.add_argument("--min-tokens-per-s-per-gpu", type=positive_number, metavar="X",
                   help="floor on throughput per GPU (tokens/s), read as --throughput-metric")
    p.add_argument("--throughput-metric", choices=("output", "input"), default="output",
                   help="throughput per GPU: decode output tokens (default) or prefill input tokens")
    p.add_argument("--min-tokens-per-s-per-user", type=positive_number, metavar="X", help="floor on 1 / TPOT")
    add_scenario_args(p)
    p.add_argument("--top", type=positive_int, default=10, metavar="N", help="best plans to list (default 10)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_search)


def run_search(args) -> int:
    from .search import format_table, search

    wl = workload_from_args(args)
    r = search(model_from_args(args), load_hardware(args.hardware), wl, args.max_gpus, ttft_max_s=args.ttft_max,
               min_tokens_per_s_per_gpu=args.min_tokens_per_s_per_gpu,
               throughput_metric=f"{args.throughput_metric}_tokens_per_s_per_gpu",
               min_tokens_per_s_per_user=args.min_tokens_per_s_per_user, efficiency=args.efficiency,
               mfu=args.mfu, bw_util=args.bw_util, overlap=args.overlap)
    if args.json:
        print(json.dumps(r.as_dict(args.top), indent=2))
        return 0
    out = r.as_dict(0)
    print(f"{r.model.name} on up to {args.max_gpus} x {args.hardware}, B={wl.batch} S_in={wl.input_len} "
          f"S_out={wl.output_len}, weights {wl.weight_dtype}, KV {wl.kv_dtype}, MFU {r.efficiency.mfu:.0%}, "
          f"HBM {r.efficiency.bw_util:.0%}, overlap {'on' if args.overlap else 'off'}")
    print(f"plans evaluated {out['plans_evaluated']:,}, valid {out['plans_valid']:,}, "
          f"meeting the requirements {out['plans_feasible']:,} (degrees: powers of two)")
    if not out["plans_feasible"]:
        print("no plan meets the requirements")
        return 0
    for title, rows in ((f"best {args.top} by {args.throughput_metric} tokens/s per GPU", r.best(args.top)),
                        (f"frontier: {args.throughput_metric} tokens/s/GPU vs tokens/s per user",
                         r.frontier("throughput")),
                        ("frontier: GPUs vs TTFT", r.frontier("ttft"))):
        print(f"\n{title}")
        print(format_table(rows))
    return 0


SUBCOMMANDS.append(add_search)


# --- audit (costmodel.audit) ----------------------------------------------------------
def add_audit(sub) -> None:
    p = sub.add_parser("audit", help="the claims ledgers of the documents with their verdicts")
    p.add_argument("docs", nargs="*", metavar="DOC_ID", help="document ids (default: every ledger)")
    p.add_argument("--json", action="store_true", help="machine-readable output: one row per claim")
    p.set_defaults(run=run_audit)


def run_audit(args) -> int:
    from .audit import audit_table, findings_table, ledger_ids, load_ledger, to_json_rows, verdict_counts

    for doc in args.docs:
        if doc not in ledger_ids():
            raise CostModelError(f"audit: document {doc!r} is not one of {', '.join(ledger_ids())}")
    df = audit_table(args.docs or None)
    if args.json:
        print(json.dumps(to_json_rows(df), indent=2, ensure_ascii=False))
        return 0
    for doc, rows in df.groupby("doc", sort=True):
        print(f"document {doc}: {load_ledger(doc)['title']}")
        print(findings_table(rows).to_string(index=False))
        print()
    print(verdict_counts(df).to_string())
    return 0


SUBCOMMANDS.append(add_audit)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="costmodel", description="Cost model for MoE LLM inference deployments.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CostModelError as exc:
        print(f"costmodel: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader closed the pipe (``costmodel audit | head``): stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
