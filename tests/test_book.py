"""The book: it builds offline with warnings as errors, loads nothing from the network, and in a real
browser every chart becomes interactive and every formula is typeset, with a clean console.

The book is built once per session into a temporary folder with the same command CI uses
(``jupyter-book build book/ -W --keep-going``). Set ``BOOK_HTML=book/_build/html`` to test an existing
build instead. The browser tests drive headless Chromium (``/usr/bin/chromium``, Debian package
``chromium``) through Playwright (never its own browser download), at a 1280-pixel window; they skip when
either is absent. ``CM_CARD_SELECTOR`` overrides how a rendered claim card is found (``table.cm-card``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SEEDS = ROOT.parent / "shared" / "seeds"
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)
"""A URL that leaves the site: http(s) or protocol-relative."""


# --- the build -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def html_dir(tmp_path_factory) -> Path:
    """The built site: BOOK_HTML if set, else a fresh build of book/ with warnings as errors."""
    if os.environ.get("BOOK_HTML"):
        path = Path(os.environ["BOOK_HTML"]).resolve()
        assert (path / "intro.html").is_file(), f"BOOK_HTML={path} holds no built book"
        return path
    exe = Path(sys.executable).with_name("jupyter-book")
    exe = str(exe) if exe.exists() else shutil.which("jupyter-book")
    if exe is None:
        pytest.skip("jupyter-book is not installed (pip install -e .[book])")
    out = tmp_path_factory.mktemp("book")
    run = subprocess.run([exe, "build", str(BOOK), "-W", "--keep-going", "--path-output", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, "book build failed:\n" + (run.stdout + run.stderr)[-4000:]
    return out / "_build" / "html"


def pages(html_dir: Path) -> list[Path]:
    return sorted(html_dir.rglob("*.html"))


def chart_pages(html_dir: Path) -> list[Path]:
    return [p for p in pages(html_dir) if 'class="cm-chart"' in p.read_text(encoding="utf-8")]


def test_every_notebook_is_a_page_of_the_book(html_dir):
    # _toc.yml includes notebooks by glob; a misspelt pattern would drop a chapter silently.
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [nb.name for nb in notebooks if not (html_dir / "notebooks" / f"{nb.stem}.html").is_file()]
    assert not missing, f"notebooks not in the built book (check book/_toc.yml): {missing}"


def test_no_page_loads_anything_from_the_network(html_dir):
    found = []
    for page in pages(html_dir):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
                          ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
                          ("object", "data")):
            for element in soup.find_all(tag):
                if tag == "link" and not {"stylesheet", "preload", "modulepreload", "icon", "prefetch",
                                          "manifest"} & set(element.get("rel") or []):
                    continue  # <link rel="next">, "canonical" ... are navigation, not loads
                if EXTERNAL.match(element.get(attr) or ""):
                    found.append(f"{page.relative_to(html_dir)}: <{tag} {attr}={element.get(attr)}>")
        for style in soup.find_all("style"):
            found += [f"{page.relative_to(html_dir)}: {u}" for u in css_external_urls(style.get_text())]
    for css in sorted(html_dir.rglob("*.css")):
        found += [f"{css.relative_to(html_dir)}: {u}" for u in css_external_urls(css.read_text("utf-8", "replace"))]
    assert not found, "external resources:\n" + "\n".join(found)


def css_external_urls(css: str) -> list[str]:
    """@import and url() targets (fonts included) that point off the site."""
    targets = re.findall(r"""url\(\s*['"]?([^'")\s]+)""", css)
    targets += re.findall(r"""@import\s+['"]([^'"]+)['"]""", css)
    return [t for t in targets if EXTERNAL.match(t)]


def test_mathjax_and_vega_are_local(html_dir):
    intro = (html_dir / "intro.html").read_text(encoding="utf-8")
    assert re.search(r'<script defer="defer" src="_static/vendor/mathjax/tex-mml-chtml\.js', intro)
    assert (html_dir / "_static/vendor/mathjax/output/chtml/fonts/woff-v2").is_dir()
    for page in chart_pages(html_dir):
        assert re.search(r'<script src="[./]*_static/vendor/vega/vega-bundle-[\d.]+\.js', page.read_text("utf-8"))


def test_documents_are_reproduced_verbatim(html_dir):
    # the book includes the audit engine's verbatim copies (one copy in the repository, not two)
    copies = sorted((ROOT / "costmodel" / "data" / "audits" / "documents").glob("*.txt"))
    assert len(copies) == 5
    if SEEDS.is_dir():
        assert [p.name for p in copies] == sorted(p.name for p in SEEDS.glob("*.txt"))
        for copy in copies:
            assert copy.read_bytes() == (SEEDS / copy.name).read_bytes(), f"{copy.name} differs from the seed"
    for copy in copies:
        soup = BeautifulSoup((html_dir / "documents" / f"doc{copy.name[:3]}.html").read_text("utf-8"), "html.parser")
        block = soup.select_one("div.verbatim-document pre")
        for number in block.select("span.linenos"):
            number.decompose()
        assert block.get_text().rstrip("\n") == copy.read_text(encoding="utf-8").rstrip("\n")


def test_worked_examples_of_the_formulas_page_match_the_library():
    # formulas.md states a few numbers in words; they must be what costmodel computes.
    import costmodel as cm

    text = (BOOK / "formulas.md").read_text(encoding="utf-8")
    seed, qwen = cm.load_model("seed-moe-10b"), cm.load_model("qwen3-235b-a22b")
    assert f"{seed.params_total:,}".replace(",", "{,}") in text
    assert f"{int(seed.kv_bytes_per_token('fp16')):,}".replace(",", "{,}") in text
    assert f"{int(qwen.kv_bytes_per_token('fp8')):,}".replace(",", "{,}") in text


# --- the browser ------------------------------------------------------------------------------------
def _load_screenshots_tool():
    """tools/screenshots.py, whose Playwright helpers these tests share (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tools" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shots = _load_screenshots_tool()

CARD_SELECTOR = os.environ.get("CM_CARD_SELECTOR", "table.cm-card")
"""How a rendered claim card is found (the audit engine renders each card as ``<table class="cm-card ...">``)."""

AUDIT_PAGE = re.compile(r"0[1-5]_doc(\d{3})_.*\.html$")


@pytest.fixture(scope="session")
def site(html_dir):
    """The built site served on 127.0.0.1 (as a reader's web server would); yields its base URL."""
    with shots.serve(html_dir) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
    if shots.chromium_path() is None:
        pytest.skip("headless Chromium not found (apt-get install chromium, or set CHROMIUM=/path)")
    with shots.chromium() as b:
        yield b


@pytest.fixture
def open_tab(browser, site):
    """Open a page of the site at the reader's 1280-pixel window; every tab is closed after the test."""
    tabs = []

    def open_(page: str, width: int = shots.WIDTH):
        tabs.append(shots.open_page(browser, site + page, width))
        return tabs[-1]

    yield open_
    for tab in tabs:
        tab.close()


CHART_STATE = ("[...document.querySelectorAll('div.cm-chart')]"
               ".map(b => [b.id, b.getAttribute('data-cm-state'), !!b.querySelector('.cm-chart-view svg.marks'),"
               " !!b.querySelector('img.cm-chart-static')])")

RAW_CARDS = ("[...document.querySelectorAll('article p')].filter(p => !p.closest('blockquote'))"
             ".map(p => p.textContent.trim()).filter(t => t.startsWith('|') || t.includes('|---|'))")
"""Paragraphs of raw Markdown table text; a blockquote is left out: it quotes the document verbatim, and some
claims quote a row of the document's own table (doc 004: ``| TTFT | 0.38s | 0.22s | -42% |``)."""

TABLE_FIT = """() => {
  const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const edge = column.getBoundingClientRect();
  const out = [];
  document.querySelectorAll('article table, main table').forEach((table, i) => {
    if (!table.offsetParent) return;  // not rendered (a folded section): nothing runs past the column
    let scroller = null;
    for (let el = table; el && el !== column; el = el.parentElement) {
      const style = getComputedStyle(el).overflowX;
      if (style === 'auto' || style === 'scroll') { scroller = el; break; }
    }
    const box = (scroller || table).getBoundingClientRect();
    const name = `table ${i} (${table.className || 'no class'}): ${table.textContent.trim().slice(0, 60)}`;
    if (box.left < edge.left - 1 || box.right > edge.right + 1)
      out.push(`${name}: spans ${Math.round(box.left)}-${Math.round(box.right)} px, column ` +
               `${Math.round(edge.left)}-${Math.round(edge.right)} px`);
    else if (!scroller && table.scrollWidth > table.parentElement.clientWidth + 1)
      out.push(`${name}: ${table.scrollWidth} px wide in a ${table.parentElement.clientWidth} px container`);
  });
  return out;
}"""
"""Tables that run past the text column: each must fit it, or sit in a wrapper that scrolls sideways
(``overflow-x: auto``) and itself fits the column."""

HIDDEN_COLUMNS = """() => {
  const out = [];
  document.querySelectorAll('article table').forEach((table, i) => {
    if (!table.offsetParent) return;
    for (let el = table; el && el.tagName !== 'ARTICLE'; el = el.parentElement) {
      const style = getComputedStyle(el).overflowX;
      if ((style === 'auto' || style === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
        out.push(`table ${i} (${table.className || 'no class'}): ${el.scrollWidth} px in a ${el.clientWidth} px ` +
                 `scroller: ${table.textContent.trim().slice(0, 60)}`);
        break;
      }
    }
  });
  return out;
}"""
"""Tables that fit the column only by scrolling sideways: their last columns are out of the reader's view."""

MATHS_STATE = ("[document.querySelectorAll('mjx-merror, mjx-container [data-mjx-error]').length,"
               " document.querySelectorAll('.math').length, document.querySelectorAll('mjx-container').length]")


@pytest.fixture(scope="session")
def reader_pass(html_dir, site, browser) -> dict:
    """Every page opened once at 1280 px, settled (maths typeset, charts interactive) and inspected:
    {page: report}. The tests below read the reports (one page load each, not one per test). Screenshots for a
    human to look at come from ``make screenshots`` (tools/screenshots.py), not from the tests."""
    reports = {}
    for page in shots.page_paths(html_dir):
        tab = shots.open_page(browser, site + page.as_posix())
        try:
            settled = shots.settle(tab.page)
            reports[page.as_posix()] = {
                "settled": settled, "charts": tab.page.evaluate(CHART_STATE),
                "vega": tab.page.evaluate("typeof window.vegaEmbed === 'function' && typeof window.vega === 'object'"),
                "maths": tab.page.evaluate(MATHS_STATE), "raw_cards": tab.page.evaluate(RAW_CARDS),
                "cards": tab.page.evaluate(f"document.querySelectorAll({json.dumps(CARD_SELECTOR)}).length"),
                "wide_tables": tab.page.evaluate(TABLE_FIT), "hidden_columns": tab.page.evaluate(HIDDEN_COLUMNS),
                "problems": list(tab.problems), "off_site": tab.off_site(site)}
        finally:
            tab.close()
    return reports


def test_every_page_loads_cleanly_and_locally(reader_pass):
    # no console error or warning, no uncaught exception, no failed load, nothing requested off the site
    bad = {page: r["problems"] + [f"off-site: {u}" for u in r["off_site"]] for page, r in reader_pass.items()
           if r["problems"] or r["off_site"]}
    assert not bad, "\n".join(f"{page}: {line}" for page, lines in bad.items() for line in lines)


def test_every_chart_becomes_interactive(html_dir, reader_pass):
    found = [p.relative_to(html_dir).as_posix() for p in chart_pages(html_dir)]
    assert found, "no page of the book shows a chart (expected at least notebooks/00_overview)"
    for page in found:
        r = reader_pass[page]
        assert r["charts"], f"{page}: no chart box in the DOM"
        for chart_id, state, has_view, has_img in r["charts"]:
            assert (state, has_view, has_img) == ("interactive", True, False), \
                f"{page} {chart_id}: state={state} interactive svg={has_view} static img left={has_img}"
        assert r["vega"] and r["settled"], f"{page}: vega not loaded or the page never settled"


@pytest.mark.parametrize("name", ["intro.html", "formulas.html", "notation.html", "notebooks/07_validation.html"])
def test_maths_is_typeset_offline(reader_pass, name):
    errors, spans, typeset = reader_pass[name]["maths"]
    assert reader_pass[name]["settled"], f"{name}: MathJax never finished"
    assert typeset > 0 and errors == 0 and spans <= typeset, \
        f"{name}: {errors} errors, {spans} maths, {typeset} typeset"


def test_chart_tooltip_shows_on_hover(html_dir, open_tab):
    page = chart_pages(html_dir)[0]
    tab = open_tab(page.relative_to(html_dir).as_posix())
    tab.page.wait_for_selector("div.cm-chart[data-cm-state=interactive]", timeout=20_000)
    x, y = tab.page.evaluate(
        "(() => { const m = document.querySelector('div.cm-chart .cm-chart-view svg .role-mark path,"
        " div.cm-chart .cm-chart-view svg .role-mark rect'); m.scrollIntoView({block: 'center'});"
        " const r = m.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    tab.page.mouse.move(x - 1, y)
    tab.page.mouse.move(x, y)
    tab.page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)


# --- what a reader sees at 1280 pixels ----------------------------------------------------------------
def test_audit_pages_render_one_card_per_claim(reader_pass):
    # issue 12: the claim cards were Markdown tables that the book showed as one paragraph of raw text each
    import costmodel as cm

    pages = {page: AUDIT_PAGE.search(page).group(1) for page in reader_pass if AUDIT_PAGE.search(page)}
    assert len(pages) == 5, f"expected the five audit chapters, found {sorted(pages)}"
    for page, doc in sorted(pages.items()):
        raw, cards = reader_pass[page]["raw_cards"], reader_pass[page]["cards"]
        assert not raw, f"{page}: {len(raw)} paragraphs of raw table text, e.g. {raw[0][:100]!r}"
        claims = len(cm.load_ledger(doc)["claims"])
        assert cards == claims, f"{page}: {cards} rendered cards ({CARD_SELECTOR}) for {claims} claims"


def test_no_table_is_wider_than_its_column(reader_pass):
    # each table fits the text column, or sits in a wrapper that scrolls sideways and fits it (issue 12)
    wide = [f"{page}: {line}" for page, r in reader_pass.items() for line in r["wide_tables"]]
    assert not wide, "tables wider than their column at 1280 px:\n" + "\n".join(wide)


def test_every_column_of_every_table_is_in_view(reader_pass):
    # issue 12: wide tables hid their last columns (the verdict, the throughput) behind a sideways scroll;
    # reader tables fold (costmodel.display) and Markdown tables wrap, so no table needs the scroll at 1280 px
    hidden = [f"{page}: {line}" for page, r in reader_pass.items() for line in r["hidden_columns"]]
    assert not hidden, "tables that scroll sideways at 1280 px:\n" + "\n".join(hidden)


def test_the_table_check_catches_wide_tables_and_the_css_contains_them(browser):
    # the check above must be able to fail: three tables 1,800 px wide in a 700 px column, as a notebook output,
    # a reader table and a claim card; without the workbook's CSS each runs past the column, with it each scrolls
    wide = "<tr>" + "<td>0123456789</td>" * 150 + "</tr>"
    article = ("<article class='bd-article' style='width:700px'>"
               f"<div class='cell_output'><div class='output'><table class='dataframe'>{wide}</table></div></div>"
               f"<div class='cm-table-wrap'><table class='cm-table'>{wide}</table></div>"
               f"<table class='cm-card'>{wide}</table></article>")
    css = (BOOK / "_static" / "workbook.css").read_text(encoding="utf-8")
    page = browser.new_page(viewport={"width": shots.WIDTH, "height": shots.HEIGHT})
    try:
        page.set_content(f"<html><body>{article}</body></html>")
        assert len(page.evaluate(TABLE_FIT)) == 3
        page.set_content(f"<html><head><style>{css}</style></head><body>{article}</body></html>")
        assert page.evaluate(TABLE_FIT) == []
        assert len(page.evaluate(HIDDEN_COLUMNS)) == 3  # contained, but the reader must scroll to see them
    finally:
        page.close()
