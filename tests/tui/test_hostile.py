"""What hostile testing found in the dashboard: a read-only dashboard that still wrote files, and
data (commands, host names) read as Rich markup."""

from __future__ import annotations

import os
import stat

from conftest import claim_one, finish_one
from queuectl.tui.widgets.job_preview import JobPreview

from queuectl import store
from queuectl.spec import JobSpec

from .conftest import settle


async def test_readonly_takes_no_screenshot(opened, make_app):
    """--readonly: the palette offers no Screenshot, and the action is refused: no file appears."""
    app = make_app(readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "app: screenshot" not in [c.title for c in app.get_system_commands(app.screen)]
        before = set(app.screenshot_folder.iterdir())
        app.action_screenshot()
        await pilot.pause()
        assert set(app.screenshot_folder.iterdir()) == before
        assert any("read-only" in n.message for n in app._notifications)


async def test_a_screenshot_is_readable_by_its_owner_only(opened, make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shot = next(c for c in app.get_system_commands(app.screen) if c.title == "app: screenshot")
        shot.callback()
        await pilot.pause()
        saved = [
            n.message.removeprefix("screenshot saved: ")
            for n in app._notifications
            if n.message.startswith("screenshot saved: ")
        ]
        assert len(saved) == 1
        with open(saved[0], encoding="utf-8") as svg:
            assert svg.read().startswith("<svg")
        assert stat.S_IMODE(os.stat(saved[0]).st_mode) == 0o600


async def test_notifications_and_titles_show_data_as_typed(opened, make_app):
    """A toast (whoever raises it) and the output preview's title, holding text that reads as
    markup: shown as typed, never parsed (`[/var/log]` failed to render, `[i]` vanished)."""
    from textual.widgets._toast import Toast

    store.enqueue([JobSpec("true", id="odd", max_retries=0)])
    claim = claim_one("w.1.abcdef", "h")
    finish_one(claim, "w.1.abcdef", "exited [/var/log] [i]x", 3)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert str(app.query_one(JobPreview).border_title) == "odd · attempt 1 · exited \\[/var/log] \\[i]x"
        app.notify("Not done: no worker '[/var/log]' [i]x")
        app.pane().notify("[/etc] [b]y")
        await settle(pilot)
        shown = [str(Toast(n).render()) for n in app._notifications]  # (what each toast draws)
        assert "Not done: no worker '[/var/log]' [i]x" in shown and "[/etc] [b]y" in shown
