"""What hostile testing found in the dashboard: a read-only dashboard that still wrote files, and
data (commands, host names) read as Rich markup."""
from __future__ import annotations

import os
import stat

from .conftest import settle


async def test_readonly_takes_no_screenshot(opened, make_app):
    """--readonly: the palette offers no Screenshot, and the action is refused: no file appears."""
    app = make_app(readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "Screenshot" not in [c.title for c in app.get_system_commands(app.screen)]
        before = set(app.screenshot_folder.iterdir())
        app.action_screenshot()
        await pilot.pause()
        assert set(app.screenshot_folder.iterdir()) == before
        assert any("read-only" in n.message for n in app._notifications)


async def test_a_screenshot_is_readable_by_its_owner_only(opened, make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shot = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        shot.callback()
        await pilot.pause()
        saved = [n.message.removeprefix("screenshot saved: ") for n in app._notifications
                 if n.message.startswith("screenshot saved: ")]  # fmt: skip
        assert len(saved) == 1
        with open(saved[0], encoding="utf-8") as svg:
            assert svg.read().startswith("<svg")
        assert stat.S_IMODE(os.stat(saved[0]).st_mode) == 0o600
