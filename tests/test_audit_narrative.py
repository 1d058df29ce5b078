"""The audit chapters' prose (tools/audit_narrative/*.yaml) states no figure a formula change could make false:
every computed number is a placeholder filled from the audit when the notebook runs (costmodel.audit.narrative),
and a typed number is either the document's own or listed under ``fixed`` with the reason it cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from costmodel import audit
from costmodel.audit.narrative import PLACEHOLDER, fill

ROOT = Path(__file__).resolve().parents[1]
NARRATIVES = sorted((ROOT / "tools" / "audit_narrative").glob("*.yaml"))
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
SPELLED = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|sixteen|twenty|"
                     r"thirty|forty|fifty|hundred)(?: times|-fold)\b", re.I)
SKIP = ("plan_table", "chart_calls", "calls", "claims", "fixed", "title")
"""Keys that hold no prose: the plan as written (the document's inputs), chart calls, claim ids, group titles."""


def prose_texts(node, path=""):
    """(path, text) of every prose string of a narrative."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in SKIP:
                yield from prose_texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from prose_texts(value, f"{path}[{i}]")


def _numbers(text: str) -> set:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


@pytest.mark.parametrize("path", NARRATIVES, ids=[p.stem for p in NARRATIVES])
def test_every_placeholder_fills(path):
    doc = path.stem
    for where, text in prose_texts(yaml.safe_load(path.read_text())):
        filled = fill(doc, text)
        assert "{" not in filled, f"{path.name} {where}: unfilled placeholder in {filled[:80]!r}"


@pytest.mark.parametrize("path", NARRATIVES, ids=[p.stem for p in NARRATIVES])
def test_no_hand_typed_computed_figure(path):
    doc = path.stem
    story = yaml.safe_load(path.read_text())
    fixed = {str(k): v for k, v in (story.get("fixed") or {}).items()}
    allowed = _numbers(audit.document_text(doc)) | set(fixed)
    for where, text in prose_texts(story):
        bare = re.sub(r"\bC\d{2}\b", "", PLACEHOLDER.sub("", text))  # claim ids are names, not figures
        bare = re.sub(r"`[^`]*`", "", bare)  # scenario and column names
        typed = _numbers(bare) - allowed
        assert not typed, (f"{path.name} {where}: typed figure(s) {sorted(typed)} are not the document's; use a "
                           f"placeholder (costmodel.audit.narrative) or list them under 'fixed' with a reason")
        spelled = SPELLED.findall(bare)
        assert not spelled, f"{path.name} {where}: spelled-out factor(s) {spelled}; use a placeholder"
    for number, reason in fixed.items():
        assert isinstance(reason, str) and len(reason.split()) >= 3, f"{path.name}: fixed {number} needs a reason"
