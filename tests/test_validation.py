"""Validation against published measurements and the InferenceX serving runs: parsing, mapping, split,
predictions by hand, the roofline bound, the fit, the profile, error metrics."""

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import costmodel as cm
from costmodel import validation as val
from costmodel.efficiency import fitted_profiles as calibrated_profiles


PUB = val.published
IX = val.inferencex


@pytest.fixture(scope="module")
def table():
    return PUB.load()


@pytest.fixture(scope="module")
def parsed(table):
    return PUB.parse(table)


@pytest.fixture(scope="module")
def ix_table():
    return IX.load()


@pytest.fixture(scope="module")
def ix_parsed(ix_table):
    return IX.parse(ix_table)


@pytest.fixture(scope="module")
def everything(parsed, ix_parsed):
    return parsed[0] + ix_parsed[0]


# --- parsing -------------------------------------------------------------------------------------
def test_precision_text_maps_to_weight_and_kv_dtypes():
    assert PUB.parse_precision("FP8 weights + FP8 KV (trtllm-bench --quantization FP8)") == ("fp8", "fp8")
    assert PUB.parse_precision("FP16 weights + FP16 KV (no quantization)") == ("fp16", "fp16")
    assert PUB.parse_precision("BF16 weights/activations (doc: 'BF16 precision')") == ("bf16", "bf16")
    assert PUB.parse_precision("FP8 (use_fp8=True)") == ("fp8", "fp8")
    with pytest.raises(cm.CostModelError, match="precision"):
        PUB.parse_precision("INT4 AWQ")


def test_plan_text_maps_to_the_folding_convention():
    # experts sharded by TP without EP: expert tensor parallel = tp, ep = 1
    assert PUB.parse_plan("TP4 PP1 (experts TP-sharded; no EP)", 4, is_moe=True) == cm.Plan(4, 1, 1, 1, etp=4)
    assert PUB.parse_plan("TP4", 4, is_moe=False) == cm.Plan(4, 1, 1, 1, etp=4)
    # independent replicas are attention data parallelism
    assert PUB.parse_plan("TP1 PP1 x 8 replicas (DP8, no EP)", 8, is_moe=True) == cm.Plan(1, 8, 1, 1, etp=1)
    assert PUB.parse_plan("TP2 PP1 x 4 replicas", 8, is_moe=False) == cm.Plan(2, 4, 1, 1, etp=2)
    with pytest.raises(cm.CostModelError, match="parallel_config"):
        PUB.parse_plan("TP2 PP1", 4, is_moe=False)  # 2 GPUs stated, 4 in the row


def test_offline_row_becomes_a_scenario_in_si_units(table):
    row = table[table["id"] == "R002"].iloc[0].to_dict()  # Llama-3.1-70B FP8, H100, TP1, 128/128
    sc = PUB.parse_row(row)
    assert (sc.model_id, sc.hardware_id, sc.plan) == ("llama-3.1-70b", "h100-sxm", cm.Plan(1, 1, 1, 1))
    assert (sc.input_len, sc.output_len, sc.weight_dtype, sc.kv_dtype) == (128, 128, "fp8", "fp8")
    assert (sc.regime, sc.metric, sc.group) == ("offline", "output_tokens_per_s_per_gpu", "throughput_max_load")
    assert sc.measured == pytest.approx(float(row["value"]) / int(row["num_gpus"]))


def test_online_rows_carry_rate_requests_and_seconds(table):
    rows = {r["id"]: r for r in table.to_dict("records")}
    ttft = PUB.parse_row(rows["R278"])  # Llama-3.1-70B TP4 H100, QPS=2, mean TTFT 62 ms
    assert (ttft.regime, ttft.qps, ttft.requests, ttft.metric) == ("online", 2.0, 500, "ttft_s")
    assert ttft.measured == pytest.approx(0.062)
    assert PUB.parse_row(rows["R293"]).qps == math.inf  # QPS=INF
    assert PUB.parse_row(rows["R295"]).group == "throughput_max_load"  # INF throughput is a max-load figure
    assert PUB.parse_row(rows["R280"]).group == "throughput_online"


# --- mapping: nothing dropped silently -------------------------------------------------------------
def test_every_row_is_predicted_or_listed_with_a_reason(table, parsed):
    scenarios, skipped = parsed
    predicted_ids = {sc.row_id for sc in scenarios}
    skipped_ids = set(skipped["id"])
    assert predicted_ids.isdisjoint(skipped_ids)
    assert predicted_ids | skipped_ids == set(table["id"])
    assert len(scenarios) + len(skipped) == len(table)
    assert skipped["reason"].str.len().min() > 20


def test_only_unrepresentable_rows_are_skipped(table, parsed):
    # Expected from the table itself: p99 rows and rows without a numeric ISL (MLPerf datasets).
    expected = table[table["metric"].str.startswith("p99") | ~table["isl"].str.isdigit()]["id"]
    assert set(parsed[1]["id"]) == set(expected)


def test_a_run_that_cannot_fit_is_listed_not_predicted(table):
    # Mixtral-8x22B in FP16 on one 80 GB A100: 140.6 B parameters x 2 B = 281 GB of weights
    row = table[table["id"] == "R197"].iloc[0].to_dict() | {"id": "X1", "num_gpus": "1", "parallel_config": "TP1 PP1"}
    with pytest.raises(cm.CostModelError, match="cannot fit"):
        PUB.parse_row(row)
    scenarios, skipped = PUB.parse(pd.DataFrame([row]))
    assert scenarios == [] and list(skipped["id"]) == ["X1"]


def test_every_model_and_hardware_name_maps_to_a_bundled_spec(table):
    assert set(table["model"]) <= set(PUB.MODEL_IDS)
    assert set(table["hardware"]) <= set(PUB.HARDWARE_IDS)
    for model_id in PUB.MODEL_IDS.values():
        cm.load_model(model_id)
    for hardware_id in PUB.HARDWARE_IDS.values():
        cm.load_hardware(hardware_id)


def test_added_model_files_agree_with_their_published_totals():
    # Llama-3.1-8B 8.03 B; Llama-2-70B 69.0 B; Mixtral-8x22B 141 B total, 39 B active (from the YAML sources)
    for model_id in ("llama-3.1-8b", "llama-2-70b", "mixtral-8x22b"):
        m, official = cm.load_model(model_id), cm.official_params(model_id)
        assert m.params_total == pytest.approx(official["params_total"], rel=0.005)
        if "params_active" in official:
            assert m.params_active == pytest.approx(official["params_active"], rel=0.005)


# --- InferenceX ----------------------------------------------------------------------------------
def test_every_inferencex_run_is_predicted_or_listed(ix_table, ix_parsed):
    scenarios, skipped = ix_parsed
    runs = {sc.row_id for sc in scenarios}
    assert runs.isdisjoint(skipped["id"]) and runs | set(skipped["id"]) == set(ix_table["id"])
    assert len(scenarios) == 3 * len(runs)  # TTFT, TPOT and output tokens/s per GPU of each run
    # the listed ones: disaggregated runs without workers, a missing metric, and one run whose throughput
    # contradicts its own concurrency and latency (0.025 x)
    reasons = skipped.set_index("id")["reason"]
    assert reasons["IX2e7dd0e4"].startswith("output tokens/s per GPU 25.28 is 0.025 x")
    assert reasons["IX8bdbbbae"] == "output_tput_per_gpu is missing"
    assert sum(r.startswith("a disaggregated run with 0") for r in reasons) == 8


def test_disaggregated_row_maps_onto_two_pools(ix_table):
    # IX133d02c0: B200 dynamo-sglang FP4 + MTP, prefill tp4 ep4 with DP-attention x1 (4 GPUs), decode tp8 ep8
    # x6 (48 GPUs), ISL = OSL = 1024 drawn from [819, 1024] (mean 922), 256 in flight
    row = ix_table.set_index("id").loc["IX133d02c0"].to_dict() | {"id": "IX133d02c0"}
    ttft, tpot, tput = IX.parse_row(row)
    assert ttft.prefill_plan == cm.Plan(tp=1, dp=4, ep=4) and ttft.prefill_workers == 1
    assert ttft.plan == cm.Plan(tp=8, ep=8) and ttft.workers == 6
    assert (ttft.input_len, ttft.output_len, ttft.concurrency) == (922, 922, 256)
    assert (ttft.weight_dtype, ttft.kv_dtype, ttft.attention_dtype, ttft.mtp) == ("fp4", "fp8", "bf16", 2)
    assert (ttft.metric, tpot.metric, tput.metric) == ("ttft_s", "tpot_s", "output_tokens_per_s_per_gpu")
    assert tput.measured == row["output_tput_per_gpu"]  # per decode GPU, as the dataset divides


def test_single_node_row_uses_tp_gpus_and_the_engines_settings(ix_table):
    rows = ix_table.set_index("id")
    # IXbd923ff5: B200 SGLang tp8 ep8: num_decode_gpu says 64 (tp x ep), the run used one 8-GPU node
    sc = IX.parse_row(rows.loc["IXbd923ff5"].to_dict() | {"id": "IXbd923ff5"})[0]
    assert sc.plan == cm.Plan(tp=8, ep=8) and sc.plan.gpus == 8 and not sc.disaggregated
    # SGLang on H200 keeps a BF16 KV cache; TensorRT-LLM on Hopper runs FP8 FlashMLA decode attention
    h200 = IX.parse_row(rows.loc["IXf54faa8c"].to_dict() | {"id": "IXf54faa8c"})[0]
    assert (h200.kv_dtype, h200.attention_dtype) == ("bf16", "bf16")
    trt = IX.parse_row(rows.loc["IXd5b6b833"].to_dict() | {"id": "IXd5b6b833"})[0]
    assert (trt.kv_dtype, trt.attention_dtype) == ("fp8", "fp8")
    # AMD FP4 checkpoints are MXFP4; MoRI disaggregated runs route experts at random
    mori = IX.parse_row(rows.loc["IX29a8c958"].to_dict() | {"id": "IX29a8c958"})[0]
    assert (mori.weight_dtype, mori.routing) == ("mxfp4", "uniform")


def test_mtp_draft_tokens_follow_the_launch_scripts():
    base = {"spec_method": "mtp", "decode_dp_attention": False}
    assert IX.mtp_tokens(base | {"framework": "sglang", "hardware": "h200"}) == 2
    assert IX.mtp_tokens(base | {"framework": "sglang", "hardware": "mi355x"}) == 3
    assert IX.mtp_tokens(base | {"framework": "trt", "hardware": "b200"}) == 3
    assert IX.mtp_tokens(base | {"framework": "trt", "hardware": "b200", "decode_dp_attention": True}) == 1
    assert IX.mtp_tokens({"spec_method": "none", "framework": "trt", "hardware": "b200"}) == 0


def test_inferencex_split_keeps_each_setup_on_one_side(ix_parsed):
    sides = {}
    for sc in ix_parsed[0]:
        sides.setdefault(sc.run_key, set()).add(val.is_held_out(sc.run_key))
    assert all(len(s) == 1 for s in sides.values())
    share = sum(next(iter(s)) for s in sides.values()) / len(sides)
    assert 0.2 < share < 0.4


# --- split -----------------------------------------------------------------------------------------
def test_split_rule_is_the_stated_hash():
    key = "S1|Mixtral-8x7B|H100-SXM-80GB|TP2 PP1|128|128"
    expected = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100 < 30
    assert val.is_held_out(key) is expected
    assert all(val.is_held_out(key) is expected for _ in range(3))


def test_split_keeps_each_run_on_one_side_and_holds_out_about_30_percent(parsed):
    scenarios = parsed[0]
    sides = {}
    for sc in scenarios:
        sides.setdefault(sc.run_key, set()).add(val.is_held_out(sc.run_key))
    assert all(len(s) == 1 for s in sides.values())  # no run in both train and held-out
    train = {sc.row_id for sc in scenarios if not val.is_held_out(sc.run_key)}
    held = {sc.row_id for sc in scenarios if val.is_held_out(sc.run_key)}
    assert train.isdisjoint(held) and train and held
    share = sum(next(iter(s)) for s in sides.values()) / len(sides)
    assert 0.2 < share < 0.4


# --- engine batch and online model by hand ----------------------------------------------------------
def test_max_batch_by_hand():
    # Llama-3.1-70B FP8 on one H100, 128/128, no headroom (the engines ran): capacity 81,559 MiB
    # = 85,520,809,984 B; weights 70,553,706,496 elements at 1 B, the embedding and the LM head (2 x 128,256 x
    # 8,192 = 2,101,346,304 of them) at 2 B once more: 72,655,052,800 B; activations of an 8,192-token chunk:
    # 8,192 x (2 x 8,192 + 80 x 128 + 2 x 28,672) x 2 B = 1,375,731,712 B; reserve 1e9 B -> free
    # 10,490,025,472 B; per sequence KV 256 x (2 x 8 x 128 x 80) x 1 B = 41,943,040 B + logits 128,256 x 4 B
    # = 513,024 B -> floor(247.08)
    args = ("llama-3.1-70b", "h100-sxm", cm.Plan(1, 1, 1, 1), 128, 128, "fp8", "fp8")
    assert val.max_batch(*args) == 247
    assert val.max_batch(*args, cap=64) == 64
    # replicas multiply the per-replica batch
    assert val.max_batch("llama-3.1-70b", "h200-sxm", cm.Plan(1, 2, 1, 1), 128, 128, "fp8", "fp8") == \
        2 * val.max_batch("llama-3.1-70b", "h200-sxm", cm.Plan(1, 1, 1, 1), 128, 128, "fp8", "fp8")


def _online(qps):
    # decode step 10 ms at every batch; prefill 20 ms per request alone and per request in a batch
    return val.openloop.online_metrics(qps, requests=100, output_len=11, batch_max=10, batches=np.array([1, 10]),
                              decode_step_s=np.full((2, 1), 0.01), ttft_batch_s=np.array([[0.02], [0.2]]),
                              ttft_single_s=np.array([0.02]))


def test_online_steady_state_by_hand():
    # rho = 10 x 0.02 = 0.2; ITL = 0.01 / 0.8 = 0.0125; TTFT = 0.02 + 0.2 x 0.02 / (2 x 0.8) + 1.5 x 0.01
    # = 0.0375; B = 10 x (0.0375 + 10 x 0.0125) = 1.625 < 10 (steady);
    # tokens/s = 100 x 11 / (100 / 10 + 0.0375 + 10 x 0.0125) = 1100 / 10.1625
    out = _online(10.0)
    assert out["itl_s"][0] == pytest.approx(0.0125)
    assert out["ttft_s"][0] == pytest.approx(0.0375)
    assert out["batch"][0] == pytest.approx(1.625)
    assert out["output_tokens_per_s"][0] == pytest.approx(1100 / 10.1625)


def test_online_saturated_by_hand():
    # QPS=INF, B = 10: T_wave = 0.2 + 11 x 0.01 = 0.31; T_run = 100 / 10 x 0.31 = 3.1;
    # slot wait (100 - 10)^2 / 200 x 0.31 / 10 = 1.2555; TTFT = 0.02 + 99 / 2 x 0.02 + 1.2555 + 0.015 = 2.2805;
    # ITL = (3.1 - 2.2805) / 10 = 0.08195; tokens/s = 1100 / 3.1
    out = _online(math.inf)
    assert out["ttft_s"][0] == pytest.approx(2.2805)
    assert out["itl_s"][0] == pytest.approx(0.08195)
    assert out["output_tokens_per_s"][0] == pytest.approx(1100 / 3.1)
    assert out["batch"][0] == 10


def test_explain_max_load_reproduces_the_prediction(parsed):
    sc = next(s for s in parsed[0] if s.row_id == "R002")
    worked = val.explain_max_load(sc, "datasheet")
    assert worked["batch"] == val.max_batch(sc.model_id, sc.hardware_id, sc.plan, sc.input_len, sc.output_len,
                                            sc.weight_dtype, sc.kv_dtype)
    # e2e rate: B S_out / (TTFT(B) + S_out x step) on one GPU
    rate = worked["batch"] * 128 / (worked["ttft_whole_batch_s"] + 128 * worked["decode_step_s"])
    assert worked["predicted_output_tokens_per_s_per_gpu"] == pytest.approx(rate)
    assert val.predict([sc], "datasheet")["predicted"].iloc[0] == pytest.approx(rate)


def test_vectorised_prediction_equals_the_library_estimate(parsed):
    # the fit evaluates many efficiencies at once; one of them must equal cm.estimate exactly
    sc = next(s for s in parsed[0] if s.row_id == "R172")  # Mixtral-8x7B TP8 H100 128/2048
    eff = cm.Efficiency(mfu=0.55, decode_mfu=0.45, bw_util=0.7, scale_up_util=0.6)
    batch = val.max_batch(sc.model_id, sc.hardware_id, sc.plan, sc.input_len, sc.output_len, sc.weight_dtype,
                          sc.kv_dtype)
    e = cm.estimate(cm.load_model(sc.model_id), cm.load_hardware(sc.hardware_id), sc.plan,
                    cm.Workload(batch, sc.input_len, sc.output_len, sc.weight_dtype, sc.kv_dtype), eff,
                    memory_headroom=0.0)
    table = val.predict([sc], {sc.hardware_id: eff})
    assert table["predicted"].iloc[0] == pytest.approx(e.e2e_output_tokens_per_s_per_gpu, rel=1e-12)


# --- the roofline bound ----------------------------------------------------------------------------
def test_no_max_load_measurement_beats_the_100_percent_roofline(parsed):
    table = val.roofline(parsed[0])
    max_load = table[table["group"] == "throughput_max_load"]
    assert (max_load["measured"] <= max_load["predicted"]).all()


def test_the_roofline_is_optimistic_on_at_least_98_percent_of_rows(everything):
    # issue target: the datasheet roofline (100 % efficiency, uniform routing, optimistic MTP acceptance,
    # no queueing in TTFT) is never slower than the measurement on >= 98 % of all predicted rows
    table = val.roofline(everything)
    assert (~val.beats_bound(table)).mean() >= 0.98


def test_published_bound_violations_are_within_the_sources_rounding(parsed):
    # S4 publishes whole tokens/s for the TP group: a violation smaller than 0.5 tok/s is rounding
    violations = val.bound_violations(parsed[0])
    gpus = violations["plan"].str.extract(r"TP(\d+)")[0].astype(int)
    assert (violations["group"] == "throughput_online").all()
    assert ((violations["measured"] - violations["predicted"]) * gpus < 0.5).all()


# --- fit and profile ---------------------------------------------------------------------------------
@pytest.mark.parametrize("hardware_id", ["h200-sxm", "b200-sxm", "mi355x"])
def test_bundled_profile_is_a_minimum_of_the_training_loss(everything, hardware_id):
    # the bundled profile is what tools/calibrate.py fitted: no single-factor step of one grid unit lowers
    # the training loss (a full re-fit takes minutes; this check takes seconds)
    losses = val.neighbourhood_losses(everything, hardware_id, val.bundled_profile()[hardware_id])
    fitted = losses.loc[losses["point"] == "fitted", "loss"].iloc[0]
    assert (losses["loss"] >= fitted - 1e-9).all(), losses.to_string()


def test_profile_round_trip(tmp_path):
    profile = val.bundled_profile()
    path = val.write_profile(tmp_path / "p.yaml", profile)
    doc = yaml.safe_load(path.read_text())
    assert doc["hardware"] == profile
    loaded = calibrated_profiles()["calibrated"]
    for hw, factors in profile.items():
        eff = loaded[hw]
        assert tuple(getattr(eff, f) for f in val.FACTORS) == tuple(factors[f] for f in val.FACTORS)
        assert cm.resolve_efficiency(cm.load_hardware(hw), "calibrated") == eff
    # a GPU without measured rows takes its sibling's factors, said in the file
    assert doc["fallback"] == val.FALLBACK and profile["h800-sxm"] == profile["h100-sxm"]


def test_fit_uses_training_rows_only(everything, monkeypatch):
    # fit_profile must hand fit_hardware the training rows and nothing else (every one of them at least once;
    # a GPU with fewer than 3 training runs, MI325X, is fitted on its family's, so some rows come twice)
    seen = []
    monkeypatch.setattr(val.fit, "fit_hardware", lambda rows: seen.extend(rows) or dict(val.fit.PRIOR))
    val.fit_profile(everything)
    train = [sc for sc in everything if not val.is_held_out(sc.run_key)]
    assert {sc.row_id + sc.metric for sc in seen} == {sc.row_id + sc.metric for sc in train}
    mi325x = val.fit.training_rows(everything, "mi325x")
    assert {sc.hardware_id for sc in mi325x} == {"mi300x", "mi325x"}


def test_fit_recovers_known_factors_from_synthetic_measurements(ix_parsed):
    # measurements made by the model itself at known factors: the search must reach (near) zero loss there
    truth = {"mfu": 0.45, "decode_mfu": 0.5, "bw_util": 0.7, "scale_up_util": 0.6, "scale_out_util": 0.8,
             "layer_overhead_s": 30e-6, "request_overhead_s": 0.05}
    rows = [sc for sc in ix_parsed[0] if sc.hardware_id == "mi325x"]
    made = val.predict(rows, {"mi325x": cm.Efficiency(**truth)})["predicted"]
    synthetic = [val.Scenario(**{**sc.__dict__, "measured": m}) for sc, m in zip(rows, made)]
    found = val.fit_hardware(synthetic)
    again = val.predict(synthetic, {"mi325x": cm.Efficiency(**found)})
    assert float(np.median(val.log_error(again["predicted"], again["measured"]))) < 0.01


def test_held_out_max_load_throughput_error_meets_the_target(parsed):
    # target of the validation chapter: median absolute error <= 15 % on held-out max-load throughput
    errors = val.error_table(val.predict(parsed[0], "calibrated"))
    row = errors[(errors["group"] == "throughput_max_load") & (errors["hardware"] == "all")].iloc[0]
    assert row["median_ape_pct"] <= 15


# --- error metrics on a hand-made example ------------------------------------------------------------
def _hand_table():
    return pd.DataFrame({
        "group": ["throughput_max_load"] * 4 + ["ttft"] * 2,
        "hardware": ["h100-sxm", "h100-sxm", "h200-sxm", "h200-sxm", "h100-sxm", "h100-sxm"],
        "split": ["held-out"] * 4 + ["held-out", "train"],
        "metric": ["output_tokens_per_s_per_gpu"] * 4 + ["ttft_s"] * 2,
        "measured": [100.0, 200.0, 50.0, 10.0, 0.10, 0.20],
        "predicted": [110.0, 150.0, 50.0, 12.0, 0.08, 0.30],
    }).assign(ape=lambda t: val.abs_pct_error(t["predicted"], t["measured"]))


def test_error_table_by_hand():
    # APE: 0.10, 0.25, 0.00, 0.20 (throughput), 0.20 (ttft, held-out); the train row is left out.
    # all throughput: sorted 0, 0.1, 0.2, 0.25 -> median 0.15; p90 at position 0.9 x 3 = 2.7 -> 0.2 + 0.7 x 0.05
    # h100 throughput: 0.10, 0.25 -> median 0.175, p90 0.1 + 0.9 x 0.15 = 0.235
    t = val.error_table(_hand_table()).set_index(["group", "hardware"])
    assert t.loc[("throughput_max_load", "all"), "median_ape_pct"] == pytest.approx(15.0)
    assert t.loc[("throughput_max_load", "all"), "p90_ape_pct"] == pytest.approx(23.5)
    assert t.loc[("throughput_max_load", "h100-sxm"), "median_ape_pct"] == pytest.approx(17.5)
    assert t.loc[("throughput_max_load", "h100-sxm"), "p90_ape_pct"] == pytest.approx(23.5)
    assert t.loc[("ttft", "all"), "rows"] == 1 and t.loc[("ttft", "all"), "median_ape_pct"] == pytest.approx(20.0)


def test_beats_bound_by_hand():
    # throughput: measured above predicted beats the bound (rows 2: 200 > 150); latency: measured below
    # predicted (row 5: 0.20 < 0.30)
    assert list(val.beats_bound(_hand_table())) == [False, True, False, False, False, True]


def test_intervals_and_coverage_by_hand():
    # train residuals r = ln(measured / predicted) for throughput: ln(1), ln(2), ln(0.5), ln(1.25), ln(0.8)
    # 80 % interval: quantiles 0.1 and 0.9 of sorted [ln .5, ln .8, 0, ln 1.25, ln 2] at positions 0.4 and 3.6
    # -> exp(ln .5 + 0.4 (ln .8 - ln .5)) and exp(ln 1.25 + 0.6 (ln 2 - ln 1.25))
    train = pd.DataFrame({"group": "throughput_max_load", "split": "train",
                          "measured": [1.0, 2.0, 0.5, 1.25, 0.8], "predicted": 1.0})
    held = pd.DataFrame({"group": "throughput_max_load", "split": "held-out",
                         "measured": [1.0, 3.0, 0.55], "predicted": 1.0})
    table = pd.concat([train, held], ignore_index=True)
    iv = val.prediction_intervals(table, level=0.8).iloc[0]
    lo = math.exp(math.log(0.5) + 0.4 * (math.log(0.8) - math.log(0.5)))
    hi = math.exp(math.log(1.25) + 0.6 * (math.log(2.0) - math.log(1.25)))
    assert (iv["factor_lo"], iv["factor_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    cov = val.interval_coverage(table, val.prediction_intervals(table, level=0.8)).iloc[0]
    # lo = 0.5 x 1.6^0.4 = 0.6031: 0.55 is outside, 3.0 is above hi = 1.25 x 1.6^0.6 = 1.6618, 1.0 inside
    assert (cov["rows"], cov["covered"]) == (3, 1)
