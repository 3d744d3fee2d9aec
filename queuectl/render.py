"""Human output: rich tables and plain lines, with every user-supplied string made inert.

Job ids are restricted, but commands, errors and output are not: control characters, and the
format characters that reorder or hide text, are shown escaped, and nothing is ever read as
rich markup, so no job can drive the user's terminal or disguise what it shows.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime

from .resources import size
from .states import STATE_COLOURS

#: control characters, and the line and paragraph separators
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL = re.compile(f"[{_CONTROLS}]")
#: Unicode's format characters (category Cf, the ranges of Unicode 15.1), first and last: the
#: bidi overrides and isolates (U+202E shows "txt.exe" as "exe.txt"), the zero-width characters
#: that hide text, the tags
FORMAT_CHARACTERS = (
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
_CONTROL_OR_FORMAT = re.compile(
    f"[{_CONTROLS}" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in FORMAT_CHARACTERS) + "]"
)


def clean(text: object, limit: int | None = None) -> str:
    """One safe line: control and format characters escaped (`\\u202e`), optionally shortened
    with an ellipsis."""
    if text is None:
        return ""
    out = _escape(_CONTROL_OR_FORMAT, str(text))
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def url_host(host: str) -> str:
    """A host as a printed URL needs it: an IPv6 address in brackets (http://[::1]:9464)."""
    return f"[{host}]" if ":" in host else host


def escape_controls(text: str) -> str:
    """A job's output, control characters escaped as clean() does; its format characters pass,
    as the text it is (a right-to-left mark in Hebrew, the joiner inside an emoji)."""
    return _escape(_CONTROL, text)


def _escape(characters: re.Pattern, text: str) -> str:
    return characters.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def local_time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


#: a row's style by its job's state: the one colour map (states.STATE_COLOURS)
STATE_STYLES = STATE_COLOURS


#: the free-text last column keeps at least this many characters before other columns go
MIN_FREE_TEXT = 20


def print_table(title: str, columns: list[str], rows: list[list[str]], styles: list[str | None] | None = None) -> None:
    """A rich table; cells are plain text (never markup); `styles` colours whole rows.

    One line per row, in the console's width (80 when piped): the last column (free text) is
    shortened first, then the columns left of it are left out, right to left; the first
    column (the id) always shows in full."""
    if not rows:
        print(f"{title}: none")
        return
    cells = [[clean(cell) for cell in row] for row in rows]
    plain = plain_table(title, columns, cells, plain_width())
    if plain is not None:
        sys.stdout.write(plain)
        return
    from rich.console import Console

    rich_table(Console(highlight=False), title, columns, cells, styles)


def rich_table(console, title: str, columns: list[str], cells: list[list[str]], styles=None) -> None:
    """print_table's table drawn by rich on `console` (cells already cleaned)."""
    from rich.table import Table
    from rich.text import Text

    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    shown = _fit(widths, console.width)
    table = Table(title=Text(title), title_justify="left", box=None, header_style="bold", pad_edge=False)
    room = console.width - sum(widths[i] + 2 for i in shown[:-1])
    for i in shown:
        last = i == shown[-1] and len(shown) > 1
        table.add_column(
            columns[i],
            overflow="ellipsis",
            no_wrap=True,
            min_width=None if last else widths[i],
            max_width=max(1, room) if last else None,
        )
    for i, row in enumerate(cells):
        table.add_row(*[Text(row[c]) for c in shown], style=styles[i] if styles else None)
    console.print(table)


def plain_width() -> int | None:
    """The width rich would give a table where it writes no styles (stdout not a terminal, and
    no FORCE_COLOR or TTY_COMPATIBLE to say otherwise), or None: rich must draw it.  As rich
    reads it: the first of stdin, stdout, stderr that is a terminal, COLUMNS, else 80."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return None
    try:
        if sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    width = None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminalsize(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        break
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    return width or 80


def plain_table(title: str, columns: list[str], cells: list[list[str]], width: int | None) -> str | None:
    """print_table's output as rich writes it without styles, without importing rich (a
    listing in a pipe starts in half the time), or None where rich's layout is not this
    simple one: text that is not ASCII (rich measures terminal cells), or a table that does
    not fit the width as it is.  tests/test_quick.py holds it to rich's output."""
    if width is None or not title.isascii() or not all(c.isascii() for c in columns):
        return None
    if not all(cell.isascii() and cell.isprintable() for row in cells for cell in row):
        return None
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    shown = _fit(widths, width)
    room = width - sum(widths[i] + 2 for i in shown[:-1])
    if len(shown) > 1:
        last = shown[-1]
        widths[last] = min(widths[last], room)
        if widths[last] < 1 or any(len(columns[i]) > widths[i] for i in shown):
            return None
    elif widths[shown[0]] > width:
        return None

    def line(texts: list[str]) -> str:
        out = []
        for i, text in zip(shown, texts):
            if len(text) > widths[i]:
                text = text[: widths[i] - 1] + "…"
            out.append(text.ljust(widths[i]))
        return "  ".join(out)

    total = sum(widths[i] for i in shown) + 2 * (len(shown) - 1)
    if len(title) > total:
        return None
    lines = [title.ljust(total), line([columns[i] for i in shown])]
    lines += [line([row[i] for i in shown]) for row in cells]
    return "\n".join(lines) + "\n"


def _fit(widths: list[int], width: int) -> list[int]:
    """The columns that fit in `width` (two spaces between columns)."""
    shown = list(range(len(widths)))

    def needed() -> int:
        return sum(widths[i] + 2 for i in shown[:-1]) + min(widths[shown[-1]], MIN_FREE_TEXT)

    while len(shown) > 2 and needed() > width:
        shown.pop(-2)
    return shown


def usage_line(run) -> str:
    """What an attempt used, in full, for `show` and the job view (empty when not recorded)."""
    if run.cpu_user is None and run.wall is None:
        return ""
    parts = []
    if run.wall is not None:
        parts.append(f"wall {run.wall:.3f}s")
    if run.cpu_user is not None:
        parts.append(f"cpu user {run.cpu_user:.3f}s, system {run.cpu_system:.3f}s")
    if run.max_rss:
        parts.append(f"peak memory {size(run.max_rss)}")
    if run.signal is not None:
        parts.append(f"ended by {run.signal_name}")
    if run.granted:
        parts.append(f"granted {resources_text(run.granted)}")
    return "; ".join(parts)


def resources_text(resources: dict | None) -> str:
    """A request, an offer or a grant as one line: cpus=2 mem=4.0 GiB gpus=0,1 license=1."""
    if not resources:
        return ""
    parts = []
    for name, value in resources.items():
        if name == "mem":
            parts.append(f"mem={size(value)}")
        elif name == "gpus" and isinstance(value, dict):  # a grant: device index -> share
            parts.append("gpus=" + ",".join(k if v == 1 else f"{k}:{v:g}" for k, v in value.items()))
        elif name == "gpus" and isinstance(value, list):  # an offer: the devices
            parts.append(f"gpus={len(value)}")
        else:
            parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    return " ".join(parts)


def free_of_total(resources: dict | None) -> str:
    """A host's resources as free/total: cpus=6/8 mem=60.0 GiB/64.0 GiB gpus=1.5/4."""
    if not resources:
        return ""
    free, total = resources["free"], resources["total"]
    parts = []
    for name, whole in total.items():
        left = free.get(name, whole)
        if name == "mem":
            parts.append(f"mem={size(left)}/{size(whole)}")
        else:
            parts.append(f"{name}={left:g}/{whole:g}")
    return " ".join(parts)
