"""Shared pieces of the command line: one-line errors, argument types, the common flags."""

from __future__ import annotations

import argparse

from ..architecture import load_model, model_from_hf_config, model_ids
from ..efficiency import fitted_profiles, profile_names
from ..hardware import hardware_ids
from ..memory import MEMORY_HEADROOM
from ..moe import ROUTING_PROFILES
from ..serving import Speculation
from ..stage import OVERLAP_POLICIES
from ..strategy import PLAN_KEYS, Plan, Workload
from ..units import KV_DTYPES, MAX_BATCH, MAX_DEGREE, MAX_TOKENS, MAX_WHOLE, WEIGHT_DTYPES, CostModelError

DEGREE_FLAGS = {"tp": "attention tensor parallel", "dp": "attention data parallel", "pp": "pipeline stages",
                "ep": "expert parallel", "etp": "expert tensor parallel (default: tp x dp / ep, the experts spread "
                                               "over every GPU of a stage)",
                "microbatches": "pipeline micro-batches", "redundant_experts": "EPLB expert slots beyond E (0)"}
"""Flags of a plan given degree by degree (``--tp 4 --ep 8``); ``--plan "tp=4,ep=8"`` says the same."""


def one_line(text: str) -> str:
    """``text`` with every character that could break or hide the line (newlines, the separators that
    ``str.splitlines`` honours, other control characters) written as its escape: ``\\x1e``."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that states every default: ``(default: X)`` after each option that has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, argparse.SUPPRESS) or action.required or "%(default)" in text:
            return text
        shown = "off" if action.default is False else "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (no usage dump, no traceback) and shows every
    default in its help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"costmodel: error: {one_line(message)}\n")


def int_up_to(maximum: int, minimum: int = 1):
    """An argument type: a whole number from ``minimum`` to ``maximum`` (the limits of :mod:`costmodel.units`)."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {minimum}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} must be a whole number from {minimum} to {maximum:,}")
        return value

    whole.__name__ = f"whole number from {minimum} to {maximum:,}"
    return whole


positive_int = int_up_to(MAX_WHOLE)
degree = int_up_to(MAX_DEGREE)
"""Argument types: any count the library accepts; a parallel degree (tp, dp, pp, ep, etp, micro-batches)."""


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in (0, 1]") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number in (0, 1]")
    return value


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def add_model_args(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", choices=model_ids(), metavar="ID", help=f"bundled model: {', '.join(model_ids())}")
    which.add_argument("--hf-config", metavar="PATH", help="a Hugging Face config.json")


def model_from_args(args):
    return load_model(args.model) if args.model else model_from_hf_config(args.hf_config)


def add_hardware_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hardware", required=True, choices=hardware_ids(), metavar="ID",
                   help=f"GPU: {', '.join(hardware_ids())}")


def print_table(rows: list[tuple[str, str, str]]) -> None:
    """Three aligned columns: quantity, value, unit."""
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {unit}")


def efficiency_help() -> str:
    fitted = "; ".join(f"{name}: fitted for {', '.join(sorted(per_hw))}" for name, per_hw in
                       sorted(fitted_profiles().items()))
    return ("efficiency profile: scenario (the hardware file's values), datasheet (100 %% of peak)"
            + (f"; {fitted}" if fitted else ""))


def fraction_below_one(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1)") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number in [0, 1)")
    return value


def plan_text(text: str) -> Plan:
    """An argument type: a plan written ``tp=1,dp=8,ep=8`` (:meth:`Plan.parse`)."""
    try:
        return Plan.parse(text)
    except CostModelError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("plan: ")) from None


def add_plan_args(p: argparse.ArgumentParser) -> None:
    """``--plan "tp=..,dp=..,ep=.."`` or the degrees one by one (each 1 unless given; etp by the engine rule)."""
    p.add_argument("--plan", type=plan_text, metavar="TEXT",
                   help='the plan as "tp=1,dp=8,ep=8" or its label "TP1·DP8·EP8" (keys: ' + ", ".join(PLAN_KEYS)
                   + ", mb, redundant)")
    for name, text in DEGREE_FLAGS.items():
        minimum = 0 if name == "redundant_experts" else 1
        p.add_argument(f"--{name.replace('_', '-')}", type=int_up_to(MAX_DEGREE, minimum), metavar="N",
                       help=f"{text}, at most {MAX_DEGREE:,}")


def plan_from_args(args) -> Plan:
    """The plan of ``--plan`` or of the degree flags (not both)."""
    given = {name: getattr(args, name) for name in DEGREE_FLAGS if getattr(args, name) is not None}
    if args.plan is not None:
        if given:
            raise CostModelError(f"plan: give --plan or the degree flags, not both (also given: "
                                 f"{', '.join('--' + k.replace('_', '-') for k in given)})")
        return args.plan
    return Plan(**given)


def add_serving_args(p: argparse.ArgumentParser) -> None:
    """Speculative decoding and the memory headroom of a serving deployment."""
    p.add_argument("--mtp", type=int_up_to(8), metavar="N", help="speculative decoding with N draft (MTP) tokens")
    p.add_argument("--acceptance", type=positive_number, metavar="A",
                   help="expected tokens accepted per verify step with --mtp (default: the published figure "
                        "for N: 1.85, 2.18, 2.44 for 1, 2, 3)")


def speculation_from_args(args) -> Speculation | None:
    if args.mtp is None:
        if args.acceptance is not None:
            raise CostModelError("acceptance: --acceptance needs --mtp N")
        return None
    return Speculation(args.mtp, args.acceptance)


def add_workload_args(p: argparse.ArgumentParser, batch_required: bool = True) -> None:
    """--batch, --input-len, --output-len (the dtypes come with :func:`add_scenario_args`)."""
    p.add_argument("--batch", type=int_up_to(MAX_BATCH), required=batch_required, metavar="N",
                   help=f"sequences B, at most {MAX_BATCH:,}")
    p.add_argument("--input-len", type=int_up_to(MAX_TOKENS), required=True, metavar="N",
                   help=f"prompt tokens S_in, at most {MAX_TOKENS:,}")
    p.add_argument("--output-len", type=int_up_to(MAX_TOKENS), required=True, metavar="N",
                   help=f"generated tokens S_out, at most {MAX_TOKENS:,}")


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    """Dtypes, efficiency profile and overrides, and the overlap policy."""
    p.add_argument("--weight-dtype", choices=WEIGHT_DTYPES, default="bf16",
                   help="storage dtype of the weights (fp4: NVFP4, mxfp4: OCP MX; block scales counted)")
    p.add_argument("--kv-dtype", choices=KV_DTYPES, default="bf16", help="storage dtype of the KV cache")
    p.add_argument("--efficiency", choices=profile_names(), default="scenario", help=efficiency_help())
    p.add_argument("--mfu", type=fraction, metavar="F", help="compute efficiency, overrides the profile")
    p.add_argument("--bw-util", type=fraction, metavar="F", help="HBM bandwidth utilisation, overrides the profile")
    p.add_argument("--overlap", choices=OVERLAP_POLICIES, nargs="?", const="two-batch", default="none",
                   help="communication policy: none (added to compute) or two-batch (two micro-batches hide "
                        "each other's communication; --overlap alone means two-batch)")
    p.add_argument("--routing", choices=tuple(ROUTING_PROFILES), default="measured",
                   help="expert load skew: measured (fitted to TensorRT-LLM's published EP32 statistics) or "
                        "uniform (balls into bins, the lower bound)")
    p.add_argument("--memory-headroom", type=fraction_below_one, default=MEMORY_HEADROOM, metavar="F",
                   help="share of GPU memory a plan must leave free (vLLM's gpu_memory_utilization 0.9)")


def workload_from_args(args, batch: int | None = None) -> Workload:
    return Workload(batch or args.batch, args.input_len, args.output_len, args.weight_dtype, args.kv_dtype)


def options_from_args(args) -> dict:
    """The estimate options of the scenario flags: overlap, routing, memory headroom."""
    return {"overlap": args.overlap, "routing": args.routing, "memory_headroom": args.memory_headroom}
