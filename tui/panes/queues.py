"""The Queues pane: every named queue with its jobs per state, running jobs, limit and pause."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.render import clean
from queuectl.states import JobState
from queuectl.store import QueueView

from .. import keymap
from ..format import state_styles
from ..widgets.vim_table import VimTable
from .keyed import KeyedTablePane

#: (state, column label) for the per-state counts; the wide layout adds the finished ones
NARROW = [(s.value, s.value.upper()) for s in (JobState.PENDING, JobState.BLOCKED, JobState.FAILED, JobState.DEAD)]
WIDE = [*NARROW, *((s.value, s.value.upper()) for s in (JobState.COMPLETED, JobState.CANCELLED))]


class QueuesPane(KeyedTablePane):
    """Named queues (`queuectl queue list`): z pauses or resumes, L sets the limit."""

    TAB = "queues"
    TABLE_ID = "queues-table"
    WRITES = keymap.writes("queues")
    BINDINGS = keymap.bindings("queues")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.queues: dict[str, QueueView] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="queues-status", classes="pane-status")
        yield VimTable(id="queues-table", cursor_type="row")
        yield Static(id="queues-help", classes="pane-status")

    def fetch(self, args) -> list:
        return store.list_queues()

    def show(self, queues: list) -> None:
        self.queues = {q.name: q for q in queues}
        styles = state_styles(self.app.current_theme)
        wide = self.size.width >= 96
        counted = WIDE if wide else NARROW
        columns = [("QUEUE", 24 if wide else 12), ("STATE", 7), ("PROCESSING", 10), ("LIMIT", 6)]
        columns += [(label, max(len(label), 7)) for _, label in counted]
        rows = []
        for q in queues:
            state = Text("paused", style=f"bold {styles[JobState.FAILED]}") if q.paused else Text("active", style="dim")
            limit = "none" if q.max_running is None else f"{q.max_running:,}"
            at_limit = q.max_running is not None and q.running >= q.max_running
            running = Text(f"{q.running:,}", justify="right", style=styles[JobState.PROCESSING] if q.running else "dim")
            if at_limit:
                running.append(" ●", style="bold")
            cells = (Text(clean(q.name, columns[0][1]), no_wrap=True), state, running, Text(limit, justify="right"))
            for s, _ in counted:
                n = q.jobs.get(s, 0)
                cells += (Text(f"{n:,}", justify="right", style=styles.get(s, "") if n else "dim"),)
            rows.append((q.name, cells))
        self.fill(columns, rows)
        paused = sum(1 for q in queues if q.paused)
        text = f"{len(queues)} queue{'s' * (len(queues) != 1)}"
        if paused:
            text += f" · {paused} paused"
        if not queues:
            text = "No queues yet: jobs go to 'default' unless they name a queue (job field queue)."
        self.query_one("#queues-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))
        hint = "● at its limit · enter its jobs · z pause/resume · L limit (none: no limit)"
        if self.app.readonly:
            hint = "● at its limit · enter its jobs"
        self.query_one("#queues-help", Static).update(Text(hint, style="dim", no_wrap=True, overflow="ellipsis"))

    @property
    def selected(self):
        return self.queues.get(self.selected_key)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.selected is not None:
            self.request("show_queue", self.selected.name)

    def action_pause(self) -> None:
        q = self.selected
        if q is not None:
            self.request("pause_queue", q.name, q.paused)

    def action_limit(self) -> None:
        q = self.selected
        if q is not None:
            self.request("limit_queue", q.name, q.max_running)
