"""Issue 22 in the dashboard: a schedule whose tick failed shows `error` and the reason; p
resumes it and clears the error."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import DataTable, Static

from queuectl import store

from .conftest import T0, keys_of, settle


def _text(renderable) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_a_schedule_paused_by_an_error_shows_it_and_p_clears_it(ops_seeded, make_app):
    store.add_schedule("orphan", "*/15 * * * *", {"command": "true", "depends_on": ["mail-1"]})
    store.cancel("mail-1")
    store.delete_job("mail-1")
    ops_seeded.t = T0 + 901
    assert store.run_due_schedules().failed == {
        "orphan": "job 'orphan@2026-01-15T10:15:00Z' depends on 'mail-1', which does not exist"
    }
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("8")
        await settle(pilot)
        table = app.query_one("#schedules-table", DataTable)
        assert keys_of(table) == ["cleanup-tmp", "hourly-report", "nightly-backup", "orphan"]
        assert str(table.get_cell("orphan", "STATE")) == "error"
        assert "(1 by an error)" in str(app.query_one("#schedules-status", Static).content)
        await pilot.press("down", "down", "down")
        await settle(pilot)
        detail = _text(app.query_one("#schedules-detail", Static).content)
        assert "error job 'orphan@2026-01-15T10:15:00Z' depends on 'mail-1', which does not exist" in detail
        assert "paused by this error: z resumes once it is fixed" in detail
        await pilot.press("z")
        await settle(pilot)
        assert (store.get_schedule("orphan").paused, store.get_schedule("orphan").last_error) == (False, None)
        assert str(table.get_cell("orphan", "STATE")) == "active"
