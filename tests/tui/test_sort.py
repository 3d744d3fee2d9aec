"""Sorting the Jobs pane by any column, from the keyboard and by clicking a header."""

from __future__ import annotations

from textual.widgets import DataTable

from .conftest import keys_of, settle


def _status(app) -> str:
    return str(app.query_one("#jobs-status").render())


async def test_o_cycles_the_sort_column_and_shift_o_reverses_it(seeded, make_app):
    """o: created -> ended -> id -> state -> priority; O turns the order round; the header shows
    an arrow."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        await pilot.press("o")
        await settle(pilot)
        assert "last ended first" in _status(app)
        assert "ENDED↓" in [str(c.label) for c in table.columns.values()]
        await pilot.press("o")
        await settle(pilot)
        assert keys_of(table)[:3] == ["backup", "build-00", "build-01"]
        assert "by id ↑" in _status(app)
        assert [str(c.label) for c in table.columns.values()][0] == "ID↑"
        await pilot.press("O")
        await settle(pilot)
        assert keys_of(table)[:2] == ["sync-db-2", "sync-db"]
        await pilot.press("o", "o")  # state, then priority (highest first)
        await settle(pilot)
        assert keys_of(table)[:2] == ["nightly-etl", "build-42"]
        assert "PRI↓" in [str(c.label) for c in table.columns.values()]
        await pilot.press("O")
        await settle(pilot)
        assert [app.query_one("#jobs-pane").rows[i].priority for i in range(3)] == [0, 0, 0]


async def test_clicking_a_header_sorts_by_it_and_again_reverses(seeded, make_app):
    """A click on STATE sorts by state in lifecycle order; a second click, the other way."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.query_one("#jobs-table", DataTable)
        x = 16 + 2 + 3  # past the ID column and its padding
        await pilot.click("#jobs-table", offset=(x, 0))
        await settle(pilot)
        assert app.query_one("#jobs-pane").sort == ("state", False)
        assert [j.state for j in app.query_one("#jobs-pane").rows][:1] == ["pending"]  # waiting first
        await pilot.click("#jobs-table", offset=(x, 0))
        await settle(pilot)
        assert app.query_one("#jobs-pane").sort == ("state", True)
        assert keys_of(table)[0] == "stale"  # cancelled: the end of the lifecycle


async def test_sorted_paging_moves_through_the_window(opened, make_app):
    """Sorted by priority over 200 jobs: pgdown, G and g fetch the neighbouring offsets."""
    from queuectl import store
    from queuectl.spec import JobSpec

    store.enqueue([JobSpec("true", id=f"j{i:03}", priority=i % 50) for i in range(200)])
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        pane = app.query_one("#jobs-pane")
        pane.sort = ("priority", True)
        await settle(pilot)
        first = [job.priority for job in pane.rows]
        assert first == sorted(first, reverse=True) and first[0] == 49
        await pilot.press("pagedown")
        await settle(pilot)
        assert pane.rows[0].priority <= first[-1] and pane.top == len(first)
        await pilot.press("G")
        await settle(pilot)
        assert pane.rows[-1].priority == 0 and pane.rows[-1].id == "j000"
        await pilot.press("g")
        await settle(pilot)
        assert pane.rows[0].priority == 49


async def test_sorted_paging_by_key_past_the_window_covers_the_whole_store(opened, make_app, monkeypatch):
    """Past SORT_WINDOW matches a sort pages by key: pgdown, down, G, pgup and g walk the whole
    listing in order, the oldest job of the lowest priority last."""
    from queuectl import store
    from queuectl.spec import JobSpec

    monkeypatch.setattr(store, "SORT_WINDOW", 10)
    store.enqueue([JobSpec("true", id=f"j{i:03}", priority=i % 50) for i in range(200)])
    want = sorted(store.list_jobs(limit=None), key=lambda j: (j.priority, j.seq), reverse=True)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        pane = app.query_one("#jobs-pane")
        pane.sort = ("priority", True)
        await settle(pilot)
        n = len(pane.rows)
        assert [j.id for j in pane.rows] == [j.id for j in want[:n]] and pane.top is None
        await pilot.press("pagedown")
        await settle(pilot)
        assert [j.id for j in pane.rows] == [j.id for j in want[n : 2 * n]]
        assert isinstance(pane.top, tuple)
        await pilot.press("G")
        await settle(pilot)
        assert [j.id for j in pane.rows] == [j.id for j in want[-n:]] and pane.rows[-1].id == "j000"
        await pilot.press("pageup")
        await settle(pilot)
        assert [j.id for j in pane.rows] == [j.id for j in want[-2 * n : -n]]
        await pilot.press("g")
        await settle(pilot)
        assert pane.rows[0].id == want[0].id and pane.top is None
        assert "by priority ↓" in _status(app) and "newest" not in _status(app)
