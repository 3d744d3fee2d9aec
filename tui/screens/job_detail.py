"""The job view: its fields, its attempt history and the tail of its latest output."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from queuectl import ops, store
from queuectl.errors import QueuectlError
from queuectl.render import clean, resources_text, usage_line
from queuectl.states import CLAIMABLE_STATES, JobState
from queuectl.store import AttemptView, JobView

from .. import keymap
from ..base import cursor_key
from ..format import duration, full_time, retry_note, runs_phrase, runtime, safe_ansi, state_styles, without_attempt
from ..messages import ActionRequested, JobHighlighted
from ..widgets.footer import KeysFooter
from ..widgets.vim_table import VimTable

OUTPUT_BYTES = 32 * 1024
OUTPUT_LINES = 200


@dataclass
class Detail:
    job: JobView
    runs: list[AttemptView]
    out: str
    err: str
    #: (relation, job) for each dependency ("needs") and dependent ("needed by")
    links: list[tuple[str, JobView]]
    queue_paused: bool
    #: why no live host can run it (it asks for more than any offers), if so
    unmet: str | None = None


#: links shown per direction (a fan-in of thousands would not help anyone here)
MAX_LINKS = 50


class JobDetailScreen(ModalScreen[None]):
    BINDINGS = keymap.bindings("job")
    #: its keys that write (the Jobs list's: r, e, c, p, z): off in read-only mode
    WRITES = keymap.writes("job")

    @dataclass
    class Loaded(Message):
        detail: Detail | None
        error: str | None

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.history: list[str] = []  # the jobs jumped from (backspace goes back)
        self._links_shown: list = []
        #: the job as last loaded (what r, e, c, p and z act on)
        self.job: JobView | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="job-detail") as box:
            box.border_title = f"Job {clean(self.job_id)}"
            with VerticalScroll(id="detail-scroll"):
                yield Static("loading…", id="detail-fields")
                yield Static("", id="detail-links-title")
                yield VimTable(id="detail-links", cursor_type="row")  # (its cells are plain text)
                yield VimTable(id="detail-attempts", cursor_type="row", show_cursor=False)
                yield Static("", id="detail-output")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#detail-links").display = False
        self.query_one("#detail-links-title").display = False
        self.load()
        self.set_interval(1.0, self.load)

    def load(self) -> None:
        self._load(self.job_id)

    @work(thread=True, exclusive=True, group="detail")
    def _load(self, job_id: str) -> None:
        try:
            found = ops.job_detail(job_id, MAX_LINKS)
            links = [("needs", j) for j in found.depends_on] + [("needed by", j) for j in found.dependents]
            out = err = ""
            if found.runs:
                output = ops.read_output(job_id, max_bytes=OUTPUT_BYTES)
                out, err = output.stdout.text, output.stderr.text
            if job_id == self.job_id:
                paused = found.job.queue in store.paused_queues()
                unmet = store.waiting_reasons([found.job]).get(job_id) if found.job.resources else None
                self.post_message(self.Loaded(Detail(found.job, found.runs, out, err, links, paused, unmet), None))
        except QueuectlError as exc:
            self.post_message(self.Loaded(None, str(exc)))

    def on_job_detail_screen_loaded(self, message: Loaded) -> None:
        if message.error:
            self.query_one("#detail-fields", Static).update(Text(message.error, style="red"))
            return
        d = message.detail
        job = d.job
        if job.id != self.job_id:
            return  # jumped to another job meanwhile
        self.job = job
        styles = state_styles(self.app.current_theme)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        state = Text(job.state, style=styles.get(job.state, ""))
        note = retry_note(job)
        if d.queue_paused and job.state in CLAIMABLE_STATES:
            note = f"(queue {clean(job.queue)} is paused: it waits until the queue is resumed)"
        elif d.unmet:
            note = f"(waits for resources: {d.unmet})"
        if note:
            state.append(" " + note)
        rows = [
            ("state", state),
            ("command", Text(clean(job.command))),
            ("priority", str(job.priority)),
            ("runs", runs_phrase(job, len(d.runs))),
            ("timeout", duration(job.timeout)),
            ("created", full_time(job.created_at)),
            ("run at", full_time(job.run_at)),
            ("started", full_time(job.started_at)),
            ("finished", full_time(job.finished_at)),
            ("runtime", duration(runtime(job))),
            ("exit code", "" if job.exit_code is None else str(job.exit_code)),
            (
                "last error",
                Text(clean(job.last_error), style=styles.get(JobState.FAILED, "")) if job.last_error else "",
            ),
            ("worker", clean(job.worker_id or "")),
            ("queue", clean(job.queue)),
            (
                "if a dependency fails",
                {"success": "cancelled too (policy success)", "finish": "runs anyway (policy finish)"}.get(
                    job.dependency_policy, job.dependency_policy
                )
                if any(r == "needs" for r, _ in d.links)
                else "",
            ),
            ("unique key", clean(job.unique_key or "")),
            ("cwd", clean(job.cwd or "")),
            ("env", Text(clean(" ".join(f"{k}={v}" for k, v in sorted(job.env.items())))) if job.env else ""),
            ("fatal exit codes", ", ".join(map(str, job.fatal_exit_codes))),
            ("asks", resources_text(job.resources)),
            ("latest run used", "; ".join(filter(None, (usage_line(d.runs[-1]), d.runs[-1].note))) if d.runs else ""),
        ]
        for label, value in rows:
            if value not in ("", None):  # (a str cell of a Rich table would be read as markup)
                grid.add_row(label, value if isinstance(value, Text) else Text(value))
        self.query_one("#detail-fields", Static).update(grid)
        self._show_links(d.links, styles)

        table = self.query_one("#detail-attempts", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "STARTED", "RUNTIME", "EXIT", "HOST", "RESULT")
        for run in d.runs:
            took = (run.finished_at or store.now()) - run.started_at
            result = (
                Text(JobState.PROCESSING.value, style=styles[JobState.PROCESSING])
                if run.finished_at is None
                else (
                    Text("ok", style=styles[JobState.COMPLETED])
                    if run.error is None
                    else Text(clean(run.error, 40), style=styles[JobState.FAILED])
                )
            )
            table.add_row(
                str(run.number),
                full_time(run.started_at),
                duration(took),
                "" if run.exit_code is None else str(run.exit_code),
                clean(run.host or "", 16),
                result,
            )
        table.display = bool(d.runs)

        output = Text()
        if not d.runs:
            output.append(without_attempt(d.job.state), style="dim")
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

    def _show_links(self, links: list, styles: dict) -> None:
        table = self.query_one("#detail-links", DataTable)
        title = self.query_one("#detail-links-title", Static)
        rows = []
        for rel, other in links:
            rows.append((rel, other.id, Text(other.state, style=styles.get(other.state, "")), clean(other.command, 60)))
        table.display = title.display = bool(rows)
        plain = [(r, i, s.plain, c) for r, i, s, c in rows]
        if plain == self._links_shown:
            return
        first = not self._links_shown
        self._links_shown = plain
        selected = cursor_key(table)
        table.clear(columns=not table.columns)
        if not table.columns:
            table.add_columns("", "JOB", "STATE", "COMMAND")
        for rel, job_id, state, command in rows:
            table.add_row(rel, clean(job_id, 40), state, command, key=f"{rel}:{job_id}")
        keys = [f"{rel}:{job_id}" for rel, job_id, _, _ in rows]
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)
        if rows:
            needs = sum(1 for r in rows if r[0] == "needs")
            title.update(
                Text(
                    f"dependencies: needs {needs}, needed by {len(rows) - needs} — enter opens one"
                    + (", backspace goes back" if self.history else ""),
                    style="bold",
                )
            )
            if first:
                table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "detail-links" or event.row_key is None or not event.row_key.value:
            return
        event.stop()
        self.jump(event.row_key.value.split(":", 1)[1])

    def jump(self, job_id: str, back: bool = False) -> None:
        """Show another job in this view (a dependency or dependent)."""
        if not back:
            self.history.append(self.job_id)
        self.job_id = job_id
        self.job = None
        self.app.post_message(JobHighlighted(job_id))
        self._links_shown = []
        self.query_one("#job-detail").border_title = f"Job {clean(job_id)}"
        self.query_one("#detail-fields", Static).update("loading…")
        self.query_one("#detail-links", DataTable).clear()
        self.query_one("#detail-scroll").scroll_home(animate=False)
        self.load()

    # -- the Jobs list's keys, on this job ------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.WRITES and self.app.readonly)

    def request(self, action: str, *args) -> None:
        self.app.post_message(ActionRequested(action, args))

    def _loaded_job(self) -> JobView | None:
        if self.job is None:
            self.notify("the job is still loading", severity="warning")
        return self.job

    def action_retry(self) -> None:
        job = self._loaded_job()
        if job is None:
            return
        if job.state == JobState.DEAD:
            self.request("retry_dead", [job.id])
        elif job.state in ops.FINISHED:
            self.request("retry", [job.id])
        else:
            self.notify(
                f"{job.id} is {job.state}: only finished jobs (completed, dead, cancelled) can be retried",
                severity="warning",
            )

    def action_edit(self) -> None:
        job = self._loaded_job()
        if job is not None:
            self.request("edit_job", job.id, job.state in ops.FINISHED)

    def action_cancel(self) -> None:
        job = self._loaded_job()
        if job is not None:
            self.request("cancel", [job.id], [job.id] if job.state == JobState.PROCESSING else [])

    def action_priority(self) -> None:
        job = self._loaded_job()
        if job is not None:
            self.request("priority", [job.id], job.priority)

    def action_pause(self) -> None:
        job = self._loaded_job()
        if job is not None:
            self.request("pause", [job.id], not job.paused)

    def action_back(self) -> None:
        if self.history:
            self.jump(self.history.pop(), back=True)

    def action_wait(self) -> None:
        self.dismiss(None)
        self.app.post_message(ActionRequested("wait", (self.job_id,)))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_logs(self) -> None:
        self.dismiss(None)
        self.app.post_message(ActionRequested("logs", (self.job_id,)))
