"""A browser tab that closes ends its dashboard process, and the worker started in it, and the
server logs no error for it.  (What the process prints as it ends reaches the server's output
only when textual-serve reads it before it stops reading the process: the exit status and that
line are checked deterministically in tests/test_seams_tui.py::test_a_web_tab_that_closes_ends_
its_dashboard_cleanly.)"""

from __future__ import annotations

import os
import select
import time

from queuectl.execution.reaper import descendants

from .conftest import Dashboard
from .test_browser import Tab, browser  # noqa: F401  (the fixture)


def test_a_closed_tab_leaves_no_process_and_logs_no_error(browser, web_store):  # noqa: F811
    server = Dashboard(env={"QUEUECTL_DB": str(web_store), "PYTHONUNBUFFERED": "1"})
    try:
        tab = Tab(browser, server.url)
        tab.wait_for("hello-web")
        tab.page.locator("canvas").first.wait_for()
        tab.page.click("body")  # keyboard focus in the terminal
        tab.press("5")
        tab.wait_for("No workers")
        tab.press("+")
        tab.wait_for("started worker-1")
        assert len(descendants(server.proc.pid)) >= 2  # the tab's dashboard and its worker
        tab.close()
        deadline = time.monotonic() + 60
        while descendants(server.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not descendants(server.proc.pid), "the closed tab's dashboard or its worker still runs"
        output = server.stderr + _drain(server.proc.stdout) + _drain(server.proc.stderr)  # (not its own stop)
    finally:
        server.stop()
    text = output.decode(errors="replace")
    assert "internal error" not in text and "Error" not in text and "Traceback" not in text, text


def _drain(pipe) -> bytes:
    got = b""
    while select.select([pipe], [], [], 0.5)[0] and (chunk := os.read(pipe.fileno(), 65536)):
        got += chunk
    return got
