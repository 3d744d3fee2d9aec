"""Snapshots of every pane on the seeded store with a fixed clock, at 80x24 and 120x40.

Update after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from .conftest import settle

SIZES = [(80, 24), (120, 40)]
PANES = ["1", "2", "3", "4", "5", "6"]


async def _steady_cursors(pilot) -> None:
    """Text fields draw their cursor steadily: a blinking one is on or off by the moment the
    screen is taken (three dialog snapshots flipped between runs)."""
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def _before(keys: list[str]):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await settle(pilot)
        await _steady_cursors(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", PANES)
def test_pane(pane, size, seeded, make_app, snap_compare):
    """Each pane as a person first sees it (Logs: the running job selected in Jobs)."""
    keys = ["down", "down", "down", "down", pane] if pane == "3" else [pane]
    assert snap_compare(make_app(clock=seeded), terminal_size=size, run_before=_before(keys))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_job_detail(size, seeded, make_app, snap_compare):
    """enter on the dead `report` job: fields, attempts, output."""
    keys = ["D", "down", "down", "enter"]
    assert snap_compare(make_app(clock=seeded), terminal_size=size, run_before=_before(keys))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_new_job_form_with_errors(size, seeded, make_app, snap_compare):
    """The new-job form refusing a bad priority (the field with the error has the focus)."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"echo hi", "tab", "tab", *"high", "ctrl+s")
        await settle(pilot)
        await _steady_cursors(pilot)

    assert snap_compare(make_app(clock=seeded), terminal_size=size, run_before=run_before)


#: dialogs and screens over the Jobs pane, by the keys that open them
DIALOGS = {
    "help": ["question_mark"],
    "help-search": ["question_mark", "slash", *"pause"],  # every pane's keys that pause
    "command-log": ["r", "at"],  # after a retry of the newest finished job
    "confirm-cancel": ["down", "down", "c"],
    "priority": ["down", "down", "p"],
    "new-job": ["n"],
    "sorted-by-priority": ["o", "o", "o"],
    "new-schedule": ["8", "n"],
    "prune-age": ["x"],
    "prune-confirm": ["x", "ctrl+u", "3", "0", "m", "enter"],  # the builds that ended 30+ min ago
    "edit-pending": ["down", "down", "down", "e"],  # build-42
    "edit-then-retry-dead": ["D", "e"],  # sync-db-2
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dialog", list(DIALOGS))
def test_dialog(dialog, size, seeded, make_app, snap_compare):
    """Each dialog shows its own keys in its footer, esc pinned right."""
    assert snap_compare(make_app(clock=seeded), terminal_size=size, run_before=_before(DIALOGS[dialog]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", ["queues", "schedules", "dlq-grouped"])
def test_ops_view(view, size, ops_seeded, make_app, snap_compare):
    """Issue 8's views on a store with named queues, schedules and a DLQ group of three."""
    keys = {"queues": ["7"], "schedules": ["8", "down"], "dlq-grouped": ["2", "v"]}[view]
    assert snap_compare(make_app(clock=ops_seeded), terminal_size=size, run_before=_before(keys))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_job_links(size, ops_seeded, make_app, snap_compare):
    """enter on the blocked `load` job: what it needs and what needs it."""
    assert snap_compare(make_app(clock=ops_seeded), terminal_size=size, run_before=_before(["B", "down", "enter"]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_logs_search(size, seeded, make_app, snap_compare):
    """3 on the dead `report` job, then /rows: both matches highlighted (stdout's current),
    "match 1 of 2" in the search line."""
    keys = ["D", "down", "down", "3", "slash", *"rows", "enter"]
    assert snap_compare(make_app(clock=seeded), terminal_size=size, run_before=_before(keys))
