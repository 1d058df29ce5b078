"""What readers see of the audit: claim cards and tables render as HTML tables (deterministic, with a CSS
class a browser test can count), read as text in a console, and show 3-4 significant digits; the CLI."""

from __future__ import annotations

import json
import re
from html import escape

import pytest

import costmodel as cm
from costmodel import audit
from costmodel.cli import main

DOCS = audit.ledger_ids()
REQUIRED_JSON_KEYS = {"doc", "claim_id", "quote", "quantity", "claimed", "unit", "recomputed", "verdict", "reason"}


def test_claim_card_shows_the_worked_line_and_verdict():
    card = cm.claim_card("000", "C33")
    text = repr(card)
    assert "8 + 2.6 + 1 + 0.5 = 12.1 GB" in text and "WRONG" in text and "worked:" in text
    assert text.splitlines()[0] == "C33 · memory_bytes_per_gpu"


def test_claim_card_html_is_a_real_table():
    html = cm.claim_card("000", "C33")._repr_html_()
    assert html.startswith('<table class="cm-card cm-card-wrong">') and html.endswith("</table>")
    assert html.count("<tr>") == 1 + len(cm.claim_card("000", "C33").items())
    assert "|" not in html and " id=" not in html
    assert html == cm.claim_card("000", "C33")._repr_html_()  # deterministic
    # a card is HTML only: no Markdown table for the book to show as raw '|' text
    assert not hasattr(cm.claim_card("000", "C33"), "_repr_markdown_")


@pytest.mark.parametrize("doc", DOCS)
def test_worked_lines_never_print_raw_bytes(doc):
    # GB or MB with a few digits, never a float of bytes like 85520809984.0
    for row in audit.audit_rows(doc):
        assert not re.search(r"\d{7,}\.\d", row["worked"]), (row["claim_id"], row["worked"])
        assert not re.search(r"\d\.\d{6,}", row["worked"]), (row["claim_id"], row["worked"])


def test_findings_table_for_readers():
    t = cm.findings_table(cm.audit_table("000"))
    # six columns, the unit written after each value (not after a count or a yes/no), so the verdict fits at 1280 px
    assert list(t.columns) == ["claim", "quote", "claimed", "recomputed", "claimed / recomputed", "verdict"]
    c06 = t[t["claim"] == "C06"].iloc[0]
    assert (c06["claimed"], c06["recomputed"], c06["claimed / recomputed"]) == ("10 B params", "0.285 B params", "x35")
    assert t[t["claim"] == "C11"].iloc[0]["recomputed"] == "1,024"  # whole numbers exactly, a count without unit
    assert t[t["claim"] == "C15"].iloc[0]["recomputed"] == "false"  # a yes/no statement without unit
    assert "—" in set(t["claimed / recomputed"]) and "nan" not in repr(t).lower()
    html = t._repr_html_()
    assert '<table class="cm-table">' in html and "overflow-x:auto" in html
    assert html.count("<tr>") == html.count("<table") * (len(t) + 1)  # every row in each part of a folded table
    assert all(f">{escape(c)}</th>" in html for c in t.columns)


def test_scenario_table_and_readings():
    t = cm.scenario_table("000")
    assert t.loc[0, "plan"] == "TP4·DP4·EP16" and t.loc[0, "GPUs"] == 16
    shown = t.drop(columns="reading")
    html = shown._repr_html_()  # still a reader table after a drop
    assert html.count("<tr>") == html.count("<table") * (len(t) + 1)
    readings = cm.scenario_readings("000")
    assert readings._repr_html_().startswith('<ul class="cm-readings">')
    assert repr(readings).splitlines()[0].startswith("as_written: TP4·DP4·EP16 = 16 GPUs")


def test_corrected_strategy_lists_document_and_corrected_rows():
    t = cm.corrected_strategy("000")
    ledger = audit.load_ledger("000")
    assert set(t["scenario"]) == set(ledger["corrected"]["scenarios"])
    assert set(t["who"]) == {"document", "corrected"}
    # the document's plan is among the searched plans, so the corrected plan is at least as good on the
    # scenario's own throughput reading (full precision kept in the data; 3 digits only when shown)
    for name, rows in t.groupby("scenario"):
        col = f"{ledger['scenarios'][name].throughput_reading} tokens/s/GPU"
        doc_row, fix = rows[rows["who"] == "document"].iloc[0], rows[rows["who"] == "corrected"].iloc[0]
        assert fix[col] >= doc_row[col], name
    assert '<table class="cm-table">' in t._repr_html_()
    assert all(len(cell.replace(",", "").replace(".", "").strip("0")) <= 3 for cell in
               re.findall(r'<td style="text-align:right">([0-9.,]+)</td>', t._repr_html_()))


def test_verdict_counts_add_up():
    df = cm.audit_table(DOCS)
    counts = cm.verdict_counts(df)
    assert list(counts.columns) == list(audit.VERDICTS) + ["total"]
    assert counts["total"].sum() == len(df)


def test_readings_summary_lists_claims_with_other_readings():
    df = cm.audit_table("000")
    summary = audit.readings_summary(df)
    assert set(summary["claim"]) == {r.claim_id for r in df.itertuples() if r.readings}


def test_chart_builders_produce_specs():
    from costmodel.charts import audit as charts

    df = cm.audit_table("000")
    for chart in (charts.verdict_chart(df), charts.factor_chart(df), charts.memory_chart("000"),
                  charts.scaling_chart("000", "ttft"), charts.scaling_chart("000", "input", ["prefill_reading"])):
        spec = chart.to_dict()
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_cli_audit_json_returns_every_ledger(capsys):
    assert main(["audit", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["doc"] for r in rows} == set(DOCS)
    assert len(rows) == sum(len(audit.load_ledger(d)["claims"]) for d in DOCS)
    assert all(REQUIRED_JSON_KEYS <= set(r) for r in rows)
    c06 = next(r for r in rows if (r["doc"], r["claim_id"]) == ("000", "C06"))
    assert c06["recomputed"] == pytest.approx(0.28536064, rel=1e-12)  # full precision in --json


def test_cli_audit_table_and_bad_ledger(capsys):
    assert main(["audit", "000"]) == 0
    out = capsys.readouterr().out
    assert "document 000" in out and "C06" in out and "inconsistent" in out
    assert main(["audit", "999"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "999" in err
