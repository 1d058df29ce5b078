"""``costmodel params``: parameter counts and KV bytes per token of a model."""

from __future__ import annotations

import json

from ..display import cell, sig
from .args import add_model_args, model_from_args, print_table


def add(sub) -> None:
    p = sub.add_parser("params", help="parameter counts and KV bytes per token")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    m = model_from_args(args)
    out = {"model": m.id, "params_total": m.params_total, "params_active": m.params_active,
           "params_active_without_embeddings": m.params_active_without_embeddings,
           "kv_bytes_per_token_bf16": m.kv_bytes_per_token("bf16"),
           "kv_bytes_per_token_fp8": m.kv_bytes_per_token("fp8")}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{m.name}")
    print_table([
        ("parameters, total", sig(m.params_total / 1e9), f"billion ({m.params_total:,})"),
        ("parameters, active per token", sig(m.params_active / 1e9), f"billion ({m.params_active:,})"),
        ("  without embeddings and LM head", sig(m.params_active_without_embeddings / 1e9),
         f"billion ({m.params_active_without_embeddings:,})"),
        ("KV cache per token, bf16", cell(int(out["kv_bytes_per_token_bf16"])), "bytes"),
        ("KV cache per token, fp8", cell(int(out["kv_bytes_per_token_fp8"])), "bytes"),
    ])
    return 0
