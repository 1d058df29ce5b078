"""Sphinx extension: MathJax 3 from a local copy instead of the CDN.

The files come from the PyPI package ``django-static-mathjax`` (MathJax 3.2.2 under
``mathjax/static/mathjax/es5``; it has no Django dependency). At ``builder-inited`` the parts a
page can load are copied to ``_static/vendor/mathjax/`` of the built site: the combined
``tex-mml-chtml.js`` and the components it loads on demand (TeX extensions, CHTML fonts, menu,
accessibility, speech rules). ``mathjax_path`` is set to that copy, so no page names a CDN.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

ENTRY = "tex-mml-chtml.js"
TARGET = "vendor/mathjax"
COMPONENT_DIRS = ("a11y", "adaptors", "input", "output/chtml", "sre", "ui")
"""Folders of es5/ that the entry loads on demand (output/chtml.js too, listed below)."""
COMPONENT_FILES = ("output/chtml.js", ENTRY)


def mathjax_source() -> Path:
    """The es5 folder of the installed MathJax copy."""
    root = Path(str(resources.files("mathjax"))) / "static" / "mathjax"
    es5 = root / "es5"
    if not (es5 / ENTRY).is_file():
        raise FileNotFoundError(f"MathJax not found at {es5}: pip install django-static-mathjax")
    return es5


def set_mathjax_path(app, config) -> None:
    """Point Sphinx at the local copy (relative paths are resolved under _static/)."""
    config.mathjax_path = f"{TARGET}/{ENTRY}"


def copy_mathjax(app) -> None:
    """Copy the MathJax files into the output once (skipped when the entry file is there)."""
    if app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / TARGET
    if (target / ENTRY).is_file():
        return
    for name in COMPONENT_DIRS:
        shutil.copytree(source / name, target / name, dirs_exist_ok=True)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")
    for name in COMPONENT_FILES:  # the entry file last: its presence marks a complete copy
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", set_mathjax_path, priority=900)
    app.connect("builder-inited", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
