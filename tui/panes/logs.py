"""The Logs pane: stdout and stderr of one attempt of the selected job, only the tail of a large
log, followed live while the attempt runs, ANSI colours rendered; read like less (`/` searches
with every match highlighted, `n`/`N` step through them, `&` keeps matching lines only, `F`
follows, `w` wraps)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Static

from queuectl import ops
from queuectl.errors import NotFound
from queuectl.render import clean
from queuectl.states import JobState
from queuectl.store import AttemptView, JobView

from .. import keymap
from ..base import StorePane
from ..format import state_styles, without_attempt
from ..widgets.log_view import LogView

#: bytes of a log loaded when it is opened: the tail of a huge log, never all of it
TAIL_BYTES = 256 * 1024
#: lines kept per stream in memory (and searchable)
MAX_LINES = 20_000


@dataclass(frozen=True)
class LogQuery:
    job_id: str | None
    attempt: int | None  # None: the latest
    offsets: tuple[int | None, int | None]  # where the last read of stdout/stderr stopped


@dataclass
class LogChunk:
    query: LogQuery
    job: JobView | None
    runs: list[AttemptView]
    run: AttemptView | None
    data: tuple[str, str]
    offsets: tuple[int | None, int | None]
    cut: tuple[bool, bool]


class LogsPane(StorePane):
    """One attempt's output."""

    TAB = "logs"
    #: while a followed attempt runs, its new lines are read this often (no frame older than
    #: 200 ms at thousands of lines a second); a finished attempt is looked at every LAZY_TICKS
    REFRESH_SECONDS = 0.1
    LAZY_TICKS = 10
    BINDINGS = keymap.bindings("logs")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job_id: str | None = None
        self.attempt: int | None = None
        self.following = True
        self.wrap = False
        self.needle: str | None = None  # the search (/)
        self.filter: str | None = None  # the line filter (&)
        self.match: int | None = None  # the current match, over stdout then stderr
        self._asking: str | None = None  # "search" or "filter" while the field is open
        self._key: tuple | None = None
        self._offsets: tuple[int | None, int | None] = (None, None)
        self._carry = ["", ""]
        self._nruns = 0
        self._live = False
        self._chunk: LogChunk | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="logs-status", classes="pane-status")
        yield Input(id="logs-search", classes="search")
        yield Static(id="logs-find", classes="pane-status")
        with Vertical(id="logs-body"):
            yield LogView(MAX_LINES, id="log-out")
            yield LogView(MAX_LINES, id="log-err")

    def on_mount(self) -> None:
        self.query_one("#logs-search").display = False
        self.query_one("#logs-find").display = False
        self.query_one("#log-out").border_title = "stdout"
        self.query_one("#log-err").border_title = "stderr"
        super().on_mount()

    @property
    def views(self) -> tuple[LogView, LogView]:
        return self.query_one("#log-out", LogView), self.query_one("#log-err", LogView)

    @property
    def _lines(self) -> list[list[str]]:
        """The lines kept of each stream (stdout, stderr)."""
        return [view.lines for view in self.views]

    def open(self, job_id: str, attempt: int | None = None, follow: bool = True) -> None:
        self.job_id, self.attempt = job_id, attempt
        self._set_following(follow)
        self._reset()
        self.reload()

    def follow_selection(self, selected: str) -> None:
        """The pane was shown: open the job selected in Jobs or the DLQ, if another one."""
        if selected != self.job_id:
            self.open(selected)

    def focus_target(self) -> Widget:
        return self.query_one("#log-out")

    def _reset(self) -> None:
        self.query_one("#log-out").border_title = "stdout"
        self.query_one("#log-err").border_title = "stderr"
        self._key = None
        self._offsets = (None, None)
        self._carry = ["", ""]
        self.match = None
        for view in self.views:
            view.clear()
        self._find_line()

    def _tick(self) -> None:
        """Every tick while a followed attempt runs; a finished one (or one read, not followed)
        now and then (a new attempt, a state change)."""
        if not self.is_visible_pane or self.app.paused:
            return
        self._ticks += 1
        if self._ticks >= (1 if self._live and self.following else self.LAZY_TICKS // (2 if self._live else 1)):
            self._ticks = 0
            self.reload()

    def query_args(self) -> LogQuery:
        return LogQuery(self.job_id, self.attempt, self._offsets)

    def fetch(self, q: LogQuery) -> LogChunk:
        if q.job_id is None:
            return LogChunk(q, None, [], None, ("", ""), (None, None), (False, False))
        try:
            output = ops.read_output(q.job_id, q.attempt, q.offsets, TAIL_BYTES)
        except NotFound:  # that attempt is gone (the job was retried and pruned): the latest
            output = ops.read_output(q.job_id, None, (None, None), TAIL_BYTES)
        if output.run is None:
            return LogChunk(q, output.job, output.runs, None, ("", ""), (None, None), (False, False))
        return LogChunk(
            q,
            output.job,
            output.runs,
            output.run,
            (output.stdout.text, output.stderr.text),
            output.offsets,
            (output.stdout.skipped, output.stderr.skipped),
        )

    def show(self, chunk: LogChunk) -> None:
        q = chunk.query
        if q.job_id != self.job_id or q.attempt != self.attempt:
            return  # another job was opened meanwhile
        key = (q.job_id, chunk.run.number if chunk.run else None)
        if key != self._key:
            if self._key is not None and chunk.query.offsets != (None, None):
                self._reset()  # a new attempt started: read it from its start
                self._key = key
                self.reload()
                return
            self._key = key
        self._offsets = chunk.offsets
        self._nruns = len(chunk.runs)
        done = chunk.run is None or chunk.run.finished_at is not None
        self._live = not done
        self._chunk = chunk
        counted = self._match_count()
        for i, view in enumerate(self.views):
            text = self._carry[i] + chunk.data[i]
            if chunk.cut[i]:
                name = ("stdout", "stderr")[i]
                view.border_title = f"{name} · only the last {TAIL_BYTES // 1024} KiB loaded"
            lines = text.split("\n")
            self._carry[i] = "" if done else lines.pop()
            if done and lines and lines[-1] == "":
                lines.pop()
            if lines:
                view.append(lines)
        if self._match_count() != counted:
            if self.match is None and self._match_count() and not self.following:
                self._jump(self._first_match())  # (while following, new matches are only counted)
            self._find_line()
        self._status(chunk, done)

    def _status(self, chunk: LogChunk, done: bool) -> None:
        status = self.query_one("#logs-status", Static)
        if chunk.job is None:
            _put(status, Text("No job selected: pick one in Jobs (1) or the DLQ (2), then press 3.", style="dim"))
            return
        styles = state_styles(self.app.current_theme)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(clean(chunk.job.id), style="bold")
        line.append(" · ")
        line.append(chunk.job.state, style=styles.get(chunk.job.state, ""))
        if chunk.run is None:
            line.append(f" · {without_attempt(chunk.job.state)}", style="dim")
        else:
            line.append(f" · attempt {chunk.run.number} of {len(chunk.runs)}")
            if not done:
                line.append(" · live" + (", following" if self.following else ", paused (F follows)"))
            elif chunk.run.error:
                line.append(f" · {clean(chunk.run.error, 50)}", style=styles.get(JobState.FAILED))
            else:
                line.append(f" · exit {chunk.run.exit_code}")
        if self.wrap:
            line.append(" · wrapped")
        _put(status, line)

    def _find_line(self) -> None:
        """The search and the filter in force, and where the current match is."""
        find = self.query_one("#logs-find", Static)
        find.display = bool((self.needle or self.filter) and not self._asking)
        if not find.display:
            return
        line = Text(no_wrap=True, overflow="ellipsis")
        if self.needle:
            line.append(f"/{clean(self.needle, 30)}", style="bold")
            total = self._match_count()
            if not total:
                line.append("  no match", style=state_styles(self.app.current_theme).get("failed", ""))
            elif self.match is None:
                line.append(f"  {total} match{'es' if total > 1 else ''}")
            else:
                line.append(f"  match {self.match + 1} of {total}")
            line.append("  ")
        if self.filter:
            shown = sum(view.shown_count for view in self.views)
            line.append(f"&{clean(self.filter, 30)}", style="bold")
            line.append(f"  {shown} line{'' if shown == 1 else 's'}  ")
        line.append("n/N next/previous · esc clears" if self.needle else "esc clears", style="dim")
        _put(find, line)

    # -- matches -------------------------------------------------------------------------
    def _match_count(self) -> int:
        return sum(len(view.matches) for view in self.views)

    def _first_match(self) -> int:
        """Where a new search starts: the first match from the top of the screen on (stdout
        first), else the last one above it."""
        out, err = self.views
        for offset, view in ((0, out), (len(out.matches), err)):
            found = view.match_at_or_after(view.scroll_offset.y)
            if found is not None:
                return offset + found
        return self._match_count() - 1

    def _jump(self, index: int) -> None:
        out, err = self.views
        self.match = index
        if index < len(out.matches):
            out.show_match(index)
            err.show_match(None)
            target = out
        else:
            err.show_match(index - len(out.matches))
            out.show_match(None)
            target = err
        if target.is_attached and not target.has_focus and self.is_visible_pane:
            target.focus()

    # -- actions -------------------------------------------------------------------------
    def _set_following(self, on: bool) -> None:
        self.following = on
        for view in self.views:
            view.following = on

    def action_follow(self) -> None:
        self._set_following(not self.following)
        if self.following:
            self.match = None
            for view in self.views:
                view.show_match(None)
            self._find_line()
        self.reload()

    def on_log_view_moved(self, message: LogView.Moved) -> None:
        message.stop()
        self._set_following(False)
        if self._chunk is not None:
            self._status(self._chunk, not self._live)

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        for view in self.views:
            view.set_wrap(self.wrap)
        if self._chunk is not None:
            self._status(self._chunk, not self._live)

    def action_attempt(self, step: int) -> None:
        if self._key is None or self._key[1] is None:
            return
        number = max(1, self._key[1] + step)
        self.attempt = None if number >= self._nruns else number
        self._reset()
        self.reload()

    def action_search(self) -> None:
        self._ask("search", "search: every match highlighted (enter; esc cancels)", self.needle)

    def action_filter(self) -> None:
        self._ask("filter", "show only the lines holding (enter; empty: every line)", self.filter)

    def _ask(self, what: str, placeholder: str, value: str | None) -> None:
        self._asking = what
        field = self.query_one("#logs-search", Input)
        field.placeholder = placeholder
        field.value = value or ""
        field.display = True
        field.focus()
        self._find_line()

    def action_next_match(self, step: int) -> None:
        total = self._match_count()
        if not total:
            if self.needle:
                self.notify(f"no match for {clean(self.needle, 40)!r}", severity="warning")
            return
        if self.match is None:
            index = self._first_match() if step > 0 else self._first_match() - 1
        else:
            index = self.match + step
        self._set_following(False)
        self._jump(index % total)
        self._find_line()
        if self._chunk is not None:
            self._status(self._chunk, not self._live)

    @on(Input.Submitted, "#logs-search")
    def _searched(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip() or None
        asked, self._asking = self._asking, None
        event.input.display = False
        if asked == "filter":
            self.filter = value
            for view in self.views:
                view.set_filter(value)
            if self.needle:  # the matches are those of the lines shown now
                self.match = None
        else:
            self._set_search(value)
        self._find_line()
        self.query_one("#log-out").focus()

    def _set_search(self, value: str | None) -> None:
        self.needle = value
        self.match = None
        for view in self.views:
            view.set_search(value)
        if value and self._match_count():
            self._set_following(False)
            self._jump(self._first_match())
        if self._chunk is not None:
            self._status(self._chunk, not self._live)

    def action_clear_search(self) -> None:
        """esc: the search goes (once); with no search, the filter."""
        if self.needle:
            self._set_search(None)
        elif self.filter:
            self.filter = None
            for view in self.views:
                view.set_filter(None)
        self._find_line()

    def on_key(self, event) -> None:
        field = self.query_one("#logs-search", Input)
        if event.key == "escape" and field.has_focus:  # one esc: the field and what it would set
            event.stop()
            asked, self._asking = self._asking, None
            field.display = False
            if asked == "filter" and self.filter:
                self.filter = None
                for view in self.views:
                    view.set_filter(None)
            elif asked == "search" and self.needle:
                self._set_search(None)
            self._find_line()
            self.query_one("#log-out").focus()


def _put(line: Static, text: Text) -> None:
    """A one-row status line, redrawn only when it changed (and never laid out again: at ten
    reads a second, a layout of the whole screen each time was most of what following cost)."""
    if getattr(line, "_shown", None) != text:
        line._shown = text
        line.update(text, layout=False)
