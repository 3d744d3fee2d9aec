"""The DLQ pane: dead jobs with their last error; retry one, retry all, delete.  `g` groups them
by exit code and error (`queuectl dlq list --group-by error`), and R then retries one group."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.render import clean

from ..base import cursor_key
from ..format import attempts_cell, clock_time, state_styles
from .joblist import JobListPane, PagedTable

GROUPS = "groups"  # the query of the grouped view


def group_key(group: dict) -> str:
    return f"{group['exit_code']}\x00{group['error']}"


class DlqPane(JobListPane):
    """Jobs that ran out of retries, most recent first."""

    TAB = "dlq"
    FIXED_STATE = "dead"
    WRITES = frozenset({"retry", "retry_all", "delete"})
    BINDINGS = [
        Binding("space", "mark", "Mark"),
        Binding("r", "retry", "Retry"),
        Binding("R", "retry_all", "Retry all/group"),
        Binding("g", "toggle_grouped", "Grouped", priority=True),
        Binding("x", "delete", "Delete"),
        Binding("y", "copy", "Copy report", show=False),
        Binding("l", "logs", "Logs"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.grouped = False
        self.groups: dict[str, dict] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="dlq-status", classes="pane-status")
        yield PagedTable(id="dlq-table", cursor_type="row")
        yield DataTable(id="dlq-groups", cursor_type="row")
        yield Static(id="dlq-error", classes="detail-box")

    def on_mount(self) -> None:
        self.query_one("#dlq-groups").display = False
        super().on_mount()

    # -- the grouped view ----------------------------------------------------------------
    def set_grouped(self, grouped: bool) -> None:
        if grouped == self.grouped:
            return
        self.grouped = grouped
        self.marked.clear()
        self.query_one("#dlq-groups").display = grouped
        self.table.display = not grouped
        (self.query_one("#dlq-groups") if grouped else self.table).focus()
        self.restart()

    def action_toggle_grouped(self) -> None:
        self.set_grouped(not self.grouped)

    def query_args(self):
        if self.grouped:
            self._ops.clear()
            return GROUPS
        return super().query_args()

    def fetch(self, args):
        if args == GROUPS:
            return GROUPS, store.dead_by_error()
        return super().fetch(args)

    def show(self, result) -> None:
        if isinstance(result, tuple) and result[0] == GROUPS:
            if self.grouped:
                self._show_groups(result[1])
            return
        if not self.grouped:
            super().show(result)

    def _show_groups(self, groups: list[dict]) -> None:
        table = self.query_one("#dlq-groups", DataTable)
        width = max(40, table.size.width or self.size.width or 80)
        wide = width >= 96
        columns = [("JOBS", 6), ("EXIT", 4), ("ERROR", None)] + ([("LATEST", 11)] if wide else [])
        fixed = sum(w for _, w in columns if w) + 2 * len(columns)
        error_width = max(8, width - fixed - 2)
        labels = [label for label, _ in columns]
        if getattr(self, "_groups_layout", None) != (labels, error_width):
            self._groups_layout = (labels, error_width)
            table.clear(columns=True)
            for label, w in columns:
                table.add_column(label, key=label, width=w or error_width)
        selected = self.selected_group_key
        old_index = table.cursor_row
        self.groups = {group_key(g): g for g in groups}
        dead = state_styles(self.app.current_theme)["dead"]
        with self.app.batch_update():
            table.clear()
            for g in groups:
                cells = [Text(f"{g['count']:,}", justify="right", style=f"bold {dead}"),
                         Text("" if g["exit_code"] is None else str(g["exit_code"]), justify="right"),
                         Text(clean(g["error"] or "(no error)", error_width), no_wrap=True)]  # fmt: skip
                if wide:
                    cells.append(clock_time(g["latest"]))
                table.add_row(*cells, key=group_key(g))
            keys = list(self.groups)
            if keys:
                index = keys.index(selected) if selected in keys else min(max(old_index, 0), len(keys) - 1)
                table.move_cursor(row=index, animate=False, scroll=False)
        n = sum(g["count"] for g in groups)
        self.total = n
        text = f"dead-letter queue · {n:,} job{'s' * (n != 1)} in {len(groups)} group{'s' * (len(groups) != 1)} by exit code and error · g: every job"
        self.query_one("#dlq-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))
        self._detail()

    @property
    def selected_group_key(self) -> str | None:
        table = self.query_one("#dlq-groups", DataTable)
        return cursor_key(table)

    @property
    def selected_group(self) -> dict | None:
        return self.groups.get(self.selected_group_key or "")

    def _group_detail(self, box: Static) -> None:
        g = self.selected_group
        if g is None:
            box.update(Text("The dead-letter queue is empty.", style="dim"))
            box.border_title = ""
            return
        box.border_title = f"{g['count']:,} dead job{'s' * (g['count'] != 1)} · R retries them all"
        body = Text()
        body.append("exit     ", style="bold")
        body.append(("none" if g["exit_code"] is None else str(g["exit_code"])) + "\n")
        body.append("error    ", style="bold")
        body.append(clean(g["error"] or "(no error)") + "\n")
        body.append("latest   ", style="bold")
        body.append(", ".join(clean(i, 30) for i in g["examples"]) + (" …" if g["count"] > len(g["examples"]) else ""))
        box.update(body)

    def column_spec(self, width: int):
        wide = width >= 96
        spec = [("id", "ID", 16 if wide else 14), ("att", "ATT", 5), ("exit", "EXIT", 4), ("error", "LAST ERROR", None)]
        if wide:
            spec += [("failed", "DIED", 11)]
        return spec

    def cells(self, job, styles, widths):
        id_cell = self.mark_prefix(job)
        id_cell.append(clean(job.id, widths["id"] - 2), style=styles.get("dead"))
        cells = (
            id_cell,
            Text(attempts_cell(job), justify="right"),
            Text("" if job.exit_code is None else str(job.exit_code), justify="right"),
            Text(clean(job.last_error, widths["error"]), no_wrap=True),
        )
        if "failed" in widths:
            cells += (clock_time(job.finished_at or job.updated_at),)
        return cells

    def after_show(self) -> None:
        n = self.total or 0
        text = f"dead-letter queue · {n:,} job{'s' * (n != 1)} · g: grouped by error"
        if self.marked:
            text += f" · {len(self.marked)} marked"
        self.query_one("#dlq-status", Static).update(text)
        self._detail()

    def _detail(self) -> None:
        box = self.query_one("#dlq-error", Static)
        if self.grouped:
            self._group_detail(box)
            return
        job = self.selected_job
        if job is None:
            box.update(Text("The dead-letter queue is empty.", style="dim"))
            box.border_title = ""
            return
        box.border_title = f"{job.id} · {attempts_cell(job)} attempts"
        body = Text()
        body.append("command  ", style="bold")
        body.append(clean(job.command) + "\n")
        body.append("error    ", style="bold")
        body.append(clean(job.last_error))
        box.update(body)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.grouped:
            self._detail()
            return
        if event.row_key and event.row_key.value:
            self.app.selected_job_id = event.row_key.value
        self._detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.grouped:
            g = self.selected_group
            if g and g["examples"]:
                self.app.open_job(g["examples"][0])
            return
        if event.row_key and event.row_key.value:
            self.app.open_job(event.row_key.value)

    def action_retry(self) -> None:
        if self.grouped:
            self.action_retry_all()
            return
        ids = self.targets()
        if ids:
            self.app.retry_jobs(ids, dead_only=True)
            self.marked.clear()

    def action_retry_all(self) -> None:
        if self.grouped:
            g = self.selected_group
            if g:
                self.app.retry_group(g["exit_code"], g["error"])
            return
        self.app.retry_all_dead(self.total or 0)

    def action_delete(self) -> None:
        if self.grouped:
            self.notify("delete works on single jobs: g shows every job", severity="warning")
            return
        ids = self.targets()
        if ids:
            self.app.delete_jobs(ids)
            self.marked.clear()

    def action_mark(self) -> None:
        if not self.grouped:
            super().action_mark()

    def action_logs(self) -> None:
        if self.grouped:
            g = self.selected_group
            if g and g["examples"]:
                self.app.show_logs(g["examples"][0])
            return
        if self.selected_id:
            self.app.show_logs(self.selected_id)

    def action_copy(self) -> None:
        if self.grouped:
            return
        job = self.selected_job
        if job:
            report = (f"job: {job.id}\ncommand: {job.command}\nattempts: {attempts_cell(job)}\n"
                      f"exit code: {job.exit_code}\nlast error: {job.last_error}\n")  # fmt: skip
            self.app.copy_to_clipboard(report)
            self.notify(f"copied a failure report for {job.id}")
