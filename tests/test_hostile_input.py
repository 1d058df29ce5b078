"""Hostile input: huge, non-finite and mistyped values get one line naming the field (exit 2 on the command
line, ``CostModelError`` in Python), never a traceback, a hang or a numpy warning."""

import contextlib
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import costmodel as cm
from costmodel import plansearch as S
from costmodel.cli import main
from costmodel.search import MAX_PLANS, enumerate_plans
from costmodel.units import MAX_BATCH, MAX_DEGREE, MAX_GPUS, MAX_TOKENS, MAX_WHOLE, positive_int, whole_number

ESTIMATE = ["estimate", "--model", "seed-moe-10b", "--hardware", "seed-gpu", "--tp", "4", "--dp", "4", "--pp", "1",
            "--ep", "16", "--batch", "128", "--input-len", "1024", "--output-len", "128"]
SEARCH = ["search", "--model", "seed-moe-10b", "--hardware", "seed-gpu", "--batch", "128", "--input-len", "1024",
          "--output-len", "128"]


def with_arg(args, flag, value):
    out = list(args)
    if flag in out:
        out[out.index(flag) + 1] = value
    else:
        out += [flag, value]
    return out


def one_line_error(capsys, argv) -> str:
    """Run the CLI in-process; assert exit 2 and one line on stderr, return that line."""
    with no_warnings():
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse rejects the value before the library sees it
            code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("costmodel: error: ") and "Traceback" not in err, err
    return lines[0]


@contextlib.contextmanager
def no_warnings():
    """Turn every warning (numpy's divide-by-zero included) into a test failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- the cases of issue 13 --------------------------------------------------------------------------
@pytest.mark.parametrize("argv, field", [
    (with_arg(ESTIMATE, "--batch", "1000000000000000000000000000000"), "--batch"),
    (with_arg(ESTIMATE, "--batch", "9223372036854775808"), "--batch"),
    (with_arg(ESTIMATE, "--dp", "4611686018427387904"), "--dp"),
    (with_arg(ESTIMATE, "--microbatches", "18446744073709551616"), "--microbatches"),
    (with_arg(SEARCH, "--max-gpus", "9223372036854775808"), "--max-gpus"),
    (with_arg(SEARCH, "--max-gpus", "1000000000000"), "--max-gpus"),
    (with_arg(ESTIMATE, "--input-len", str(MAX_TOKENS + 1)), "--input-len"),
    (with_arg(ESTIMATE, "--output-len", "1" * 5000), "--output-len"),  # past Python's 4300-digit int() limit
    (with_arg(ESTIMATE, "--batch", "nan"), "--batch"),
    (with_arg(ESTIMATE, "--mfu", "nan"), "--mfu"),
    (with_arg(SEARCH, "--ttft-max", "inf"), "--ttft-max"),
    (with_arg(SEARCH, "--top", "1000000"), "--top"),
    (with_arg(ESTIMATE, "--tp", str(MAX_DEGREE + 1)), "--tp"),
])
def test_huge_or_non_finite_numbers_are_one_line(capsys, argv, field):
    line = one_line_error(capsys, argv)
    assert f"argument {field}:" in line


def test_degrees_within_bounds_whose_product_is_too_many_gpus_name_the_plan(capsys):
    # 65,536 x 65,536 x 1 GPUs: each degree is within its bound, the product is not (limit 10^6)
    line = one_line_error(capsys, with_arg(with_arg(with_arg(ESTIMATE, "--tp", "1"), "--dp", "65536"), "--pp",
                                           "65536"))
    assert line == ("costmodel: error: plan: tp x dp x pp = 4,294,967,296 GPUs exceeds the limit of "
                    f"{MAX_GPUS:,}")


def test_search_with_a_huge_budget_answers_within_two_seconds(capsys):
    # 10^6 GPUs and 10^7 sequences: about 1.9 M candidate plans (powers of two; micro-batches up to B / dp);
    # the search refuses before evaluating any, instead of taking a minute and 10 GB
    argv = with_arg(with_arg(SEARCH, "--max-gpus", str(MAX_GPUS)), "--batch", str(MAX_BATCH))
    t0 = time.perf_counter()
    line = one_line_error(capsys, argv)
    assert time.perf_counter() - t0 < 2.0
    assert "max_gpus" in line and f"more than the {MAX_PLANS:,}" in line


def test_search_at_the_gpu_limit_with_a_small_batch_runs_within_two_seconds(capsys):
    t0 = time.perf_counter()
    with no_warnings():
        code = main(with_arg(with_arg(SEARCH, "--max-gpus", str(MAX_GPUS)), "--batch", "1"))
    assert code == 0 and time.perf_counter() - t0 < 2.0
    assert "plans evaluated" in capsys.readouterr().out


def test_plan_count_before_enumeration_is_exact():
    # the cap is checked on a count made before the plans are crossed with batch and micro-batches: it must
    # equal the number enumerated, or the cap would let through more than it says
    wl = cm.Workload(96, 8, 8)
    for max_gpus, batches in ((8, None), (64, [1, 96, 1000])):
        plans = enumerate_plans(wl, max_gpus, batches=batches)
        counted = len(plans["tp"])
        assert counted > 0
        with pytest.MonkeyPatch.context() as mp, pytest.raises(cm.CostModelError,
                                                               match=f"give {counted:,} candidate plans"):
            mp.setattr(S, "MAX_PLANS", counted - 1)
            enumerate_plans(wl, max_gpus, batches=batches)


def test_subprocess_huge_integer_is_one_line():
    r = subprocess.run([sys.executable, "-m", "costmodel", *with_arg(ESTIMATE, "--dp", "4611686018427387904")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "--dp" in r.stderr


# --- the library: every bad value raises CostModelError naming the field -----------------------------
@pytest.mark.parametrize("value, message", [
    (float("nan"), "batch: nan must be a whole number >= 1"),
    (float("inf"), "batch: inf must be a whole number >= 1"),
    (10**30, f"batch: {10**30} must be a whole number between 1 and {MAX_WHOLE:,}"),
    (2**63, f"batch: {2**63} must be a whole number between 1 and {MAX_WHOLE:,}"),
    (2.5, "batch: 2.5 must be a whole number >= 1"),
    ("8", "batch: '8' must be a whole number >= 1"),
    (None, "batch: None must be a whole number >= 1"),
    (True, "batch: True must be a whole number >= 1"),
    (0, "batch: 0 must be a whole number >= 1"),
])
def test_positive_int_refuses(value, message):
    with pytest.raises(cm.CostModelError) as info:
        positive_int("batch", value)
    assert str(info.value) == message


def test_positive_int_accepts_numpy_whole_numbers():
    assert positive_int("tp", np.int64(8)) == 8 and positive_int("tp", np.float64(2.0)) == 2
    assert whole_number("redundant_experts", np.int32(0)) == 0
    assert positive_int("batch", MAX_WHOLE) == MAX_WHOLE  # the bound itself is allowed


@pytest.mark.parametrize("build, field", [
    (lambda: cm.Workload(batch=float("nan"), input_len=8, output_len=8), "batch"),
    (lambda: cm.Workload(8, float("inf"), 8), "input_len"),
    (lambda: cm.Workload(8, 8, 10**9), "output_len"),
    (lambda: cm.Workload(MAX_BATCH + 1, 8, 8), "batch"),
    (lambda: cm.Workload(8, 8, 8, weight_dtype="int3"), "weight_dtype"),
    (lambda: cm.Workload(8, 8, 8, kv_dtype=None), "kv_dtype"),
    (lambda: cm.Plan(tp=4611686018427387904), "tp"),
    (lambda: cm.Plan(dp=float("nan")), "dp"),
    (lambda: cm.Plan(pp="2"), "pp"),
    (lambda: cm.Plan(ep=-8), "ep"),
    (lambda: cm.Plan(etp=0.5), "etp"),
    (lambda: cm.Plan(microbatches=18446744073709551616), "microbatches"),
    (lambda: cm.Plan(redundant_experts=-1), "redundant_experts"),
    (lambda: cm.Plan(tp=1024, dp=1024, pp=2), "plan"),
    (lambda: cm.Plan.parse("tp=8,dp=x"), "plan"),
    (lambda: cm.Efficiency(mfu=float("nan"), bw_util=0.8), "mfu"),
    (lambda: cm.Efficiency(mfu=0.5, bw_util=2.0), "bw_util"),
    (lambda: cm.Efficiency(mfu=0.5, bw_util=0.8, scale_up_util="high"), "scale_up_util"),
    (lambda: cm.Efficiency(mfu=0.5, bw_util=0.8, decode_mfu=0.0), "decode_mfu"),
    (lambda: cm.Efficiency(mfu=0.5, bw_util=0.8, scale_out_util=float("inf")), "scale_out_util"),
])
def test_bad_values_of_the_data_classes_name_the_field(build, field):
    with pytest.raises(cm.CostModelError, match=f"^{field}: ") as info:
        build()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("max_gpus", ["512", "4096", str(MAX_GPUS)])
def test_serving_search_with_a_large_budget_is_refused_quickly(capsys, max_gpus):
    # without --batch, search sweeps aggregated and disaggregated deployments; the prefill / decode worker pairs
    # grow with the square of the budget (512 GPUs: about 7 million points, a minute; 4096: out of memory), so
    # the space is counted first and refused with a message that says how to narrow it
    argv = ["search", "--model", "qwen3-235b-a22b", "--hardware", "h100-sxm", "--input-len", "2048",
            "--output-len", "1024", "--max-gpus", max_gpus]
    t0 = time.perf_counter()
    line = one_line_error(capsys, argv)
    assert time.perf_counter() - t0 < 2.0
    assert "max_gpus" in line and "disaggregated deployments" in line and "aggregated mode only" in line


def test_serving_search_at_64_gpus_answers_within_two_seconds(capsys):
    t0 = time.perf_counter()
    with no_warnings():
        code = main(["search", "--model", "qwen3-235b-a22b", "--hardware", "h100-sxm", "--input-len", "2048",
                     "--output-len", "1024", "--max-gpus", "64"])
    assert code == 0 and time.perf_counter() - t0 < 2.0
    assert "disagg" in capsys.readouterr().out
