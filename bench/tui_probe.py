"""The dashboard at scale, headless (run by scale.py in a fresh process): open time, Jobs-pane refresh,
every column sort's pages (top, next page, bottom; Jobs and the DLQ), peak RSS.

Usage: python tui_probe.py DB SPAWNED_AT REFRESHES; prints one JSON object.  SPAWNED_AT is the
parent's clock just before it started this process, so "open" includes the interpreter's start,
the imports, the first store query and the first render of the Jobs pane.  The pane's `show` is
wrapped (in this process only) to note when each load reaches the screen.
"""

import asyncio
import json
import statistics
import sys
import time
from dataclasses import replace


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def probe(db: str, spawned_at: float, refreshes: int) -> dict:
    from queuectl import store
    from queuectl.paths import resolve

    # in the order `queuectl tui` takes: the store is opened before the dashboard is imported
    # (a SQLite store loads peewee without the database drivers it would import: ~35 ms)
    location = resolve(db)
    store.open_store(location)
    from queuectl.tui.app import QueuectlApp
    from queuectl.tui.panes.jobs import JobsPane

    shown: list[float] = []
    original = JobsPane.show

    def show(self, result):
        out = original(self, result)
        shown.append(time.time())
        return out

    JobsPane.show = show
    app = QueuectlApp(location)
    async with app.run_test(size=(160, 50)) as pilot:
        while not shown:
            await asyncio.sleep(0.001)
        await pilot.pause()  # the rows are on screen
        opened = time.time() - spawned_at
        pane = app.query_one(JobsPane)
        times = []
        for _ in range(refreshes):
            n = len(shown)
            t = time.time()
            pane.reload()
            while len(shown) == n:
                await asyncio.sleep(0.0005)
            await pilot.pause()
            times.append((time.time() - t) * 1000)
        app.paused = True
        sorts = sort_pages(pane.query_args().size, refreshes)
    over = sorted(name for name, ms in sorts.items() if ms > SORT_BUDGET_MS)
    return {
        "open_s": opened,
        "refresh_ms": statistics.median(times),
        "sort_page_ms": sorts,
        "sort_budget_ms": SORT_BUDGET_MS,
        "sorts_over_budget": over,
        "peak_rss_mb": peak_rss_mb(),
    }


#: one screen of a sorted listing, whatever the store's size (TUI.md: a million jobs feel like a hundred)
SORT_BUDGET_MS = 100.0


def sort_pages(size: int, runs: int) -> dict[str, float]:
    """The query behind one screen of every sort, both ways, in Jobs (all states) and the DLQ
    (dead): the first page, the next one and the last one (G); the median of `runs`, in ms."""
    from queuectl.tui.panes.joblist import PageQuery, fetch_page

    from queuectl import store
    from queuectl.store import JobFilter

    out = {}
    counts = store.counts()
    for state in (None, "dead"):
        for column in store.SORT_COLUMNS:
            for descending in (True, False):
                base = PageQuery(state, None, JobFilter(), (column, descending), size, None, "top", None, counts)
                for op in ("top", "pgdown", "bottom"):
                    samples = []
                    for _ in range(runs):
                        q = base
                        if op == "pgdown":
                            first = fetch_page(base)
                            q = replace(base, op="pgdown", top=first.top, ref=first.keys[-1] if first.keys else None)
                        t = time.perf_counter()
                        page = fetch_page(replace(q, op=op))
                        samples.append((time.perf_counter() - t) * 1000)
                        assert page.rows, (state, column, descending, op)
                    name = f"{state or 'all'} {column} {'desc' if descending else 'asc'} {op}"
                    out[name] = round(statistics.median(samples), 2)
    return out


def main() -> None:
    db, spawned_at, refreshes = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(probe(db, spawned_at, refreshes))))


if __name__ == "__main__":
    main()
