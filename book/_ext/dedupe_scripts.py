"""Sphinx extension: drop repeated inline scripts from each page.

With Sphinx 7.4, jupyter-book 1.0.4 and sphinx-thebe 0.3.1 every page gets sphinx-thebe's inline
configuration script twice (``const THEBE_JS_URL = ...``), and the second copy throws
"SyntaxError: Identifier 'THEBE_JS_URL' has already been declared" in the browser console. This
keeps the first of identical script entries (same file, same attributes and body) and drops the rest.
"""

from __future__ import annotations

import os


def _key(script) -> tuple:
    filename = os.fspath(script.filename) if getattr(script, "filename", None) else ""
    return filename, tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))


def dedupe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, kept = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", dedupe, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
