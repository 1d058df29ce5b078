"""Settings of a plan document: parallel degrees in prose and code, and ``key=value`` pairs, flags and JSON keys
in code blocks (``EP=16``, ``TP degree: 2``, ``Tensor Parallel (TP): 4``, ``--tp-degree 4``, ``"ep": 32``,
``export MOE_TOP_K=2``). :mod:`.docconfig` reads the plan from them."""

from __future__ import annotations

import re

from .extract import DEGREE_RE, Line, plain, read_document

CODE_SETTING_RE = (
    re.compile(r"(?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<val>\d+)(?![\w.,])"),
    re.compile(r"--(?P<key>[a-z][\w-]*)[ =](?P<val>\d+)(?![\w.])"),
    re.compile(r"\"(?P<key>[A-Za-z_][\w.-]*)\"\s*:\s*(?P<val>\d+)(?![\w.])"),
    re.compile(r"^\s*(?P<key>[A-Za-z_][\w.-]*)\s*:\s*(?P<val>\d+)\s*$"),
)
"""Settings of code blocks: ``KEY=3``, ``--key 3``, ``"key": 3``, ``key: 3``."""


def extract_settings(text: str, lines: list[Line] | None = None) -> list[dict]:
    """Settings: parallel degrees in prose and code, and ``key=value`` pairs, flags and JSON keys in code.

    Each is ``{"key", "value", "line", "code", "section", "sections", "before", "after"}`` with a
    lower-case key (``tp``, ``ep_degree``, ``moe_top_k``, ``tensor_parallel_size`` ...).
    """
    lines = lines if lines is not None else read_document(text)
    out = []
    for ln in lines:
        s = plain(ln.text) if not ln.code else ln.text
        seen = set()
        for pattern in DEGREE_RE + (CODE_SETTING_RE if ln.code else ()):
            for m in pattern.finditer(s):
                if m.start("val") in seen:
                    continue
                seen.add(m.start("val"))
                out.append({"key": re.sub(r"[\s\"'-]+", "_", m.group("key").strip().lower()),
                            "value": int(m.group("val")), "line": ln.number, "code": ln.code, "section": ln.section,
                            "sections": ln.sections, "before": " ".join(s[:m.start()].split()),
                            "after": " ".join(s[m.end():].split())})
    return out


__all__ = ["CODE_SETTING_RE", "extract_settings"]
