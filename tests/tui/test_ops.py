"""Issues 7 and 8 in the dashboard: dependencies, wait, retry of any finished job, queues,
schedules and the grouped DLQ; every action checked in the store afterwards."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from queuectl import store

from .conftest import keys_of, settle


async def _until(pilot, check, rounds: int = 40) -> None:
    for _ in range(rounds):
        await settle(pilot, rounds=1)
        if check():
            return
    assert check()


def _cell_text(table: DataTable, key: str, column: str) -> str:
    return str(table.get_cell(key, column))


async def test_blocked_jobs_show_what_they_wait_for(ops_seeded, make_app):
    """B filters to blocked jobs; each row names the unfinished dependencies it waits for."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("B")
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        assert keys_of(table) == ["deploy", "load"]
        assert "(waits for build-42, load)" in _cell_text(table, "deploy", "command")
        assert "(waits for build-42)" in _cell_text(table, "load", "command")


async def test_retry_a_completed_job(ops_seeded, make_app):
    """r on a completed job runs it again (store.retry); on a pending one it is refused."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        assert app.query_one("#jobs-pane").selected_id == "build-11"
        await pilot.press("r")
        await settle(pilot)
        job = store.get_job("build-11")
        assert (job.state, job.attempts) == ("pending", 0)
        assert len(store.attempts("build-11")) == 1  # history kept
        assert "queuectl retry build-11" in app.commands
        await pilot.press("a")
        await settle(pilot)
        first = app.query_one("#jobs-pane").selected_id  # the newest job: pending
        await pilot.press("r")
        await settle(pilot)
        assert store.get_job(first).state == "pending"
        assert any("only finished jobs" in n.message for n in app._notifications)


async def test_wait_shows_a_live_state_line_until_the_job_ends(ops_seeded, make_app):
    """w on a job: its state, live; when it ends the line says how; esc leaves."""
    from queuectl.tui.screens.wait import WaitScreen

    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        job_id = app.query_one("#jobs-pane").selected_id  # the newest job: pending
        assert store.get_job(job_id).state == "pending"
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WaitScreen)
        line = lambda: str(screen.query_one("#wait-line", Static).content)  # noqa: E731
        await _until(pilot, lambda: "is pending" in line())
        store.cancel(job_id)
        await _until(pilot, lambda: "ended cancelled" in line())
        assert screen.ended == "cancelled"
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_wait_names_the_dependencies_of_a_blocked_job(ops_seeded, make_app):
    from queuectl.tui.screens.wait import WaitScreen

    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("B")
        await settle(pilot)
        await pilot.press("w")  # deploy
        await settle(pilot)
        assert isinstance(app.screen, WaitScreen)
        note = lambda: str(app.screen.query_one("#wait-note", Static).content)  # noqa: E731
        await _until(pilot, lambda: "waits for build-42 (pending), load (blocked)" in note())


async def test_job_view_lists_links_and_jumps_between_them(ops_seeded, make_app):
    """enter on `load`: it needs build-42 and is needed by deploy; enter jumps, backspace goes back."""
    from queuectl.tui.screens.job_detail import JobDetailScreen

    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("B", "down")
        await settle(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobDetailScreen) and screen.job_id == "load"
        links = screen.query_one("#detail-links", DataTable)
        await _until(pilot, lambda: links.row_count == 2)
        assert keys_of(links) == ["needs:build-42", "needed by:deploy"]
        assert links.has_focus
        await pilot.press("enter")
        await _until(pilot, lambda: keys_of(links) == ["needed by:load", "needed by:deploy"])
        assert screen.job_id == "build-42"
        await pilot.press("backspace")
        await _until(pilot, lambda: keys_of(links) == ["needs:build-42", "needed by:deploy"])
        assert screen.job_id == "load"


async def test_new_job_with_queue_and_dependencies(ops_seeded, make_app):
    """The form takes a queue and depends_on; an unknown dependency is refused on its field."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#f-command", Input).value = "echo after"
        screen.query_one("#f-id", Input).value = "after-1"
        screen.query_one("#f-queue", Input).value = "email"
        screen.query_one("#f-depends_on", Input).value = "mail-1, nope"
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: screen.query_one("#e-depends_on").display)
        screen.query_one("#f-depends_on", Input).value = "mail-1 build-42"
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: app.screen is not screen)
        job = store.get_job("after-1")
        assert (job.queue, job.state) == ("email", "blocked")
        assert [j.id for j in store.linked_jobs("after-1")[0]] == ["build-42", "mail-1"]


async def test_queues_pause_resume_and_limit(ops_seeded, make_app):
    """7: z asks, then pauses; z again resumes; L refuses bad values, sets 3, then none."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        table = app.query_one("#queues-table", DataTable)
        assert keys_of(table) == ["default", "deploys", "email", "reports"]
        paused = lambda name: next(q for q in store.list_queues() if q.name == name).paused  # noqa: E731
        limit = lambda name: next(q for q in store.list_queues() if q.name == name).max_running  # noqa: E731
        await pilot.press("down", "down", "z")  # email
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert paused("email")
        assert "queuectl queue pause email" in app.commands
        await pilot.press("z")
        await settle(pilot)
        assert not paused("email")
        await pilot.press("L")
        await pilot.pause()
        field = app.screen.query_one("#f-limit", Input)
        assert field.value == "none"
        for bad in ("0", "-1", "lots", "100001"):
            field.value = bad
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen.query_one("#e-limit").display, bad
        field.value = "3"
        await pilot.press("enter")
        await settle(pilot)
        assert limit("email") == 3
        await pilot.press("L")
        await pilot.pause()
        assert app.screen.query_one("#f-limit", Input).value == "3"
        app.screen.query_one("#f-limit", Input).value = "none"
        await pilot.press("enter")
        await settle(pilot)
        assert limit("email") is None
        assert "queuectl queue limit email none" in app.commands


async def test_schedules_pause_run_now_and_remove(ops_seeded, make_app):
    """8: z resumes the paused schedule, t enqueues one job now, x removes after a confirm."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("8")
        await settle(pilot)
        table = app.query_one("#schedules-table", DataTable)
        assert keys_of(table) == ["cleanup-tmp", "hourly-report", "nightly-backup"]
        await pilot.press("z")
        await settle(pilot)
        assert not store.get_schedule("cleanup-tmp").paused
        await pilot.press("z")
        await settle(pilot)
        assert store.get_schedule("cleanup-tmp").paused
        await pilot.press("down", "down", "t")  # nightly-backup
        await settle(pilot)
        assert store.get_job("nightly-backup@2026-01-15T10:00:00Z").command == "backup.sh --full"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        assert store.get_schedule("nightly-backup")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert [s.name for s in store.list_schedules()] == ["cleanup-tmp", "hourly-report"]
        assert keys_of(table) == ["cleanup-tmp", "hourly-report"]


async def test_dlq_grouped_view_retries_one_group(ops_seeded, make_app):
    """2 v: one row per exit code and error; r on the largest group asks with its count, y retries it."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        groups = app.query_one("#dlq-groups", DataTable)
        assert groups.row_count == 3 and groups.has_focus
        assert str(groups.get_cell_at((0, 0))) == "3"
        await pilot.press("r")
        await settle(pilot)
        assert "Retry 3 dead jobs?" in str(app.screen.query_one("#confirm").border_title)
        await pilot.press("y")
        await settle(pilot)
        assert [store.get_job(i).state for i in ("report", "report-daily", "report-monthly")] == ["pending"] * 3
        assert store.counts()["dead"] == 2
        await _until(pilot, lambda: groups.row_count == 2)
        await pilot.press("v")
        await settle(pilot)
        assert keys_of(app.query_one("#dlq-table", DataTable)) == ["sync-db-2", "sync-db"]


async def test_readonly_hides_queue_and_schedule_actions(ops_seeded, make_app):
    app = make_app(clock=ops_seeded, readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        await pilot.press("z", "L")
        await pilot.press("8")
        await settle(pilot)
        await pilot.press("z", "t", "x")
        await settle(pilot)
        assert not any(q.paused for q in store.list_queues() if q.name == "default")
        assert len(store.list_schedules()) == 3
        assert app.screen is app.screen_stack[0]
