"""Map the numbers of a plan document onto the audit's quantities by rules (data, not code).

The rules live in ``data/audits/claim_rules.yaml`` (read its header for the matching): each names a
quantity, the dimension of the units it may be written in, groups of words of which one must appear
near the number (``label``) or around it (``scope``: list intro and section headings), vetoes, and the
claim's basis. :func:`map_claim` returns the quantity of the rule that holds with the most groups, or
None with the reason when none holds or when two quantities tie (never a guess).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from ..units import CostModelError
from .extract import Claim

RULES_FILE = "claim_rules.yaml"
DERIVATION_WORDS = re.compile(r"→|->|\bcalculated\b|\bcomputed\b|\bderived\b|\bresult(?:s|ing)?\b", re.I)
RULE_KEYS = ("quantity", "dimension", "basis", "label", "scope", "not", "not_scope", "reference")


@dataclass(frozen=True)
class Mapping:
    """The outcome of mapping one claim: a quantity and basis, or None with the reason."""

    quantity: str | None
    basis: str | None
    reason: str
    candidates: tuple = ()


def _compile(words) -> re.Pattern:
    return re.compile("|".join(f"(?<![a-z0-9])(?:{w})" for w in words), re.I)


@lru_cache(maxsize=1)
def load_rules() -> tuple[dict, ...]:
    """The mapping rules with their word lists compiled (one-line error on a bad rule)."""
    path = resources.files("costmodel") / "data" / "audits" / RULES_FILE
    raw = yaml.safe_load(path.read_text())
    rules = []
    for i, r in enumerate(raw.get("rules") or [], start=1):
        unknown = set(r) - set(RULE_KEYS)
        if unknown or "quantity" not in r or "dimension" not in r:
            raise CostModelError(f"{RULES_FILE} rule #{i}: needs quantity and dimension; keys among "
                                 f"{', '.join(RULE_KEYS)}")
        rules.append({**r, "label": tuple(_compile(g) for g in r.get("label") or ()),
                      "scope": tuple(_compile(g) for g in r.get("scope") or ()),
                      "not": _compile(r["not"]) if r.get("not") else None,
                      "not_scope": _compile(r["not_scope"]) if r.get("not_scope") else None})
    return tuple(rules)


def label_text(c: Claim, text: str = "") -> str:
    """The words that describe a number: the key of a ``key: value`` line (or the chain's head), the
    number's own clause up to it, its noun and the words after it, a table cell's row and column."""
    head = c.chain_head or (c.key.split(":")[0] if ":" in c.key else "")
    clause = c.key[-(c.start - c.quote_start):] if 0 < c.start - c.quote_start <= len(c.key) else ""
    after = c.after
    if c.arithmetic is not None:
        head, clause = head or re.split(r"\d", c.key, maxsplit=1)[0], ""
    elif c.operand:
        clause = re.split(r"[\d=]", c.key)[-1]
        after = re.split(r"\s[×x*÷/+=]\s|[×*÷/=]", c.after, maxsplit=1)[0]
    elif not clause.strip(" -*~:") and not head:
        head = " ".join(c.key.split()[-5:])
    if head and head.strip(" -*:~").lower() in clause.lower():
        head = ""
    words = [head, clause, c.raw, c.noun, after, c.row_label, c.column]
    return " ".join(" ".join(w.split()) for w in words if w).strip(" -*#").lower()


def _group_score(group: re.Pattern, label: str, intro: str, sections: str) -> int:
    """3 when a word of the group is in the label, 2 in the list intro, 1 in a section heading, else 0."""
    return 3 if group.search(label) else 2 if group.search(intro) else 1 if group.search(sections) else 0


def map_claim(c: Claim) -> Mapping:
    """The quantity a claim states, by the rules (see the module docstring)."""
    label = label_text(c)
    intro, sections = c.intro.lower(), " / ".join(c.sections).lower()
    scope = " ".join([label, intro, sections])
    held = []
    for r in load_rules():
        if r["dimension"] != c.dimension:
            continue
        if r.get("reference") is not None and bool(r["reference"]) != c.reference:
            continue
        if not all(g.search(label) for g in r["label"]):
            continue
        scores = [_group_score(g, label, intro, sections) for g in r["scope"]]
        if not all(scores):
            continue
        if (r["not"] is not None and r["not"].search(label)) or \
                (r["not_scope"] is not None and r["not_scope"].search(scope)):
            continue
        held.append((3 * len(r["label"]) + sum(scores), r))
    if not held:
        return Mapping(None, None, f"no rule for a {c.dimension} number described as {label!r}")
    top = max(n for n, _ in held)
    best = {r["quantity"]: r for n, r in held if n == top}
    if len(best) > 1:
        names = tuple(sorted(best))
        return Mapping(None, None, f"ambiguous: {' or '.join(names)} (words {label!r})", names)
    quantity, rule = next(iter(best.items()))
    basis = rule.get("basis", "estimate")
    if c.arithmetic is not None or (basis == "estimate" and DERIVATION_WORDS.search(c.key + " " + c.quote)):
        basis = "derived"
    return Mapping(quantity, basis, f"rule: {quantity} ({c.dimension}; words {label!r})")


__all__ = ["Mapping", "load_rules", "map_claim", "label_text"]
