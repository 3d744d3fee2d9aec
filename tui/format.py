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

STATES = ("pending", "processing", "completed", "failed", "dead", "cancelled")
#: every state the panes know, in display order; "blocked" (waiting for dependencies) is shown
#: only where the store reports it
ALL_STATES = ("blocked", *STATES)


def shown_states(counts: dict) -> list[str]:
    """The states to list for these counts: the six always, others when the store has them."""
    return [s for s in ALL_STATES if s in STATES or s in counts]


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

# One colour per state, everywhere (TUI.md); theme colours where the theme has one.  Blocked is a
# violet, not magenta: the themes' error red (dead) is pink enough that magenta read as dead.
_FIXED = {"pending": "dim", "failed": "dark_orange", "cancelled": "grey50", "blocked": "medium_purple1"}


def state_styles(theme=None) -> dict[str, str]:
    styles = dict(_FIXED)
    styles["processing"] = getattr(theme, "warning", None) or "yellow"
    styles["completed"] = getattr(theme, "success", None) or "green"
    styles["dead"] = getattr(theme, "error", None) or "red"
    return styles


def state_text(state: str, styles: dict[str, str], spin: bool = True) -> Text:
    label = state
    if state == "processing" and spin:
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
    if job.state == "processing" and job.started_at is not None:
        return store.now() - job.started_at
    return job.runtime


def attempts_cell(job) -> str:
    """Runs since the job was last queued by hand, and "+N" automatic retries it still has when
    it can still run ("2+1": ran twice, one retry left; "4": ran four times, finished)."""
    left = retries_left(job)
    return f"{job.attempts}+{left}" if left else str(job.attempts)


def retries_left(job) -> int | None:
    """The automatic retries the job still has (None: it has finished, a retry is by hand)."""
    if job.state in ("completed", "dead", "cancelled"):
        return None
    return max(0, job.max_retries - max(0, job.attempts - 1))


def runs_phrase(job, runs: int | None = None) -> str:
    """'5 runs so far (1 since queued again) · 3 retries left': what is true, not "4 of 4"
    (runs: the job's whole history, when known)."""
    total = job.attempts if runs is None else max(runs, job.attempts)
    text = f"{total} run{'s' * (total != 1)} so far"
    if total != job.attempts:
        text += f" ({job.attempts} since queued again)"
    left = retries_left(job)
    if left is not None:
        text += f" · {left} automatic retr{'ies' if left != 1 else 'y'} left"
    return text


def compact_count(n: int) -> str:
    """12,345 -> '12,345'; 836,999 -> '837k'; 1,000,000 -> '1.0M': at most 6 cells."""
    if n < 100_000:
        return f"{n:,}"
    if n < 999_500:
        return f"{round(n / 1000)}k"
    return f"{n / 1_000_000:.1f}M" if n < 99_950_000 else f"{round(n / 1_000_000)}M"


def ago_short(ts: float | None) -> str:
    """'45s ago', '12m ago', '3h ago', '2d ago': at most 8 cells."""
    if ts is None:
        return ""
    seconds = max(0, int(store.now() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def retry_note(job) -> str:
    if job.state == "failed" and job.next_attempt_at is not None:
        wait = job.next_attempt_at - store.now()
        return f"(retry in {duration(wait)})" if wait > 0 else "(retry due)"
    if job.state == "pending" and job.run_at > store.now() + 0.5:
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
