"""The Workers pane: every registered worker process and its slots (busy/total), grouped under
its host (a row per host: its state, slots, running jobs, version; lost hosts stay listed with
when); start local worker subprocesses; stop the selected worker, or a host's, through the store."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.render import clean, free_of_total
from queuectl.states import JobState
from queuectl.store.workers import LIVENESS_SECONDS

from .. import keymap
from ..format import ago, duration, state_styles
from ..widgets.vim_table import VimTable
from .keyed import KeyedTablePane


class WorkersPane(KeyedTablePane):
    """Workers of every host, with the ones this dashboard started marked."""

    TAB = "workers"
    TABLE_ID = "workers-table"
    WRITES = keymap.writes("workers")
    BINDINGS = keymap.bindings("workers")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: ids of the running workers this dashboard started (the app keeps it current)
        self.started_here: set[str] = set()
        #: row key -> the host it belongs to (a host's own row, or one of its workers)
        self._host_of: dict[str, str] = {}
        #: worker id -> its state as its row shows it
        self._state_of: dict[str, str] = {}
        #: worker id -> the job it runs (busy workers)
        self._job_of: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="workers-status", classes="pane-status")
        yield VimTable(id="workers-table", cursor_type="row")

    def fetch(self, args) -> tuple[list, list, dict]:
        hosts = store.list_hosts()
        return store.list_workers(live_only=False), hosts, store.resources_of_hosts([h.name for h in hosts])

    def show(self, found: tuple[list, list, dict]) -> None:
        workers, hosts, offered = found
        wide = self.size.width >= 100
        labels = [
            "ID",
            *(["HOST"] if wide else []),
            "PID",
            "STATE",
            "SLOTS",
            "JOB",
            "HEARTBEAT",
            *(["UP"] if wide else []),
        ]
        styles = state_styles(self.app.current_theme)
        colour = {
            "busy": styles[JobState.PROCESSING],
            "idle": styles[JobState.COMPLETED],
            "stopping": styles[JobState.FAILED],
        }
        now = store.now()
        rows = []
        self._host_of = {}
        self._state_of = {}
        self._job_of = {}
        for host in hosts:
            key = f"host:{host.name}"
            self._host_of[key] = host.name
            state = host.state if host.since is None else f"{host.state} {ago(host.since)}"
            look = {"up": "bold", "lost": f"bold {styles[JobState.DEAD]}"}.get(host.state, "dim")
            rows.append(
                (
                    key,
                    (
                        Text(clean(host.name, 28), style=look),
                        *([""] if wide else []),
                        "",
                        Text(state, style=look),
                        f"{host.busy}/{host.slots}",
                        " · ".join([f"{host.running} running", *filter(None, [free_of_total(offered.get(host.name))])]),
                        ago(host.heartbeat_at) if host.heartbeat_at else "",
                        *([clean(host.version or "", 12)] if wide else []),
                    ),
                )
            )
            for w in (w for w in workers if w.host == host.name):
                self._host_of[w.id] = host.name
                silent = now - w.heartbeat_at > LIVENESS_SECONDS
                state = self._state_of[w.id] = "silent" if silent else w.state
                if w.current_job:
                    self._job_of[w.id] = w.current_job
                name = Text(("  ★ " if w.id in self.started_here else "    ") + clean(w.id))
                cells = (
                    name,
                    *([clean(w.host)] if wide else []),
                    str(w.pid),
                    Text(state, style="dim" if silent else colour.get(w.state, "")),
                    f"{w.busy}/{w.slots}",
                    clean(w.current_job or "", 24),
                    ago(w.heartbeat_at),
                    *([duration(now - w.started_at)] if wide else []),
                )
                rows.append((w.id, cells))
        # each column as wide as its widest cell (a change of width redraws the table)
        widths = [
            max([cell_len(label)] + [cell_len(_plain(cells[i])) for _, cells in rows]) for i, label in enumerate(labels)
        ]
        self.fill(list(zip(labels, widths)), rows)
        live = sum(1 for w in workers if now - w.heartbeat_at <= LIVENESS_SECONDS)
        text = f"{live} live worker{'s' * (live != 1)} · {len(self.started_here)} started here (★)"
        if not workers:
            text = "No workers. Press + to start one here (or run `queuectl worker start`)."
        self.query_one("#workers-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        """enter on a busy worker: the job it runs."""
        event.stop()
        key = event.row_key.value if event.row_key else None
        if key in self._job_of:
            self.request("open_job", self._job_of[key])
        elif key in self._state_of:
            self.notify(f"{key} runs no job now", severity="warning")

    def action_start(self) -> None:
        self.request("start_worker")
        self.set_timer(0.7, self.reload)  # it registers within a moment

    def action_stop(self) -> None:
        """-: the selected worker and no other; again while it stops: stop it now (asks)."""
        state = self._state_of.get(self.selected_key or "")
        if state is None:
            self.notify("select a worker's row first: - stops the selected worker", severity="warning")
            return
        self.request("stop_worker_now" if state == "stopping" else "stop_worker", self.selected_key)

    def action_stop_host(self) -> None:
        host = self._host_of.get(self.selected_key or "")
        if host is None:
            self.notify("select a host or one of its workers first", severity="warning")
            return
        self.request("stop_host", host)

    def action_stop_all(self) -> None:
        self.request("stop_all_workers")


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)
