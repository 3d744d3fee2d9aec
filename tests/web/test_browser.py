"""The dashboard in a real headless Chromium (Debian's), driven by Playwright: open the printed
URL, see the jobs, go to the DLQ by keyboard and retry a dead job; read-only changes nothing.

What the app draws arrives as terminal output over the WebSocket (xterm.js paints it on a
canvas), so the tests read the frames the page receives.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import Dashboard, store_cli

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
CHROMIUM = "/usr/bin/chromium"
#: where a failing test leaves a screenshot of what the browser showed
SHOTS = Path(tempfile.gettempdir())
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """One browser tab on the dashboard, and the terminal output it has received."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.received = b""
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        self.page.goto(url)

    def _frame(self, payload) -> None:
        self.received += payload if isinstance(payload, bytes) else payload.encode()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        """Until the app has drawn `text` (after what was already drawn, if `fresh`)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.received:
            if time.monotonic() > deadline:
                self.page.screenshot(path=SHOTS / f"never-{text[:20]}.png")
                pytest.fail(f"the dashboard never showed {text!r} (screenshot in {SHOTS})")
            self.page.wait_for_timeout(100)

    def press(self, key: str) -> None:
        self.received = b""
        self.page.keyboard.press(key)

    def close(self) -> None:
        self.context.close()


def _state(db, job_id: str) -> str:
    return json.loads(store_cli(db, "show", job_id, "--json").stdout)["state"]


def _open_dlq(browser, url: str) -> Tab:
    tab = Tab(browser, url)
    tab.wait_for("hello-web")  # the job table
    assert "token" not in tab.page.url  # the redirect took it out of the address bar
    tab.page.locator("canvas").first.wait_for()
    tab.page.click("body")  # keyboard focus in the terminal
    tab.press("2")
    tab.wait_for("dead-letter queue")
    tab.wait_for("doomed")
    return tab


def test_the_printed_url_opens_a_dashboard_that_works_by_keyboard(browser, dashboard, web_store):
    assert _state(web_store, "doomed") == "dead"
    tab = _open_dlq(browser, dashboard.url)
    tab.press("r")
    deadline = time.monotonic() + 20
    while _state(web_store, "doomed") == "dead" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _state(web_store, "doomed") == "pending"  # out of the DLQ, in the store
    tab.wait_for("dead-letter queue · 0 jobs")
    tab.page.screenshot(path=str(web_store.parent / "dlq.png"))
    tab.close()


def test_a_link_from_another_site_still_signs_in(browser, dashboard):
    """The SameSite=Strict cookie after a click in a web mail or chat: the page's own redirect."""
    tab = Tab(browser, "about:blank")
    tab.page.route(
        "http://elsewhere.test/",
        lambda route: route.fulfill(body=f'<a id="go" href="{dashboard.url}">dashboard</a>', content_type="text/html"),
    )
    tab.page.goto("http://elsewhere.test/")
    tab.page.click("#go")
    tab.wait_for("hello-web")
    tab.close()


def test_a_foreign_page_in_the_same_browser_gets_no_dashboard(browser, dashboard):
    """Signed in in one tab, a page of another origin tries the WebSocket in the same browser."""
    tab = Tab(browser, dashboard.url)
    tab.wait_for("hello-web")
    tab.page.route("http://evil.test/", lambda route: route.fulfill(body="<p>hi</p>", content_type="text/html"))
    tab.page.goto("http://evil.test/")
    outcome = tab.page.evaluate(
        """url => new Promise(done => {
        const ws = new WebSocket(url);
        ws.onopen = () => done("open"); ws.onerror = () => done("refused");
    })""",
        f"ws://127.0.0.1:{dashboard.port}/ws",
    )
    assert outcome == "refused"
    tab.close()


def test_readonly_shows_the_dlq_and_changes_nothing(browser, web_store):
    store_cli(web_store, "enqueue", '{"id": "doomed-2", "command": "exit 4", "max_retries": 0, "queue": "ro"}')
    store_cli(web_store, "worker", "start", "--burst", "--quiet", "--queue", "ro")
    before = store_cli(web_store, "list", "--json", "--limit", "1000").stdout
    server = Dashboard("--readonly", env={"QUEUECTL_DB": str(web_store)})
    try:
        tab = _open_dlq(browser, server.url)
        tab.wait_for("doomed-2")
        for key in ("r", "R", "x"):  # retry, retry all, delete
            tab.page.keyboard.press(key)
        tab.press("?")  # keys are handled in order: once the help is drawn, those were too
        tab.wait_for("read-only: actions are off")
        tab.close()
    finally:
        server.stop()
    assert store_cli(web_store, "list", "--json", "--limit", "1000").stdout == before
    assert _state(web_store, "doomed-2") == "dead"


def test_bound_to_every_interface_it_works_from_the_machines_address(browser, web_store):
    """The page names the address the browser used (here 127.0.0.2), never ws://0.0.0.0."""
    server = Dashboard("--host", "0.0.0.0", env={"QUEUECTL_DB": str(web_store)})
    try:
        tab = Tab(browser, f"http://127.0.0.2:{server.port}/?token={server.token}")
        tab.wait_for("hello-web")
        assert tab.page.url == f"http://127.0.0.2:{server.port}/"
        tab.close()
    finally:
        server.stop()
