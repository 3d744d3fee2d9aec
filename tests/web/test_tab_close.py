"""A browser tab that closes ends its dashboard process cleanly: what that process prints as it
ends reaches the server's output (textual-serve copies it there), and nothing in it is an error."""
from __future__ import annotations

import os
import select
import time

from .conftest import Dashboard
from .test_browser import Tab, browser  # noqa: F401  (the fixture)

FINISHING = b"1 worker(s) started by the dashboard are finishing their current job and will then exit."


def test_a_closed_tab_ends_its_dashboard_without_an_error(browser, web_store):  # noqa: F811
    """The tab starts a worker (5, +), so that its dashboard has something to say as it ends."""
    server = Dashboard(env={"QUEUECTL_DB": str(web_store), "PYTHONUNBUFFERED": "1"})
    output = b""
    try:
        tab = Tab(browser, server.url)
        tab.wait_for("hello-web")
        tab.page.locator("canvas").first.wait_for()
        tab.page.click("body")  # keyboard focus in the terminal
        tab.press("5")
        tab.wait_for("No workers")
        tab.press("+")
        tab.wait_for("started worker-1")
        tab.close()
        deadline = time.monotonic() + 30
        while FINISHING not in output and time.monotonic() < deadline:
            if select.select([server.proc.stdout], [], [], 0.2)[0]:
                output += os.read(server.proc.stdout.fileno(), 65536)
    finally:
        server.stop()
    output += server.stderr + server.proc.stdout.read() + server.proc.stderr.read()
    text = output.decode(errors="replace")
    assert FINISHING.decode() in text
    assert "internal error" not in text and "Error" not in text and "Traceback" not in text, text
