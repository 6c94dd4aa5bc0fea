"""Browser-test fixtures: the session's `app` served by a real WSGI server in a thread, and
headless Chromium (Debian's, never a downloaded one) driven by Playwright's sync API.

The server shares the session database (a file SQLite DB or a PostgreSQL schema), so data a
test creates and commits is what the browser sees. `tests/conftest.py`'s autouse fixture
resets the database before each test; the `page` fixture waits for the server to finish
every request before the test ends, so no request races that reset.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    ("--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
     "CalculateNativeWinOcclusion,InterestFeedContentSuggestions"),
    "--renderer-process-limit=2",
]

# Limits for Playwright's waits (actions, navigations, expect()) and for the server to finish
# its requests. Each wait ends as soon as its condition holds, so a generous limit costs
# nothing when things go well; it keeps a busy machine (two cores shared by xdist workers,
# each with its own Chromium) from failing tests that are merely slow.
PLAYWRIGHT_TIMEOUT_MS = 60_000
IDLE_TIMEOUT = 120  # seconds


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # one line per request would drown pytest's output
        pass


class _InFlight:
    """WSGI middleware counting requests in progress, so a test can wait for quiet."""

    def __init__(self, app):
        self.app = app
        self.count = 0
        self.lock = threading.Condition()

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
        try:
            # Flask builds the whole response (and ends its request context, returning the
            # database connection) before handing it back.
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.count -= 1
                self.lock.notify_all()

    def wait_idle(self, timeout: float = IDLE_TIMEOUT) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.count == 0, timeout=timeout)


class LiveServer:
    def __init__(self, url: str, in_flight: _InFlight):
        self.url = url
        self._in_flight = in_flight

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    def wait_idle(self) -> None:
        assert self._in_flight.wait_idle(), "the live server is still busy with a request"


@pytest.fixture(scope="session")
def live_server(app):
    """The session's app on 127.0.0.1 and a free port, in a background thread. The socket
    listens from make_server() on, so the server is ready when this fixture returns (each
    xdist worker has a server, and a database, of its own)."""
    in_flight = _InFlight(app)
    server = make_server("127.0.0.1", 0, in_flight, threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="qms-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", in_flight)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=IDLE_TIMEOUT)


def _chromium_missing() -> None:
    message = (f"Chromium is missing ({CHROMIUM} not found): apt-get install -y chromium "
               "to run the browser tests")
    if os.environ.get("QMS_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (QMS_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _chromium_missing()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PLAYWRIGHT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS, timeout=PLAYWRIGHT_TIMEOUT_MS)
        yield browser
        browser.close()


CONTEXT_ARGS = {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN"}


def _new_context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, **CONTEXT_ARGS)
    context.set_default_timeout(PLAYWRIGHT_TIMEOUT_MS)
    context.set_default_navigation_timeout(PLAYWRIGHT_TIMEOUT_MS)
    return context


@pytest.fixture(scope="session")
def _shared_context(browser, live_server):
    """One context for the session: its HTTP cache keeps Bootstrap's files between tests."""
    context = _new_context(browser, live_server)
    yield context
    context.close()


@pytest.fixture
def page(_shared_context, live_server):
    """A fresh tab with no cookies (so nobody is logged in) in the shared context."""
    _shared_context.clear_cookies()
    page = _shared_context.new_page()
    try:
        yield page
    finally:
        page.close()
        _shared_context.clear_cookies()
        live_server.wait_idle()


@pytest.fixture
def fresh_page(browser, live_server):
    """A tab in a context of its own (empty cache): for tests that watch every request."""
    context = _new_context(browser, live_server)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
        live_server.wait_idle()
