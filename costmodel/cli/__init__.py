"""Command line: ``costmodel params | estimate | search | audit``.

Bad input exits with status 2 and one line naming the field and the allowed values; an
infeasible plan is a result: it exits 0 and lists its violations.
"""

from __future__ import annotations

import os
import sys

from ..units import CostModelError
from . import audit, estimate, params, search
from .args import OneLineParser, one_line

SUBCOMMANDS = (params, estimate, search, audit)
"""Modules with ``add(subparsers)`` and ``run(args)``, one per subcommand, in help order."""


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="costmodel", description="Cost model for MoE LLM inference deployments.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for command in SUBCOMMANDS:
        command.add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CostModelError as exc:
        print(f"costmodel: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader closed the pipe (``costmodel audit | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the recipe of Python's signal docs
        return 0
