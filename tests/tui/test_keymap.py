"""The one action table (tui/keymap.py, issue 23) and what issue 25 asked of the keys: footers
ranked by use, help for the focused pane first and searchable, a palette of queuectl's own
commands, acting from the job view, half pages, Enter on a busy worker, and undo."""

from __future__ import annotations

import re
from pathlib import Path

from queuectl.tui import keymap
from queuectl.tui.actions import WRITES, DashboardActions
from textual.widgets import DataTable, Input, Static
from textual.widgets._footer import FooterKey

from queuectl import store

from .conftest import settle

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_keymap_is_the_action_table():
    """The README's keymap is made from the table: regenerate it with python -m queuectl.tui.keymap."""
    text = README.read_text()
    shown = text.split("<!-- keymap:start -->\n", 1)[1].split("<!-- keymap:end -->", 1)[0]
    assert shown == keymap.markdown(), (
        "README keymap is stale: paste `python -m queuectl.tui.keymap` between the markers"
    )
    for where, old, new, _ in keymap.CHANGED:  # every settled key is listed as changed
        assert f"- {where}: `{old}` → `{new}`" in text


def test_one_meaning_per_key():
    """A key is bound once per place, and a key that asks first (delete, cancel, stop, retry all)
    is never a safe key somewhere else."""
    asks: dict[str, set[bool]] = {}
    for place, _ in keymap.PLACES:
        seen: list[str] = []
        for k in keymap.rows(place):
            for key in k.keys.split(","):
                assert key not in seen, f"{key!r} bound twice in {place}"
                seen.append(key)
                asks.setdefault(key, set()).add(k.asks)
    mixed = sorted(key for key, kinds in asks.items() if len(kinds) > 1)
    assert not mixed, f"safe in one place, destructive in another: {mixed}"
    # the four the review found (issue 23): x, s, p, R now mean one thing each
    assert asks["x"] == {True} and asks["s"] == asks["p"] == asks["R"] == {False}


def test_every_key_reaches_an_action_and_every_write_is_guarded():
    from queuectl.tui.app import QueuectlApp
    from queuectl.tui.panes import config, dlq, jobs, logs, queues, schedules, workers
    from queuectl.tui.screens.job_detail import JobDetailScreen
    from queuectl.tui.widgets.vim_table import VimTable

    owners = {
        "global": QueuectlApp,
        "table": VimTable,
        "jobs": jobs.JobsPane,
        "job": JobDetailScreen,
        "dlq": dlq.DeadJobs,
        "dlq-groups": dlq.DeadGroups,
        "logs": logs.LogsPane,
        "workers": workers.WorkersPane,
        "config": config.ConfigPane,
        "queues": queues.QueuesPane,
        "schedules": schedules.SchedulesPane,
    }
    for place, owner in owners.items():
        for binding in keymap.bindings(place):
            name = binding.action.split("(")[0]
            assert hasattr(owner, f"action_{name}"), f"{place}: {binding.key} runs a missing action {name}"
        assert getattr(owner, "WRITES", keymap.writes(place)) == keymap.writes(place)
    for request in WRITES:
        assert hasattr(DashboardActions, f"do_{request}"), request
    for _, _, run in keymap.palette():
        assert hasattr(QueuectlApp, f"action_{run.split('(')[0]}"), run


def _help(app) -> str:
    from rich.console import Console

    console = Console(width=200, color_system=None)
    with console.capture() as shown:
        console.print(app.screen.query_one("#help-keys", Static).content)
    return shown.get()


def _footer(app) -> list[str]:
    return [k.key for k in app.screen.query(FooterKey) if k.display and k.region.width]


async def test_footers_help_and_palette_at_80x24(seeded, make_app):
    """Jobs: enter, space, f, z come before o and e; Logs shows /; ? shows this pane's keys before
    the global ones and / searches every pane's; the palette has no Keys or Maximize."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = _footer(app)
        assert shown[:4] == ["enter", "space", "f", "z"], shown
        assert "o" not in shown[:4] and "e" not in shown[:4]
        await pilot.press("3")
        await settle(pilot)
        assert "slash" in _footer(app)
        await pilot.press("1", "question_mark")
        await settle(pilot)
        help_text = _help(app)
        assert help_text.index("Jobs  (this pane)") < help_text.index("Everywhere")
        assert "prune" in help_text and "every worker" not in help_text  # Workers' S: only when searched
        await pilot.press("slash", *"stop")
        await settle(pilot)
        found = _help(app)
        assert "ask every worker, on every host" in found and "prune" not in found
        await pilot.press("escape")  # leaves the search ...
        assert not app.screen.query_one("#help-search", Input).display
        await pilot.press("escape")  # ... then the help
        assert app.screen is app.screen_stack[0]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not {"Keys", "Maximize", "Minimize"} & set(titles)
        assert all(re.match(r"[a-z]+: ", t) for t in titles), titles
        assert "dlq: retry all dead jobs" in titles and "app: theme" in titles


async def test_acting_from_the_job_view_half_pages_and_a_busy_worker(seeded, make_app):
    """The job view answers r, e, c, p, z as the list does; ctrl+d / ctrl+u move half a page;
    enter on a busy worker opens its job."""
    from queuectl.tui.screens.job_detail import JobDetailScreen

    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        await pilot.press("ctrl+d")
        half = table.cursor_row
        assert half >= 5
        await pilot.press("ctrl+u")
        assert table.cursor_row == 0
        await pilot.press("down", "down", "down", "enter")  # build-42, pending, priority 5
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen) and app.screen.job_id == "build-42"
        await pilot.press("p")
        await settle(pilot)
        app.screen.query_one(Input).value = "7"
        await pilot.press("enter")
        await settle(pilot)
        assert store.get_job("build-42").priority == 7
        await pilot.press("z")
        await settle(pilot)
        assert store.get_job("build-42").paused
        await pilot.press("e")
        await settle(pilot)
        assert type(app.screen).__name__ == "EditJobScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.get_job("build-42").state == "cancelled"
        await settle(pilot)  # the view reloads: now r retries
        await pilot.press("r")
        await settle(pilot)
        assert store.get_job("build-42").state == "pending"
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("escape", "5")
        await settle(pilot)
        await pilot.press("down", "enter")  # the host's row, then its busy worker
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen) and app.screen.job_id == "nightly-etl"


def _said(app) -> str:
    said = list(app._notifications)
    return said[-1].message if said else ""


async def test_undo_takes_back_what_it_can_and_says_why_not(ops_seeded, make_app):
    """u: a priority, a pause, an edit, a cancel of a waiting job, a queue's pause and limit come
    back, each said; a cancel of a running job and a retry are refused with the reason."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        assert "nothing to undo" in _said(app)
        await pilot.press("P")  # pending jobs only
        await settle(pilot)
        job_id = app.query_one("#jobs-pane").selected_id
        before = store.get_job(job_id)
        await pilot.press("p")
        await settle(pilot)
        app.screen.query_one(Input).value = str(before.priority + 3)
        await pilot.press("enter")
        await settle(pilot)
        assert store.get_job(job_id).priority == before.priority + 3
        await pilot.press("z")
        await settle(pilot)
        assert store.get_job(job_id).paused
        await pilot.press("u")
        await settle(pilot)
        assert not store.get_job(job_id).paused and "undone: resumed" in _said(app)
        await pilot.press("u")
        await settle(pilot)
        assert store.get_job(job_id).priority == before.priority and "undone: priority back" in _said(app)
        assert app.commands[-1] == f"queuectl priority {job_id} {before.priority}"
        await pilot.press("e")
        await settle(pilot)
        await settle(pilot)
        app.screen.query_one("#f-command", Input).value = "echo edited"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert store.get_job(job_id).command == "echo edited"
        await pilot.press("u")
        await settle(pilot)
        assert store.get_job(job_id).command == before.command and "undone: edit of" in _said(app)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert store.get_job(job_id).state == "cancelled"
        await pilot.press("u")
        await settle(pilot)
        assert store.get_job(job_id).state in ("pending", "blocked") and "undone: cancel of" in _said(app)
        await pilot.press("R")  # the running job
        await settle(pilot)
        running = app.query_one("#jobs-pane").selected_id
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert store.get_job(running).state == "cancelled"
        assert "cannot undo" in _said(app) and f"{running} was running" in _said(app)
        await pilot.press("7")
        await settle(pilot)
        queue = app.query_one("#queues-pane").selected
        await pilot.press("L")
        await pilot.pause()
        app.screen.query_one("#f-limit", Input).value = "3"
        await pilot.press("enter")
        await settle(pilot)
        limit = lambda: next(q for q in store.list_queues() if q.name == queue.name).max_running  # noqa: E731
        assert limit() == 3
        await pilot.press("u")
        await settle(pilot)
        assert limit() == queue.max_running and "undone: queue" in _said(app)
        paused = lambda: next(q for q in store.list_queues() if q.name == queue.name).paused  # noqa: E731
        await pilot.press("z")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert paused() != queue.paused
        await pilot.press("u")
        await settle(pilot)
        assert paused() == queue.paused and "undone: queue" in _said(app)
