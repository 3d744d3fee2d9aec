"""The Schedules pane: recurring jobs with their next and last run; pause, run now, remove."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.render import clean
from queuectl.states import JobState
from queuectl.store import ScheduleView

from .. import keymap
from ..format import clock_time, duration, full_time, state_styles
from ..widgets.vim_table import VimTable
from .keyed import KeyedTablePane


class SchedulesPane(KeyedTablePane):
    """Schedules (`queuectl schedule list`): n adds one, z pauses or resumes, t runs one now, x removes."""

    TAB = "schedules"
    TABLE_ID = "schedules-table"
    WRITES = keymap.writes("schedules")
    BINDINGS = keymap.bindings("schedules")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.schedules: dict[str, ScheduleView] = {}
        #: the state of each schedule's last job
        self.last_states: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="schedules-status", classes="pane-status")
        yield VimTable(id="schedules-table", cursor_type="row")
        yield Static(id="schedules-detail", classes="detail-box")

    def fetch(self, args) -> tuple[list, dict]:
        schedules = store.list_schedules()
        last = store.states_of([s.last_job_id for s in schedules if s.last_job_id])
        return schedules, last

    def show(self, result) -> None:
        schedules, self.last_states = result
        self.schedules = {s.name: s for s in schedules}
        styles = state_styles(self.app.current_theme)
        wide = self.size.width >= 96
        now = store.now()
        columns = [("NAME", 14), ("CRON", 13 if wide else 12)]
        if wide:
            columns += [("TZ", 14)]
        columns += [("NEXT RUN", 11)] + ([("IN", 8)] if wide else []) + [("LAST RUN", 11), ("SKIP", 4), ("STATE", 6)]
        rows = []
        for s in schedules:
            if s.paused:
                next_cell = Text("—", style="dim")
            else:
                next_cell = Text(clock_time(s.next_run_at))
            left = s.next_run_at - now
            in_cell = Text("" if s.paused else (duration(left) if left > 0.5 else "due"), justify="right", style="dim")
            last = Text(clock_time(s.last_run_at) if s.last_run_at else "never", style="" if s.last_run_at else "dim")
            last_state = self.last_states.get(s.last_job_id or "")
            if last_state:
                last.stylize(styles.get(last_state, ""))
            cells = (Text(clean(s.name, columns[0][1]), no_wrap=True), Text(clean(s.cron, columns[1][1]), no_wrap=True))
            if wide:
                cells += (Text(clean(s.tz, 14), no_wrap=True),)
            cells += (
                (next_cell,)
                + ((in_cell,) if wide else ())
                + (
                    last,
                    Text(f"{s.skipped:,}", justify="right", style="" if s.skipped else "dim"),
                    _state_cell(s, styles),
                )
            )
            rows.append((s.name, cells))
        self.fill(columns, rows)
        paused = sum(1 for s in schedules if s.paused)
        failed = sum(1 for s in schedules if s.last_error)
        text = f"{len(schedules)} schedule{'s' * (len(schedules) != 1)} · times are local"
        if paused:
            text += f" · {paused} paused"
        if failed:
            text += f" ({failed} by an error)"
        if not schedules:
            text = (
                "no schedules yet — n adds one"
                if not self.app.readonly
                else "no schedules yet (queuectl schedule add NAME JOB_JSON --cron '*/5 * * * *')"
            )
        self.query_one("#schedules-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))
        self._detail()

    @property
    def selected(self):
        return self.schedules.get(self.selected_key)

    def _detail(self) -> None:
        box = self.query_one("#schedules-detail", Static)
        s = self.selected
        if s is None:
            box.border_title = ""
            box.update(Text("", style="dim"))
            return
        box.border_title = f"{s.name} · overlap {s.overlap}"
        styles = state_styles(self.app.current_theme)
        rows = [("job", Text(clean(json.dumps(s.job, ensure_ascii=False))))]
        if s.last_error:  # folded onto more lines rather than cut: it is why the schedule stopped
            rows.append(
                ("error", Text(clean(s.last_error), style=styles[JobState.FAILED], no_wrap=False, overflow="fold"))
            )
            rows.append(("next", Text("paused by this error: z resumes once it is fixed", style="dim")))
        elif s.paused:
            rows.append(("next", Text("paused: z resumes from the next tick (missed ticks are not run)", style="dim")))
        else:
            try:
                there = datetime.fromtimestamp(s.next_run_at, ZoneInfo(s.tz)).strftime("%Y-%m-%d %H:%M")
            except Exception:  # a zone this machine does not know
                there = "?"
            rows.append(("next", f"{full_time(s.next_run_at)} ({there} {clean(s.tz)})"))
        if s.last_job_id:
            state = self.last_states.get(s.last_job_id)
            last = Text(clean(s.last_job_id) + " ")
            last.append(state if state else "(deleted)", style=styles.get(state or "", "dim"))
            rows.append(("last", last))
        if s.skipped:
            rows.append(("skipped", f"{s.skipped:,} tick(s): the previous run had not finished (overlap skip)"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True, min_width=max(len(label) for label, _ in rows))  # never squeezed
        grid.add_column(no_wrap=True, overflow="ellipsis")
        for row in rows:
            grid.add_row(*row)
        box.update(grid)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_last_job()

    def action_new(self) -> None:
        self.request("add_schedule")

    def action_pause(self) -> None:
        s = self.selected
        if s is not None:
            self.request("pause_schedule", s.name, s.paused)

    def action_run(self) -> None:
        s = self.selected
        if s is not None:
            self.request("run_schedule", s.name)

    def action_remove(self) -> None:
        s = self.selected
        if s is not None:
            self.request("remove_schedule", s.name)

    def action_last_job(self) -> None:
        s = self.selected
        if s is not None and s.last_job_id:
            self.request("open_job", s.last_job_id)


def _state_cell(s: ScheduleView, styles: dict) -> Text:
    """error: the last tick failed and paused the schedule (the detail box says why)."""
    if s.last_error:
        return Text("error", style=f"bold {styles[JobState.FAILED]}")
    return Text("paused", style=f"bold {styles[JobState.FAILED]}") if s.paused else Text("active", style="dim")
