"""Claims ledgers: every bundled ledger parses, quotes are verbatim, verdicts and numbers are pinned; ledgers
load from any folder; a bad ledger is a one-line error naming the file, claim and field.

The ledger tests are parametrised over every ``costmodel/data/audits/NNN.yaml``, so a new ledger is covered
as soon as it exists.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml

from costmodel import audit
from costmodel.audit import ledger as L
from costmodel.audit.pins import drift_message, pin_agrees, pin_drift, pin_text, write_pins
from costmodel.cli import main
from costmodel.units import CostModelError

DOCS = audit.ledger_ids()
CLAIMS = [(d, c["id"]) for d in DOCS for c in audit.load_ledger(d)["claims"]]
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
BUNDLED = L.bundled_folder()


# --- bundled ledgers ---------------------------------------------------------------------------------------
def test_the_five_document_ledgers_exist():
    assert DOCS == ["000", "001", "002", "003", "004"]


@pytest.mark.parametrize("doc", DOCS)
def test_ledger_parses_and_has_enough_claims(doc):
    ledger = audit.load_ledger(doc)
    assert ledger["doc"] == doc
    assert len(ledger["claims"]) >= 15, f"ledger {doc}: only {len(ledger['claims'])} claims (expect 15 or more)"


@pytest.mark.parametrize("doc", DOCS)
def test_quotes_are_verbatim_in_the_document(doc):
    text = audit.document_text(doc)
    for c in audit.load_ledger(doc)["claims"]:
        assert c["quote"] in text, f"ledger {doc} claim {c['id']}: quote not found verbatim: {c['quote']!r}"
        assert text.count("\n", 0, text.find(c["quote"])) + 1 == c["line"]


@pytest.mark.parametrize("doc", DOCS)
def test_packaged_document_equals_the_seed(doc):
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not present in this checkout")
    path = audit.load_ledger(doc)["document_path"]
    assert audit.document_text(doc) == (SEEDS / path.name).read_text(), f"{path.name}: packaged copy differs"


@pytest.mark.parametrize("doc", DOCS)
def test_every_claim_recomputes(doc):
    for row in audit.audit_rows(doc):
        value = row["recomputed"]
        where = f"ledger {doc} claim {row['claim_id']} ({row['quantity']})"
        if row["quantity"] == "unmodelled":
            assert value is None, where
        elif row["unit"] == "bool":
            assert isinstance(value, bool), where
        else:
            assert isinstance(value, float) and math.isfinite(value), f"{where}: recomputed {value!r}"
        assert row["verdict"] in audit.VERDICTS and row["reason"], where
        for name, r in row["readings"].items():
            assert r["verdict"] in audit.VERDICTS, f"{where} reading {name}"


@pytest.mark.parametrize("doc,claim_id", CLAIMS, ids=[f"{d}-{c}" for d, c in CLAIMS])
def test_verdict_is_pinned(doc, claim_id):
    row = audit.audit_claim(doc, claim_id)
    assert row["verdict"] == row["expected"], (
        f"ledger {doc} claim {claim_id}: verdict changed from pinned {row['expected']!r} to {row['verdict']!r} "
        f"(claimed {row['claimed']!r} {row['unit']}, recomputed {row['recomputed']!r}; {row['reason']})")
    for name, r in row["readings"].items():  # and under every other reading (expected_readings)
        assert r["verdict"] == r["expected"], (
            f"ledger {doc} claim {claim_id} reading {name}: verdict changed from pinned {r['expected']!r} to "
            f"{r['verdict']!r} (recomputed {r['recomputed']!r} {row['unit']})")


@pytest.mark.parametrize("doc", DOCS)
def test_recomputed_numbers_are_pinned(doc):
    # every row keeps its recomputed value in the ledger; after a deliberate change of the formulas,
    # `costmodel audit --write-pins` rewrites them (review the diff)
    moved = pin_drift(doc)
    assert not moved, "pins moved beyond their tolerance:\n" + "\n".join(drift_message(d) for d in moved)


def test_no_document_specific_checks_remain():
    # statements are decided by the general checks of costmodel.audit.concepts: every check kind is one of six
    kinds = {audit.concepts.check_kind(c["check"]) for d in DOCS for c in audit.load_ledger(d)["claims"]
             if "check" in c}
    assert kinds <= set(audit.CHECKS) and len(audit.CHECKS) == 6


# --- anchored findings (hand derivations) ------------------------------------------------------------------
def test_doc000_params_from_the_stated_dimensions():
    # attention 16 x 4 x 512^2 = 16,777,216; experts 16 x 16 x 2 x 512 x 1024 = 268,435,456;
    # router 16 x 512 x 16 = 131,072; norms (2 x 16 + 1) x 512 = 16,896; total 285,360,640 = 0.285 B,
    # so "10B" is 35.04x the dimensions: inconsistent (basis input).
    row = audit.audit_claim("000", "C06")
    assert row["recomputed"] == pytest.approx(0.28536064, rel=1e-12)
    assert row["factor"] == pytest.approx(10 / 0.28536064, rel=1e-12)
    assert row["verdict"] == "inconsistent"
    assert row["readings"]["as_10b"]["verdict"] == "correct"


def test_doc000_kv_per_gpu_in_the_folded_reading():
    # TP4 x DP4: ceil(128 / 4) = 32 sequences x 10241 positions x (2 x 16 heads x 32 x 2 B x 16 layers
    # = 32,768 B) / 4 KV shards = 2,684,616,704 B = 2.68 GB against the claimed 2.6 GB: within 10 %.
    row = audit.audit_claim("000", "C27")
    assert row["recomputed"] == pytest.approx(2.684616704, rel=1e-12)
    assert row["verdict"] == "correct"


def test_doc000_self_contradiction_is_inconsistent():
    # "16 layers x 12.1GB = 12.1GB": the document's own product is 193.6 GB, not 12.1 GB.
    row = audit.audit_claim("000", "C35")
    assert row["own_value"] == pytest.approx(193.6)
    assert row["verdict"] == "inconsistent"


def test_doc002_dp_counterexample_is_feasible():
    # "DP only improves throughput, not latency": TP1·DP16·EP16 and TP1·DP32·EP16 both hold Qwen3-235B
    # (about 15 GB of experts per GPU at EP 16; at DP 32 each expert is held twice, ETP1) and the batch TTFT
    # falls with dp
    row = audit.audit_claim("002", "C25")
    assert row["verdict"] == "invalid" and "left out" not in row["worked"]
    assert "plan.dp = 16 (TP1·DP16·EP16)" in row["worked"] and "plan.dp = 32 (TP1·DP32·EP16·ETP1)" in row["worked"]


def test_doc002_weights_of_all_gpus_count_every_copy():
    # ep32 reading (TP1 DP32 EP32), FP8 weights, per GPU:
    #   attention/layer = 2*4096*64*128 + 2*128 (q, o, qk-norms) + 2*4096*4*128 (k, v) = 71,303,424;
    #   x 94 layers = 6,702,521,856; norms (2*94+1)*4096 = 774,144; router 94*4096*128 = 49,283,072;
    #   embeddings + lm head 2*151936*4096 = 1,244,659,712 elements, kept in BF16 (2 B) by the FP8 checkpoint
    #   4 experts/layer: 94 * 4 * 3*4096*1536 = 7,096,762,368
    #   -> weights 15,094,001,152 elements, 15,094,001,152 + 1,244,659,712 = 16,338,660,864 bytes per GPU
    sc = audit.load_ledger("002")["scenarios"]["ep32"]
    x = audit.scenario_estimate(sc).metrics
    assert x["weight_bytes_per_gpu"] == pytest.approx(16_338_660_864)
    value, _ = audit.resolve("memory_bytes_all_gpus", sc)
    assert value == pytest.approx(32 * x["memory_bytes_per_gpu"])
    # 32 GPUs x 400 TFLOPS = 12.8 PFLOPS of peak (no MFU applied)
    value, worked = audit.resolve("peak_flops_per_s_total", sc)
    assert value == pytest.approx(32 * 400e12) and worked.endswith("= 12.8 PFLOPS")


def test_doc004_top_k_spread():
    # 256 tokens, each picking 8 of 128 experts: per-expert load binomial(256, 1/16): mean 16, sd sqrt(15) = 3.873.
    row = audit.audit_claim("004", "C35")
    assert "= 16" in row["worked"] and "= 3.873" in row["worked"] and row["verdict"] == "invalid"


# --- ledgers from anywhere ---------------------------------------------------------------------------------
MINI = """\
doc: mini
document: docs/plan.md
title: A small plan
scenarios:
  main:
    model: seed-moe-10b
    hardware: seed-gpu
    plan: {tp: 4, dp: 4, pp: 1, ep: 16}
    workload: {batch: 128, input_len: 1024, output_len: 128, weight_dtype: fp16, kv_dtype: fp16}
    requirements: {ttft_s: 10}
    reading: The plan as written.
claims:
  - id: C1
    quote: "We use 16 GPUs"
    scenario: main
    quantity: gpus_total
    claimed: 16
    unit: GPUs
    basis: derived
    expected: correct
  - id: C2
    quote: "Tensor parallelism stays inside one GPU"
    scenario: main
    check: {effect: {vary: plan.tp, values: [1, 4], at: {plan.ep: 4}, metric: prefill.tp, direction: none}}
    claimed: true
    basis: concept
    expected: invalid
"""
PLAN = "# My plan\n\nWe use 16 GPUs.\nTensor parallelism stays inside one GPU.\n"


@pytest.fixture
def mini(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plan.md").write_text(PLAN)
    path = tmp_path / "mini.yaml"
    path.write_text(MINI)
    yield path
    L.forget_ledgers()


def test_a_ledger_loads_from_any_folder_with_a_relative_document(mini):
    ledger = audit.load_ledger(str(mini))
    assert ledger["doc"] == "mini" and ledger["document_path"] == mini.parent / "docs" / "plan.md"
    rows = audit.audit_rows(str(mini))
    assert [(r["claim_id"], r["verdict"], r["line"]) for r in rows] == [("C1", "correct", 3), ("C2", "invalid", 4)]


def test_cli_audits_a_ledger_path(mini, capsys):
    assert main(["audit", str(mini)]) == 0
    out = capsys.readouterr().out
    assert "document mini: A small plan" in out and "invalid" in out


def test_pins_are_written_and_then_hold(mini, capsys):
    # a ledger without pins drifts (missing pins); --write-pins writes them next to each claimed value,
    # keeps the rest of the text, and the pins then hold
    assert [d["claim"] for d in pin_drift(str(mini))] == ["C1", "C2"]
    assert main(["audit", str(mini), "--write-pins"]) == 0
    assert "2 pin(s) rewritten" in capsys.readouterr().out
    text = mini.read_text()
    assert "    claimed: 16\n    recomputed: 16.0\n" in text and "    claimed: true\n    recomputed: false\n" in text
    assert text.replace("    recomputed: 16.0\n", "").replace("    recomputed: false\n", "") == MINI
    assert pin_drift(str(mini)) == []


def test_a_moved_number_fails_its_pin_with_both_values(mini):
    # pin 15 GPUs where the model gives 16 (tolerance 10 %: 16 / 15 - 1 = 6.7 % passes; 12 fails at 33 %)
    write_pins(str(mini))
    for pinned, moved in ((15.0, False), (12.0, True)):
        mini.write_text(mini.read_text().replace("recomputed: 16.0", f"recomputed: {pinned}").replace(
            "recomputed: 15.0", f"recomputed: {pinned}"))
        L.forget_ledgers()
        drift = pin_drift(str(mini))
        assert bool(drift) == moved
    assert drift_message(drift[0]) == "ledger mini claim C1 (main): pinned 12.0, recomputed 16.0 GPUs (tolerance 10%)"


def test_pin_text_and_comparison():
    assert pin_text(0.28536064) == "0.2853606" and pin_text(16.0) == "16.0" and pin_text(True) == "true"
    assert pin_text(None) == "null" and pin_text(2.5e-7) == "2.5e-07"
    # tolerance 0 still allows the rounding of a 7-digit pin
    assert pin_agrees(0.2853606, 0.28536064, 0.0) and not pin_agrees(0.2853, 0.28536064, 0.0)
    assert pin_agrees(True, True, 0.1) and not pin_agrees(True, False, 0.1)


BAD_CLAIMS = [
    ({"quote": "17 GPUs"}, "verbatim"),
    ({"quantity": "gpu_count"}, "quantity 'gpu_count'"),
    ({"unit": "GB"}, "does not fit"),
    ({"unit": "furlongs"}, "unit 'furlongs'"),
    ({"scenario": "nope"}, "scenario 'nope'"),
    ({"basis": "guess"}, "basis 'guess'"),
    ({"expected": "fine"}, "expected 'fine'"),
    ({"colour": "red"}, "unknown key"),
    ({"own_arithmetic": "16 GPUs"}, "own_arithmetic"),
    ({"baseline": "main"}, "go together"),
    ({"tolerance": 2}, "tolerance"),
    ({"readings": {"elsewhere": 1}}, "reading 'elsewhere'"),
    ({"recomputed": "sixteen"}, "recomputed 'sixteen'"),
    ({"basis": "concept"}, "needs a 'check'"),
    ({"check": {"rule": "x"}}, "needs a 'quantity'"),
]


@pytest.mark.parametrize("change,message", BAD_CLAIMS, ids=[m for _, m in BAD_CLAIMS])
def test_a_bad_claim_is_one_line_naming_file_claim_and_field(mini, change, message):
    data = yaml.safe_load(MINI)
    data["claims"][0].update(change)
    mini.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    with pytest.raises(CostModelError, match=message) as err:
        audit.load_ledger(str(mini))
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"ledger {mini} claim C1:"), text


@pytest.mark.parametrize("change,message", [
    ({"document": "missing.md"}, "document 'missing.md' not found"),
    ({"colour": "red"}, "unknown key"),
    ({"scenarios": {}}, "at least one scenario"),
    ({"scenarios": {"main": {"model": "gpt-9"}}}, "scenario 'main'"),
    ({"default_tolerance": "wide"}, "default_tolerance"),
])
def test_a_bad_ledger_is_one_line_naming_the_file(mini, change, message):
    data = yaml.safe_load(MINI)
    data.update(change)
    mini.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    with pytest.raises(CostModelError, match=message) as err:
        audit.load_ledger(str(mini))
    assert "\n" not in str(err.value) and str(err.value).startswith(f"ledger {mini}")


def test_a_bad_check_is_named_at_load_and_at_audit(mini):
    data = yaml.safe_load(MINI)
    data["claims"][1]["check"] = {"rule": "no_such_rule"}
    mini.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    with pytest.raises(CostModelError, match="claim C2: rule 'no_such_rule' is not one of"):
        audit.audit_rows(str(mini))
    data["claims"][1]["check"] = {"rules": "x"}
    mini.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    L.forget_ledgers()
    with pytest.raises(CostModelError, match="claim C2: check must name exactly one of"):
        audit.load_ledger(str(mini))


def test_invalid_yaml_and_unknown_refs(mini):
    mini.write_text("claims: [\n")
    with pytest.raises(CostModelError, match="line 2 is not valid YAML"):
        audit.load_ledger(str(mini))
    with pytest.raises(CostModelError, match="'999' is neither a bundled ledger"):
        audit.load_ledger("999")
    with pytest.raises(CostModelError, match="no such file"):
        audit.load_ledger(str(mini.parent / "absent.yaml"))


def test_a_copied_bundled_ledger_audits_the_same(tmp_path):
    # the bundled ledger with its document copied elsewhere gives the same rows (paths are relative)
    (tmp_path / "documents").mkdir()
    ledger = audit.load_ledger("003")
    shutil.copy(ledger["document_path"], tmp_path / "documents")
    shutil.copy(ledger["path"], tmp_path / "003.yaml")
    try:
        assert audit.audit_rows(str(tmp_path / "003.yaml")) == audit.audit_rows("003")
    finally:
        L.forget_ledgers()
