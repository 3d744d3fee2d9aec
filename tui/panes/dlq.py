"""The DLQ pane: dead jobs with their last error (retry one, retry all, delete), or the same jobs
grouped by exit code and error (`queuectl dlq list --group-by error`), where a retry takes a whole
group.  The two views are two widgets in a ContentSwitcher; `grouped` picks one."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ContentSwitcher, DataTable, Static
from textual.worker import get_current_worker

from queuectl import ops, store
from queuectl.errors import QueuectlError
from queuectl.render import clean
from queuectl.states import JobState

from .. import keymap
from ..format import ago_short, attempts_cell, clock_time, runs_phrase, safe_ansi, state_styles
from ..messages import JobHighlighted
from ..widgets.paged_table import PagedTable
from ..widgets.vim_table import VimTable
from .joblist import JobListPane, sort_phrase
from .keyed import KeyedTablePane


def group_key(group: dict) -> str:
    return f"{group['exit_code']}\x00{group['error']}"


def _empty(box: Static) -> None:
    box.update(Text("The dead-letter queue is empty: jobs land here when they run out of retries.", style="dim"))
    box.border_title = ""


def _detail_box(box: Static, title: str, lines: dict[str, str]) -> None:
    """The box below either view's table: a title, then one line per entry, its label in bold."""
    box.border_title = title
    box.update(Text("\n").join(Text.assemble((f"{label:<9}", "bold"), value) for label, value in lines.items()))


#: what the detail box reads of a dead job's last stderr, and shows of it
STDERR_BYTES = 4096
STDERR_LINES = 2


def _why(job, stderr: list[str]) -> Text:
    """The detail box of a dead job: its command, its error, and the last lines of its stderr."""
    body = Text()
    body.append("command  ", style="bold")
    body.append(clean(job.command) + "\n")
    body.append("error    ", style="bold")
    body.append(clean(job.last_error))
    for line in stderr:
        body.append("\nstderr   ", style="bold")
        body.append_text(safe_ansi(line))
    return body


class DeadJobs(JobListPane):
    """Jobs that ran out of retries, the latest death first; `o` sorts by another column."""

    TAB = "dlq"
    FIXED_STATE = JobState.DEAD.value
    SORTS = ("ended", "created", "id", "attempts", "runtime")
    WRITES = keymap.writes("dlq")
    BINDINGS = keymap.bindings("dlq")

    def compose(self) -> ComposeResult:
        yield Static(id="dlq-status", classes="pane-status")
        yield PagedTable(id="dlq-table", cursor_type="row")
        yield Static(id="dlq-error", classes="detail-box dlq-detail")

    def column_spec(self, width: int):
        """ID, RUNS, EXIT, LAST ERROR and when it DIED (ago at 80 columns, a time wider); the
        error gives way first, then the id."""
        wide = width >= 96
        others = [
            ("att", "RUNS", 5),
            ("exit", "EXIT", 4),
            ("error", "LAST ERROR", None),
            ("died", "DIED", 11 if wide else 8),
        ]
        return [("id", "ID", self.id_width(width, others)), *others]

    def cells(self, job, styles, widths):
        id_cell = self.mark_prefix(job)
        id_cell.append(clean(job.id, widths["id"] - 2), style=styles.get(JobState.DEAD))
        died = job.finished_at or job.updated_at
        return (
            id_cell,
            Text(attempts_cell(job), justify="right"),
            Text("" if job.exit_code is None else str(job.exit_code), justify="right"),
            Text(clean(job.last_error, widths["error"]), no_wrap=True),
            Text(clock_time(died) if widths["died"] > 8 else ago_short(died), justify="right"),
        )

    def after_show(self) -> None:
        n = self.total or 0
        text = (
            f"dead-letter queue · {n:,} job{'s' * (n != 1)} · {sort_phrase(self.sort, 'death')} · v: grouped by error"
        )
        if self.marked:
            text += f" · {len(self.marked)} marked"
        self.query_one("#dlq-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))
        self._detail()

    def _detail(self) -> None:
        box = self.query_one("#dlq-error", Static)
        job = self.selected_job
        if job is None:
            _empty(box)
            return
        box.border_title = f"{job.id} · {runs_phrase(job)}"
        box.update(_why(job, []))
        self._load_stderr(job.id)

    @work(thread=True, exclusive=True, group="dlq-stderr")
    def _load_stderr(self, job_id: str) -> None:
        """The last lines its last run wrote to stderr: "exited with code 3" says little, and the
        program's own last words usually say why."""
        try:
            output = ops.read_output(job_id, max_bytes=STDERR_BYTES)
        except QueuectlError:
            return
        if output.run is None or get_current_worker().is_cancelled:
            return
        lines = [line for line in output.stderr.text.splitlines() if line.strip()][-STDERR_LINES:]
        if lines:
            self.app.call_from_thread(self._show_stderr, job_id, lines)

    def _show_stderr(self, job_id: str, lines: list[str]) -> None:
        job = self.selected_job
        if job is not None and job.id == job_id:
            self.query_one("#dlq-error", Static).update(_why(job, lines))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key and event.row_key.value:
            self.app.post_message(JobHighlighted(event.row_key.value))
        self._detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key and event.row_key.value:
            self.request("open_job", event.row_key.value)

    def action_retry(self) -> None:
        ids = self.targets()
        if ids:
            self.request("retry_dead", ids)
            self.marked.clear()

    def action_toggle_grouped(self) -> None:
        self.query_ancestor(DlqPane).action_toggle_grouped()

    def action_retry_all(self) -> None:
        self.request("retry_all_dead", self.total or 0)

    def action_edit(self) -> None:
        """Edit the dead job in the new-job form, then retry it."""
        if self.selected_id:
            self.request("edit_job", self.selected_id, True)

    def action_delete(self) -> None:
        ids = self.targets()
        if ids:
            self.request("delete", ids)
            self.marked.clear()

    def action_logs(self) -> None:
        if self.selected_id:
            self.request("logs", self.selected_id)

    def action_copy(self) -> None:
        job = self.selected_job
        if job:
            report = (
                f"job: {job.id}\ncommand: {job.command}\nruns: {runs_phrase(job)}\n"
                f"exit code: {job.exit_code}\nlast error: {job.last_error}\n"
            )
            self.app.copy_to_clipboard(report)
            self.notify(f"copied a failure report for {job.id}")


class DeadGroups(KeyedTablePane):
    """One row per exit code and error, largest group first."""

    TAB = "dlq"
    TABLE_ID = "dlq-groups"
    WRITES = keymap.writes("dlq-groups")
    BINDINGS = keymap.bindings("dlq-groups")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.groups: dict[str, dict] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="dlq-groups-status", classes="pane-status")
        yield VimTable(id="dlq-groups", cursor_type="row")
        yield Static(id="dlq-group-detail", classes="detail-box dlq-detail")

    def fetch(self, args) -> list[dict]:
        return store.dead_by_error()

    def show(self, groups: list[dict]) -> None:
        width = max(40, self.table.size.width or self.size.width or 80)
        wide = width >= 96
        columns = [("JOBS", 6), ("EXIT", 4), ("ERROR", None)] + ([("LATEST", 11)] if wide else [])
        fixed = sum(w for _, w in columns if w) + 2 * len(columns)
        error_width = max(8, width - fixed - 2)
        columns = [(label, w or error_width) for label, w in columns]
        self.groups = {group_key(g): g for g in groups}
        dead = state_styles(self.app.current_theme)[JobState.DEAD]
        rows = []
        for g in groups:
            cells = (
                Text(f"{g['count']:,}", justify="right", style=f"bold {dead}"),
                Text("" if g["exit_code"] is None else str(g["exit_code"]), justify="right"),
                Text(clean(g["error"] or "(no error)", error_width), no_wrap=True),
            )
            if wide:
                cells += (clock_time(g["latest"]),)
            rows.append((group_key(g), cells))
        self.fill(columns, rows)
        n = sum(g["count"] for g in groups)
        text = (
            f"dead-letter queue · {n:,} job{'s' * (n != 1)} in {len(groups)} group{'s' * (len(groups) != 1)} "
            "by exit code and error · v: every job"
        )
        self.query_one("#dlq-groups-status", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))
        self._detail()

    @property
    def selected_group(self) -> dict | None:
        return self.groups.get(self.selected_key or "")

    def _detail(self) -> None:
        box = self.query_one("#dlq-group-detail", Static)
        g = self.selected_group
        if g is None:
            _empty(box)
            return
        _detail_box(
            box,
            f"{g['count']:,} dead job{'s' * (g['count'] != 1)} · r retries {'them all' if g['count'] != 1 else 'it'}",
            {
                "exit": "none" if g["exit_code"] is None else str(g["exit_code"]),
                "error": clean(g["error"] or "(no error)"),
                "latest": ", ".join(clean(i, 30) for i in g["examples"])
                + (" …" if g["count"] > len(g["examples"]) else ""),
            },
        )

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        g = self.selected_group
        if g and g["examples"]:
            self.request("open_job", g["examples"][0])

    def action_retry(self) -> None:
        g = self.selected_group
        if g:
            self.request("retry_group", g["exit_code"], g["error"])

    def action_logs(self) -> None:
        g = self.selected_group
        if g and g["examples"]:
            self.request("logs", g["examples"][0])

    def action_delete(self) -> None:
        self.notify("delete works on single jobs: v shows every job", severity="warning")

    def action_toggle_grouped(self) -> None:
        self.query_ancestor(DlqPane).action_toggle_grouped()


class DlqPane(Vertical):
    """The dead-letter queue, as a list of jobs or grouped by error."""

    TAB = "dlq"
    WRITES = DeadJobs.WRITES | DeadGroups.WRITES

    grouped = reactive(False, init=False)

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="dlq-list"):
            yield DeadJobs(id="dlq-list")
            yield DeadGroups(id="dlq-grouped")

    @property
    def view(self) -> DeadJobs | DeadGroups:
        return self.query_one(DeadGroups) if self.grouped else self.query_one(DeadJobs)

    def watch_grouped(self, grouped: bool) -> None:
        self.query_one(DeadJobs).marked.clear()
        self.query_one(ContentSwitcher).current = "dlq-grouped" if grouped else "dlq-list"
        target = self.focus_target()
        if target is not None:
            target.focus()
        self.view.reload()

    def action_toggle_grouped(self) -> None:
        self.grouped = not self.grouped

    def reload(self) -> None:
        self.view.reload()

    def focus_target(self) -> Widget | None:
        return self.view.focus_target()

    @property
    def editing(self) -> bool:
        return False
