"""Issue 14's dashboard items, each by keyboard, checked in the store or on screen."""

from __future__ import annotations

import json
import re
import shlex

from conftest import run_cli
from rich.console import Console
from textual.widgets import DataTable, Input, Static

from queuectl import store

from .conftest import keys_of, settle


async def _until(pilot, check, rounds: int = 40, show=lambda: None) -> None:
    for _ in range(rounds):
        await settle(pilot, rounds=1)
        await pilot.pause(0.05)  # the typed filter applies after a short pause
        if check():
            return
    assert check(), show()


def _status(app) -> str:
    return str(app.query_one("#jobs-status", Static).content)


async def test_filter_applies_as_you_type_with_terms_and_a_count(ops_seeded, make_app):
    """/ then typing: no enter needed; queue=, priority>, error~ combine; the count follows."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        field = app.query_one("#jobs-search", Input)
        field.value = "error~code priority<1"
        table = app.query_one("#jobs-table", DataTable)
        matched = ["report-monthly", "report-daily", "flaky", "sync-db-2", "report"]
        await _until(pilot, lambda: keys_of(table) == matched, show=lambda: keys_of(table))
        assert "5 jobs" in _status(app) and field.has_focus
        field.value = "queue=reports error~code"
        await _until(pilot, lambda: keys_of(table) == ["report-monthly", "report-daily"], show=lambda: keys_of(table))
        field.value = "priority>1"
        await _until(
            pilot,
            lambda: set(keys_of(table)) == {"build-42", "nightly-etl", "build-02", "build-05", "build-08", "build-11"},
            show=lambda: keys_of(table),
        )
        field.value = "host=host-a state=completed build-0"
        await _until(pilot, lambda: len(keys_of(table)) == 10, show=lambda: keys_of(table))
        field.value = "priority>x"
        await _until(pilot, lambda: "priority> takes a whole number" in _status(app))
        assert len(keys_of(table)) == 10  # a bad term leaves the last good filter in place


async def test_a_status_tick_while_the_app_closes_is_ignored(opened, make_app):
    """The header's timer can fire after the last screen is gone (the app closing): that tick
    shows nothing and must not stop the app with an error (found by a full run of the suite)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    assert not app.screen_stack
    app._status_tick()
    app.refresh_status()


async def test_enter_on_a_queue_opens_its_jobs(ops_seeded, make_app):
    """7, then enter on `email`: the Jobs pane with queue=email; a paused queue's jobs say so."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        queues = app.query_one("#queues-table", DataTable)
        queues.move_cursor(row=keys_of(queues).index("email"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.active_tab == "jobs"
        table = app.query_one("#jobs-table", DataTable)
        await _until(pilot, lambda: keys_of(table) == ["mail-1"])
        assert app.query_one("#jobs-search", Input).value == "queue=email"
        app.query_one("#jobs-pane").show_queue("reports")
        await _until(pilot, lambda: "hourly" in " ".join(keys_of(table)) or len(keys_of(table)) == 3)
        pending = [k for k in keys_of(table) if store.get_job(k).state == "pending"]
        assert pending and "(queue reports paused)" in str(table.get_cell(pending[0], "command"))


async def test_command_log_holds_real_commands(ops_seeded, make_app):
    """Priority, delete and a new job are logged as commands that do the same thing."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.request("priority", ["mail-1"], 0)
        await settle(pilot)
        app.screen.query_one(Input).value = "-3"
        await pilot.press("enter")
        await _until(pilot, lambda: store.get_job("mail-1").priority == -3)
        app.request("delete", ["report-daily"])
        await settle(pilot)
        await pilot.press("y")
        await _until(pilot, lambda: "report-daily" not in store.states_of(["report-daily"]))
        app.request("new_job")
        await settle(pilot)
        app.screen.query_one("#f-command", Input).value = "echo 'it''s'"
        app.screen.query_one("#f-id", Input).value = "logged-1"
        app.screen.query_one("#f-queue", Input).value = "email"
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: app.screen is app.screen_stack[0])
    assert "queuectl priority mail-1 -- -3" in app.commands
    assert "queuectl delete report-daily" in app.commands
    enqueue = next(c for c in app.commands if c.startswith("queuectl enqueue "))
    assert json.loads(shlex.split(enqueue)[2]) == {"id": "logged-1", "command": "echo 'it''s'", "queue": "email"}
    assert store.get_job("logged-1").queue == "email"


def test_priority_and_delete_verbs(opened):
    """The CLI verbs the command log names."""
    from queuectl.spec import JobSpec

    store.enqueue([JobSpec("true", id="a"), JobSpec("true", id="b")])
    assert run_cli("priority", "a", "-7").stdout == "job 'a' priority -7\n"
    assert store.get_job("a").priority == -7
    bad = run_cli("priority", "a", "high")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: priority must be an integer")
    refused = run_cli("delete", "a")
    assert refused.exit_code == 1 and "cancel it before deleting it" in refused.stderr
    store.cancel("a")
    store.cancel("b")
    assert run_cli("delete", "a", "b").stdout == "deleted job 'a'\ndeleted job 'b'\n"
    assert store.states_of(["a", "b"]) == {}


async def test_palette_quit_asks_while_workers_run_and_screenshot_goes_beside_the_store(opened, make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.request("start_worker")
        await pilot.pause()
        quit_command = next(c for c in app.get_system_commands(app.screen) if c.title == "app: quit")
        quit_command.callback()
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("escape")
        shot = next(c for c in app.get_system_commands(app.screen) if c.title == "app: screenshot")
        shot.callback()
        await pilot.pause()
        saved = [n.message for n in app._notifications if n.message.startswith("screenshot saved: ")]
        path = saved[0].removeprefix("screenshot saved: ")
        assert path.startswith(str(app.screenshot_folder)) and path.endswith(".svg")
        app.local_workers.stop_all()
        for child in app.local_workers.running():
            child.proc.wait(20)


async def test_dlq_groups_move_with_j_k_and_switch_with_v(ops_seeded, make_app):
    """v groups (g stays 'first row'); j/k move between groups; ? lists v."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "v")
        await settle(pilot)
        groups = app.query_one("#dlq-groups", DataTable)
        assert groups.display and groups.has_focus and groups.row_count == 3
        await pilot.press("j", "j")
        assert groups.cursor_row == 2
        await pilot.press("k", "g")
        assert groups.cursor_row == 0
        await pilot.press("v")
        await settle(pilot)
        assert app.query_one("#dlq-table", DataTable).has_focus
        await pilot.press("question_mark")
        await settle(pilot)
        console = Console(width=120, color_system=None)
        with console.capture() as shown:
            console.print(app.screen.query_one(Static).content)
        assert re.search(r"\bv +group the DLQ by exit code and error", shown.get())
