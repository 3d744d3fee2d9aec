"""Adding a schedule and pruning from the dashboard, checked in the store."""
from __future__ import annotations

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
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        for name, value in (("name", "hourly-sync"), ("cron", "every hour"), ("tz", "Europe/Berlin"),
                            ("overlap", "skip"), ("command", "rsync -a /a /b"), ("priority", "3")):  # fmt: skip
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
        assert app.commands[-1] == ("queuectl schedule add hourly-sync '{\"command\": \"rsync -a /a /b\", "
                                    "\"priority\": 3}' --cron '0 * * * *' --tz Europe/Berlin --overlap skip")


async def test_prune_asks_with_the_count_and_deletes(opened, make_app):
    """x: how old (7d by default), then a confirm naming the count; yes deletes only old finished jobs."""
    clock = [1_000_000.0]
    store.set_clock(lambda: clock[0])
    store.enqueue([JobSpec("true", id=f"old-{i}") for i in range(3)] + [JobSpec("true", id="waits")])
    for _ in range(3):
        store.finish(store.claim("w1", "h"), "w1", None, 0)
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
