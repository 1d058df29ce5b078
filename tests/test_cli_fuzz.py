"""Random argument vectors at every subcommand (hypothesis): never a traceback, never a numpy warning, never more
than 2 s, exit status 0 or 2 only, and a status-2 answer is one line on stderr.

Most runs call ``costmodel.cli.main(argv)`` in-process (fast); a few go through a fresh interpreter, whose start
(about 1 s, mostly pandas) is measured once and not counted against the 2 s.
"""

import contextlib
import io
import json
import subprocess
import sys
import time
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import costmodel as cm
from costmodel.cli import main

LIMIT_S = 2.0

HOSTILE = ["0", "-1", "-0", "1e3", "2.5", "nan", "NaN", "inf", "-inf", "", " ", "0x10", "None", "true", "½", "--json",
           "9" * 40, "9223372036854775808", "18446744073709551616", "4611686018427387904", "1000000000000",
           "1" * 5000, "1e309", "-1e-320", "٣", "fp9", "../../etc/passwd", "h100-sxm\n", "qwen3-235b-a22b "]
"""Values a hostile tester types: out of range, non-finite, not numbers, huge, unicode digits, path tricks."""


def ints(lo, hi) -> st.SearchStrategy:
    return st.integers(lo, hi).map(str)


def floats(lo, hi) -> st.SearchStrategy:
    return st.floats(lo, hi, allow_nan=False).map(repr)


POW2 = st.sampled_from(["1", "2", "4", "8", "16", "32", "64"])
DTYPE = st.sampled_from(["fp8", "bf16", "fp16"])
FLAG = st.just(None)
"""A flag without a value (``--json``, ``--overlap``)."""


def options(command: str, serving: bool) -> list[tuple[str, st.SearchStrategy, float]]:
    """(flag, valid values, how often a valid vector carries it: 1 for a required flag) of ``command``;
    ``serving``: a deployment under a concurrency (estimate --concurrency, search without --batch) instead of
    one static batch."""
    model = [("--model", st.sampled_from(cm.model_ids()), 1.0)]
    if command in ("params", "audit"):
        return (model if command == "params" else []) + [("--json", FLAG, 0.3)]
    out = model + [("--hardware", st.sampled_from(cm.hardware_ids()), 1.0),
                   ("--input-len", ints(1, 100_000), 1.0), ("--output-len", ints(1, 100_000), 1.0),
                   ("--weight-dtype", DTYPE, 0.3), ("--kv-dtype", DTYPE, 0.3),
                   ("--efficiency", st.sampled_from(["scenario", "datasheet", "calibrated"]), 0.3),
                   ("--mfu", floats(0.01, 1), 0.2), ("--bw-util", floats(0.01, 1), 0.2), ("--overlap", FLAG, 0.3),
                   ("--routing", st.sampled_from(["measured", "uniform"]), 0.15),
                   ("--memory-headroom", floats(0, 0.5), 0.15), ("--json", FLAG, 0.3)]
    out += [("--mtp", ints(1, 3), 0.2)] if serving else [("--batch", ints(1, 4096), 1.0)]
    if command == "estimate":
        out += [(f"--{n}", POW2, 1.0) for n in ("tp", "dp", "pp", "ep")] + [
            ("--etp", POW2, 0.3), ("--microbatches", POW2, 0.3), ("--redundant-experts", ints(0, 32), 0.1)]
        return out + ([("--concurrency", ints(1, 4096), 1.0), ("--workers", ints(1, 8), 0.3)] if serving else [])
    out += [("--max-gpus", st.sampled_from(["1", "8", "64", "512"]), 0.7), ("--ttft-max", floats(1e-3, 100), 0.3),
            ("--top", ints(1, 100), 0.3)]
    if serving:
        return out + [("--tpot-max", floats(1e-3, 1), 0.3), ("--serving", st.sampled_from(["agg", "disagg"]), 0.3),
                      ("--concurrency", st.sampled_from(["1", "1,8,64", "4,256"]), 0.3)]
    return out + [("--min-tokens-per-s-per-gpu", floats(1, 1e5), 0.3),
                  ("--throughput-metric", st.sampled_from(["output", "input"]), 0.2),
                  ("--min-tokens-per-s-per-user", floats(1, 1e4), 0.3)]


@st.composite
def argv_for(draw, command: str, config_path: str) -> list[str]:
    """A valid argument vector for ``command`` (options in random order), then, in two draws out of three,
    one to three of its options made hostile: a hostile value, a missing value, a dropped flag, a stray word."""
    chunks, serving = [], command in ("estimate", "search") and draw(st.floats(0, 1)) < 0.3
    for flag, valid, share in options(command, serving):
        if share == 1.0 or draw(st.floats(0, 1)) < share:
            chunks.append([flag] if valid is FLAG else [flag, draw(valid)])
    if command == "estimate" and draw(st.floats(0, 1)) < 0.2:  # the plan as one string instead of its degrees
        chunks = [c for c in chunks if c[0] not in ("--tp", "--dp", "--pp", "--ep", "--etp", "--microbatches")]
        chunks.append(["--plan", draw(st.sampled_from(["tp=8,ep=8", "tp=4,dp=2,ep=8", "TP2·PP2"]))])
    if "--mtp" in [c[0] for c in chunks] and draw(st.booleans()):
        chunks.append(["--acceptance", draw(floats(1, 3))])
    if command == "params" and draw(st.booleans()):
        chunks[0] = ["--hf-config", draw(st.sampled_from([config_path, "/nonexistent/config.json"]))]
    if command == "audit":
        chunks.append(draw(st.lists(st.sampled_from(["000", "001", "002", "003", "004"]), max_size=3)))
    chunks = draw(st.permutations(chunks))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        bad = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)))
        i = draw(st.integers(0, len(chunks)))
        how = draw(st.sampled_from(["value", "value", "drop", "stray"]))
        if how == "stray" or i == len(chunks):
            chunks.insert(i, [bad])
        elif how == "drop":
            chunks.pop(i)
        else:
            chunks[i] = chunks[i][:1] + [bad]
    return [command] + [word for chunk in chunks for word in chunk]


def run_in_process(argv: list[str]) -> tuple[int, str, str, float, list]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: exit 2 on a usage error, 0 after --help
            code = exc.code
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start, [str(x.message) for x in w]


def check(argv, code, out, err, elapsed, warned):
    shown = " ".join(map(repr, argv))[:300]
    assert code in (0, 2), f"exit {code} for {shown}: {err[-500:]}"
    assert "Traceback" not in err and "Traceback" not in out, f"traceback for {shown}"
    assert not warned, f"warnings for {shown}: {warned}"
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s for {shown}"
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("costmodel: error: "), f"{shown}: {err!r}"
    elif "--json" in argv and "-h" not in argv and "--help" not in argv:
        json.loads(out)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("hf") / "config.json"
    path.write_text(json.dumps({"num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 8,
                                "num_key_value_heads": 2, "vocab_size": 1000, "intermediate_size": 512,
                                "num_local_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 128}))
    return str(path)


FUZZ = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
"""Derandomized: the same vectors on every run (a failure reproduces), none stored on disk."""


@pytest.mark.parametrize("command, examples", [("params", 30), ("estimate", 100), ("search", 30), ("audit", 10)])
def test_random_argument_vectors_in_process(command, examples, config_path):
    codes = []

    @settings(FUZZ, max_examples=examples)
    @given(argv_for(command, config_path))
    def fuzz(argv):
        result = run_in_process(argv)
        check(argv, *result)
        codes.append(result[0])

    fuzz()
    # the vectors reach the library (exit 0) as well as the checks (exit 2), each at least a fifth of the time
    assert min(codes.count(0), codes.count(2)) >= len(codes) / 5, f"exit statuses {sorted(codes)}"


@pytest.fixture(scope="module")
def start_s() -> float:
    """Seconds a fresh interpreter takes to import the command line (not counted against the limit)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import costmodel.cli"], check=True, timeout=60)
    return time.perf_counter() - t0


def test_random_argument_vectors_in_a_fresh_interpreter(config_path, start_s):
    commands = st.sampled_from(["params", "estimate", "search", "audit"])

    @settings(FUZZ, max_examples=3)
    @given(commands.flatmap(lambda c: argv_for(c, config_path)).filter(lambda v: all("\x00" not in a for a in v)))
    def fuzz(argv):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-W", "always", "-m", "costmodel", *argv], capture_output=True, text=True,
                           timeout=60)
        elapsed = time.perf_counter() - t0 - start_s
        warned = [line for line in r.stderr.splitlines() if "Warning" in line]
        check(argv, r.returncode, r.stdout, r.stderr, elapsed, warned)

    fuzz()
