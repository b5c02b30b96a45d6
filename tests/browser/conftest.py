"""Fixtures of the browser test: the built book served on 127.0.0.1, headless Chromium driven by
Playwright, and one visit per page whose findings the tests in test_book.py check.

    FMTUTOR_HTML_DIR      the built HTML book (default: _build/html)
    FMTUTOR_SCREENSHOTS   where full-page screenshots go (default: artifacts/screenshots)
    FMTUTOR_CHROMIUM      a Chromium binary (default: chromium on PATH, apt-get installed if missing)
    FMTUTOR_EDITION       "student" when FMTUTOR_HTML_DIR is the student site (python3 tasks.py
                          student-site): then no page may hold a solution
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from . import install

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE_TIMEOUT_MS = 120_000  # a loaded shared machine can take tens of seconds to open a long chapter
# Console messages that do not matter to a reader; everything else logged as an error fails the test.
IGNORED_CONSOLE = (
    re.compile(r"favicon\.ico"),  # the book has no favicon; browsers ask for one anyway
)


def book_pages() -> list[str]:
    """Every page of the table of contents, as paths relative to the HTML root (``book/01_odes.html``)."""
    toc = (ROOT / "_toc.yml").read_text()
    names = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", toc, flags=re.M)
    return [f"{name.removesuffix('.md').removesuffix('.ipynb')}.html" for name in names]


def is_student_site() -> bool:
    return os.environ.get("FMTUTOR_EDITION", "") == "student"


def is_notebook_page(page: str) -> bool:
    return (ROOT / page).with_suffix(".ipynb").exists()


def pytest_generate_tests(metafunc):
    if "page" in metafunc.fixturenames:
        pages = book_pages()
        if "notebook_page" in metafunc.fixturenames:
            pages = [p for p in pages if is_notebook_page(p)]
        metafunc.parametrize("page", pages, ids=[Path(p).stem for p in pages])


@pytest.fixture
def notebook_page(page: str) -> str:
    """Marks a test as running on the chapters (notebook pages) only; the value is the page."""
    return page


@pytest.fixture(scope="session")
def html_dir() -> Path:
    path = Path(os.environ.get("FMTUTOR_HTML_DIR", ROOT / "_build" / "html")).resolve()
    if not (path / "index.html").exists():
        pytest.fail(
            f"no built book in {path}: build it first (python3 tasks.py book, or jupyter-book "
            "build) or set FMTUTOR_HTML_DIR",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = Path(os.environ.get("FMTUTOR_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def server(html_dir: Path):
    """``http://127.0.0.1:PORT`` serving ``html_dir`` (a free port picked by the OS)."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    try:
        executable = install.ensure_browser()
    except install.BrowserUnavailable as err:
        pytest.skip(f"browser test skipped: {err}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """What a reader's browser met on one page (filled by ``visited``)."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    frame_requests: list[str] = field(default_factory=list)  # static panels' frames fetched, in order
    facts: dict = field(default_factory=dict)  # results of the page probes (see test_book.py)


@pytest.fixture(scope="session")
def visits() -> dict[str, Visit]:
    """Visits made so far, by page: each page is loaded once and probed by every test."""
    return {}


def open_page(
    browser, server: str, page: str, visit: Visit, width: int = 1280, height: int = 900, pixel_ratio: float = 1
):
    """A new tab on ``page`` with every request outside the local server blocked and recorded."""
    tab = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=pixel_ratio)
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    local = urlsplit(server).netloc

    def route(r):
        url = r.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != local:
            visit.external_requests.append(url)
            return r.abort()
        return r.continue_()

    def on_console(msg):
        where = (msg.location or {}).get("url", "")
        text = f"{msg.text} ({where})" if where else msg.text
        if (
            msg.type == "error"
            and not any(p.search(text) for p in IGNORED_CONSOLE)
            and where not in visit.external_requests
        ):
            visit.console_errors.append(text)

    tab.route("**/*", route)
    tab.on("request", lambda req: visit.frame_requests.append(req.url) if "/_static/frames/" in req.url else None)
    tab.on("console", on_console)
    tab.on(
        "pageerror",
        lambda err: (
            None
            if any(p.search(f"uncaught: {err}") for p in IGNORED_CONSOLE)
            else visit.console_errors.append(f"uncaught: {err}")
        ),
    )
    tab.on(
        "requestfailed",
        lambda req: (
            None
            if req.url in visit.external_requests or any(p.search(req.url) for p in IGNORED_CONSOLE)
            else visit.failed_requests.append(req.url)
        ),
    )
    tab.goto(f"{server}/{page}", wait_until="load")
    return tab
