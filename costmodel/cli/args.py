"""Shared pieces of the command line: one-line errors, argument types, the common flags."""

from __future__ import annotations

import argparse

from ..architecture import load_model, model_from_hf_config, model_ids
from ..efficiency import fitted_profiles, profile_names
from ..hardware import hardware_ids
from ..strategy import Workload
from ..units import MAX_BATCH, MAX_DEGREE, MAX_TOKENS

DTYPES = ("fp8", "bf16", "fp16")


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


def int_up_to(maximum: int):
    """An argument type: a whole number from 1 to ``maximum`` (the limits of :mod:`costmodel.units`)."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1") from None
        if not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} must be a whole number from 1 to {maximum:,}")
        return value

    whole.__name__ = f"whole number from 1 to {maximum:,}"
    return whole


degree = int_up_to(MAX_DEGREE)
"""Argument type of a parallel degree (tp, dp, pp, ep, etp, micro-batches)."""


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


def add_workload_args(p: argparse.ArgumentParser) -> None:
    """--batch, --input-len, --output-len (the dtypes come with :func:`add_scenario_args`)."""
    p.add_argument("--batch", type=int_up_to(MAX_BATCH), required=True, metavar="N",
                   help=f"sequences B, at most {MAX_BATCH:,}")
    p.add_argument("--input-len", type=int_up_to(MAX_TOKENS), required=True, metavar="N",
                   help=f"prompt tokens S_in, at most {MAX_TOKENS:,}")
    p.add_argument("--output-len", type=int_up_to(MAX_TOKENS), required=True, metavar="N",
                   help=f"generated tokens S_out, at most {MAX_TOKENS:,}")


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    """Dtypes, efficiency profile and overrides, and the overlap policy."""
    p.add_argument("--weight-dtype", choices=DTYPES, default="bf16", help="storage dtype of the weights")
    p.add_argument("--kv-dtype", choices=DTYPES, default="bf16", help="storage dtype of the KV cache")
    p.add_argument("--efficiency", choices=profile_names(), default="scenario", help=efficiency_help())
    p.add_argument("--mfu", type=fraction, metavar="F", help="compute efficiency, overrides the profile")
    p.add_argument("--bw-util", type=fraction, metavar="F", help="HBM bandwidth utilisation, overrides the profile")
    p.add_argument("--overlap", action="store_true", help="hide communication behind compute")


def workload_from_args(args) -> Workload:
    return Workload(args.batch, args.input_len, args.output_len, args.weight_dtype, args.kv_dtype)
