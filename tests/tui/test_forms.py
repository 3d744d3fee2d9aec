"""Adding a schedule and pruning from the dashboard, checked in the store."""

from __future__ import annotations

from conftest import claim_one, finish_one
from textual.widgets import Input

from queuectl import store
from queuectl.spec import JobSpec

from .conftest import settle


async def test_add_a_schedule_from_the_schedules_pane(ops_seeded, make_app):
    """a: a bad cron is refused (focus on it, nothing saved); fixed, the schedule is added and logged."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        for name, value in (
            ("name", "hourly-sync"),
            ("cron", "every hour"),
            ("tz", "Europe/Berlin"),
            ("overlap", "skip"),
            ("command", "rsync -a /a /b"),
            ("priority", "3"),
        ):
            form.query_one(f"#f-{name}", Input).value = value
        form.query_one("#f-name", Input).focus()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.query_one("#f-cron", Input).has_focus and form.query_one("#e-cron").display
        assert "hourly-sync" not in {s.name for s in store.list_schedules()}
        region = form.query_one("#submit").region
        assert region.height and region.bottom <= 23  # 9 fields, an error and the buttons fit 80x24
        form.query_one("#f-cron", Input).value = "0 * * * *"
        await pilot.press("ctrl+s")
        await settle(pilot)
        added = store.get_schedule("hourly-sync")
        assert (added.cron, added.tz, added.overlap) == ("0 * * * *", "Europe/Berlin", "skip")
        assert added.job == {"command": "rsync -a /a /b", "priority": 3}
        assert app.commands[-1] == (
            'queuectl schedule add hourly-sync \'{"command": "rsync -a /a /b", '
            "\"priority\": 3}' --cron '0 * * * *' --tz Europe/Berlin --overlap skip"
        )


async def test_prune_asks_with_the_count_and_deletes(opened, make_app):
    """x: how old (7d by default), then a confirm naming the count; yes deletes only old finished jobs."""
    clock = [1_000_000.0]
    store.set_clock(lambda: clock[0])
    store.enqueue([JobSpec("true", id=f"old-{i}") for i in range(3)] + [JobSpec("true", id="waits")])
    for _ in range(3):
        finish_one(claim_one("w1", "h"), "w1", None, 0)
    clock[0] += 8 * 86400
    app = make_app(clock=lambda: clock[0])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert app.screen.query_one(Input).value == "7d"
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert app.screen.query_one("#confirm").border_title == "Prune 3 jobs?"
        assert app.screen.query_one("#no").has_focus  # No is the default
        await pilot.press("y")
        await settle(pilot)
        assert [j.id for j in store.list_jobs()] == ["waits"]
        assert "queuectl prune --older-than 7d" in app.commands


async def test_e_edits_a_waiting_job_in_the_new_job_form(seeded, make_app):
    """e on pending build-42: the form is pre-filled; a bad priority is refused and focused;
    a good one is saved (only the changed field), and the command log has the CLI twin."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "e")
        await settle(pilot)
        await settle(pilot)
        form = app.screen
        assert form.query_one("#f-command", Input).value == "make -j4"
        assert form.query_one("#f-priority", Input).value == "5"
        region = form.query_one("#submit").region
        assert region.height and region.bottom <= 23
        form.query_one("#f-priority", Input).value = "lots"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.query_one("#f-priority", Input).has_focus
        form.query_one("#f-priority", Input).value = "9"
        await pilot.press("ctrl+s")
        await settle(pilot)
        job = store.get_job("build-42")
        assert (job.priority, job.command, job.state) == (9, "make -j4", "pending")
        assert app.commands[-1] == "queuectl edit build-42 --set priority=9"


async def _save_a_new_command_for_the_dead_job(app, pilot):
    """D, e on sync-db-2 (dead), a new command typed in, ctrl+s: the form, behind what it asks."""
    await settle(pilot)
    await pilot.press("D")
    await settle(pilot)
    await pilot.press("e")
    await settle(pilot)
    await settle(pilot)
    form = app.screen
    form.query_one("#f-command", Input).value = "rsync -a --partial /data backup:/data"
    await pilot.press("ctrl+s")
    await settle(pilot)
    return form


async def test_e_on_a_dead_job_edits_then_retries_it(seeded, make_app):
    """D, e on sync-db-2: change the command, save: the job is pending again with the new command."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _save_a_new_command_for_the_dead_job(app, pilot)
        assert "retry" in str(form.query_one("#edit-job").border_title).lower()
        await pilot.press("y")  # the retry asks first (see the test below)
        await settle(pilot)
        job = store.get_job("sync-db-2")
        assert (job.state, job.command) == ("pending", "rsync -a --partial /data backup:/data")
        assert app.commands[-1] == "queuectl retry sync-db-2 --set 'command=rsync -a --partial /data backup:/data'"


async def test_e_puts_the_cursor_after_the_command_with_nothing_selected(seeded, make_app):
    """e: one backspace takes one character, not the whole command (Textual's select_on_focus
    selected it all, nearly unseen)."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "e")  # build-42, pending
        await settle(pilot)
        await settle(pilot)
        command = app.screen.query_one("#f-command", Input)
        assert command.has_focus and command.selection.is_empty
        assert command.cursor_position == len("make -j4")
        await pilot.press("backspace", "8")
        assert command.value == "make -j8"


async def test_save_and_retry_shows_before_and_after_and_asks(seeded, make_app):
    """D, e on sync-db-2, a new command, ctrl+s: a confirm shows the command before -> after,
    No by default; n leaves the job dead and unchanged; y saves and retries it."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await _save_a_new_command_for_the_dead_job(app, pilot)
        body = str(app.screen.query_one(".dialog-body").render())
        assert "command: rsync -a /data backup:/data\n" in body and "→ rsync -a --partial /data backup:/data" in body
        assert app.screen.query_one("#no").has_focus
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is form
        job = store.get_job("sync-db-2")
        assert (job.state, job.command) == ("dead", "rsync -a /data backup:/data")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        job = store.get_job("sync-db-2")
        assert (job.state, job.command) == ("pending", "rsync -a --partial /data backup:/data")


async def test_e_on_a_running_job_says_why_not(seeded, make_app):
    """A processing job cannot be edited: a notification, no form."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "down", "e")  # nightly-etl, processing
        await settle(pilot)
        await settle(pilot)
        assert app.screen is app.screen_stack[0]
        assert any("processing" in n.message for n in app._notifications)


async def test_e_sets_and_clears_what_a_job_asks_for(seeded, make_app):
    """The edit form's resources field: a bad request is refused on its field; gpus=0.5 mem=2G
    is saved (its CLI twin is a --set the CLI reads back); emptied, the job asks for nothing."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down")
        for typed, says in (("gpus=1.5", None), ("gpus=0.5 mem=2G", {"gpus": 0.5, "mem": 2 << 30}), ("", None)):
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            await settle(pilot)
            form = app.screen
            form.query_one("#f-resources", Input).value = typed
            await pilot.press("ctrl+s")
            await settle(pilot)
            if typed == "gpus=1.5":
                assert form.query_one("#f-resources", Input).has_focus and form.query_one("#e-resources").display
                await pilot.press("escape")
                continue
            assert store.get_job("build-42").resources == says
        assert app.commands[-2] == """queuectl edit build-42 --set 'resources={"gpus": 0.5, "mem": "2G"}'"""
        assert app.commands[-1] == "queuectl edit build-42 --set resources="
