"""The Workers pane: every registered worker; start and stop local worker subprocesses."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.render import clean
from queuectl.store.workers import LIVENESS_SECONDS

from ..base import StorePane, cursor_key
from ..format import ago, duration, state_styles



class WorkersPane(StorePane):
    """Workers of every host, with the ones this dashboard started marked."""

    TAB = "workers"
    WRITES = frozenset({"start", "stop", "stop_all"})
    BINDINGS = [
        Binding("plus,equals_sign", "start", "Start one"),
        Binding("minus", "stop", "Stop one"),
        Binding("s", "stop_all", "Stop all"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="workers-status", classes="pane-status")
        yield DataTable(id="workers-table", cursor_type="row")

    def fetch(self, args) -> list:
        return store.list_workers(live_only=False)

    def show(self, workers: list) -> None:
        table = self.query_one("#workers-table", DataTable)
        wide = self.size.width >= 100
        columns = ["ID", *(["HOST"] if wide else []), "PID", "STATE", "JOB", "HEARTBEAT", *(["UP"] if wide else [])]
        if [str(c.label) for c in table.ordered_columns] != columns:
            table.clear(columns=True)
            table.add_columns(*columns)
        ours = {child.id for child in self.app.local_workers.running()}
        styles = state_styles(self.app.current_theme)
        colour = {"busy": styles["processing"], "idle": styles["completed"], "stopping": styles["failed"]}
        selected = cursor_key(table)
        now = store.now()
        with self.app.batch_update():
            table.clear()
            for w in workers:
                silent = now - w.heartbeat_at > LIVENESS_SECONDS
                state = "silent" if silent else w.state
                name = Text(("★ " if w.id in ours else "  ") + clean(w.id))
                row = [name, *([clean(w.host)] if wide else []), str(w.pid),
                       Text(state, style="dim" if silent else colour.get(w.state, "")),
                       clean(w.current_job or "", 24), ago(w.heartbeat_at),
                       *([duration(now - w.started_at)] if wide else [])]  # fmt: skip
                table.add_row(*row, key=w.id)
            if selected is not None:
                keys = [w.id for w in workers]
                if selected in keys:
                    table.move_cursor(row=keys.index(selected), animate=False, scroll=False)
        live = sum(1 for w in workers if now - w.heartbeat_at <= LIVENESS_SECONDS)
        text = f"{live} live worker{'s' * (live != 1)} · {len(ours)} started here (★)"
        if not workers:
            text = "No workers. Press + to start one here (or run `queuectl worker start`)."
        self.query_one("#workers-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def selected_worker(self) -> str | None:
        table = self.query_one("#workers-table", DataTable)
        return cursor_key(table)

    def action_start(self) -> None:
        self.app.start_worker()
        self.set_timer(0.7, self.reload)  # it registers within a moment

    def action_stop(self) -> None:
        self.app.stop_worker(self.selected_worker())
        self.set_timer(0.5, self.reload)

    def action_stop_all(self) -> None:
        self.app.stop_all_workers()
