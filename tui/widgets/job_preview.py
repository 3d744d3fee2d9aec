"""The Jobs pane's preview: the tail of the selected job's latest attempt (live while it runs)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from queuectl import ops
from queuectl.errors import QueuectlError
from queuectl.render import clean

from ..format import safe_ansi, without_attempt

#: bytes of the selected job's latest output read for the preview
PREVIEW_BYTES = 16 * 1024


class JobPreview(Static):
    """The tail of the selected job's latest attempt (live while it runs)."""

    def show_for(self, job_id: str | None) -> None:
        if job_id is None:
            self.border_title = "output"
            self.update("")
            return
        self._load(job_id, max(1, self.size.height - 2) if self.size.height else 4)

    @work(thread=True, exclusive=True, group="preview")
    def _load(self, job_id: str, lines: int) -> None:
        try:
            output = ops.read_output(job_id, max_bytes=PREVIEW_BYTES)
        except QueuectlError:
            output = None
        if get_current_worker().is_cancelled:
            return
        if output is None or output.run is None:
            said = "not run yet" if output is None else without_attempt(output.job.state)
            self.post_message(self.Ready(f"{job_id} · {said}", Text("no output yet", style="dim")))
            return
        run = output.run
        out, err = output.stdout.text, output.stderr.text
        out_lines = out.splitlines()[-lines:]
        err_lines = err.splitlines()[-max(1, lines // 3) :] if err else []
        keep = out_lines[-max(0, lines - len(err_lines)) :] if lines > len(err_lines) else []
        body = Text()
        for line in keep:
            body.append_text(safe_ansi(line))
            body.append("\n")
        for line in err_lines:
            body.append("[stderr] ", style="dim")
            body.append_text(safe_ansi(line))
            body.append("\n")
        if not keep and not err_lines:
            body = Text(clean(run.error) if run.error else "no output", style="dim")
        live = "live" if run.finished_at is None else ("ok" if run.error is None else clean(run.error, 40))
        title = f"{job_id} · attempt {run.number} · {live}"
        if not get_current_worker().is_cancelled:
            self.post_message(self.Ready(title, body))

    @dataclass
    class Ready(Message):
        title: str
        body: Text

    def on_job_preview_ready(self, message: Ready) -> None:
        message.stop()
        message.body.rstrip()
        self.border_title = Text(message.title)  # (a str title is markup; an error may hold brackets)
        self.update(message.body)
