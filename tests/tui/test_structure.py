"""How the dashboard is put together: requests up to one actions module (which alone knows
read-only), filters as reactives, rows updated in place."""

from __future__ import annotations

import re
from pathlib import Path

from queuectl.tui.actions import WRITES
from queuectl.tui.messages import ActionRequested
from textual.widgets import DataTable

from queuectl import store

from .conftest import keys_of, settle

TUI = Path(__file__).resolve().parents[2] / "tui"
#: what a pane may still use of the app: data it reads, and Textual's own services
APP_READS = {
    "readonly",
    "current_theme",
    "batch_update",
    "post_message",
    "copy_to_clipboard",
    "focused",
    "active_tab",
    "paused",
    "call_from_thread",
    "size",
    "console",  # (the Rich console a widget renders text with: LogView draws its rows)
}


def test_panes_and_screens_call_no_app_methods():
    """Data down, messages up: a pane posts ActionRequested instead of calling the app."""
    for folder in ("panes", "screens", "widgets"):
        for path in sorted((TUI / folder).glob("*.py")):
            used = set(re.findall(r"self\.app\.(\w+)", path.read_text()))
            assert used <= APP_READS, f"{path.name} uses app.{sorted(used - APP_READS)[0]}"


async def test_read_only_refuses_every_write_request(seeded, make_app):
    """A request that writes, however it arrives, is refused in one place."""
    app = make_app(clock=seeded, readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.post_message(ActionRequested("retry_dead", (["report"],)))
        app.post_message(ActionRequested("cancel", (["build-42"], [])))
        app.post_message(ActionRequested("start_worker"))
        await settle(pilot)
        assert store.get_job("report").state == "dead"
        assert app.screen is app.screen_stack[0]  # no confirmation was even asked
        assert not app.local_workers.running()
        refused = [n.message for n in app._notifications if "read-only" in n.message]
        assert len(refused) == 3
    assert {"retry", "cancel", "delete", "priority", "start_worker", "save_config"} <= WRITES


async def test_filters_are_reactive(seeded, make_app):
    """Setting a filter attribute reloads the first page: no restart() to remember."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        pane = app.query_one("#jobs-pane")
        pane.state = "dead"
        await settle(pilot)
        assert keys_of(app.query_one("#jobs-table", DataTable)) == ["sync-db-2", "sync-db", "report"]
        pane.search = "sync"
        await settle(pilot)
        assert keys_of(app.query_one("#jobs-table", DataTable)) == ["sync-db-2", "sync-db"]
        pane.sort = ("created", False)
        await settle(pilot)
        assert keys_of(app.query_one("#jobs-table", DataTable)) == ["sync-db", "sync-db-2"]


async def test_a_change_the_header_sees_reloads_the_idle_pane_at_once(seeded, make_app):
    """The header and the pane on screen agree within one header refresh: an idle pane, asked
    only every 4th tick, is reloaded as soon as the header's counts change."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        pane = app.query_one("#dlq-list")
        await settle(pilot)
        app.paused = True  # no timer ticks: only the reloads the test causes
        for _ in range(3):
            pane.reload()
            await settle(pilot)
        assert pane._idle_every == pane.MAX_IDLE_TICKS
        table = app.query_one("#dlq-table", DataTable)
        assert "report" in keys_of(table)
        store.delete_job("report")  # from outside the dashboard
        app.paused = False
        app.refresh_status()
        await settle(pilot)
        assert "report" not in keys_of(table)


async def test_workers_pane_updates_rows_in_place(seeded, make_app):
    """A refresh that changes a heartbeat rewrites that cell, not the table."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        table = app.query_one("#workers-table", DataTable)
        cleared = []
        original = table.clear
        table.clear = lambda *a, **k: (cleared.append(1), original(*a, **k))[1]
        seeded.t += 1
        app.query_one("#workers-pane").reload()
        await settle(pilot)
        assert "2.0s ago" in [str(c) for c in table.get_column_at(6)]
        assert not cleared


async def test_an_idle_pane_refreshes_less_often(seeded, make_app):
    """Nothing changes: the Queues pane asks every 2nd, then 4th tick; a change: every tick again."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        pane = app.query_one("#queues-pane")
        await settle(pilot)
        app.paused = True  # only the reloads below: a timer tick during a slow settle would add one
        for _ in range(3):
            pane.reload()
            await settle(pilot)
        assert pane._idle_every == pane.MAX_IDLE_TICKS == 4
        store.pause_queue("default")
        pane.reload()
        await settle(pilot)
        assert pane._idle_every == 1
