"""Jobs pane: listing, filters, search, paging, and the r/c/n/p actions (checked in the store)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from queuectl import store
from queuectl.errors import NotFound
from queuectl.spec import JobSpec

from .conftest import keys_of, settle


async def test_lists_jobs_newest_first(seeded, make_app):
    """The table shows the seeded jobs, newest first, keyed by id."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        keys = keys_of(app.query_one("#jobs-table", DataTable))
        assert keys[:5] == ["stale", "backup", "cleanup", "build-42", "nightly-etl"]


async def test_state_keys_and_all(seeded, make_app):
    """F shows only failed jobs, D only dead ones, a all of them again."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        await pilot.press("D")
        await settle(pilot)
        assert keys_of(table) == ["sync-db-2", "sync-db", "report"]
        await pilot.press("F")
        await settle(pilot)
        assert keys_of(table) == ["flaky"]
        await pilot.press("a")
        await settle(pilot)
        assert len(keys_of(table)) > 10


async def test_search_by_text_and_state_terms(seeded, make_app):
    """`/` filters on id and command, with state= terms; esc clears the filter."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        await pilot.press("slash")
        assert app.query_one("#jobs-search", Input).has_focus
        await pilot.press(*"rsync", "enter")
        await settle(pilot)
        assert keys_of(table) == ["sync-db-2", "sync-db"]
        await pilot.press("slash")
        app.query_one("#jobs-search", Input).value = "state=completed build-0"
        await pilot.press("enter")
        await settle(pilot)
        assert keys_of(table)[0] == "build-09" and len(keys_of(table)) == 10
        await pilot.press("escape")
        await settle(pilot)
        assert len(keys_of(table)) > 10 and app.query_one("#jobs-pane").search is None


async def test_refresh_keeps_cursor_on_its_job(seeded, make_app):
    """A new job pushes rows down; the cursor stays on the job it was on."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        await pilot.press("down", "down", "down")
        assert app.query_one("#jobs-pane").selected_id == "build-42"
        store.enqueue([JobSpec("echo new", id="newest")])
        app.query_one("#jobs-pane").reload()
        await settle(pilot)
        assert keys_of(table)[0] == "newest"
        assert app.query_one("#jobs-pane").selected_id == "build-42"


async def test_paging_fetches_only_the_rows_on_screen(opened, make_app):
    """With 500 jobs the table holds one screenful; G, pgup, down and g page through them."""
    store.enqueue([JobSpec(f"echo {i}", id=f"job-{i:03}") for i in range(500)])
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        pane = app.query_one("#jobs-pane")
        table = app.query_one("#jobs-table", DataTable)
        shown = table.row_count
        assert 5 < shown < 30
        assert keys_of(table)[0] == "job-499"
        await pilot.press("G")
        await settle(pilot)
        assert keys_of(table)[-1] == "job-000" and pane.selected_id == "job-000"
        await pilot.press("pageup")
        await settle(pilot)
        assert keys_of(table)[-1] == f"job-{shown:03}"
        await pilot.press("g")
        await settle(pilot)
        assert keys_of(table)[0] == "job-499" and pane.selected_id == "job-499"
        for _ in range(shown - 1):
            await pilot.press("j")
        await pilot.press("j")  # past the last row: the page moves by one
        await settle(pilot)
        assert keys_of(table)[0] == "job-498" and pane.selected_id == f"job-{499 - shown:03}"
        await pilot.press("pagedown")
        await settle(pilot)
        assert keys_of(table)[0] == f"job-{498 - shown:03}"
        assert table.row_count == shown


async def test_retry_dead_job_from_jobs_pane(seeded, make_app):
    """r on a dead job sends it back to pending (store.retry: any finished job, see test_ops)."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert store.get_job("sync-db-2").state == "pending"
        assert "queuectl retry sync-db-2" in app.commands


async def test_cancel_pending_job_confirms(seeded, make_app):
    """c on a pending job asks (a cancel cannot be undone); y cancels it."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down")  # build-42
        await pilot.press("c")
        await settle(pilot)
        assert store.get_job("build-42").state == "pending"
        await pilot.press("y")
        await settle(pilot)
        assert store.get_job("build-42").state == "cancelled"


async def test_cancel_running_job_asks_and_defaults_to_no(seeded, make_app):
    """c on a running job asks first; esc keeps it, y cancels it."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "down")  # nightly-etl
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("enter")  # the focused button is No
        await settle(pilot)
        assert store.get_job("nightly-etl").state == "processing"
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.get_job("nightly-etl").state == "cancelled"


async def test_marks_apply_an_action_to_every_marked_job(seeded, make_app):
    """space marks rows; c then cancels all marked jobs (after a confirm)."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "space", "space")  # backup, cleanup
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.get_job("backup").state == "cancelled"
        assert store.get_job("cleanup").state == "cancelled"
        assert store.get_job("build-42").state == "pending"


async def test_new_job_form_refuses_bad_values_and_saves_good_ones(seeded, make_app):
    """n opens the form; bad fields are shown inline and nothing is saved; good ones enqueue."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = sum(store.counts().values())
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#f-command", Input).value = "echo hi"
        screen.query_one("#f-id", Input).value = "../escape"
        screen.query_one("#f-priority", Input).value = "high"
        screen.query_one("#f-timeout", Input).value = "-5"
        screen.query_one("#f-run_at", Input).value = "tomorrow"
        await pilot.press("ctrl+s")
        await settle(pilot)
        for field in ("id", "priority", "timeout", "run_at"):
            assert screen.query_one(f"#e-{field}").display, field
        assert not screen.query_one("#e-command").display
        assert sum(store.counts().values()) == before
        screen.query_one("#f-id", Input).value = "report"  # taken: refused by the store
        screen.query_one("#f-priority", Input).value = "7"
        screen.query_one("#f-timeout", Input).value = "60"
        screen.query_one("#f-run_at", Input).value = ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.query_one("#e-id").display
        assert sum(store.counts().values()) == before
        screen.query_one("#f-id", Input).value = "hello-1"
        await pilot.press("ctrl+s")
        for _ in range(50):  # the enqueue runs in a thread, then the form closes
            await settle(pilot, rounds=1)
            if app.screen is not screen:
                break
        job = store.get_job("hello-1")
        assert (job.command, job.priority, job.timeout, job.state) == ("echo hi", 7, 60.0, "pending")
        assert app.screen is not screen


async def test_priority_of_a_pending_job(seeded, make_app):
    """p asks for a number (refusing text) and sets it through the store."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down")  # build-42
        await pilot.press("p")
        await pilot.pause()
        field = app.screen.query_one("#f-priority", Input)
        field.value = "lots"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#e-priority").display
        field.value = "99"
        await pilot.press("enter")
        await settle(pilot)
        assert store.get_job("build-42").priority == 99


async def test_enter_opens_job_detail(seeded, make_app):
    """enter shows the job's fields, attempts and output; esc closes it."""
    from queuectl.tui.screens.job_detail import JobDetailScreen

    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("D", "down", "down")  # report
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen)
        text = str(app.screen.query_one("#detail-output").content)
        assert "cannot open 'rows.csv'" in text
        assert app.screen.query_one("#detail-attempts", DataTable).row_count == 1
        await pilot.press("escape")
        assert not isinstance(app.screen, JobDetailScreen)


async def test_readonly_disables_actions(seeded, make_app):
    """--readonly: r, c, n do nothing to the store."""
    app = make_app(clock=seeded, readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "c", "n")
        await settle(pilot)
        assert store.get_job("build-42").state == "pending"
        assert app.screen is app.screen_stack[0]
        await pilot.press("D", "r")  # the newest dead job
        await settle(pilot)
        assert app.query_one("#jobs-pane").selected_id == "sync-db-2"
        assert store.get_job("sync-db-2").state == "dead"
        assert app.screen is app.screen_stack[0]


async def test_missing_job_is_a_notification_not_a_crash(seeded, make_app):
    """A job deleted behind the TUI's back: the action fails with a message, the app lives on."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        store.delete_job("sync-db-2")
        await pilot.press("r")
        await settle(pilot)
        assert any("no job" in n.message for n in app._notifications), [n.message for n in app._notifications]
        with pytest.raises(NotFound):  # the retry did not bring it back
            store.get_job("sync-db-2")
