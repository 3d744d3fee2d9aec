"""The Jobs pane: every job, newest first, filtered by state and text, with the selected job's
latest output underneath."""

from __future__ import annotations

import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, Static

from queuectl import ops, store
from queuectl.render import clean
from queuectl.states import CLAIMABLE_STATES, JobState
from queuectl.store import JobFilter

from .. import keymap
from ..format import (
    ALL_STATES,
    STATES,
    ago_short,
    attempts_cell,
    clock_time,
    duration,
    retry_note,
    runtime,
    state_text,
)
from ..messages import JobHighlighted
from ..widgets.job_preview import JobPreview
from ..widgets.paged_table import PagedTable
from .joblist import MATCH_COUNT_CAP, JobListPane, Page, PageQuery, sort_phrase

#: seconds after the last key before a typed filter applies
TYPING_PAUSE = 0.25

FINISHED = ops.FINISHED


#: `/` terms beyond free text: state=, queue=, worker=, host=, label=, priority>N, priority<N, error~TEXT
_TERM = re.compile(r"(state|queue|worker|host|label)=(.*)|priority([<>])(.*)|error~(.+)", re.IGNORECASE)


def parse_filter(text: str) -> tuple[str | None, str | None, JobFilter, str | None]:
    """`/` text -> (state, free text, the other terms, error), combinable:
    `state=failed queue=email priority>5 error~timeout nightly`."""
    state, words, terms = None, [], {}
    for word in text.split():
        m = _TERM.fullmatch(word)
        if m is None:
            words.append(word)
        elif m.group(1):
            key, value = m.group(1).lower(), m.group(2)
            if key == "state":
                value = {"running": JobState.PROCESSING.value, "all": ""}.get(value.lower(), value.lower())
                if value and value not in ALL_STATES:
                    return (
                        None,
                        None,
                        JobFilter(),
                        f"unknown state {clean(value, 20)!r} (known: {', '.join(ALL_STATES)})",
                    )
                state = value or None
            elif value:
                terms[key] = value
        elif m.group(3):
            try:
                bound = int(m.group(4))
            except ValueError:
                return (
                    None,
                    None,
                    JobFilter(),
                    f"priority{m.group(3)} takes a whole number, not {clean(m.group(4), 20)!r}",
                )
            terms["min_priority" if m.group(3) == ">" else "max_priority"] = bound
        else:
            terms["error"] = m.group(5)
    return state, " ".join(words) or None, JobFilter(**terms), None


def filter_text(state: str | None, search: str | None, terms: JobFilter) -> str:
    """The `/` text that gives these filters (what the field shows when it opens)."""
    parts = [f"state={state}"] if state else []
    parts += [f"{key}={getattr(terms, key)}" for key in ("queue", "worker", "host", "label") if getattr(terms, key)]
    if terms.min_priority is not None:
        parts.append(f"priority>{terms.min_priority}")
    if terms.max_priority is not None:
        parts.append(f"priority<{terms.max_priority}")
    if terms.error:
        parts.append(f"error~{terms.error}")
    return " ".join(parts + ([search] if search else []))


def fetch_page_with_waits(q: PageQuery) -> Page:
    """A page, and for its blocked jobs the dependencies that have not completed yet."""
    from .joblist import fetch_page

    page = fetch_page(q)
    page.extra["waiting"] = ops.waiting_for(page.rows)
    page.extra["paused"] = store.paused_queues()
    return page


class JobsPane(JobListPane):
    """All jobs, one row per job id."""

    TAB = "jobs"
    WRITES = keymap.writes("jobs")
    BINDINGS = keymap.bindings("jobs")

    def compose(self) -> ComposeResult:
        yield Static(id="jobs-status", classes="pane-status")
        yield Input(
            placeholder="filter as you type: text state= queue= worker= host= priority>N error~TEXT",
            id="jobs-search",
            classes="search",
        )
        yield PagedTable(id="jobs-table", cursor_type="row", zebra_stripes=False)
        yield JobPreview(id="jobs-preview")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: blocked job id -> the unfinished dependencies it waits for (of the rows on screen)
        self.waiting: dict[str, list[str]] = {}
        #: the queues that are paused (their waiting jobs say so)
        self.paused_queues: set[str] = set()
        self._typing = None  # the timer that applies the filter being typed
        #: why the filter text being typed does not apply (shown instead of the status line)
        self.filter_error: str | None = None

    def on_mount(self) -> None:
        self.query_one("#jobs-search").display = False
        super().on_mount()

    def fetch(self, args: PageQuery) -> Page:
        return fetch_page_with_waits(args)

    def show(self, page: Page) -> None:
        self.waiting = page.extra.get("waiting", {})
        self.paused_queues = page.extra.get("paused", set())
        super().show(page)

    # -- table -------------------------------------------------------------------------
    def column_spec(self, width: int):
        """At 80 columns: ID, STATE, PRI, RUNS, COMMAND and when the job ENDED (ago); wider, the
        end as a time, CREATED and RUNTIME too.  The command gives way first, then the id."""
        wide = width >= 96
        others = [("state", "STATE", 12), ("pri", "PRI", 4), ("att", "RUNS", 5), ("command", "COMMAND", None)]
        others += (
            [("ended", "ENDED", 11), ("created", "CREATED", 11), ("runtime", "RUNTIME", 8)]
            if wide
            else [("ended", "ENDED", 8)]
        )
        return [("id", "ID", self.id_width(width, others)), *others]

    def cells(self, job, styles, widths):
        note = retry_note(job)
        if job.queue in self.paused_queues and job.state in CLAIMABLE_STATES:
            note = f"(queue {clean(job.queue, 16)} paused)"
        if job.state == JobState.BLOCKED and job.id in self.waiting:
            note = "(waits for " + ", ".join(clean(i, 24) for i in self.waiting[job.id][:3])
            note += " …)" if len(self.waiting[job.id]) > 3 else ")"
        width = widths["command"]
        command = clean(job.command, max(4, width - (len(note) + 1 if note else 0)))
        command_cell = Text(command, no_wrap=True)
        if note:
            command_cell.append(" " + note, style=styles.get(job.state, "dim"))
        id_cell = self.mark_prefix(job)
        id_cell.append(clean(job.id, widths["id"] - 2))
        ended = store.ended_at(job)
        cells = (
            id_cell,
            state_text(job.shown_state, styles),
            Text(str(job.priority), justify="right"),
            Text(attempts_cell(job), justify="right"),
            command_cell,
            Text(clock_time(ended) if widths["ended"] > 8 else ago_short(ended), justify="right"),
        )
        if "created" in widths:
            cells += (clock_time(job.created_at), Text(duration(runtime(job)), justify="right"))
        return cells

    def after_show(self) -> None:
        parts = [self.state if self.state else "all states"]
        shown = filter_text(None, self.search, self.terms)
        if shown:
            parts.append(f"matching {clean(shown, 40)!r}")
        parts.append(sort_phrase(self.sort))
        if self.total is not None:
            capped = (self.search or self.terms) and self.total >= MATCH_COUNT_CAP
            parts.append(f"{self.total:,}{'+' if capped else ''} job{'s' * (self.total != 1)}")
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
        line = Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")
        if not self.rows and self.total == 0:  # an empty table says what to do
            filtered = self.state or self.search or self.terms
            line = Text(
                "no jobs match — esc clears the filter"
                if filtered and not self.app.readonly
                else "no jobs match"
                if filtered
                else "no jobs yet — n adds one"
                if not self.app.readonly
                else "no jobs yet",
                style="bold",
            )
        if self.filter_error:
            line = Text(self.filter_error, style="bold", no_wrap=True, overflow="ellipsis")
        self.query_one("#jobs-status", Static).update(line)
        self._preview()

    def _preview(self) -> None:
        preview = self.query_one(JobPreview)
        if preview.display:
            preview.show_for(self.selected_id)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        job_id = event.row_key.value if event.row_key else None
        if job_id:
            self.app.post_message(JobHighlighted(job_id))
        self._preview()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key and event.row_key.value:
            self.request("open_job", event.row_key.value)

    # -- filter ------------------------------------------------------------------------
    def action_search(self) -> None:
        field = self.query_one("#jobs-search", Input)
        field.display = True
        field.value = filter_text(self.state, self.search, self.terms)
        field.focus()

    def _apply(self, text: str) -> str | None:
        """Apply typed filter text; returns the error that kept it from applying."""
        state, search, terms, error = parse_filter(text)
        self.filter_error = error
        if error is None:
            self.state, self.search, self.terms = state, search, terms
        return error

    @on(Input.Changed, "#jobs-search")
    def _search_typed(self, event: Input.Changed) -> None:
        """Filter as you type, a moment after the last key (a query per key would queue up)."""
        event.stop()
        if self._typing is not None:
            self._typing.stop()
        self._typing = self.set_timer(TYPING_PAUSE, lambda: self._typed(event.value))

    def _typed(self, text: str) -> None:
        if self._apply(text):
            self.after_show()

    @on(Input.Submitted, "#jobs-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._typing is not None:
            self._typing.stop()
        error = self._apply(event.value)
        if error:
            self.notify(error, severity="error")
            return
        event.input.display = bool(event.value.strip())
        self.table.focus()

    def show_new(self, job_id: str) -> None:
        """A job was just enqueued: drop any filter (it may hide the job; say so) and show the
        newest page, where the job is the first row."""
        if self.state or self.search or self.terms:
            self.action_clear_filter()
            self.notify(f"filter cleared to show {job_id}")
        self.sort = ("created", True)
        self.restart()

    def show_queue(self, name: str) -> None:
        """Only this queue's jobs (Enter on a queue)."""
        self.state, self.search, self.terms = None, None, JobFilter(queue=name)
        field = self.query_one("#jobs-search", Input)
        field.value = filter_text(None, None, self.terms)
        field.display = True

    def on_key(self, event) -> None:
        field = self.query_one("#jobs-search", Input)
        if event.key == "escape" and field.has_focus:
            event.stop()
            field.display = bool(self.search or self.state or self.terms)
            self.table.focus()

    def action_clear_filter(self) -> None:
        if self.state is None and self.search is None and not self.terms and not self.marked:
            return
        self.state = self.search = self.filter_error = None
        self.terms = JobFilter()
        self.marked.clear()
        self.query_one("#jobs-search", Input).display = False

    def action_state(self, state: str) -> None:
        self.state = state

    def action_all_states(self) -> None:
        self.state = None

    def action_cycle_state(self) -> None:
        order = [None, *STATES, JobState.BLOCKED.value]
        self.state = order[(order.index(self.state) + 1) % len(order)]

    # -- actions -----------------------------------------------------------------------
    def action_retry(self) -> None:
        ids = self.targets()
        if not ids:
            return
        known = {j.id: j.state for j in self.rows}
        unfinished = [i for i in ids if known.get(i) not in (None, *FINISHED)]
        ids = [i for i in ids if i not in unfinished]
        if not ids:
            self.notify(
                f"{unfinished[0]} is {known[unfinished[0]]}: only finished jobs "
                "(completed, dead, cancelled) can be retried",
                severity="warning",
            )
            return
        if unfinished:
            self.notify(f"left out {len(unfinished)} unfinished job(s)", severity="warning")
        self.request("retry", ids)
        self.marked.clear()

    def action_wait(self) -> None:
        if self.selected_id:
            self.request("wait", self.selected_id)

    def action_cancel(self) -> None:
        ids = self.targets()
        if not ids:
            return
        running = [j.id for j in self.rows if j.id in ids and j.state == JobState.PROCESSING]
        self.request("cancel", ids, running)
        self.marked.clear()

    def action_new(self) -> None:
        self.request("new_job")

    def action_priority(self) -> None:
        ids = self.targets()
        job = self.selected_job
        if ids:
            self.request("priority", ids, job.priority if job and len(ids) == 1 else 0)
            self.marked.clear()

    def action_edit(self) -> None:
        """A waiting job: edit it; a finished one: edit it, then retry it."""
        job = self.selected_job
        if job is not None:
            self.request("edit_job", job.id, job.state in FINISHED)

    def action_prune(self) -> None:
        self.request("prune")

    def action_pause(self) -> None:
        """Pause the jobs (resume them, when the one under the cursor is paused)."""
        ids = self.targets()
        job = self.selected_job
        if ids:
            self.request("pause", ids, not (job is not None and job.paused))
            self.marked.clear()

    def action_follow(self) -> None:
        if self.selected_id:
            self.request("logs", self.selected_id, True)

    def action_copy(self) -> None:
        job = self.selected_job
        if job:
            self.app.copy_to_clipboard(job.command)
            self.notify(f"copied the command of {job.id}")
