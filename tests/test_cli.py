"""The command line: JSON keys, readable tables, one-line errors, infeasible plans exit 0."""

import json
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
    for fragment in ("memory per GPU", "GB of 64 (fits)", "TTFT, whole batch", "tokens/s/GPU", "violations: none"):
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
