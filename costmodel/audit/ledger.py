"""Claims ledgers: the schema, the loader and its validation (one-line errors naming file, claim, field).

A ledger is a YAML file (data, not code) that lists every checkable claim of one document:

    doc: "000"                       # an id (default: the file name without .yaml)
    document: documents/000_x.txt    # the audited document, a path relative to the ledger
    title, slug, summary, default_tolerance
    quantities: {name: {expr, dimension, description}}   # optional derived quantities of this ledger
    scenarios: {name: {model, hardware, plan, workload, reading, ...}}   # see costmodel.audit.scenario; a
        reading's computed figures are placeholders like a why's, filled at load
    claims:
      - id, quote (verbatim in the document), scenario, basis, claimed, unit, expected (the pinned verdict),
        quantity (numbers) or check (concept / rule statements, see costmodel.audit.concepts),
        recomputed (the pinned value in the claim's unit), readings ({other scenario: pinned value}),
        expected_readings ({other scenario: pinned verdict}, needed with readings),
        optional: tolerance, own_arithmetic, baseline + transform, why, section
    why: the reason in words; a computed figure is a placeholder ``{q NAME}`` / ``{q NAME@SCENARIO as UNIT}``
        filled when the row is built (:mod:`.figures`), never a typed number that a formula change could falsify
    charts, corrected: optional blocks for the chapter (see costmodel.audit.chapter)

The bundled ledgers live in ``costmodel/data/audits/NNN.yaml``; :func:`load_ledger` takes their id or a
path to any ledger file.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from ..units import CostModelError, read_yaml
from . import expressions
from .concepts import check_kind
from .dimensions import UNITS, unit_dimension
from .figures import check_quantity_figures, fill_quantity_figures
from .quantities import Resolver, ledger_quantities
from .scenario import build_scenario
from .verdicts import (
    BASES,
    DEFAULT_TOLERANCE,
    STATEMENT_BASES,
    VERDICTS,
    claimed_bounds,
)

LEDGER_KEYS = ("doc", "document", "title", "slug", "summary", "default_tolerance", "quantities", "scenarios",
               "claims", "charts", "corrected", "unmapped")
CLAIM_KEYS = ("id", "quote", "scenario", "quantity", "check", "claimed", "unit", "basis", "tolerance",
              "own_arithmetic", "baseline", "transform", "readings", "recomputed", "expected", "expected_readings",
              "why", "section")
TRANSFORMS = ("reduction", "ratio", "increase")
"""How a claim compares a quantity with the same quantity under a baseline scenario: 1 - x/b, x/b, x/b - 1."""
MEMORY_PARTS = ("weights", "kv_cache", "activations", "reserved")
CHART_KEYS = ("memory", "memory_scenarios", "scaling_scenario", "ttft_claim", "throughput_claim")


def bundled_folder() -> Path:
    """The folder of the bundled ledgers, ``costmodel/data/audits``."""
    return Path(str(resources.files("costmodel") / "data" / "audits"))


def ledger_ids() -> list[str]:
    """Ids of the bundled ledgers (``data/audits/NNN.yaml``)."""
    return sorted(p.stem for p in bundled_folder().glob("*.yaml") if re.fullmatch(r"\d{3}", p.stem))


def ledger_path(ref) -> Path:
    """The file of a ledger: a bundled id (``000``) or a path to a ``.yaml`` / ``.yml`` file."""
    ref = str(ref)
    if ref in ledger_ids():
        return bundled_folder() / f"{ref}.yaml"
    path = Path(ref)
    if path.suffix in (".yaml", ".yml"):
        shown = ref if len(ref) <= 80 else ref[:77] + "..."
        try:
            if not path.is_file():
                raise CostModelError(f"ledger {shown}: no such file")
            return path.resolve()
        except OSError as exc:
            raise CostModelError(f"ledger {shown}: cannot read ({exc.strerror})") from None
    raise CostModelError(f"audit: {ref!r} is neither a bundled ledger ({', '.join(ledger_ids())}) nor a .yaml file")


def _name(path: Path) -> str:
    """How errors name a ledger: ``000.yaml`` for a bundled one, else the path."""
    return path.name if path.parent == bundled_folder() else str(path)


def load_ledger(ref) -> dict:
    """The validated ledger ``ref`` (bundled id or path): its dict with ``scenarios`` built into
    :class:`~costmodel.audit.scenario.Scenario`, claims checked, the document's ``text`` and ``path``.

    Every problem raises a one-line :class:`CostModelError` naming the ledger file, the claim and the field.
    """
    path = ledger_path(ref)
    return _load(str(path), path.stat().st_mtime_ns)  # an edited file is read again


def document_text(ref) -> str:
    """Full text of the document a ledger audits."""
    return load_ledger(ref)["text"]


def forget_ledgers() -> None:
    """Drop the loaded ledgers, so the next :func:`load_ledger` reads the files again (after an edit)."""
    _load.cache_clear()


def _read_yaml(path: Path, where: str):
    try:
        return read_yaml(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise CostModelError(f"{where}:{line} is not valid YAML ({getattr(exc, 'problem', exc)})") from None


@lru_cache(maxsize=None)
def _load(path_text: str, mtime_ns: int = 0) -> dict:
    path = Path(path_text)
    where = f"ledger {_name(path)}"
    raw = _read_yaml(path, where)
    if not isinstance(raw, dict):
        raise CostModelError(f"{where}: must be a mapping with keys {', '.join(LEDGER_KEYS)}")
    unknown = set(raw) - set(LEDGER_KEYS)
    if unknown:
        raise CostModelError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(LEDGER_KEYS)}")
    for key in ("document", "title", "scenarios", "claims"):
        if key not in raw:
            raise CostModelError(f"{where}: missing key {key!r}")
    document = (path.parent / str(raw["document"])).resolve()
    if not document.is_file():
        raise CostModelError(f"{where}: document {raw['document']!r} not found next to the ledger ({document})")
    text = document.read_text()
    local = ledger_quantities(raw.get("quantities"), where)
    if not isinstance(raw["scenarios"], dict) or not raw["scenarios"]:
        raise CostModelError(f"{where}: scenarios must be a mapping with at least one scenario")
    scenarios = {name: build_scenario(name, spec, where) for name, spec in raw["scenarios"].items()}
    for name, sc in scenarios.items():  # a reading names computed figures as {q NAME} too (filled here)
        w = f"{where} scenario {name!r}: reading"
        check_quantity_figures(sc.reading, scenarios, name, w)
        scenarios[name] = replace(sc, reading=fill_quantity_figures(sc.reading, scenarios, local, name, w))
    tol = expressions.as_float(raw.get("default_tolerance", DEFAULT_TOLERANCE), f"{where}: default_tolerance")
    if not isinstance(raw["claims"], list):
        raise CostModelError(f"{where}: claims must be a list")
    claims, seen = [], set()
    for i, c in enumerate(raw["claims"]):
        claims.append(check_claim(c, i, where, text, scenarios, tol, seen, local))
    _check_extras(raw, where, scenarios, seen)
    _check_unmapped(raw.get("unmapped"), where, text, seen)
    return {**raw, "doc": str(raw.get("doc", path.stem)), "slug": str(raw.get("slug", path.stem)), "path": path,
            "document_path": document, "text": text, "quantities": local, "scenarios": scenarios, "claims": claims,
            "default_tolerance": tol}


def _require(c: dict, w: str, keys) -> None:
    for key in keys:
        if key not in c:
            raise CostModelError(f"{w}: missing key {key!r}")


def _choice(value, allowed, w: str, field: str) -> None:
    if value not in allowed:
        raise CostModelError(f"{w}: {field} {value!r} is not one of {', '.join(map(str, allowed))}")


def check_claim(c, i, where, text, scenarios, default_tol, seen, local=None) -> dict:
    """One validated claim with its bounds (SI), tolerance, own arithmetic (SI), line and section added."""
    if not isinstance(c, dict) or "id" not in c:
        raise CostModelError(f"{where}: claim #{i + 1} must be a mapping with an 'id'")
    w = f"{where} claim {c['id']}"
    if c["id"] in seen:
        raise CostModelError(f"{w}: duplicate id")
    seen.add(c["id"])
    unknown = set(c) - set(CLAIM_KEYS)
    if unknown:
        raise CostModelError(f"{w}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(CLAIM_KEYS)}")
    _require(c, w, ("quote", "scenario", "claimed", "basis", "expected"))
    quote = str(c["quote"])
    pos = text.find(quote)
    if pos < 0:
        raise CostModelError(f"{w}: quote {quote[:60]!r} is not a verbatim substring of the document")
    _choice(c["scenario"], scenarios, w, "scenario")
    readings = c.get("readings") or {}
    if not isinstance(readings, dict):
        raise CostModelError(f"{w}: readings must be a mapping {{scenario: pinned recomputed value}}")
    for name in readings:
        _choice(name, scenarios, w, "reading")
    _choice(c["basis"], BASES, w, "basis")
    _choice(c["expected"], VERDICTS, w, "expected")
    expected_readings = c.get("expected_readings") or {}
    if not isinstance(expected_readings, dict) or set(expected_readings) != set(readings):
        raise CostModelError(f"{w}: expected_readings must pin the verdict of each reading "
                             f"({', '.join(readings) or 'none'})")
    for name, pinned in expected_readings.items():
        _choice(pinned, VERDICTS, w, f"expected_readings.{name}")
    statement = c["basis"] in STATEMENT_BASES
    unit = c.get("unit", "bool" if statement else None)
    if unit is None:
        raise CostModelError(f"{w}: missing key 'unit'")
    unit_dim = unit_dimension(unit, f"{w}: unit")
    if statement:
        if "check" not in c or "quantity" in c:
            raise CostModelError(f"{w}: a {c['basis']} claim needs a 'check' and no 'quantity'")
        try:
            check_kind(c["check"])
        except CostModelError as exc:
            raise CostModelError(f"{w}: {exc}") from None
        if unit != "bool" or not isinstance(c["claimed"], bool):
            raise CostModelError(f"{w}: a {c['basis']} claim needs unit 'bool' and claimed true/false")
        q, dimension = None, "bool"
    else:
        if "quantity" not in c or "check" in c:
            raise CostModelError(f"{w}: basis {c['basis']!r} needs a 'quantity' (a 'check' needs basis concept or "
                                 f"rule)")
        q = str(c["quantity"])
        resolver = Resolver(scenarios[c["scenario"]], local)
        try:
            resolver.value(q)
            dimension = resolver.dimension(q)
        except CostModelError as exc:
            raise CostModelError(f"{w}: quantity {q!r}: {exc}") from None
    transform = c.get("transform")
    if transform is not None:
        _choice(transform, TRANSFORMS, w, "transform")
    if (transform is None) != (c.get("baseline") is None):
        raise CostModelError(f"{w}: 'baseline' and 'transform' go together")
    baseline = c.get("baseline")
    if isinstance(baseline, dict):
        needed = [c["scenario"], *readings]
        if set(baseline) != set(needed):
            raise CostModelError(f"{w}: a baseline mapping needs exactly the keys {', '.join(needed)}")
        names = list(baseline.values())
    else:
        names = [] if baseline is None else [baseline]
    for name in names:
        _choice(name, scenarios, w, "baseline")
    expect_dim = "ratio" if transform else dimension
    if expect_dim != "any" and unit_dim != expect_dim:
        raise CostModelError(f"{w}: unit {unit!r} ({unit_dim}) does not fit quantity {q!r} ({expect_dim})")
    lo, hi = claimed_bounds(c["claimed"], unit, f"{w}: claimed")
    tol = expressions.as_float(c.get("tolerance", default_tol), f"{w}: tolerance")
    if not 0 <= tol < 1:
        raise CostModelError(f"{w}: tolerance {tol!r} must be in [0, 1)")
    own = None
    if c.get("own_arithmetic") is not None:
        own = expressions.own_arithmetic(c["own_arithmetic"], f"{w}: own_arithmetic") * UNITS[unit][1]
    for name, pin in [("recomputed", c.get("recomputed")), *((f"readings.{k}", v) for k, v in readings.items())]:
        if pin is not None and not isinstance(pin, (bool, int, float)):
            raise CostModelError(f"{w}: {name} {pin!r} must be a number, true/false or null")
    why = " ".join(str(c.get("why", "")).split())
    check_quantity_figures(why, scenarios, c["scenario"], f"{w}: why")
    line = text.count("\n", 0, pos) + 1
    return {**c, "quantity": q, "unit": unit, "readings": dict(readings), "expected_readings": dict(expected_readings),
            "lo": lo, "hi": hi, "tolerance": tol,
            "own": own, "line": line, "section": c.get("section") or _section_at(text, pos), "why": why}


def _check_extras(raw: dict, where: str, scenarios: dict, claim_ids: set) -> None:
    """The optional ``charts`` and ``corrected`` blocks name existing claims and scenarios."""
    charts = raw.get("charts") or {}
    if set(charts) - set(CHART_KEYS):
        raise CostModelError(f"{where}: charts keys must be among {', '.join(CHART_KEYS)}")
    for part, cid in (charts.get("memory") or {}).items():
        if part not in MEMORY_PARTS or cid not in claim_ids:
            raise CostModelError(f"{where}: charts.memory.{part} = {cid!r} needs a part in {MEMORY_PARTS} "
                                 f"and a claim id")
    for key in ("ttft_claim", "throughput_claim"):
        if charts.get(key) is not None and charts[key] not in claim_ids:
            raise CostModelError(f"{where}: charts.{key} = {charts[key]!r} is not a claim id")
    names = list(charts.get("memory_scenarios") or []) + [charts[k] for k in ("scaling_scenario",) if charts.get(k)]
    names += list((raw.get("corrected") or {}).get("scenarios") or [])
    for name in names:
        if name not in scenarios:
            raise CostModelError(f"{where}: scenario {name!r} (charts/corrected) is not one of {', '.join(scenarios)}")


def _check_unmapped(entries, where: str, text: str, claim_ids: set) -> None:
    """A drafted ledger's ``unmapped`` list: numbers no rule mapped, each with an id and a verbatim quote."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise CostModelError(f"{where}: unmapped must be a list of {{id, quote, line, claimed, unit, note}}")
    for i, u in enumerate(entries):
        if not isinstance(u, dict) or "id" not in u or "quote" not in u:
            raise CostModelError(f"{where}: unmapped #{i + 1} needs an 'id' and a 'quote'")
        if u["id"] in claim_ids:
            raise CostModelError(f"{where}: unmapped {u['id']}: the id is also a claim (move it, do not copy it)")
        if str(u["quote"]) not in text:
            raise CostModelError(f"{where}: unmapped {u['id']}: quote {str(u['quote'])[:60]!r} is not in the document")


def _section_at(text: str, pos: int) -> str:
    """The nearest markdown heading above position pos."""
    heads = list(re.finditer(r"^#+ +(.+)$", text[:pos], flags=re.M))
    return heads[-1].group(1).strip() if heads else ""
