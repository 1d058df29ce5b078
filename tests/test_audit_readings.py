"""Readings of a document: what a scenario may state (interconnect, stated degrees), the activation model in
worked lines, computed figures in a claim's reason, pinned verdicts under every reading, and counterexamples
that are plans that could run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from costmodel import audit
from costmodel.audit import concepts
from costmodel.audit.figures import PLACEHOLDER
from costmodel.audit.quantities import Resolver
from costmodel.audit.rows import every_reading
from costmodel.audit.scenario import build_scenario, scenario_estimate
from costmodel.units import CostModelError

SEED = {"model": "seed-moe-10b", "hardware": "seed-gpu", "plan": {"tp": 4, "dp": 4, "pp": 1, "ep": 16},
        "workload": {"batch": 128, "input_len": 10240, "output_len": 1, "weight_dtype": "fp16", "kv_dtype": "fp16"},
        "reading": "test"}


# --- the scale-up domain a document states ------------------------------------------------------------------
def test_hardware_overrides_set_the_scale_up_domain():
    sc = build_scenario("node16", {**SEED, "hardware_overrides": {"scale_up_gpus": 16}})
    assert sc.hardware.scale_up_gpus == 16 and sc.hardware.id == "seed-gpu+scale_up_gpus=16"
    assert build_scenario("node8", SEED).hardware.scale_up_gpus == 8


def test_a_plan_inside_one_domain_never_uses_the_network():
    # TP4 x DP4 on 16 GPUs: with a 16-GPU domain every collective stays on the scale-up links, so the
    # scale-out bandwidth cannot change the prefill communication; with 8-GPU domains the EP all-to-all
    # crosses the network and a slower NIC makes it slower.
    def prefill_ep(**links):
        return Resolver(build_scenario("x", {**SEED, "hardware_overrides": links})).value("prefill.ep")
    assert prefill_ep(scale_up_gpus=16, scale_out_GBps_per_direction=50) == pytest.approx(
        prefill_ep(scale_up_gpus=16, scale_out_GBps_per_direction=5), rel=1e-12)
    assert prefill_ep(scale_up_gpus=8, scale_out_GBps_per_direction=5) > prefill_ep(scale_up_gpus=8,
                                                                                   scale_out_GBps_per_direction=50)
    assert prefill_ep(scale_up_gpus=16) < prefill_ep(scale_up_gpus=8)


@pytest.mark.parametrize("bad,message", [
    ({"scale_up_gpus": 16.5}, "must be a whole number"),
    ({"scale_up_gpus": 0}, "must be a positive number"),
    ({"scale_up_gpus": True}, "must be a positive number"),
    ({"nvlink": 900}, "'nvlink' is not one of scale_up_gpus"),
    ([16], "must be a mapping"),
])
def test_bad_hardware_overrides_are_one_line_errors(bad, message):
    with pytest.raises(CostModelError, match=message) as err:
        build_scenario("bad", {**SEED, "hardware_overrides": bad})
    assert "\n" not in str(err.value) and "scenario 'bad'" in str(err.value)


# --- the degrees as the document states them ----------------------------------------------------------------
def test_stated_gpus_multiply_the_stated_degrees():
    # document 003 states EP 16, PP 4, TP 2, DP 2: tp x dp x pp = 2 x 2 x 4 = 16 GPUs (not its 128)
    sc = build_scenario("s", {**SEED, "stated": {"ep": 16, "pp": 4, "tp": 2, "dp": 2, "gpus": 128}})
    r = Resolver(sc)
    assert r.value("stated_gpus") == 16 and r.value("stated.gpus") == 128
    assert r.worked("stated_gpus") == "stated_gpus = stated.tp * stated.dp * stated.pp = 2 * 2 * 4 = 16"
    # an unstated degree is the convention's default, 1; an unstated GPU count has no default
    r = Resolver(build_scenario("s", {**SEED, "stated": {"tp": 2, "pp": 4}}))
    assert r.value("stated_gpus") == 8
    with pytest.raises(CostModelError, match="stated.gpus is needed"):
        r.value("stated.gpus")
    with pytest.raises(CostModelError, match="stated.tp: 2.5 must be a positive whole number"):
        build_scenario("s", {**SEED, "stated": {"tp": 2.5}})


# --- one activation model, shown as tokens x bytes per token ------------------------------------------------
def test_activation_worked_line_is_tokens_times_bytes_per_token():
    # TP4 x DP4, 128 sequences of 10240 tokens: the replica's 32 prompts hold 327,680 tokens, one prefill
    # chunk of 8192 of them is live. Per token and layer: 2 d = 1024 (residual, normed input), QKV
    # (16 + 2 x 16) x 32 / 4 = 384, MoE k (d etp + f_e) / tp = 2 x (512 + 1024) / 4 = 768 elements;
    # 2176 x 2 B = 4352 B. No vocabulary, no logits: 8192 x 4352 B = 35,651,584 B.
    r = Resolver(build_scenario("seed", SEED))
    assert r.value("activation.tokens") == 8192
    assert r.value("activation.bytes_per_token") == 4352
    assert r.value("activation_bytes_per_gpu") == 35_651_584
    assert r.worked("activation_bytes_per_gpu") == (
        "activation_bytes_per_gpu = activation.tokens * activation.bytes_per_token + activation.logits_bytes = "
        "8,192 * 4.352 KB + 0 B = 35.65 MB")


@pytest.mark.parametrize("doc", audit.ledger_ids())
def test_every_activation_claim_shows_tokens_times_bytes_per_token(doc):
    for row in audit.audit_rows(doc):
        if row["quantity"] == "activation_bytes_per_gpu":
            assert "activation.tokens * activation.bytes_per_token" in row["worked"], row["claim_id"]


# --- computed figures in a claim's reason, pinned verdicts under every reading ------------------------------
def _ledger_copy(tmp_path: Path, doc: str, edit) -> Path:
    src = audit.load_ledger(doc)
    shutil.copy(src["document_path"], tmp_path / src["document_path"].name)
    raw = yaml.safe_load(src["path"].read_text())
    raw["document"] = src["document_path"].name
    edit(raw)
    path = tmp_path / f"{doc}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


def _claim(raw: dict, cid: str) -> dict:
    return next(c for c in raw["claims"] if c["id"] == cid)


def test_why_figures_are_filled_from_the_cost_model(tmp_path):
    def edit(raw):
        _claim(raw, "C27")["why"] = "{q kv_bytes_per_gpu as GB ~2} per GPU; {q kv_bytes_per_gpu@as_10b as MB ~4}"
    path = _ledger_copy(tmp_path, "000", edit)
    row = audit.audit_claim(str(path), "C27")
    kv = audit.audit_claim("000", "C27")["recomputed"]
    assert row["reason"].endswith(f"; {kv:.2g} GB per GPU; {kv * 1e3:,.0f} MB")


@pytest.mark.parametrize("why,message", [
    ("{C30 as MB}", "is not a figure"),
    ("{q kv_bytes_per_gpu@nowhere}", "scenario 'nowhere' is not one of"),
    ("{q kv_bytes_per_gpu as parsecs}", "unit 'parsecs'"),
])
def test_bad_why_figures_are_one_line_errors_at_load(tmp_path, why, message):
    path = _ledger_copy(tmp_path, "000", lambda raw: _claim(raw, "C27").update(why=why))
    with pytest.raises(CostModelError, match=message) as err:
        audit.load_ledger(str(path))
    assert "claim C27: why" in str(err.value) and "\n" not in str(err.value)


def test_a_reading_without_a_pinned_verdict_is_an_error(tmp_path):
    path = _ledger_copy(tmp_path, "000", lambda raw: _claim(raw, "C27").pop("expected_readings"))
    with pytest.raises(CostModelError, match="claim C27: expected_readings must pin the verdict of each reading"):
        audit.load_ledger(str(path))


def test_every_reading_says_what_holds_in_all_of_them():
    same = {"b": {"verdict": "wrong"}, "c": {"verdict": "wrong"}}
    assert every_reading("a", "wrong", same) == "wrong in all 3 readings"
    split = {"b": {"verdict": "correct"}, "c": {"verdict": "wrong"}}
    assert every_reading("a", "wrong", split) == "wrong: a, c; correct: b"
    assert every_reading("a", "wrong", {}) == ""


# --- a counterexample is a plan that could run ----------------------------------------------------------------
CHECKS = [(d, c["id"]) for d in audit.ledger_ids() for c in audit.load_ledger(d)["claims"]
          if "check" in c and concepts.check_kind(c["check"]) in ("effect", "feasible")]


@pytest.mark.parametrize("doc,claim_id", CHECKS, ids=[f"{d}-{c}" for d, c in CHECKS])
def test_every_plan_of_an_effect_or_feasible_check_is_feasible(doc, claim_id):
    # an effect compares plans that are all valid and fit (none left out); a feasible check that refutes a
    # document's "X cannot work" (claimed false, judged invalid) does it with a plan that is valid and fits
    ledger = audit.load_ledger(doc)
    c = next(c for c in ledger["claims"] if c["id"] == claim_id)
    for name in [c["scenario"], *c["readings"]]:
        sc = ledger["scenarios"][name]
        if "effect" in c["check"]:
            spec = c["check"]["effect"]
            base = concepts.with_overrides(sc, spec.get("at"))
            for value in spec["values"]:
                variant = concepts.with_overrides(base, {spec["vary"]: value})
                e = scenario_estimate(variant)
                assert e.valid, f"{doc} {claim_id} ({name}): {spec['vary']} = {value} is not a feasible plan"
        elif c["claimed"] is False and c["expected"] == "invalid":
            holds, evidence = concepts.run_check(c["check"], sc)
            assert holds, f"{doc} {claim_id} ({name}): the counterexample does not run: {evidence}"


# --- no hand-typed computed figure in a why or a reading ------------------------------------------------------
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def _numbers(text: str) -> set:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def _typed(text: str) -> set:
    bare = re.sub(r"\bC\d{2}\b", "", PLACEHOLDER.sub("", text))  # claim ids are names, not figures
    return _numbers(re.sub(r"`[^`]*`", "", bare))


@pytest.mark.parametrize("doc", audit.ledger_ids())
def test_why_and_reading_texts_type_no_computed_figure(doc):
    # a number in a claim's why or a scenario's reading is the document's own or an input of the ledger's
    # scenarios (a degree, a batch, a length); a computed figure is a {q ...} placeholder, filled from the
    # cost model, so a change of the physics cannot leave a false number behind (the first ledgers held
    # 287 typed numbers, many of an older physics)
    ledger = audit.load_ledger(doc)
    raw = yaml.safe_load(ledger["path"].read_text())
    inputs = set()
    for spec in raw["scenarios"].values():
        for part in ("plan", "workload", "stated"):
            inputs |= {str(v) for v in (spec.get(part) or {}).values() if isinstance(v, int)}
    allowed = _numbers(ledger["text"]) | inputs
    for c in raw["claims"]:
        typed = _typed(" ".join(str(c.get("why", "")).split())) - allowed
        assert not typed, f"ledger {doc} claim {c['id']}: typed figure(s) {sorted(typed)} in why; use {{q NAME}}"
    for name, spec in raw["scenarios"].items():
        typed = _typed(" ".join(str(spec["reading"]).split())) - allowed
        assert not typed, f"ledger {doc} scenario {name}: typed figure(s) {sorted(typed)} in reading; use {{q NAME}}"
