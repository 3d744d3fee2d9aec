"""DLQ, Logs, Metrics, Workers and Config panes: each action, checked in the store afterwards."""

from __future__ import annotations

import time

from conftest import claim_one
from queuectl.tui.widgets.log_view import LogView
from textual.widgets import DataTable, Input

from queuectl import store
from queuectl.errors import NotFound
from queuectl.spec import JobSpec

from .conftest import keys_of, settle


async def test_dlq_retry_one(seeded, make_app):
    """2 then r: the selected dead job is pending again, attempts reset."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert keys_of(app.query_one("#dlq-table", DataTable)) == ["sync-db-2", "sync-db", "report"]
        await pilot.press("down", "r")
        await settle(pilot)
        job = store.get_job("sync-db")
        assert (job.state, job.attempts) == ("pending", 0)
        assert store.get_job("report").state == "dead"
        assert keys_of(app.query_one("#dlq-table", DataTable)) == ["sync-db-2", "report"]


async def test_dlq_retry_all_confirms(seeded, make_app):
    """A asks first (esc: nothing happens), then y retries every dead job."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("A")
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
        assert store.counts()["dead"] == 3
        await pilot.press("A")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.counts()["dead"] == 0
        assert "queuectl dlq retry --all" in app.commands


async def test_dlq_delete_confirms(seeded, make_app):
    """x deletes the selected dead job after a confirm."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        try:
            store.get_job("sync-db-2")
            raise AssertionError("still there")
        except NotFound:
            pass
        assert store.counts()["dead"] == 2


async def test_logs_pane_shows_both_streams_and_filters(seeded, make_app):
    """3 shows the selected job's stdout and stderr; & keeps matching lines only, esc shows all."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        await pilot.press("down", "down")  # report
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        out = app.query_one("#log-out", LogView)
        err = app.query_one("#log-err", LogView)
        assert out.lines == ["collecting rows"]
        assert err.lines == ["report.sh: cannot open 'rows.csv'"]
        await pilot.press("ampersand")
        app.query_one("#logs-search", Input).value = "nothing-like-this"
        await pilot.press("enter")
        await settle(pilot)
        assert (out.shown_count, err.shown_count) == (0, 0)
        assert "&nothing-like-this  0 lines" in str(app.query_one("#logs-find").render())
        await pilot.press("escape")
        await settle(pilot)
        assert (out.shown_count, err.shown_count) == (1, 1)


async def test_logs_tail_of_a_huge_log(opened, make_app):
    """A 3 MB log: only its tail is loaded, and the pane says so."""
    from queuectl.tui.panes.logs import TAIL_BYTES

    store.enqueue([JobSpec("big", id="big")])
    claim = claim_one("w", "h")
    stdout, stderr = store.attempt_paths(store.location().logs_dir, "big", claim.attempt)
    stdout.parent.mkdir(parents=True, exist_ok=True)
    stdout.write_text("".join(f"line {i}\n" for i in range(300_000)))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.show_logs("big")
        await settle(pilot)
        pane = app.query_one("#logs-pane")
        lines = pane._lines[0]
        assert lines[-1] == "line 299999" and int(lines[0].split()[1]) > 250_000
        assert sum(len(x) + 1 for x in lines) < TAIL_BYTES + 100
        assert "only the last" in str(app.query_one("#log-out").border_title)


async def test_logs_follow_a_running_job(opened, make_app):
    """Lines appended to a running attempt's log appear without any key press."""
    store.enqueue([JobSpec("slow", id="slow")])
    claim = claim_one("w", "h")
    stdout, _ = store.attempt_paths(store.location().logs_dir, "slow", claim.attempt)
    stdout.parent.mkdir(parents=True, exist_ok=True)
    stdout.write_text("first\n")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.show_logs("slow")
        await settle(pilot)
        with stdout.open("a") as f:
            f.write("second\npartial")
        await pilot.pause(1.2)
        await settle(pilot)
        assert app.query_one("#logs-pane")._lines[0][-2:] == ["first", "second"]


async def test_metrics_pane(seeded, make_app):
    """4 shows the counts and figures, and charts of the last hour (the seeded jobs' span) with
    labelled axes."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        pane = app.query_one("#metrics-pane")
        series = pane.series
        assert len(series.completed) == 60 and sum(series.completed) == 12
        assert sum(series.failed) == 4  # 3 dead, 1 waiting for its retry
        assert max(v for v in series.runtime_p95 if v is not None) == 6.0  # build-04's 2 + 4 s
        assert any(v is not None for v in series.wait_p50)
        figures = plain(app.query_one("#metrics-counts").content)
        assert "80.0%" in figures  # 12 completed, 3 dead
        for chart in ("#metrics-throughput", "#metrics-wait", "#metrics-runtime"):
            drawn = plain(app.query_one(chart).render())
            assert "-45m" in drawn and "now" in drawn, chart
        assert "6s" in plain(app.query_one("#metrics-runtime").render())


async def test_config_saved_and_bad_values_refused(seeded, make_app):
    """6: a bad value is shown inline and nothing is saved; a good one reaches the store."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        retries = app.query_one("#set-max_retries", Input)
        assert retries.value == "3"
        retries.value = "5"
        app.query_one("#set-lease_seconds", Input).value = "1"  # below its minimum
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.query_one("#err-lease_seconds").display
        assert store.get_config()["max_retries"] == 3
        app.query_one("#set-lease_seconds", Input).value = "45"
        await pilot.press("ctrl+s")
        await settle(pilot)
        cfg = store.get_config()
        assert (cfg["max_retries"], cfg["lease_seconds"]) == (5, 45)
        assert "queuectl config set max_retries 5" in app.commands


async def test_help_and_command_log(seeded, make_app):
    """? lists the bindings of every pane; @ lists the CLI equivalents of what was done."""
    from queuectl.tui.screens.help import CommandLogScreen, HelpScreen

    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "at")
        assert isinstance(app.screen, CommandLogScreen)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_panes_by_number_and_tab(seeded, make_app):
    """1-8 and tab/shift+tab reach every pane."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(8):
            seen.append(app.active_tab)
            await pilot.press("tab")
        assert seen == ["jobs", "dlq", "logs", "metrics", "workers", "config", "queues", "schedules"]
        assert app.active_tab == "jobs"
        await pilot.press("shift+tab")
        assert app.active_tab == "schedules"
        await pilot.press("4")
        assert app.active_tab == "metrics"


def plain(renderable) -> str:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=100)
    console.print(renderable)
    return console.file.getvalue()


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


async def test_worker_started_here_claims_a_job_and_cancel_kills_it(opened, make_app):
    """5 then +: a real worker subprocess claims a job; c + y in Jobs cancels it; quitting stops
    the worker gracefully."""
    store.enqueue([JobSpec("sleep 30", id="long")])
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5", "plus")
        await pilot.pause()
        assert len(app.local_workers.running()) == 1
        assert _wait(lambda: store.get_job("long").state == "processing")
        await pilot.pause(1.2)
        await settle(pilot)
        assert "long" in [str(c) for c in app.query_one("#workers-table", DataTable).get_column_at(5)]
        assert _wait(lambda: store.attempts("long")[-1].pgid)  # its heartbeat named the group
        pgid = store.attempts("long")[-1].pgid
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.get_job("long").state == "cancelled"
        assert _wait(lambda: _group_gone(pgid), 10)  # the command's process group is gone
        # q with a worker running asks; y stops it gracefully and the app exits once it has
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(100):
            await pilot.pause(0.1)
            if not app.is_running:
                break
    assert not app.local_workers.running()


def _group_gone(pgid: int) -> bool:
    import os

    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_stop_all_workers_asks_the_store(seeded, make_app):
    """S in Workers asks every registered worker to stop (after a confirm)."""
    from queuectl.models import Worker

    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("S")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert Worker.get_by_id("host-a.100.aaaaaa").stop_requested


async def test_palette_jumps_to_a_job_and_retries_all_dead(seeded, make_app):
    """ctrl+p: typing part of a job id offers to open it; "retry all dead" asks, then does it."""
    from queuectl.tui.screens.confirm import ConfirmScreen
    from queuectl.tui.screens.job_detail import JobDetailScreen
    from textual.command import CommandPalette

    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"nightly-et")
        await pilot.pause(0.6)
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen) and app.screen.job_id == "nightly-etl"
        await pilot.press("escape", "colon")
        await pilot.pause()
        await pilot.press(*"retry all dead")
        await pilot.pause(0.6)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert store.counts()["dead"] == 0


async def test_workers_are_grouped_by_host_and_H_stops_one_host_after_asking(seeded, make_app):
    """The Workers pane shows each host's row above its workers; H on it asks, then stops that host."""
    from queuectl.models import Worker

    store.register_worker("host-b.200.bbbbbb", "host-b", 200, None, slots=4)
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        table = app.query_one("#workers-table", DataTable)
        assert keys_of(table) == ["host:host-a", "host-a.100.aaaaaa", "host:host-b", "host-b.200.bbbbbb"]
        await pilot.press("down", "down", "H")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert Worker.get_by_id("host-b.200.bbbbbb").stop_requested
        assert not Worker.get_by_id("host-a.100.aaaaaa").stop_requested
        assert "queuectl worker stop --host host-b" in app.commands
