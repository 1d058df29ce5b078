"""Offline, deterministic Altair renderer ("costmodel") and the house chart theme.

A chart displays as one ``text/html`` block that needs nothing from the network:

* a static SVG, rendered by ``vl_convert.vegalite_to_svg`` and embedded as a base64 data-URI
  ``<img>``, so the chart shows in an untrusted notebook, on GitHub and in a page without JS;
* the Vega-Lite spec in ``<script type="application/json">``;
* a small inline script that, when ``window.vegaEmbed`` is on the page (the book ships the
  bundle, see ``book/_ext/vega_offline.py``), replaces the image by an interactive chart
  (tooltips, export menu).

Everything is a pure function of the spec: the element id is a hash of the spec, there are no
random ids and no timestamps, so re-executing a notebook gives byte-identical output (nbval).
Usage in a notebook's first cell::

    import costmodel as cm
    cm.enable_charts()
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re

import altair as alt
import vl_convert as vlc

RENDERER_NAME = "costmodel"
THEME_NAME = "costmodel"
CSS_CLASS = "cm-chart"

FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
"""Liberation Sans is bundled with vl-convert, so text is measured the same on every machine;
the browser falls back to a metric-compatible system font. No web font is loaded."""

EMBED_OPTIONS = {
    "mode": "vega-lite",
    "renderer": "svg",
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}
"""vega-embed options: the export menu stays (SVG/PNG download); no link to the online editor."""

_SCHEMA_VERSION = re.compile(r"/vega-lite/v(\d+)\.(\d+)")
_SVG_SIZE = re.compile(r'<svg[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"')

# Runs where the chart is shown. ``document.currentScript`` finds this chart's own box, so the
# same chart shown twice on a page still works. Where vegaEmbed is absent (JupyterLab, GitHub,
# a page without the bundle) nothing happens and the static SVG stays.
_UPGRADE_JS = (
    "(function(script){"
    "var box=script?script.parentNode:document.getElementById(%(id)s);"
    "function upgrade(){"
    "if(!window.vegaEmbed||!box||box.getAttribute('data-cm-state'))return;"
    "box.setAttribute('data-cm-state','loading');"
    "var spec=JSON.parse(box.querySelector('script.cm-chart-spec').textContent);"
    "var view=document.createElement('div');view.className='cm-chart-view';box.appendChild(view);"
    "window.vegaEmbed(view,spec,%(options)s).then(function(){"
    "var img=box.querySelector('img.cm-chart-static');if(img)img.parentNode.removeChild(img);"
    "box.setAttribute('data-cm-state','interactive');"
    "}).catch(function(err){"
    "view.parentNode.removeChild(view);box.setAttribute('data-cm-state','static');"
    "console.warn('costmodel chart stays static:',err);"
    "});}"
    "if(window.vegaEmbed)upgrade();"
    "else if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',upgrade);"
    "})(document.currentScript);"
)


def house_theme() -> dict:
    """The house Altair theme: one system font stack, readable sizes, tooltips on every mark.

    The book's text column is about 600-800 px wide beside both sidebars; a wider interactive
    chart scrolls sideways (the static image scales down).
    """
    return {
        "config": {
            "font": FONT,
            "view": {"continuousWidth": 480, "continuousHeight": 300, "stroke": "#ccc"},
            "title": {"fontSize": 15, "fontWeight": "bold", "anchor": "start", "subtitleFontSize": 12},
            "axis": {"labelFontSize": 12, "titleFontSize": 13, "titleFontWeight": "normal"},
            "legend": {"labelFontSize": 12, "titleFontSize": 13, "titleFontWeight": "normal"},
            "header": {"labelFontSize": 12, "titleFontSize": 13},
            "mark": {"tooltip": {"content": "encoding"}},
        }
    }


def canonical_json(spec: dict) -> str:
    """The spec as compact JSON with sorted keys: the same spec always gives the same text."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def chart_id(spec: dict) -> str:
    """Deterministic element id: ``cm-chart-`` + the first 12 hex digits of SHA-256 of the spec."""
    return f"{CSS_CLASS}-" + hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:12]


def vegalite_version(spec: dict) -> str | None:
    """'6.4' from the spec's ``$schema`` URL, or None when it names no version."""
    match = _SCHEMA_VERSION.search(str(spec.get("$schema", "")))
    return f"{match.group(1)}.{match.group(2)}" if match else None


def embedded_spec(spec: dict) -> dict:
    """The spec as stored in the page: without ``$schema`` (a URL; the mode is given instead)."""
    return {k: v for k, v in spec.items() if k != "$schema"}


def svg_of(spec: dict) -> str:
    """Static SVG of a Vega-Lite spec, rendered offline by vl-convert (Liberation Sans metrics)."""
    version = vegalite_version(spec)
    if version and version not in vlc.get_vegalite_versions():
        version = None  # vl-convert renders with its latest Vega-Lite; schemas are backward compatible
    return vlc.vegalite_to_svg(spec, vl_version=version)


def _title_text(spec: dict) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    return str(title) if title else "chart"


def _script_json(text: str) -> str:
    """JSON safe inside <script>: every '<', '>' and '&' escaped as \\u003c etc. (still valid JSON)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_html(spec: dict) -> str:
    """The chart's HTML block: static SVG image + JSON spec + upgrade script (see module doc)."""
    element_id = chart_id(spec)
    svg = svg_of(spec)
    size = _SVG_SIZE.search(svg)
    width, height = (size.group(1), size.group(2)) if size else ("", "")
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    alt_text = html.escape(_title_text(spec), quote=True)
    script = _UPGRADE_JS % {"id": json.dumps(element_id), "options": canonical_json(EMBED_OPTIONS)}
    return (
        f'<div class="{CSS_CLASS}" id="{element_id}" style="max-width:100%;overflow-x:auto">'
        f'<img class="cm-chart-static" src="{data_uri}" alt="{alt_text}" width="{width}" height="{height}"'
        ' style="max-width:100%;height:auto">'
        f'<script type="application/json" class="cm-chart-spec">{_script_json(canonical_json(embedded_spec(spec)))}'
        "</script>"
        f"<script>{script}</script>"
        "</div>"
    )


def render(spec: dict, **metadata) -> dict:
    """Altair renderer: the mimebundle {text/html: chart_html(spec), text/plain: a one-line label}."""
    return {
        "text/html": chart_html(spec),
        "text/plain": f"<costmodel chart {chart_id(spec)}: {_title_text(spec)}>",
    }


def enable(theme: bool = True) -> None:
    """Register and activate the "costmodel" renderer (and, with ``theme``, the house theme)."""
    alt.renderers.register(RENDERER_NAME, render)
    alt.renderers.enable(RENDERER_NAME)
    if theme:
        alt.theme.register(THEME_NAME, enable=True)(house_theme)
