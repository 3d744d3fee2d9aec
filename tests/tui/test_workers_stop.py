"""The Workers pane's `-`: the selected worker and no other, `stopping` until it has stopped, and
`-` again on it stops it now (after a confirm)."""

from __future__ import annotations

from conftest import claim_one, wait_for
from queuectl.tui.screens.confirm import ConfirmScreen
from textual.widgets import DataTable

from queuectl import store
from queuectl.models import Worker
from queuectl.spec import JobSpec

from .conftest import keys_of, settle

OTHER = "elsewhere.4242.abcdef"  # a worker started outside this dashboard (another host)


def _state_cell(table: DataTable, key: str) -> str:
    return str(table.get_cell(key, "STATE"))


async def _select(pilot, table: DataTable, key: str) -> None:
    table.move_cursor(row=keys_of(table).index(key))
    await pilot.pause()


async def test_minus_stops_the_selected_worker_only_and_again_stops_it_now(opened, make_app):
    """With a worker of the dashboard's own running, - on another host's worker asks that one
    (through the store; the dashboard's own is left alone), the row reads stopping and the
    toast names it as the row does; - again asks, then kills its job (retried)."""
    store.enqueue([JobSpec("sleep 600", id="theirs")])
    store.register_worker(OTHER, "elsewhere", 4242, None)
    claim = claim_one(OTHER, "elsewhere")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5", "plus")
        await pilot.pause()
        ours = app.local_workers.running()[0]
        table = app.query_one("#workers-table", DataTable)
        wait_for(lambda: Worker.get_or_none(Worker.id == ours.id) is not None)
        store.heartbeat(OTHER, [claim])  # (a fake worker: it beats when the test says)
        app.pane().reload()
        await settle(pilot)
        assert ours.id in keys_of(table) and OTHER in keys_of(table)
        await _select(pilot, table, OTHER)
        await pilot.press("minus")
        await settle(pilot)
        assert Worker.get_by_id(OTHER).stop_requested
        assert not Worker.get_by_id(ours.id).stop_requested and not ours.signalled
        assert _state_cell(table, OTHER) == "stopping"
        assert keys_of(table)[table.cursor_row] == OTHER  # the wider STATE column kept the cursor
        assert any(n.message.startswith(f"stopping {OTHER}:") for n in app._notifications)
        assert app.commands[-1] == f"queuectl worker stop --id {OTHER}"
        assert store.get_job("theirs").state == "processing"  # it is let finish
        store.heartbeat(OTHER, [claim])
        assert Worker.get_by_id(OTHER).state == "stopping"  # its heartbeats keep it so
        await pilot.press("minus")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.query_one("#no").has_focus
        await pilot.press("y")
        await settle(pilot)
        job = store.get_job("theirs")
        assert (job.state, job.last_error) == ("failed", "killed: its worker was stopped")
        assert app.commands[-1] == f"queuectl worker stop --id {OTHER} --now"
        assert ours.proc.poll() is None and not ours.signalled  # ours still runs
        await _select(pilot, table, ours.id)
        await pilot.press("minus")
        await settle(pilot)
        assert ours.signalled == 1 and app.commands[-1] == f"queuectl worker stop --id {ours.id}"
        assert ours.proc.wait(20) == 0
        assert not [n for n in app._notifications if n.severity == "error"]  # (idle: gone before it was asked)


async def test_minus_on_a_host_row_stops_nothing(seeded, make_app):
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        table = app.query_one("#workers-table", DataTable)
        assert keys_of(table)[table.cursor_row] == "host:host-a"
        await pilot.press("minus")
        await settle(pilot)
        assert not Worker.get_by_id("host-a.100.aaaaaa").stop_requested
        assert any("select a worker's row first" in n.message for n in app._notifications)
