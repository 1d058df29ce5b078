"""Sphinx extension: ship the vega + vega-lite + vega-embed bundle so charts become interactive offline.

Charts in the notebooks are rendered by ``costmodel.charts.render``: a static SVG image plus the
Vega-Lite spec and a small script that calls ``window.vegaEmbed`` when it exists. This extension
writes the JavaScript bundle that vl-convert carries (``vl_convert.javascript_bundle()``, no
network) to ``_static/vendor/vega/`` of the built site and adds it to every page that holds a
chart. The bundle is wrapped in a function scope: its top-level ``const``/``function``
declarations would otherwise clash with the theme's globals. It only publishes ``window.vega``,
``window.vegaLite`` and ``window.vegaEmbed``.

The bundle lives outside ``book/_static`` on purpose (files there are injected into every page).
"""

from __future__ import annotations

from pathlib import Path

import vl_convert

CHART_MARKER = 'class="cm-chart"'
"""Pages whose body contains this (the renderer's chart box) get the bundle."""


def bundle_name() -> str:
    """File name under ``_static``; the vl-convert version in it busts stale browser caches."""
    return f"vendor/vega/vega-bundle-{vl_convert.__version__}.js"


def wrapped_bundle() -> str:
    """The bundle inside a function scope, with a header naming its versions."""
    header = (
        f"/* vega {vl_convert.get_vega_version()}, vega-lite {vl_convert.get_vegalite_versions()[-1]}, "
        f"vega-embed {vl_convert.get_vega_embed_version()}: bundled by vl-convert-python "
        f"{vl_convert.__version__}; see their BSD-3-Clause licenses. Wrapped in a function scope. */\n"
    )
    return header + "(function () {\n" + vl_convert.javascript_bundle() + "\n}).call(window);\n"


def write_bundle(app) -> None:
    """Write the bundle into the output's _static folder once per vl-convert version."""
    if app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / bundle_name()
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_text(wrapped_bundle(), encoding="utf-8")
        partial.replace(target)  # atomic: an interrupted build never leaves half a bundle


def add_bundle_to_chart_pages(app, pagename, templatename, context, doctree) -> None:
    """Load the bundle (synchronously, in <head>) on pages that show a chart."""
    if app.builder.format == "html" and CHART_MARKER in context.get("body", ""):
        app.builder.add_js_file(bundle_name(), priority=400)


def setup(app):
    app.connect("builder-inited", write_bundle)
    app.connect("html-page-context", add_bundle_to_chart_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
