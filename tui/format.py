"""Cells and lines for the panes: state colours, times, durations, safe log text.

Every string that comes from a user or a job (commands, errors, output) goes through
`queuectl.render.clean` (or `safe_ansi` for logs) so that nothing can drive the terminal.
"""

from __future__ import annotations

import re
from datetime import datetime

from rich.text import Text

from queuectl import store
from queuectl.render import clean
from queuectl.render import local_time as full_time  # noqa: F401  (one formatting of full times)
from queuectl.states import SHOWN_STATES, STATE_COLOURS, JobState

STATES = tuple(state.value for state in SHOWN_STATES)
#: every state the panes know, in display order; "blocked" (waiting for dependencies) is shown
#: only where the store reports it
ALL_STATES = (JobState.BLOCKED.value, *STATES)


def shown_states(counts: dict) -> list[str]:
    """The states to list for these counts: the six always, others when the store has them."""
    return [s for s in ALL_STATES if s in STATES or s in counts]


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def state_styles(theme=None) -> dict[str, str]:
    """One colour per state, everywhere (TUI.md): the engine's map (states.STATE_COLOURS), the
    same as the CLI's and the same on every `theme` (each colour reads on light and dark ones)."""
    return {state.value: colour for state, colour in STATE_COLOURS.items()}


def state_text(state: str, styles: dict[str, str], spin: bool = True) -> Text:
    label = state
    if state == JobState.PROCESSING and spin:
        label = f"{state} {spinner()}"
    return Text(label, style=styles.get(state, ""), no_wrap=True)


def spinner() -> str:
    # driven by the store clock, so a fixed clock gives a fixed frame (snapshots)
    return SPINNER[int(store.now() * 10) % len(SPINNER)]


def clock_time(ts: float | None) -> str:
    """HH:MM:SS for today (by the store clock), else MM-DD HH:MM; local time."""
    if ts is None:
        return ""
    moment = datetime.fromtimestamp(ts)
    if moment.date() == datetime.fromtimestamp(store.now()).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    if seconds < 60:
        return f"{int(seconds)}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        return f"{hours // 24}d{hours % 24:02}h"
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def ago(ts: float | None) -> str:
    if ts is None:
        return ""
    return duration(store.now() - ts) + " ago"


def runtime(job) -> float | None:
    if job.state == JobState.PROCESSING and job.started_at is not None:
        return store.now() - job.started_at
    return job.runtime


def attempts_cell(job) -> str:
    return f"{job.attempts}/{1 + job.max_retries}"


def retry_note(job) -> str:
    if job.state == JobState.FAILED and job.next_attempt_at is not None:
        wait = job.next_attempt_at - store.now()
        return f"(retry in {duration(wait)})" if wait > 0 else "(retry due)"
    if job.state == JobState.PENDING and job.run_at > store.now() + 0.5:
        return f"(at {clock_time(job.run_at)})"
    return ""


_SGR = re.compile(r"(\x1b\[[0-9;]*m)")


def safe_ansi(line: str) -> Text:
    """One log line with its SGR colours rendered and every other control character escaped."""
    line = line.rstrip("\r")
    if "\r" in line:  # a progress bar: the terminal would show what was written last
        line = line.rsplit("\r", 1)[1]
    line = line.expandtabs(8)
    parts = _SGR.split(line)
    safe = "".join(part if i % 2 else clean(part) for i, part in enumerate(parts))
    return Text.from_ansi(safe, end="") if "\x1b" in safe else Text(safe, end="")


def without_attempt(state: str) -> str:
    """What a job with no attempt row is: a waiting one has not run yet, but a finished one may
    have run before an upgrade lost its history (issue 27), so it never says "not run"."""
    from queuectl.states import FINISHED

    return "no attempt recorded" if state in FINISHED else "not run yet"
