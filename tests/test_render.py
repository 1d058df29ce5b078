"""The offline Altair renderer (costmodel.charts.render): deterministic, offline, spec intact.

The browser side (the static image becoming an interactive chart) is tested in test_book.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys

import altair as alt
import pandas as pd
import pytest

import costmodel as cm
from costmodel.charts import render

CHART_CODE = """
import altair as alt, pandas as pd
df = pd.DataFrame({"tp": [1, 2, 4, 8], "ttft_s": [4.0, 2.1, 1.2, 0.8], "plan": ["a", "b", "c", "d"]})
chart = alt.Chart(df, title="TTFT against TP").mark_line(point=True).encode(
    x="tp:Q", y="ttft_s:Q", tooltip=["plan", "tp", "ttft_s"]
).add_params(alt.selection_point(fields=["plan"]))
"""


@pytest.fixture()
def charts_on():
    """Activate the costmodel renderer and theme for one test, then restore Altair's state."""
    renderer, theme = alt.renderers.active, alt.theme.active
    cm.enable_charts()
    yield
    alt.renderers.enable(renderer)
    alt.theme.enable(theme)


def make_chart():
    scope: dict = {}
    exec(CHART_CODE, scope)
    return scope["chart"]


def parts(html: str) -> dict:
    """Split the chart HTML into its id, the decoded SVG, the stored spec and the scripts."""
    img = re.search(r'<img class="cm-chart-static" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"'
                    r' alt="[^"]*" width="([\d.]+)" height="([\d.]+)"', html)
    spec = re.search(r'<script type="application/json" class="cm-chart-spec">(.*?)</script>', html, re.S)
    return {
        "id": re.search(r'<div class="cm-chart" id="(cm-chart-[0-9a-f]{12})"', html).group(1),
        "svg": base64.b64decode(img.group(1)).decode("utf-8"),
        "size": (img.group(2), img.group(3)),
        "spec": json.loads(spec.group(1)),
    }


def test_enable_activates_renderer_and_theme(charts_on):
    assert alt.renderers.active == "costmodel"
    assert alt.theme.active == "costmodel"
    bundle = make_chart()._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert set(bundle) == {"text/html", "text/plain"}


def test_same_chart_gives_byte_identical_output(charts_on):
    first = make_chart()._repr_mimebundle_()
    second = make_chart()._repr_mimebundle_()
    assert first == second


def test_output_is_identical_in_a_fresh_interpreter(charts_on):
    # A second process with another hash seed stands in for re-executing the notebook: nothing
    # in the output may depend on the process (ids, dict order, memory addresses, time).
    here = render.render(make_chart().to_dict())["text/html"]
    code = "import costmodel as cm; cm.enable_charts()\n" + CHART_CODE + (
        "\nfrom costmodel.charts import render; import sys"
        "\nsys.stdout.write(render.render(chart.to_dict())['text/html'])"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert there == here


def test_no_network_reference_in_output(charts_on):
    bundle = render.render(make_chart().to_dict())
    for text in bundle.values():
        assert "http://" not in text and "https://" not in text
    svg = parts(bundle["text/html"])["svg"]
    # the SVG namespace URI is an identifier, not a fetch; no href, @import or url() may load anything
    assert not re.search(r'(href|src)="https?:', svg)
    assert "@import" not in svg and "url(http" not in svg


def test_static_svg_is_embedded_with_its_size(charts_on):
    html = render.render(make_chart().to_dict())["text/html"]
    found = parts(html)
    assert found["svg"].startswith("<svg")
    width, height = re.search(r'<svg[^>]*?width="([\d.]+)"[^>]*?height="([\d.]+)"', found["svg"]).groups()
    assert found["size"] == (width, height)
    assert "TTFT against TP" in found["svg"]  # the title is drawn
    assert render.FONT in found["svg"]  # the house font stack, no web font


def test_spec_round_trips(charts_on):
    spec = make_chart().to_dict()
    found = parts(render.render(spec)["text/html"])
    expected = {k: v for k, v in spec.items() if k != "$schema"}
    assert found["spec"] == expected
    assert found["id"] == render.chart_id(spec)


def test_ids_differ_between_charts_and_are_hashes_of_the_spec(charts_on):
    spec = make_chart().to_dict()
    other = dict(spec, title="another title")
    assert render.chart_id(spec) != render.chart_id(other)
    assert render.chart_id(spec) == render.chart_id(json.loads(json.dumps(spec)))


def test_markup_in_data_cannot_close_the_script(charts_on):
    df = pd.DataFrame({"x": [1], "y": [2], "label": ["</script><script>alert(1)</script> & <!--"]})
    chart = alt.Chart(df, title="</script>").mark_point().encode(x="x", y="y", tooltip="label")
    html = render.render(chart.to_dict())["text/html"]
    assert html.count("</script>") == 2  # the spec block and the upgrade script, nothing injected
    assert "<!--" not in html
    assert parts(html)["spec"]["datasets"]  # still valid JSON that parses back


def test_plain_text_fallback_names_the_chart(charts_on):
    spec = make_chart().to_dict()
    text = render.render(spec)["text/plain"]
    assert text == f"<costmodel chart {render.chart_id(spec)}: TTFT against TP>"


def test_vegalite_version_is_read_from_the_schema():
    assert render.vegalite_version({"$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json"}) == "6.4"
    assert render.vegalite_version({}) is None
