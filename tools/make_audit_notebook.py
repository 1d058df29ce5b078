"""Write the audit notebook of one document from its ledger and its narrative file.

    python tools/make_audit_notebook.py 000        # -> notebooks/01_doc000_<slug>.ipynb (not executed)

Narrative: ``tools/audit_narrative/<doc>.yaml`` with keys
  intro (markdown), plan_table (markdown table of the plan as written, with symbols), mapping (markdown),
  groups: [{title, text, claims: [ids]}]   (every claim must be in exactly one group, in any order),
  claim_notes: {id: markdown}               (optional, shown under a claim's card),
  sections: [{title, text, calls: [code]}]  (optional, after the claims: e.g. a sensitivity table),
  charts (markdown), corrected (markdown), takeaway (markdown).
Every number comes from costmodel: narrative text names its figures by placeholder ({C30 as MB}, {C42.factor},
{corrected ep32}: see costmodel/audit/narrative.py), and a text with placeholders becomes a code cell
``cm.audit.prose(DOC, ...)`` tagged ``remove-input``, so the book shows the filled text and nbval pins it.
Numbers a formula cannot change (the document's own, the search's GPU limit) may stay typed; the narrative
file lists those that are not in the document under ``fixed`` with a reason (tests/test_audit_narrative.py).
Then execute and check:
    jupyter nbconvert --to notebook --execute --inplace notebooks/NN_docDOC_<slug>.ipynb
    pytest --nbval --nbval-current-env notebooks/NN_docDOC_<slug>.ipynb -p no:cacheprovider
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import yaml

import costmodel as cm
from costmodel.audit.narrative import PLACEHOLDER

ROOT = Path(__file__).resolve().parents[1]
NUMBER = {"000": "01", "001": "02", "002": "03", "003": "04", "004": "05"}


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip())


def say(text: str, heading: str = "") -> list:
    """Cells for a narrative text: Markdown, or a prose code cell when it names figures by placeholder."""
    text = text.strip()
    if not PLACEHOLDER.search(text):
        return [md(f"{heading}\n\n{text}" if heading else text)]
    if '"""' in text or text.endswith("\\"):
        raise SystemExit(f"narrative text cannot hold triple quotes or end in a backslash: {text[:60]!r}")
    cell = code(f'cm.audit.prose(DOC, r"""\n{text}\n""")')
    cell.metadata["tags"] = ["remove-input"]
    return ([md(heading)] if heading else []) + [cell]


def quoted(quote: str) -> str:
    """A quote for a Markdown blockquote: a row of the document's own table (with '|') as code after a label,
    so that the book does not show it as broken table text."""
    return f"table row: `{quote}`" if "|" in quote else quote


def short(quote: str, n: int = 70) -> str:
    text = re.sub(r"\*\*|`", "", quote).strip(" -:|")
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def build(doc: str) -> Path:
    ledger = cm.load_ledger(doc)
    story = yaml.safe_load((ROOT / "tools" / "audit_narrative" / f"{doc}.yaml").read_text())
    claims = {c["id"]: c for c in ledger["claims"]}
    grouped = [cid for g in story["groups"] for cid in g["claims"]]
    missing, extra = set(claims) - set(grouped), [c for c in grouped if c not in claims]
    if missing or extra or len(grouped) != len(set(grouped)):
        raise SystemExit(f"{doc}: groups must list every claim once (missing {sorted(missing)}, unknown {extra})")
    notes = story.get("claim_notes") or {}
    cells = [
        md(f"# Document {doc}: {ledger['title']}\n\n"
           f"Source: `{ledger['document_path'].name}` (a verbatim copy ships in `costmodel/data/audits/documents/`); "
           f"ledger: `costmodel/data/audits/{doc}.yaml`."),
        code(f'import costmodel as cm\nfrom costmodel.charts import audit as charts\n\ncm.enable_charts()\nDOC = "{doc}"'),
        *say(story["intro"]),
        md("## Verdicts up front\n\nEach claim gets one verdict from the house vocabulary: *correct*, *wrong* "
           "(with the factor it is off by), *inconsistent* (contradicts the document's own numbers or inputs), "
           "*unsupported* (no derivation, nothing determines it) or *invalid* (a conceptual error). The rules are "
           "mechanical (see `costmodel/audit/verdicts.py`); the ledger pins each verdict and the tests fail if one flips."),
        code("cm.verdict_counts(cm.audit_table(DOC))"),
        code("charts.verdict_chart(cm.audit_table(DOC))"),
        md(f"## The plan as written\n\n{story['plan_table']}"),
        *say(story["mapping"]),
        code("cm.scenario_table(DOC).drop(columns=\"reading\")"),
        code("cm.scenario_readings(DOC)"),
        md("## Claim by claim\n\nEach card shows the quote, the claimed value, the document's own arithmetic where "
           "it shows any, the cost model's value with the worked line, and the verdict with its reason. "
           "*Other readings* repeats the verdict under the alternative readings of the inputs."),
    ]
    for g in story["groups"]:
        cells += say(g.get("text", ""), f"### {g['title']}")
        for cid in g["claims"]:
            c = claims[cid]
            text = f"#### {cid}: {short(c['quote'])}\n\n> {quoted(c['quote'])}"
            if cid in notes and not PLACEHOLDER.search(notes[cid]):
                text += f"\n\n{notes[cid]}"
            cells.append(md(text))
            if cid in notes and PLACEHOLDER.search(notes[cid]):
                cells += say(notes[cid])
            cells.append(code(f'cm.claim_card(DOC, "{cid}")'))
    for section in story.get("sections") or []:
        cells += say(section["text"], f"## {section['title']}")
        cells += [code(call) for call in section.get("calls") or []]
    cells += [
        *say(story["charts"], "## Charts"),
        code("charts.memory_chart(DOC)"),
    ]
    for call in story.get("chart_calls") or []:
        cells.append(code(call))
    cells += [
        code("charts.factor_chart(cm.audit_table(DOC))"),
        *say(story["corrected"], "## Corrected strategy"),
        code("cm.corrected_strategy(DOC)"),
        md("## Findings\n\nEvery claim with its verdict (the factor is claimed / recomputed; "
           "ranges count from their nearest end)."),
        code("cm.findings_table(cm.audit_table(DOC))"),
        md("### Which conclusions hold under every reading\n\nThe claims checked under more than one reading of "
           "the inputs (the model's size, the meaning of \"tokens/ms per GPU\", the plan, the batch or the node "
           "size a document leaves open): the verdict in the main reading and what holds across all of them. "
           "Each verdict is pinned by the ledger tests in every reading."),
        code("cm.audit.readings_summary(cm.audit_table(DOC))"),
        *say(story["takeaway"], "## Takeaway"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    out = ROOT / "notebooks" / f"{NUMBER[doc]}_doc{doc}_{ledger['slug']}.ipynb"
    for i, cell in enumerate(nb.cells):  # stable cell ids: no random ids in the committed notebook
        cell["id"] = f"doc{doc}-{i:03d}"
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    for d in sys.argv[1:] or ["000"]:
        print(build(d).relative_to(ROOT))
