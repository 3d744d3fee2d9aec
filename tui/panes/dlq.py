"""The DLQ pane: dead jobs with their last error; retry one, retry all, delete."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from queuectl.render import clean

from ..format import attempts_cell, clock_time
from .joblist import JobListPane, PagedTable


class DlqPane(JobListPane):
    """Jobs that ran out of retries, most recent first."""

    TAB = "dlq"
    FIXED_STATE = "dead"
    WRITES = frozenset({"retry", "retry_all", "delete"})
    BINDINGS = [
        Binding("space", "mark", "Mark"),
        Binding("r", "retry", "Retry"),
        Binding("R", "retry_all", "Retry all"),
        Binding("x", "delete", "Delete"),
        Binding("y", "copy", "Copy report", show=False),
        Binding("l", "logs", "Logs"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="dlq-status", classes="pane-status")
        yield PagedTable(id="dlq-table", cursor_type="row")
        yield Static(id="dlq-error", classes="detail-box")

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
        text = f"dead-letter queue · {n:,} job{'s' * (n != 1)}"
        if self.marked:
            text += f" · {len(self.marked)} marked"
        self.query_one("#dlq-status", Static).update(text)
        self._detail()

    def _detail(self) -> None:
        job = self.selected_job
        box = self.query_one("#dlq-error", Static)
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
        if event.row_key and event.row_key.value:
            self.app.selected_job_id = event.row_key.value
        self._detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key and event.row_key.value:
            self.app.open_job(event.row_key.value)

    def action_retry(self) -> None:
        ids = self.targets()
        if ids:
            self.app.retry_jobs(ids)
            self.marked.clear()

    def action_retry_all(self) -> None:
        self.app.retry_all_dead(self.total or 0)

    def action_delete(self) -> None:
        ids = self.targets()
        if ids:
            self.app.delete_jobs(ids)
            self.marked.clear()

    def action_logs(self) -> None:
        if self.selected_id:
            self.app.show_logs(self.selected_id)

    def action_copy(self) -> None:
        job = self.selected_job
        if job:
            report = (f"job: {job.id}\ncommand: {job.command}\nattempts: {attempts_cell(job)}\n"
                      f"exit code: {job.exit_code}\nlast error: {job.last_error}\n")  # fmt: skip
            self.app.copy_to_clipboard(report)
            self.notify(f"copied a failure report for {job.id}")
