"""Cells and lines for the panes: state colours, times, durations, safe log text.

Every string that comes from a user or a job (commands, errors, output) goes through
`queuectl.render.clean` (or `safe_ansi` for logs) so that nothing can drive the terminal.
"""

from __future__ import annotations

import re
from datetime import datetime

from rich.style import Style
from rich.text import Text

from queuectl import store
from queuectl.render import FORMAT_CHARACTERS
from queuectl.render import local_time as full_time  # noqa: F401  (one formatting of full times)
from queuectl.states import FINISHED, SHOWN_STATES, STATE_COLOURS, JobState

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
    """Runs since the job was last queued by hand, and "+N" automatic retries it still has when
    it can still run ("2+1": ran twice, one retry left; "4": ran four times, finished)."""
    left = retries_left(job)
    return f"{job.attempts}+{left}" if left else str(job.attempts)


def retries_left(job) -> int | None:
    """The automatic retries the job still has (None: it has finished, a retry is by hand)."""
    if job.state in FINISHED:
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
    if job.state == JobState.FAILED and job.next_attempt_at is not None:
        wait = job.next_attempt_at - store.now()
        return f"(retry in {duration(wait)})" if wait > 0 else "(retry due)"
    if job.state == JobState.PENDING and job.run_at > store.now() + 0.5:
        return f"(at {clock_time(job.run_at)})"
    return ""


_SGR = re.compile(r"(\x1b\[[0-9;]*m)")
#: what a log line must not pass to the terminal as itself: control and format characters (as
#: `clean` escapes them), and the control pictures (U+2400...) that stand for escaped ones here
_ESCAPED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u2400-\u2426"
    + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in FORMAT_CHARACTERS)
    + "]"
)
#: how an escaped character is drawn (besides its picture): unlike any text a job can print
ESCAPED_STYLE = Style(reverse=True)
_NEEDS_WORK = re.compile(_ESCAPED.pattern[:-1] + "\t]")
#: the same for a line of ASCII (most lines, and far quicker to look through)
_ASCII_NEEDS_WORK = re.compile("[\x00-\x1f\x7f]")


def _plain_line(line: str) -> bool:
    """Is the line drawn as it is (nothing to escape, colour or expand)?"""
    return not (_ASCII_NEEDS_WORK if line.isascii() else _NEEDS_WORK).search(line)


def _marker(char: str) -> str:
    r"""An escaped character's picture: ESC is ␛ (U+241B), the other C0 controls and DEL their own
    control pictures, a C1 control <9B>, anything else (a format character, a control picture the
    job printed itself) <U+202E>.  Drawn in ESCAPED_STYLE: the text `\x1b\x1b]52` printed by a
    job reads as typed, and ESC \ ESC ]52 (an ST, then an OSC 52) as ␛\␛]52, never the same."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if code < 0xA0:
        return f"<{code:02X}>"
    return f"<U+{code:04X}>"


def safe_ansi(line: str) -> Text:
    """One log line with its SGR colours rendered and every other control character drawn as an
    inert marker (see _marker), tabs expanded; `log_plain` is its text."""
    line = line.rstrip("\r")
    if "\r" in line:  # a progress bar: the terminal would show what was written last
        line = line.rsplit("\r", 1)[1]
    if _plain_line(line):
        return Text(line, end="")
    parts = _SGR.split(line)
    out: list[str] = []
    markers: list[tuple[int, int]] = []
    column = 0  # in the plain text (what is drawn): SGR codes take no room
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part)
            continue
        for piece in re.split(r"(\t)", part) if "\t" in part else (part,):
            if piece == "\t":
                piece = " " * (8 - column % 8)
            elif _ESCAPED.search(piece):
                piece = _mark(piece, column, markers)
            out.append(piece)
            column += len(piece)
    joined = "".join(out)
    text = Text.from_ansi(joined, end="") if "\x1b" in joined else Text(joined, end="")
    for start, end in markers:
        text.stylize(ESCAPED_STYLE, start, end)
    return text


def _mark(piece: str, column: int, markers: list[tuple[int, int]]) -> str:
    out = []
    position = column
    last = 0
    for found in _ESCAPED.finditer(piece):
        out.append(piece[last : found.start()])
        position += found.start() - last
        picture = _marker(found.group())
        markers.append((position, position + len(picture)))
        out.append(picture)
        position += len(picture)
        last = found.end()
    out.append(piece[last:])
    return "".join(out)


def log_plain(line: str) -> str:
    """The text `safe_ansi(line)` draws, cheaply for the common line (nothing to escape)."""
    if _plain_line(line):
        return line
    return safe_ansi(line).plain


def without_attempt(state: str) -> str:
    """What a job with no attempt row is: a waiting one has not run yet, but a finished one may
    have run before an upgrade lost its history (issue 27), so it never says "not run"."""
    from queuectl.states import FINISHED

    return "no attempt recorded" if state in FINISHED else "not run yet"
