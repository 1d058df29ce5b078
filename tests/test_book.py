"""The book: it builds offline with warnings as errors, loads nothing from the network, and in a real
browser every chart becomes interactive and every formula is typeset, with a clean console.

The book is built once per session into a temporary folder with the same command CI uses
(``jupyter-book build book/ -W --keep-going``). Set ``BOOK_HTML=book/_build/html`` to test an existing
build instead. The browser tests drive headless Chromium (``/usr/bin/chromium``, Debian package
``chromium``) over the Chrome DevTools protocol; they skip when it is absent.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SEEDS = ROOT.parent / "shared" / "seeds"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-extensions",
                  "--disable-dev-shm-usage", "--remote-debugging-port=0", "about:blank"]
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
def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


class Browser:
    """Headless Chromium over the DevTools protocol (tornado's websocket client; no other package)."""

    def __init__(self, executable: str, profile: Path):
        self.process = subprocess.Popen([executable, f"--user-data-dir={profile}", *CHROMIUM_FLAGS],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.process.stderr:
            if "DevTools listening on " in line:
                self.url = line.split("DevTools listening on ", 1)[1].strip()
                break
        else:
            raise RuntimeError("chromium did not start")
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # drain the pipe
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._connect())

    async def _connect(self):
        from tornado.websocket import websocket_connect

        self.ws = await websocket_connect(self.url, max_message_size=256 * 2**20)
        self.next_id, self.events = 0, []

    async def _call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.ws.write_message(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.read_message())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def call(self, method, params=None, session=None):
        return self.loop.run_until_complete(self._call(method, params, session))

    def open(self, url: str, width: int = 1200, height: int = 900) -> "Tab":
        # a fresh browser context per page: empty storage, as on a reader's first visit
        context = self.call("Target.createBrowserContext")["browserContextId"]
        target = self.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session, context)
        for domain in ("Page", "Runtime", "Log", "Network"):
            tab.call(f"{domain}.enable")
        tab.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.events.clear()
        tab.call("Page.navigate", {"url": url})
        tab.wait_for("document.readyState === 'complete'")
        return tab

    def close(self):
        try:
            self.loop.run_until_complete(self._call("Browser.close"))
        except Exception:
            pass
        self.ws.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.loop.close()


class Tab:
    def __init__(self, browser: Browser, target: str, session: str, context: str):
        self.browser, self.target, self.session, self.context = browser, target, session, context

    def call(self, method, params=None):
        return self.browser.call(method, params, self.session)

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout_s: float = 20.0) -> bool:
        """Poll a JS condition every 100 ms; True once it holds, False on timeout."""
        for _ in range(int(timeout_s * 10)):
            if self.eval(f"Boolean({condition})"):
                return True
            self.browser.loop.run_until_complete(asyncio.sleep(0.1))
        return False

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads of this tab."""
        out = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
                out.append(f"console.{params['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                                   for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(params["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                out.append(f"log.{params['entry']['level']}: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                out.append(f"failed load: {params.get('errorText')} {params.get('requestId')}")
        return out

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("sessionId") == self.session and e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, selector: str | None = None):
        """PNG of the viewport, scrolled so that ``selector``'s first match is in view (for a human to look at)."""
        if selector:
            self.eval(f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})")
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"]))

    def close(self):
        self.browser.call("Target.closeTarget", {"targetId": self.target})
        self.browser.call("Target.disposeBrowserContext", {"browserContextId": self.context})


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(html_dir):
    """The built site served on 127.0.0.1 (as a reader's web server would); yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=html_dir))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    executable = chromium_path()
    if executable is None:
        pytest.skip("headless Chromium not found (apt-get install chromium, or set CHROMIUM=/path)")
    b = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def local_only(urls: list[str], base: str) -> list[str]:
    return [u for u in urls if not u.startswith((base, "data:", "blob:", "about:"))]


CHART_STATE = ("[...document.querySelectorAll('div.cm-chart')]"
               ".map(b => [b.id, b.getAttribute('data-cm-state'), !!b.querySelector('.cm-chart-view svg.marks'),"
               " !!b.querySelector('img.cm-chart-static')])")


def test_every_chart_becomes_interactive(html_dir, site, browser):
    found = chart_pages(html_dir)
    assert found, "no page of the book shows a chart (expected at least notebooks/00_overview)"
    for page in found:
        tab = browser.open(site + page.relative_to(html_dir).as_posix())
        try:
            tab.wait_for("[...document.querySelectorAll('div.cm-chart')].every("
                         "b => b.getAttribute('data-cm-state') === 'interactive')")
            states = tab.eval(CHART_STATE)
            assert states, f"{page.name}: no chart box in the DOM"
            for chart_id, state, has_view, has_img in states:
                assert (state, has_view, has_img) == ("interactive", True, False), \
                    f"{page.name} {chart_id}: state={state} interactive svg={has_view} static img left={has_img}"
            assert tab.eval("typeof window.vegaEmbed === 'function' && typeof window.vega === 'object'")
            assert not tab.problems(), f"{page.name}: " + "\n".join(tab.problems())
            assert not local_only(tab.requested_urls(), site), f"{page.name} requested off-site URLs"
        finally:
            tab.close()


def test_chart_tooltip_shows_on_hover(html_dir, site, browser):
    page = chart_pages(html_dir)[0]
    tab = browser.open(site + page.relative_to(html_dir).as_posix())
    try:
        assert tab.wait_for("document.querySelector('div.cm-chart[data-cm-state=interactive]')")
        point = tab.eval(
            "(() => { const m = document.querySelector('div.cm-chart .cm-chart-view svg .role-mark path,"
            " div.cm-chart .cm-chart-view svg .role-mark rect'); m.scrollIntoView({block: 'center'});"
            " const r = m.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mouseMoved", "mouseMoved"):
            tab.call("Input.dispatchMouseEvent", {"type": kind, "x": point[0], "y": point[1]})
        assert tab.wait_for("document.querySelector('#vg-tooltip-element.visible')", timeout_s=5), \
            f"{page.name}: no tooltip after hovering a mark"
    finally:
        tab.close()


@pytest.mark.parametrize("name", ["intro.html", "formulas.html", "notation.html"])
def test_maths_is_typeset_offline(html_dir, site, browser, name):
    tab = browser.open(site + name)
    try:
        assert tab.wait_for("window.MathJax && MathJax.startup && MathJax.startup.promise"
                            " && document.querySelectorAll('mjx-container').length > 0")
        tab.eval("MathJax.startup.promise")
        assert tab.eval("document.querySelectorAll('mjx-merror, mjx-container [data-mjx-error]').length") == 0
        assert tab.eval("document.querySelectorAll('.math').length") <= tab.eval(
            "document.querySelectorAll('mjx-container').length")
        assert not tab.problems(), f"{name}: " + "\n".join(tab.problems())
        assert not local_only(tab.requested_urls(), site), f"{name} requested off-site URLs"
    finally:
        tab.close()
