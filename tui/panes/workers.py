"""The Workers pane: every registered worker process and its slots (busy/total); start and stop
local worker subprocesses."""
from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from queuectl import store
from queuectl.render import clean
from queuectl.store.workers import LIVENESS_SECONDS

from ..format import ago, duration, state_styles
from ..widgets.vim_table import VimTable
from .keyed import KeyedTablePane


class WorkersPane(KeyedTablePane):
    """Workers of every host, with the ones this dashboard started marked."""

    TAB = "workers"
    TABLE_ID = "workers-table"
    WRITES = frozenset({"start", "stop", "stop_all"})
    BINDINGS = [
        Binding("plus,equals_sign", "start", "Start one"),
        Binding("minus", "stop", "Stop one"),
        Binding("s", "stop_all", "Stop all"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: ids of the running workers this dashboard started (the app keeps it current)
        self.started_here: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static(id="workers-status", classes="pane-status")
        yield VimTable(id="workers-table", cursor_type="row")

    def fetch(self, args) -> list:
        return store.list_workers(live_only=False)

    def show(self, workers: list) -> None:
        wide = self.size.width >= 100
        labels = ["ID", *(["HOST"] if wide else []), "PID", "STATE", "SLOTS", "JOB", "HEARTBEAT", *(["UP"] if wide else [])]
        styles = state_styles(self.app.current_theme)
        colour = {"busy": styles["processing"], "idle": styles["completed"], "stopping": styles["failed"]}
        now = store.now()
        rows = []
        for w in workers:
            silent = now - w.heartbeat_at > LIVENESS_SECONDS
            state = "silent" if silent else w.state
            name = Text(("★ " if w.id in self.started_here else "  ") + clean(w.id))
            cells = (name, *([clean(w.host)] if wide else []), str(w.pid),
                     Text(state, style="dim" if silent else colour.get(w.state, "")), f"{w.busy}/{w.slots}",
                     clean(w.current_job or "", 24), ago(w.heartbeat_at),
                     *([duration(now - w.started_at)] if wide else []))  # fmt: skip
            rows.append((w.id, cells))
        # each column as wide as its widest cell (a change of width redraws the table)
        widths = [max([cell_len(label)] + [cell_len(_plain(cells[i])) for _, cells in rows]) for i, label in enumerate(labels)]
        self.fill(list(zip(labels, widths)), rows)
        live = sum(1 for w in workers if now - w.heartbeat_at <= LIVENESS_SECONDS)
        text = f"{live} live worker{'s' * (live != 1)} · {len(self.started_here)} started here (★)"
        if not workers:
            text = "No workers. Press + to start one here (or run `queuectl worker start`)."
        self.query_one("#workers-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def action_start(self) -> None:
        self.request("start_worker")
        self.set_timer(0.7, self.reload)  # it registers within a moment

    def action_stop(self) -> None:
        self.request("stop_worker", self.selected_key)
        self.set_timer(0.5, self.reload)

    def action_stop_all(self) -> None:
        self.request("stop_all_workers")


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)
