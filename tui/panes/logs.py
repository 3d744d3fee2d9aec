"""The Logs pane: stdout and stderr of one attempt of the selected job, only the tail of a large
log, followed live while the attempt runs, ANSI colours rendered, searchable."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, RichLog, Static

from queuectl import ops
from queuectl.errors import NotFound
from queuectl.render import clean
from queuectl.store import AttemptView, JobView

from .. import keymap
from ..base import StorePane
from ..format import safe_ansi, state_styles, without_attempt

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
    REFRESH_SECONDS = 0.5
    BINDINGS = keymap.bindings("logs")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job_id: str | None = None
        self.attempt: int | None = None
        self.following = True
        self.needle: str | None = None
        self._key: tuple | None = None
        self._offsets: tuple[int | None, int | None] = (None, None)
        self._carry = ["", ""]
        self._lines: list[list[str]] = [[], []]
        self._nruns = 0

    def compose(self) -> ComposeResult:
        yield Static(id="logs-status", classes="pane-status")
        yield Input(placeholder="search in this log (enter apply, esc clear)", id="logs-search", classes="search")
        with Vertical(id="logs-body"):
            yield RichLog(id="log-out", max_lines=MAX_LINES, wrap=False, markup=False, highlight=False)
            yield RichLog(id="log-err", max_lines=MAX_LINES, wrap=False, markup=False, highlight=False)

    def on_mount(self) -> None:
        self.query_one("#logs-search").display = False
        self.query_one("#log-out").border_title = "stdout"
        self.query_one("#log-err").border_title = "stderr"
        super().on_mount()

    def open(self, job_id: str, attempt: int | None = None, follow: bool = True) -> None:
        self.job_id, self.attempt, self.following = job_id, attempt, follow
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
        self._lines = [[], []]
        for log in self.query(RichLog):
            log.clear()

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
        for i, log_id in enumerate(("#log-out", "#log-err")):
            text = self._carry[i] + chunk.data[i]
            if chunk.cut[i]:
                name = ("stdout", "stderr")[i]
                self.query_one(log_id).border_title = f"{name} · only the last {TAIL_BYTES // 1024} KiB loaded"
            lines = text.split("\n")
            self._carry[i] = "" if done else lines.pop()
            if done and lines and lines[-1] == "":
                lines.pop()
            if not lines:
                continue
            self._lines[i].extend(lines)
            del self._lines[i][:-MAX_LINES]
            self._write(self.query_one(log_id, RichLog), lines)
        self._status(chunk, done)

    def _write(self, log: RichLog, lines: list[str]) -> None:
        shown = [line for line in lines if self._matches(line)]
        if not shown:
            return
        text = Text("\n").join(self._mark(safe_ansi(line)) for line in shown)
        log.auto_scroll = self.following
        log.write(text, scroll_end=self.following)

    def _matches(self, line: str) -> bool:
        return not self.needle or self.needle.lower() in line.lower()

    def _mark(self, text: Text) -> Text:
        if self.needle:
            text.highlight_words([self.needle], style="reverse", case_sensitive=False)
        return text

    def _status(self, chunk: LogChunk, done: bool) -> None:
        status = self.query_one("#logs-status", Static)
        if chunk.job is None:
            status.update(Text("No job selected: pick one in Jobs (1) or the DLQ (2), then press 3.", style="dim"))
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
                line.append(" · live" + (", following" if self.following else ", paused (f follows)"))
            elif chunk.run.error:
                line.append(f" · {clean(chunk.run.error, 50)}", style=styles.get("failed"))
            else:
                line.append(f" · exit {chunk.run.exit_code}")
        if self.needle:
            line.append(f" · search {clean(self.needle, 20)!r}", style="reverse")
        status.update(line)

    # -- actions -----------------------------------------------------------------------
    def action_follow(self) -> None:
        self.following = not self.following
        for log in self.query(RichLog):
            log.auto_scroll = self.following
            if self.following:
                log.scroll_end(animate=False)
        self.reload()

    def action_attempt(self, step: int) -> None:
        if self._key is None or self._key[1] is None:
            return
        number = max(1, self._key[1] + step)
        self.attempt = None if number >= self._nruns else number
        self._reset()
        self.reload()

    def action_search(self) -> None:
        field = self.query_one("#logs-search", Input)
        field.display = True
        field.value = self.needle or ""
        field.focus()

    @on(Input.Submitted, "#logs-search")
    def _searched(self, event: Input.Submitted) -> None:
        event.stop()
        self.needle = event.value.strip() or None
        event.input.display = bool(self.needle)
        self._rewrite()
        self.query_one("#log-out").focus()

    def action_clear_search(self) -> None:
        if self.needle:
            self.needle = None
            self.query_one("#logs-search").display = False
            self._rewrite()

    def on_key(self, event) -> None:
        field = self.query_one("#logs-search", Input)
        if event.key == "escape" and field.has_focus:
            event.stop()
            field.display = bool(self.needle)
            self.query_one("#log-out").focus()

    def _rewrite(self) -> None:
        for i, log_id in enumerate(("#log-out", "#log-err")):
            log = self.query_one(log_id, RichLog)
            log.clear()
            self._write(log, self._lines[i])
        self.reload()
