"""Screenshots of every page of the built book at a reader's window width, for a human to look at.

    .venv/bin/python tools/screenshots.py [--html book/_build/html] [--out book/_build/screenshots] [--width 1280]

Build the book first (``make book``). The pages are served on 127.0.0.1 (as a reader's web server would) and
opened in headless Chromium: Debian's ``/usr/bin/chromium`` (``apt-get install chromium``; or set CHROMIUM=/path)
driven by the ``playwright`` package, which never downloads a browser of its own here. One full-page PNG per
page is written to ``--out``, named after the page (``notebooks__01_doc000_ep16_tp_inside_expert.png``).

The browser tests (tests/test_book.py) use the same helpers: :func:`serve`, :func:`chromium`, :func:`open_page`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

try:
    from playwright.sync_api import Error as PlaywrightError, sync_playwright
except ImportError:  # a test dependency (pip install -e .[test]); the browser tests skip without it
    PlaywrightError, sync_playwright = Exception, None

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-extensions"]
"""Headless Chromium in a container (no sandbox as root, no GPU) that reaches for nothing on the network."""

WIDTH, HEIGHT = 1280, 900
"""The reader's window (issue 12: tables and cards are checked at 1280 pixels)."""


def chromium_path() -> str | None:
    """CHROMIUM, else Debian's chromium; None when none is installed."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(html_dir: Path):
    """The built site on 127.0.0.1 for the duration; yields its base URL (ends with '/')."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(html_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium(executable: str | None = None):
    """A headless Chromium (Playwright's Browser) on the installed executable."""
    if sync_playwright is None:
        raise RuntimeError("playwright is not installed: pip install -e .[test]")
    executable = executable or chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium found: apt-get install chromium, or set CHROMIUM=/path/to/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """One page in a fresh browser context (empty storage, as on a reader's first visit), with what it
    logged: console errors and warnings, uncaught exceptions, failed loads, and every URL it requested."""

    def __init__(self, browser, url: str, width: int = WIDTH, height: int = HEIGHT):
        self.context = browser.new_context(viewport={"width": width, "height": height}, service_workers="block")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"exception: {exc}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed load: {r.url} {r.failure}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url, wait_until="load")

    def _console(self, message):
        if message.type in ("error", "warning", "assert"):
            self.problems.append(f"console.{message.type}: {message.text} {message.location.get('url', '')}")

    def off_site(self, base: str) -> list[str]:
        """Requested URLs outside the served site (data:, blob: and about: are local)."""
        return [u for u in self.requests if not u.startswith((base, "data:", "blob:", "about:"))]

    def close(self):
        self.context.close()


def open_page(browser, url: str, width: int = WIDTH, height: int = HEIGHT) -> Tab:
    return Tab(browser, url, width, height)


def is_redirect(path: Path) -> bool:
    """A page that only forwards the reader elsewhere (the book's index.html)."""
    return 'http-equiv="refresh"' in path.read_text(encoding="utf-8", errors="replace")[:500].lower()


def page_paths(html_dir: Path) -> list[Path]:
    """Every page of the built book, relative to ``html_dir``: not Sphinx's search and index pages, not a
    page that only redirects."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return sorted(p.relative_to(html_dir) for p in Path(html_dir).rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts
                  and not is_redirect(p))


def screenshot_name(page: Path) -> str:
    return page.with_suffix("").as_posix().replace("/", "__") + ".png"


MATHS_READY = "() => !window.MathJax || !MathJax.startup || MathJax.startup.promise.then(() => true)"
CHARTS_READY = ("[...document.querySelectorAll('div.cm-chart')]"
                ".every(b => b.getAttribute('data-cm-state') === 'interactive')")


def settle(page, timeout_ms: int = 20_000) -> bool:
    """Wait until the page has typeset its maths and made its charts interactive; False if it never does."""
    try:
        page.wait_for_function("!window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=timeout_ms)
        page.evaluate(MATHS_READY)
        page.wait_for_function(CHARTS_READY, timeout=timeout_ms)
        return True
    except PlaywrightError:
        return False


def screenshot(tab: Tab, path: Path) -> Path:
    """A full-page PNG of an open tab."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(path), full_page=True)
    return path


def screenshot_pages(browser, base: str, html_dir: Path, out_dir: Path, width: int = WIDTH) -> list[Path]:
    """One full-page PNG per page of the book in ``out_dir`` (a page that never settles is still taken)."""
    written = []
    for page in page_paths(html_dir):
        tab = open_page(browser, base + page.as_posix(), width)
        try:
            settle(tab.page)
            written.append(screenshot(tab, out_dir / screenshot_name(page)))
        finally:
            tab.close()
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html", help="the built book")
    p.add_argument("--out", type=Path, default=ROOT / "book" / "_build" / "screenshots", help="folder for the PNGs")
    p.add_argument("--width", type=int, default=WIDTH, help="window width in pixels")
    args = p.parse_args(argv)
    if not (args.html / "intro.html").is_file():
        print(f"screenshots: no built book in {args.html} (run make book)", file=sys.stderr)
        return 2
    with serve(args.html) as base, chromium() as browser:
        written = screenshot_pages(browser, base, args.html, args.out, args.width)
    print(f"{len(written)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
