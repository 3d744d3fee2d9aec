"""`w` on a job: `queuectl wait` in the dashboard, a live state line until the job ends.

The CLI sleeps on the store's wake channel; here a refresh every half second is enough (one
indexed read of one job), and esc leaves at any time without touching the job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from queuectl import ops
from queuectl.errors import QueuectlError
from queuectl.render import clean
from queuectl.states import JobState
from queuectl.store import JobView

from ..format import SPINNER, duration, retry_note, runs_phrase, runtime, state_styles
from ..messages import ActionRequested
from ..widgets.footer import KeysFooter

FINISHED = ops.FINISHED
POLL_SECONDS = 0.5


@dataclass
class Seen:
    job: JobView | None
    waits: list[str]
    error: str | None


class WaitScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,w", "close", "Leave"),
        Binding("enter", "open", "Open job"),
        Binding("l", "logs", "Logs"),
    ]

    @dataclass
    class Polled(Message):
        seen: Seen

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.started = time.monotonic()
        self.ended: str | None = None
        self._frame = 0
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="wait") as box:
            box.border_title = f"Waiting for {clean(self.job_id)}"
            yield Static("…", id="wait-line")
            yield Static("", id="wait-note", classes="dialog-note")
            yield Static(Text("esc leaves (the job goes on) · enter opens the job · l its logs", style="dim"))
        yield KeysFooter()

    def on_mount(self) -> None:
        self._timer = self.set_interval(POLL_SECONDS, self._tick)
        self._tick()

    def _tick(self) -> None:
        if not self._busy and self.ended is None:
            self._busy = True
            self._poll()

    @work(thread=True, group="wait")
    def _poll(self) -> None:
        try:
            seen = ops.wait_state(self.job_id)
            waits = [f"{dep} ({state or '?'})" for dep, state in seen.waits]
            self.post_message(self.Polled(Seen(seen.job, waits, None)))
        except QueuectlError as exc:
            self.post_message(self.Polled(Seen(None, [], str(exc))))

    def on_wait_screen_polled(self, message: Polled) -> None:
        self._busy = False
        seen = message.seen
        line = self.query_one("#wait-line", Static)
        note = self.query_one("#wait-note", Static)
        if seen.error:
            line.update(Text(seen.error, style="red"))
            self.ended = "gone"
            self._timer.stop()
            return
        job = seen.job
        styles = state_styles(self.app.current_theme)
        waited = duration(time.monotonic() - self.started)
        text = Text(no_wrap=True, overflow="ellipsis")
        if job.state in FINISHED:
            self.ended = job.state
            self._timer.stop()
            mark = "✔" if job.state == JobState.COMPLETED else "✘"
            text.append(f"{mark} ", style=styles.get(job.state, ""))
            text.append(clean(job.id), style="bold")
            text.append(" ended ")
            text.append(job.state, style=f"bold {styles.get(job.state, '')}")
            if job.exit_code is not None:
                text.append(f" · exit {job.exit_code}")
            took = runtime(job)
            if took is not None:
                text.append(f" · ran {duration(took)}")
            self.query_one("#wait").border_title = f"{clean(self.job_id)} ended: {job.state}"
        else:
            self._frame += 1
            text.append(SPINNER[self._frame % len(SPINNER)] + " ", style=styles.get(job.state, ""))
            text.append(clean(job.id), style="bold")
            text.append(" is ")
            text.append(job.state, style=f"bold {styles.get(job.state, '')}")
            text.append(f" · {runs_phrase(job)}")
            if job.state == JobState.PROCESSING and runtime(job) is not None:
                text.append(f" · running {duration(runtime(job))}")
            note_text = retry_note(job)
            if note_text:
                text.append(" " + note_text)
            text.append(f" · waited {waited}", style="dim")
        line.update(text)
        body = Text()
        if seen.waits:
            body.append("waits for " + ", ".join(clean(w, 40) for w in seen.waits[:6]))
        if job.last_error and job.state != JobState.COMPLETED:
            if body:
                body.append("\n")
            body.append("last error: " + clean(job.last_error, 200), style=styles.get(JobState.FAILED, ""))
        note.update(body)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open(self) -> None:
        self.dismiss(None)
        self.app.post_message(ActionRequested("open_job", (self.job_id,)))

    def action_logs(self) -> None:
        self.dismiss(None)
        self.app.post_message(ActionRequested("logs", (self.job_id,)))
