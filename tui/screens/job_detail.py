"""The job view: its fields, its attempt history and the tail of its latest output."""
from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from queuectl import store
from queuectl.errors import QueuectlError
from queuectl.render import clean
from queuectl.store import AttemptView, JobView

from ..format import attempts_cell, duration, full_time, retry_note, runtime, safe_ansi, state_styles

OUTPUT_BYTES = 32 * 1024
OUTPUT_LINES = 200


@dataclass
class Detail:
    job: JobView
    runs: list[AttemptView]
    out: str
    err: str


class JobDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("l", "logs", "Full logs"),
    ]

    @dataclass
    class Loaded(Message):
        detail: Detail | None
        error: str | None

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="job-detail") as box:
            box.border_title = f"Job {clean(self.job_id)}"
            with VerticalScroll(id="detail-scroll"):
                yield Static("loading…", id="detail-fields")
                yield DataTable(id="detail-attempts", cursor_type="row", show_cursor=False)
                yield Static("", id="detail-output")

    def on_mount(self) -> None:
        self.load()
        self.set_interval(1.0, self.load)

    @work(thread=True, exclusive=True, group="detail")
    def load(self) -> None:
        try:
            job = store.get_job(self.job_id)
            runs = store.attempts(self.job_id)
            out = err = ""
            if runs:
                out, _ = store.read_tail(runs[-1].stdout_path, OUTPUT_BYTES)
                err, _ = store.read_tail(runs[-1].stderr_path, OUTPUT_BYTES)
            self.post_message(self.Loaded(Detail(job, runs, out, err), None))
        except QueuectlError as exc:
            self.post_message(self.Loaded(None, str(exc)))

    def on_job_detail_screen_loaded(self, message: Loaded) -> None:
        if message.error:
            self.query_one("#detail-fields", Static).update(Text(message.error, style="red"))
            return
        d = message.detail
        job = d.job
        styles = state_styles(self.app.current_theme)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        state = Text(job.state, style=styles.get(job.state, ""))
        note = retry_note(job)
        if note:
            state.append(" " + note)
        rows = [
            ("state", state),
            ("command", Text(clean(job.command))),
            ("priority", str(job.priority)),
            ("attempts", attempts_cell(job)),
            ("timeout", duration(job.timeout)),
            ("created", full_time(job.created_at)),
            ("run at", full_time(job.run_at)),
            ("started", full_time(job.started_at)),
            ("finished", full_time(job.finished_at)),
            ("runtime", duration(runtime(job))),
            ("exit code", "" if job.exit_code is None else str(job.exit_code)),
            ("last error", Text(clean(job.last_error), style=styles.get("failed", "")) if job.last_error else ""),
            ("worker", clean(job.worker_id or "")),
        ]
        for label, value in rows:
            if value not in ("", None):
                grid.add_row(label, value)
        self.query_one("#detail-fields", Static).update(grid)

        table = self.query_one("#detail-attempts", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "STARTED", "RUNTIME", "EXIT", "HOST", "RESULT")
        for run in d.runs:
            took = (run.finished_at or store.now()) - run.started_at
            result = Text("running", style=styles["processing"]) if run.finished_at is None else (
                Text("ok", style=styles["completed"]) if run.error is None else Text(clean(run.error, 40), style=styles["failed"])
            )  # fmt: skip
            table.add_row(str(run.number), full_time(run.started_at), duration(took),
                          "" if run.exit_code is None else str(run.exit_code), clean(run.host or "", 16), result)  # fmt: skip
        table.display = bool(d.runs)

        output = Text()
        if not d.runs:
            output.append("not run yet", style="dim")
        else:
            output.append(f"latest attempt ({d.runs[-1].number}), last lines — l opens the Logs pane\n", style="bold")
            for line in d.out.splitlines()[-OUTPUT_LINES:]:
                output.append_text(safe_ansi(line))
                output.append("\n")
            for line in d.err.splitlines()[-OUTPUT_LINES:]:
                output.append("[stderr] ", style="dim")
                output.append_text(safe_ansi(line))
                output.append("\n")
            output.rstrip()
        self.query_one("#detail-output", Static).update(output)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_logs(self) -> None:
        self.dismiss(None)
        self.app.show_logs(self.job_id)
