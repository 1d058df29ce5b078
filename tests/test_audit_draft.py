"""The automatic first audit of a plan document: extraction, own arithmetic, mapping rules, configuration,
verdicts, the drafted ledger and its re-run, and the figures against the hand-written ledgers.

Hand derivations are in the comments. The figures test runs the draft on the five seed documents and the two
fixture plans (tests/fixtures/plans, each with a hand-written ledger listing its planted errors) and pins floors
under the recall and agreement measured when the rules were written; the rules are general (no document's
wording), so these are regression guards, not targets.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import pytest
import yaml

from costmodel.audit import VERDICTS, ledger_ids, load_ledger
from costmodel.audit.docmath import check_arithmetic
from costmodel.audit.draft import ROW_KEYS, UNMAPPED, draft_audit
from costmodel.audit.draftledger import compare_with_ledger, ledger_rows, write_ledger
from costmodel.audit.extract import extract_claims, read_document
from costmodel.audit.pins import drift_message, pin_drift
from costmodel.audit.settings import extract_settings
from costmodel.audit.mapping import map_claim
from costmodel.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "plans"
PLANS = sorted(p.stem for p in FIXTURES.glob("*.md"))
REQUIRED_KEYS = {"doc", "claim_id", "quote", "line", "quantity", "claimed", "unit", "recomputed", "verdict", "reason",
                 "mapped_by"}


def claims_of(text: str):
    lines = read_document(text)
    claims = extract_claims(text, lines)
    check_arithmetic(lines, claims)
    return claims


def one(text: str):
    (c,) = [c for c in claims_of(text) if not c.operand]
    return c


# --- extraction ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,lo,hi,unit,bound", [
    ("- TTFT: 2-3 s", 2, 3, "s", "range"),
    ("- Utilisation: ≥80%", 80, 80, "%", "min"),
    ("- KV cache: ~41GB", 41, 41, "GB", "approx"),
    ("- Throughput: 5000 tokens/ms", 5000, 5000, "tokens/ms", "="),
    ("- Sequence length: 128-10240 tokens", 128, 10240, "", "range"),
    ("- Parameters: 1.2e9", 1.2e9, 1.2e9, "", "="),
    ("- Sequence length: variable [128, 10240]", 128, 10240, "", "range"),
    ("- Throughput: 4000+ tokens/ms", 4000, 4000, "tokens/ms", "min"),
    ("- TTFT: <10 seconds", 10, 10, "s", "max"),
    ("- Bandwidth: 1.8TBps", 1.8, 1.8, "TB/s", "="),
    ("- Compute: 400 TFlops per GPU", 400, 400, "TFLOPS", "="),
    ("- Model: 235B parameters", 235, 235, "B params", "="),
    ("- Decode throughput: 533 output tokens/s per GPU", 533, 533, "tokens/s", "="),
])
def test_numbers_units_ranges_and_bounds(text, lo, hi, unit, bound):
    c = one(text)
    assert (c.lo, c.hi, c.unit, c.bound) == (lo, hi, unit, bound)


def test_quotes_are_verbatim_and_lines_right():
    text = (FIXTURES / "mixtral_mi300x.md").read_text()
    for c in claims_of(text):
        assert text[c.quote_start:c.quote_start + len(c.quote)] == c.quote, c.id
        assert text.count("\n", 0, c.start) + 1 == c.line, c.id
        assert c.quote_start <= c.start and c.end <= c.quote_start + len(c.quote), c.id


def test_identifiers_enumerators_ordinals_dates_and_settings_are_no_claims():
    text = "\n".join(["# Plan 2026-01-04-09-49-07", "### Issue 1: FP16 on H100", "1. Serve Mixtral-8x7B with EP=16",
                      "- TP degree: 2", "- Memory: 64GB"])
    assert [c.raw for c in claims_of(text)] == ["64GB"]
    keys = {(s["key"], s["value"]) for s in extract_settings(text)}
    assert {("ep", 16), ("tp", 2)} <= keys


def test_a_bare_number_compared_with_a_unit_takes_it():
    claims = claims_of("- Throughput Constraint: 4000+ >> 100 tokens/ms")
    assert [(c.lo, c.unit, c.reference) for c in claims] == [(4000, "tokens/ms", False), (100, "tokens/ms", True)]


# --- the document's own arithmetic -----------------------------------------------------------------------------
def test_chain_with_units_holds_and_a_false_one_is_caught():
    # 320 MB x 128 = 40,960 MB = 40.96 GB, written ~41 GB: holds; 16 x 12.1 GB = 193.6 GB, written 12.1 GB: false
    good = next(c for c in claims_of("For batch size 128: 320MB × 128 = ~41GB total KV cache") if c.raw == "41GB")
    assert good.arithmetic_holds and good.arithmetic_value == pytest.approx(40.96)
    bad = [c for c in claims_of("- Total per GPU: 16 layers × 12.1GB = 12.1GB") if c.arithmetic][0]
    assert bad.arithmetic_holds is False and bad.arithmetic_value == pytest.approx(193.6)


def test_multi_line_code_chain_and_binary_megabytes():
    # 16 x 16 x 32 x 2 x 10240 x 2 = 335,544,320 bytes; that is 320 MiB (335,544,320 / 2^20), written "~320MB"
    text = "```\nKV = layers × heads × dim × 2 × seq × bytes\n   = 16 × 16 × 32 × 2 × 10240 × 2 bytes\n" \
           "   = 335,544,320 bytes per sequence\n   = ~320MB per sequence\n```"
    claims = {c.raw: c for c in claims_of(text) if c.arithmetic}
    assert claims["335,544,320 bytes"].arithmetic_holds
    mb = claims["320MB"]
    assert mb.arithmetic_holds and any("binary" in n for n in mb.notes)
    assert mb.chain_head.startswith("KV")


def test_no_binary_reading_when_the_operands_are_in_gigabytes():
    # 8 x 192 GB = 1536 GB; 1,436 is 6.5 % off. 1536 GB = 1430.5 GiB would "agree", but the operand is in GB
    c = [c for c in claims_of("- Node memory: 8 × 192GB = 1,436GB") if c.arithmetic][0]
    assert c.arithmetic_holds is False and c.arithmetic_value == pytest.approx(1536)


@pytest.mark.parametrize("text,written,value,holds", [
    ("- Layers per stage: 4 layers (16 total layers ÷ 4 stages)", 4, 4, True),      # 16 / 4 = 4
    ("- Total: ~12.1GB per GPU (18.9% of 64GB)", 18.9, 18.906, True),            # 12.1 / 64 = 18.906 %
    ("- TTFT Improvement: 40% reduction (6s vs 8s)", 40, 25, False),              # (8 - 6) / 8 = 25 %
    ("- Prefill: 256 × 4096 × 74 GFLOP / (16 × 1187 TFLOPS) = 4.1 s", 4.1, 4.0857, True),
])
def test_parenthetical_share_change_and_parenthesised_chains(text, written, value, holds):
    c = [c for c in claims_of(text) if c.arithmetic][-1]
    assert c.lo == written and c.arithmetic_holds is holds and c.arithmetic_value == pytest.approx(value, rel=1e-3)


# --- mapping ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,quantity", [
    ("- Video Memory: 64GB per GPU", "hardware.memory_bytes"),
    ("- MFU Utilization: 60%", "efficiency.mfu"),
    ("- Activations: ~1GB", "activation_bytes_per_gpu"),
    ("- Memory utilization: 18.9%", "memory_fraction_per_gpu"),
    ("- Estimated TTFT: 6-8 seconds", "ttft_s"),
    ("- Decode step: ~15ms per token", "decode_step_s"),
    ("- Top-K: 8 experts per token", "model.experts_per_token"),
    ("- Communication buffers: ~0.5GB", "unmodelled"),
])
def test_rules_map_general_wording(text, quantity):
    assert map_claim(one(text)).quantity == quantity


def test_requirements_section_makes_a_requirement_and_ambiguity_stays_unmapped():
    c = one("## Performance Requirements\n- Time to First Token (TTFT): <10 seconds")
    assert map_claim(c).quantity == "requirements.ttft_s"
    c = one("- The batch could grow to 128")
    m = map_claim(c)
    assert m.quantity is None and m.reason


# --- configuration and scenarios -------------------------------------------------------------------------------
def test_configuration_of_the_disaggregated_fixture():
    d = draft_audit(FIXTURES / "dsv3_h200_disagg.md")
    main_, prefill = d.scenarios["main"], d.scenarios["prefill"]
    assert (main_.model.id, main_.hardware.id) == ("deepseek-v3", "h200-sxm")
    # decode pool: 4 x 8 = 32 GPUs, attention DP 32, EP 32; prefill pool: 2 x 8 = 16 GPUs = TP 8 x DP 2, EP 16
    assert (main_.plan.tp, main_.plan.dp, main_.plan.ep) == (1, 32, 32)
    assert (prefill.plan.tp, prefill.plan.dp, prefill.plan.ep) == (8, 2, 16)
    assert (main_.workload.batch, main_.workload.input_len, main_.workload.output_len) == (256, 4096, 1024)
    assert main_.requirements == {"ttft_s": 3.0, "throughput_tokens_per_s_per_gpu": 1000.0}


def test_seed_document_reads_as_its_ledger_does():
    doc = load_ledger("000")
    d = draft_audit(doc["document_path"])
    mine, theirs = d.scenarios["main"], doc["scenarios"]["as_written"]
    assert mine.model == theirs.model and mine.hardware == theirs.hardware
    assert (mine.plan.tp, mine.plan.dp, mine.plan.ep, mine.plan.pp) == (4, 4, 16, 1)
    assert mine.workload == theirs.workload


def test_a_model_built_from_stated_dimensions_and_what_is_missing(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("# Plan\n## Model\n- Layers: 24\n- Hidden size: 2048\n- Attention heads: 16\n- Experts: 32\n"
                    "- Top-K: 4\n- Expert hidden size: 1024\n## Workload\n- Batch size: 32\n- Input length: 2048\n"
                    "## Plan\n- TP=2, EP=8\n- Total GPUs: 8\n")
    d = draft_audit(plan)
    assert not d.scenarios and any(m.startswith("hardware") for m in d.config.missing)
    assert all(r["verdict"] == UNMAPPED for r in d.rows if r["mapped_by"] is None)
    plan.write_text(plan.read_text() + "## Hardware\n- H100 GPUs\n")
    d = draft_audit(plan)
    m = d.scenarios["main"].model
    assert (m.num_layers, m.d_model, m.num_heads, m.num_experts, m.experts_per_token) == (24, 2048, 16, 32, 4)
    assert any("vocabulary" in a for a in d.config.assumed)


# --- rows, verdicts, unmapped ----------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", PLANS)
def test_rows_have_the_keys_and_no_guessed_verdict(plan):
    d = draft_audit(FIXTURES / f"{plan}.md")
    assert d.rows
    for r in d.rows:
        assert REQUIRED_KEYS <= set(r), r["claim_id"]
        assert r["verdict"] in (*VERDICTS, UNMAPPED)
        if r["mapped_by"] is None:
            assert r["verdict"] == UNMAPPED and r["quantity"] is None, r["claim_id"]
        else:
            assert r["mapped_by"] == "rule" and r["quantity"], r["claim_id"]
        if r["quantity"] == "own_arithmetic":
            assert r["verdict"] == "inconsistent"


def test_planted_errors_are_found():
    rows = {r["quote"]: r for r in draft_audit(FIXTURES / "mixtral_mi300x.md").rows}
    assert rows["Node memory: 8 × 192GB = 1,436GB"]["verdict"] == "inconsistent"  # 8 x 192 = 1536
    assert rows["= 524,288 bytes"]["verdict"] == "wrong"  # query heads: 4x the 131,072 B of 8 KV heads
    assert rows["= 524,288 bytes"]["recomputed"] == pytest.approx(2 * 32 * 8 * 128 * 2)
    assert rows["Active parameters per token: 46.7B"]["verdict"] == "wrong"  # every expert: 12.9 B is active


# --- figures against the hand-written ledgers ------------------------------------------------------------------
FLOORS = {  # recall (quote overlap), numeric recall, agreement on matched mapped claims; measured when written,
    # recall of 000, 001, 003, 004 re-measured after the second reading (issue 12) added 19 hand rows, mostly
    # statements, that the draft does not all find (the draft did not change)
    "000": (0.84, 0.89, 0.95), "001": (0.87, 0.9, 0.8), "002": (0.7, 0.9, 0.75), "003": (0.64, 0.8, 1.0),
    "004": (0.85, 0.94, 0.85), "dsv3_h200_disagg": (0.95, 0.95, 0.9), "mixtral_mi300x": (0.9, 0.9, 0.9)}
CASES = [(ref, load_ledger(ref)["document_path"], ref) for ref in ledger_ids()] + \
    [(p, FIXTURES / f"{p}.md", str(FIXTURES / f"{p}.yaml")) for p in PLANS]


@pytest.mark.parametrize("name,document,ledger", CASES, ids=[c[0] for c in CASES])
def test_figures_against_the_hand_ledger(name, document, ledger):
    start = time.perf_counter()
    d = draft_audit(document)
    seconds = time.perf_counter() - start
    s = compare_with_ledger(d, ledger)
    recall, numeric, agreement = FLOORS[name]
    assert s["guessed"] == 0
    assert s["recall"] >= recall and s["numeric_recall"] >= numeric, s
    assert s["agreement"] >= agreement, s["disagreements"]
    assert d.text.count("\n") < 240 and seconds < 2.0, f"{name}: {seconds:.2f} s"


# --- the fixture ledgers (the truth) ---------------------------------------------------------------------------
@pytest.mark.parametrize("plan", PLANS)
def test_fixture_ledgers_hold_their_verdicts_and_plant_every_kind_of_error(plan):
    df = ledger_rows(FIXTURES / f"{plan}.yaml")
    bad = df[df["verdict"] != df["expected"]]
    assert bad.empty, bad[["claim_id", "verdict", "expected", "reason"]].to_string()
    assert {"correct", "wrong", "inconsistent", "invalid"} <= set(df["verdict"])
    moved = pin_drift(FIXTURES / f"{plan}.yaml")
    assert not moved, "; ".join(drift_message(d) for d in moved)
    assert 100 <= len((FIXTURES / f"{plan}.md").read_text().splitlines()) <= 200


# --- the drafted ledger and its re-run -------------------------------------------------------------------------
def test_write_ledger_rerun_and_map_an_unmapped_claim_by_hand(tmp_path):
    shutil.copy(FIXTURES / "mixtral_mi300x.md", tmp_path / "plan.md")
    out = tmp_path / "ledgers" / "plan.yaml"
    out.parent.mkdir()
    d = draft_audit(tmp_path / "plan.md")
    write_ledger(d, out)
    raw = yaml.safe_load(out.read_text())
    assert raw["document"] == "../plan.md"
    drafted = {r["claim_id"]: r["verdict"] for r in d.rows if r["verdict"] != UNMAPPED}
    rerun = ledger_rows(out)
    judged = rerun[rerun["mapped_by"] == "ledger"]
    own = {k for k, v in drafted.items() if k not in set(judged["claim_id"])}  # own-arithmetic verdicts
    assert dict(zip(judged["claim_id"], judged["verdict"])) == {k: v for k, v in drafted.items() if k not in own}
    assert set(rerun[rerun["mapped_by"].isna()]["verdict"]) == {UNMAPPED}
    # map one by hand: "Expert weights per layer: ... = 2.8GB" is all 8 experts of one layer, 2 x 3 x 4096 x 14336
    entry = next(u for u in raw["unmapped"] if u["quote"].startswith("Expert weights per layer"))
    raw["unmapped"].remove(entry)
    raw["quantities"] = {"experts_bytes_per_layer": {"expr": "expert_bytes * model.num_experts", "dimension": "bytes"}}
    raw["claims"].append({"id": entry["id"], "quote": entry["quote"], "scenario": "main",
                          "quantity": "experts_bytes_per_layer", "claimed": entry["claimed"], "unit": entry["unit"],
                          "basis": "derived", "expected": "correct"})
    out.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    row = ledger_rows(out).set_index("claim_id").loc[entry["id"]]
    # 8 experts x 3 x 4096 x 14336 x 2 B = 2.818 GB against the claimed 2.8 GB
    assert (row["mapped_by"], row["verdict"]) == ("ledger", "correct")
    assert row["recomputed"] == pytest.approx(8 * 3 * 4096 * 14336 * 2 / 1e9)


def test_cli_document_json_and_write_ledger(tmp_path, capsys):
    doc = FIXTURES / "dsv3_h200_disagg.md"
    assert main(["audit", str(doc), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(set(ROW_KEYS) == set(r) for r in rows)
    out = tmp_path / "draft.yaml"
    assert main(["audit", str(doc), "--write-ledger", str(out)]) == 0
    capsys.readouterr()
    assert main(["audit", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {r["mapped_by"] for r in again} <= {"ledger", None}
    assert all(isinstance(r["recomputed"], (float, int, bool)) or r["recomputed"] is None for r in again)
    assert not any(isinstance(r["recomputed"], float) and math.isnan(r["recomputed"]) for r in again)


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b"\x7fELF\x00\x01binary"), "binary file"),
    (lambda p: p.write_text("  \n\n"), "is empty"),
    (lambda p: p.write_bytes(b"plan \xff\xfe text"), "not UTF-8"),
])
def test_bad_documents_are_one_line_errors(tmp_path, capsys, make, message):
    path = tmp_path / "plan.md"
    make(path)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("ref,message", [("999", "neither a bundled ledger"), ("1" * 3000, "cannot read"),
                                         ("a/" * 3000 + "x.yaml", "cannot read")])
def test_unknown_and_unreadable_names_are_one_line_errors(capsys, ref, message):
    assert main(["audit", ref]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and len(err) < 300


def test_write_ledger_needs_one_document(capsys):
    assert main(["audit", "000", "--write-ledger", "x.yaml"]) == 2
    assert "exactly one plan document" in capsys.readouterr().err
