"""Issue 25 in a real Chromium: keys work right after sign-in with no click (the terminal has the
focus), and closing a tab whose dashboard started a worker asks first (the worker stops with the
tab: README, "Web dashboard")."""

from __future__ import annotations

from .conftest import Dashboard
from .test_browser import Tab, browser  # noqa: F401  (the fixture)


def test_a_key_typed_right_after_sign_in_reaches_the_dashboard(browser, dashboard):  # noqa: F811
    tab = Tab(browser, dashboard.url)
    try:
        tab.wait_for("hello-web")
        assert tab.page.evaluate("document.activeElement.tagName") == "TEXTAREA"  # xterm's input
        tab.press("2")  # no click anywhere
        tab.wait_for("doomed")  # the DLQ
    finally:
        tab.close()


def test_closing_a_tab_with_its_worker_running_asks_first(browser, web_store):  # noqa: F811
    server = Dashboard(env={"QUEUECTL_DB": str(web_store)})
    try:
        tab = Tab(browser, server.url)
        tab.wait_for("hello-web")
        asked: list[str] = []

        def answer(dialog) -> None:
            asked.append(dialog.type)
            dialog.dismiss()  # stay

        tab.page.on("dialog", answer)
        with tab.page.expect_event("close", timeout=10_000):
            tab.page.close(run_before_unload=True)  # no worker yet: closes without a word
        assert asked == []

        tab = Tab(browser, server.url)
        tab.wait_for("hello-web")
        tab.page.on("dialog", answer)
        tab.press("5")
        tab.wait_for("No workers")
        tab.press("+")
        tab.wait_for("started worker-1")
        tab.page.wait_for_timeout(300)
        tab.page.close(run_before_unload=True)
        for _ in range(50):
            if asked:
                break
            tab.page.wait_for_timeout(100)
        assert asked == ["beforeunload"] and not tab.page.is_closed()
        tab.close()
    finally:
        server.stop()
