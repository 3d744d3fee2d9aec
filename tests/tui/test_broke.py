"""'What just broke?': when jobs ended, in Jobs and the DLQ, at 80 columns; ids never cut while
the command can give way; runs and retries left said as they are."""

from __future__ import annotations

import io

from conftest import claim_one, finish_one
from rich.console import Console
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.spec import JobSpec

from .conftest import keys_of, settle


def _labels(table) -> list[str]:
    return [str(c.label) for c in table.columns.values()]


def _die(*ids: str) -> None:
    """Claim every job, then fail them (no retries) in this order: the last one died last."""
    claims = {c.id: c for c in (claim_one("w1", "h") for _ in ids)}
    for job_id in ids:
        finish_one(claims[job_id], "w1", "exited with code 1", 1)


async def test_dlq_opens_latest_death_first_and_o_sorts_it(opened, make_app):
    """The DLQ's order is by death, newest first (not by creation); o cycles its sorts, O turns
    one round; at 80 columns a DIED column says how long ago."""
    store.enqueue([JobSpec("false", id=name, max_retries=0) for name in ("first-made", "second-made")])
    _die("second-made", "first-made")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.query_one("#dlq-table", DataTable)
        assert keys_of(table) == ["first-made", "second-made"]
        assert "DIED↓" in _labels(table)
        assert "last death first" in str(app.query_one("#dlq-status").render())
        assert str(table.get_row("first-made")[-1]).endswith("s ago")
        await pilot.press("o")  # created, newest first
        await settle(pilot)
        assert keys_of(table) == ["second-made", "first-made"]
        await pilot.press("O")
        await settle(pilot)
        assert keys_of(table) == ["first-made", "second-made"]


async def test_jobs_at_80_columns_show_when_each_ended_and_sort_on_it(opened, make_app):
    """Jobs at 80 columns: ENDED (ago) beside a shortened command; o sorts by it, the latest
    failure first; the job that never ended comes last."""
    store.enqueue([JobSpec("false " + "x" * 60, id=name, max_retries=0) for name in ("a-job", "b-job")])
    _die("b-job", "a-job")
    store.enqueue([JobSpec("true", id="waiting")])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        assert _labels(table)[-1] == "ENDED"
        assert keys_of(table) == ["waiting", "b-job", "a-job"]
        await pilot.press("o")
        await settle(pilot)
        assert keys_of(table) == ["a-job", "b-job", "waiting"]
        assert _labels(table)[-1] == "ENDED↓"
        command = str(table.get_row("a-job")[4])
        assert command.startswith("false xxx") and command.endswith("…")
        assert str(table.get_row("waiting")[-1]) == ""


async def test_ids_are_never_cut_while_the_command_can_give_way(opened, make_app):
    """Generated ids (18 cells) show whole at 80 columns, in Jobs and the DLQ; the command is cut."""
    job_id = store.enqueue([JobSpec("false " + "y" * 80, max_retries=0)])[0].id
    _die(job_id)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        assert str(table.get_row(job_id)[0]).strip() == job_id
        await pilot.press("2")
        await settle(pilot)
        assert str(app.query_one("#dlq-table", DataTable).get_row(job_id)[0]).strip() == job_id


async def test_runs_and_retries_left_are_said_as_they_are(opened, make_app):
    """A job retried by hand after 2 runs: the list shows its runs and retries left ("1+1"), the
    job view the whole history: 3 runs so far, 1 since queued again, 1 automatic retry left."""
    store.enqueue([JobSpec("false", id="twice", max_retries=1)])
    for _ in range(2):
        store.set_clock(lambda: 4e9)  # the retry is due at once
        claim = claim_one("w1", "h")
        store.set_clock(None)
        finish_one(claim, "w1", "exited with code 1", 1)
    assert store.get_job("twice").state == "dead"
    store.retry(["twice"])
    store.set_clock(lambda: 4e9)
    finish_one(claim_one("w1", "h"), "w1", "exited with code 1", 1)
    store.set_clock(None)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        assert str(table.get_row("twice")[3]) == "1+1"
        assert "RUNS" in _labels(table)
        await pilot.press("enter")
        await settle(pilot)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.query_one("#detail-fields", Static).content)
        text = console.export_text()
        assert "3 runs so far (1 since queued again) · 1 automatic retry left" in text


async def test_the_dlq_box_says_why_in_the_jobs_own_last_words(db_path, make_app):
    """A job that died with `exit 3` has an error that says little; the DLQ's box also shows the
    last lines its run wrote to stderr (read off the UI thread, escapes inert)."""
    from conftest import drain, qctl

    command = "echo starting; echo 'error: DEPLOY_TARGET is missing' >&2; printf '\\033]52;c;eA==\\a' >&2; exit 3"
    assert qctl("add", "--id", "deploy", "--retries", "0", "--", command).returncode == 0
    drain()
    from queuectl.paths import resolve

    store.open_store(resolve(str(db_path)))  # (as the tui command does before the app starts)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        box = str(app.query_one("#dlq-error", Static).render())
        assert "exited with code 3" in box and "stderr   error: DEPLOY_TARGET is missing" in box, box
        assert "\x1b" not in box
