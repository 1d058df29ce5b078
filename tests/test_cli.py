"""The command line: JSON keys, readable tables, one-line errors, infeasible plans exit 0."""

import json
import re
import subprocess
import sys

import pytest

import costmodel as cm

ESTIMATE = ["estimate", "--model", "seed-moe-10b", "--hardware", "seed-gpu", "--tp", "4", "--dp", "4", "--pp", "1",
            "--ep", "16", "--batch", "128", "--input-len", "10240", "--output-len", "512", "--weight-dtype", "fp16",
            "--kv-dtype", "fp16"]


def with_arg(flag, value):
    """ESTIMATE with the value after ``flag`` replaced."""
    args = list(ESTIMATE)
    args[args.index(flag) + 1] = value
    return args


def run(*args):
    return subprocess.run([sys.executable, "-m", "costmodel", *args], capture_output=True, text=True, timeout=120)


def test_params_json():
    out = json.loads(run("params", "--model", "qwen3-235b-a22b", "--json").stdout)
    # 235,093,634,560 total; KV per token 2 x 94 x 4 x 128 = 96,256 elements: x 2 B bf16, x 1 B fp8
    assert out["params_total"] == 235_093_634_560
    assert (out["kv_bytes_per_token_bf16"], out["kv_bytes_per_token_fp8"]) == (192_512, 96_256)
    assert out["params_active"] == cm.load_model("qwen3-235b-a22b").params_active


def test_params_from_hf_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                                "vocab_size": 100, "intermediate_size": 128, "tie_word_embeddings": True}))
    assert json.loads(run("params", "--hf-config", str(path), "--json").stdout)["params_total"] == 88_640


def test_estimate_json_matches_library():
    out = json.loads(run(*ESTIMATE, "--json").stdout)
    e = cm.estimate(cm.load_model("seed-moe-10b"), cm.load_hardware("seed-gpu"), cm.Plan(4, 4, 1, 16),
                    cm.Workload(128, 10240, 512, "fp16", "fp16"))
    assert out["ttft_s"] == pytest.approx(e.ttft_s) and out["gpus_total"] == 16
    assert out["violations"] == [] and out["fits_memory"] is True


def test_estimate_table_has_units():
    text = run(*ESTIMATE).stdout
    for fragment in ("memory per GPU", "GB of 57.6 usable (fits)", "TTFT, whole batch", "tokens/s/GPU", "violations: none"):
        assert fragment in text


def test_mfu_override_changes_ttft():
    slow = json.loads(run(*ESTIMATE, "--mfu", "0.3", "--json").stdout)
    fast = json.loads(run(*ESTIMATE, "--json").stdout)
    assert slow["ttft_s"] > fast["ttft_s"] and slow["mfu"] == 0.3


def test_infeasible_plan_exits_zero_with_violations():
    r = run("estimate", "--model", "qwen3-235b-a22b", "--hardware", "seed-gpu", "--tp", "1", "--dp", "3", "--pp", "1",
            "--ep", "3", "--batch", "128", "--input-len", "2048", "--output-len", "2048", "--weight-dtype", "fp8",
            "--kv-dtype", "fp8", "--json")
    assert r.returncode == 0
    names = [v["name"] for v in json.loads(r.stdout)["violations"]]
    assert {"memory_exceeds_capacity", "experts_not_divisible_by_ep", "batch_not_divisible_by_dp"} <= set(names)


@pytest.mark.parametrize("args, field", [
    (["params", "--model", "gpt-5"], "--model"),
    (["params"], "--model"),
    (with_arg("--hardware", "tpu"), "--hardware"),
    (with_arg("--tp", "3"), "tp: 3 does not divide the 16 attention heads; allowed: 1, 2, 4, 8, 16"),
    (with_arg("--kv-dtype", "fp9"), "--kv-dtype"),
    (with_arg("--batch", "-4"), "--batch"),
    (with_arg("--batch", "many"), "--batch"),
    (with_arg("--ep", "0"), "--ep"),
    (ESTIMATE + ["--mfu", "1.5"], "--mfu"),
    (["params", "--hf-config", "/nonexistent/config.json"], "cannot read"),
])
def test_bad_input_is_one_line(args, field):
    r = run(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in r.stderr


def test_hf_config_missing_key_is_one_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"num_hidden_layers": 2, "hidden_size": 64, "vocab_size": 10}))
    r = run("params", "--hf-config", str(path))
    assert r.returncode == 2 and r.stderr.strip() == "costmodel: error: config: missing key 'num_attention_heads'"


def test_closed_pipe_is_not_a_traceback():
    # `costmodel audit | head -1`: the reader leaves early; the command must not print a traceback
    r = subprocess.run(f"{sys.executable} -m costmodel audit | head -1", shell=True, capture_output=True, text=True,
                       timeout=120)
    assert r.stdout.startswith("document ") and "Traceback" not in r.stderr


# --- plans as engines write them, and serving ---------------------------------------------------------
SERVE = ["estimate", "--model", "deepseek-v3", "--hardware", "h200-sxm", "--input-len", "1024", "--output-len",
         "1024", "--weight-dtype", "fp8", "--kv-dtype", "fp8"]


def test_plan_string_equals_the_degree_flags():
    a = json.loads(run(*ESTIMATE, "--json").stdout)
    flags = [x for x in ESTIMATE if x not in ("--tp", "4", "--dp", "--pp", "1", "--ep", "16")]
    b = json.loads(run(*flags, "--plan", "tp=4,dp=4,ep=16", "--json").stdout)
    assert a["ttft_s"] == b["ttft_s"] and (b["tp"], b["dp"], b["ep"], b["etp"]) == (4, 4, 16, 1)
    # degrees default to 1 and etp to tp x dp / ep: "--tp 2" for Mixtral shards every expert over both GPUs
    out = json.loads(run("estimate", "--model", "mixtral-8x7b", "--hardware", "h100-sxm", "--tp", "2", "--batch",
                         "1", "--input-len", "100", "--output-len", "10", "--json").stdout)
    assert (out["dp"], out["pp"], out["ep"], out["etp"]) == (1, 1, 1, 2) and out["fits_memory"]
    r = run(*ESTIMATE, "--plan", "tp=4,ep=16")
    assert r.returncode == 2 and "give --plan or the degree flags, not both" in r.stderr


def test_concurrency_gives_the_serving_json_keys():
    out = json.loads(run(*SERVE, "--plan", "tp=8,ep=8", "--concurrency", "64", "--json").stdout)
    for key in ("ttft_s", "tpot_s", "output_tokens_per_s_per_gpu", "input_tokens_per_s_per_gpu",
                "tokens_per_s_per_user"):
        assert out[key] > 0, key
    assert out["serving"] == "agg" and out["concurrency"] == 64
    assert out["tokens_per_s_per_user"] == pytest.approx(1 / out["tpot_s"])
    # Little's law over the loop: 64 = X (TTFT + 1023 TPOT), output tokens/s per GPU = X x 1024 / 8
    x = out["output_tokens_per_s_per_gpu"] * 8 / 1024
    assert x * (out["ttft_s"] + 1023 * out["tpot_s"]) == pytest.approx(64, rel=1e-3)


def test_disaggregated_deployment_with_mtp():
    out = json.loads(run(*SERVE, "--prefill-plan", "tp=8,ep=8", "--decode-plan", "tp=1,dp=8,ep=8",
                         "--decode-workers", "2", "--concurrency", "256", "--mtp", "1", "--json").stdout)
    assert out["serving"] == "disagg" and out["mtp"] == 1 and out["acceptance"] == 1.85
    for key in ("output_tokens_per_s_per_decode_gpu", "input_tokens_per_s_per_prefill_gpu",
                "output_tokens_per_s_per_gpu", "kv_transfer_s", "matched_prefill_workers"):
        assert out[key] > 0, key
    # the system-wide rate counts all 24 GPUs, the decode rate the 16 decode GPUs
    assert out["output_tokens_per_s_per_gpu"] * 24 == pytest.approx(out["output_tokens_per_s_per_decode_gpu"] * 16)
    for bad, message in ((["--decode-plan", "tp=8", "--concurrency", "8"], "needs both --prefill-plan"),
                         (["--plan", "tp=8", "--batch", "8", "--mtp", "1"], "mtp: speculative decoding"),
                         (["--plan", "tp=8", "--concurrency", "8", "--acceptance", "2"], "--acceptance needs --mtp"),
                         (["--plan", "tp=8", "--concurrency", "8", "--mtp", "1", "--acceptance", "3"],
                          r"acceptance: 3.0 must be a number of tokens in \[1, 2\]")):
        r = run(*SERVE, *bad)
        assert r.returncode == 2 and re.search(message, r.stderr), (bad, r.stderr)


def test_serving_search_without_batch():
    out = json.loads(run("search", "--model", "qwen3-235b-a22b", "--hardware", "h200-sxm", "--max-gpus", "8",
                         "--input-len", "2000", "--output-len", "500", "--weight-dtype", "fp8", "--kv-dtype", "fp8",
                         "--ttft-max", "2", "--tpot-max", "0.05", "--top", "3", "--json").stdout)
    assert out["plans_evaluated"] > 100 and len(out["best"]) == 3
    for point in out["best"] + out["frontier"]:
        assert point["serving"] in ("agg", "disagg") and point["ttft_s"] <= 2 and point["tpot_s"] <= 0.05
    assert all("why" in point for point in out["frontier"])
    speeds = [p["tokens_per_s_per_user"] for p in out["frontier"]]
    rates = [p["output_tokens_per_s_per_gpu"] for p in out["frontier"]]
    assert speeds == sorted(speeds) and rates == sorted(rates, reverse=True)  # a Pareto frontier


def test_default_budget_is_512_for_one_batch_and_64_for_serving():
    common = ("search", "--model", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--input-len", "512", "--output-len",
              "128", "--json")
    assert json.loads(run(*common, "--serving", "agg").stdout)["requirements"]["max_gpus"] == 64
    assert json.loads(run(*common, "--batch", "8", "--top", "1").stdout)["requirements"]["max_gpus"] == 512
