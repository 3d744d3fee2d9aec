"""A log viewer that works like less: lines kept as they came and drawn only when on screen (a job
that prints thousands of lines a second costs a list append per line, not a render), a line
filter (`&`), a search that highlights every match and steps through them, wrapping, following.

Lines are numbered from the first one ever added (`first` is the number of the oldest kept), so
the filter's rows and the search's matches stay right while old lines are dropped."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import MouseScrollUp
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..format import log_plain, safe_ansi

#: every match of the search
MATCH_STYLE = Style(color="black", bgcolor="#ffd75f", underline=True)
#: the match n/N landed on
CURRENT_STYLE = Style(color="black", bgcolor="#ff8700", bold=True, underline=True)
#: rendered lines kept (those on screen, and a little around them)
CACHE_LINES = 1000


def needle_pattern(needle: str) -> re.Pattern:
    """less -i: a search in lower case ignores case; one with a capital letter does not."""
    return re.compile(re.escape(needle), 0 if needle != needle.lower() else re.IGNORECASE)


class LogView(ScrollView, can_focus=True):
    """One stream of a log, as lines."""

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: auto;
    }
    """

    BINDINGS = [
        Binding("j,down", "line(1)", "Down", show=False),
        Binding("k,up", "line(-1)", "Up", show=False),
        Binding("ctrl+d", "half_page(1)", "Half page down", show=False),
        Binding("ctrl+u", "half_page(-1)", "Half page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("g,home", "top", "Top", show=False),
        Binding("G,end", "bottom", "Bottom", show=False),
        Binding("left", "column(-8)", "Left", show=False),
        Binding("right", "column(8)", "Right", show=False),
    ]

    class Moved(Message):
        """The reader moved up: following stops (the pane says so)."""

        def __init__(self, view: LogView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, max_lines: int = 20_000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self._following = True
        self.wrap = False
        self._lines: list[str] = []  # raw, as the job printed them (without the newline)
        self._widths: list[int] = []  # cells each takes on screen
        self.first = 0  # the number of _lines[0]
        self._filter: re.Pattern | None = None
        self._shown: list[int] = []  # with a filter: the numbers of the lines that pass it
        self._search: re.Pattern | None = None
        self.matches: list[tuple[int, int, int]] = []  # (line number, start, end), in order
        self.current: int | None = None  # index into matches
        self._rows_end: list[int] = []  # with wrap: the row after each shown line (cumulative)
        self._rows_width = 0  # the width _rows_end was made for
        self._widest = 0
        self._cache: dict[int, Text] = {}

    @property
    def following(self) -> bool:
        """Does the view show the newest lines as they come?  While it does, its virtual size
        is one screen (the tail): a line added repaints this widget only, where a growing
        virtual size would lay out the whole screen at every read (most of what following a
        chatty job cost)."""
        return self._following

    @following.setter
    def following(self, on: bool) -> None:
        if on == self._following:
            return
        self._following = on
        self._resize()
        if not on:  # the same lines on screen, now at their place in the whole log
            self.scroll_to(y=self._tail_start(), animate=False, immediate=True)
        self.refresh()

    def _tail_start(self) -> int:
        return max(0, self._row_count() - self.scrollable_content_region.height)

    # -- content -------------------------------------------------------------------------
    @property
    def lines(self) -> list[str]:
        """The lines kept, oldest first."""
        return self._lines

    @property
    def shown_count(self) -> int:
        return len(self._shown) if self._filter else len(self._lines)

    def clear(self) -> None:
        self.first += len(self._lines)
        self._lines, self._widths, self._shown, self.matches, self._rows_end = [], [], [], [], []
        self.current = None
        self._widest = 0
        self._cache.clear()
        self._resize()

    def append(self, lines: list[str]) -> None:
        """Add lines at the end (the cost of a line that stays off screen: its width, and a
        look for the filter and the search)."""
        if not lines:
            return
        start = self.first + len(self._lines)
        widths = [_width(log_plain(line)) for line in lines]
        self._lines.extend(lines)
        self._widths.extend(widths)
        new = range(start, start + len(lines))
        if self._filter:
            kept = [n for n, line in zip(new, lines, strict=True) if self._filter.search(log_plain(line))]
            self._shown.extend(kept)
            new = kept
        if self._search:
            self._find(new)
        if self.wrap:
            self._extend_rows(new)
        self._widest = max(self._widest, max((self._widths[n - self.first] for n in new), default=0))
        if len(self._lines) > self.max_lines + self.max_lines // 4:  # drop in batches, not per line
            self._trim(len(self._lines) - self.max_lines)
        self._resize()
        if self._following:
            self.refresh()

    def _trim(self, count: int) -> None:
        self.first += count
        del self._lines[:count], self._widths[:count]
        self._cache = {n: t for n, t in self._cache.items() if n >= self.first}
        if self._filter:
            del self._shown[: bisect_left(self._shown, self.first)]
        gone = bisect_left(self.matches, (self.first, -1, -1))
        del self.matches[:gone]
        if self.current is not None:
            self.current = self.current - gone if self.current >= gone else None
        if self.wrap:
            self._rows_end = []  # rebuilt when next drawn

    def _numbers(self) -> list[int] | range:
        return self._shown if self._filter else range(self.first, self.first + len(self._lines))

    # -- filter and search ---------------------------------------------------------------
    def set_filter(self, needle: str | None) -> None:
        """Keep only the lines that hold `needle` (None: every line)."""
        self._filter = needle_pattern(needle) if needle else None
        self._shown = [n for n in self._numbers_all() if self._filter.search(self._plain(n))] if self._filter else []
        self._widest = max((self._widths[n - self.first] for n in self._numbers()), default=0)
        self._rows_end = []
        self._cache.clear()
        if self._search:
            self.matches, self.current = [], None
            self._find(self._numbers())
        self._resize()
        self.refresh()

    def _numbers_all(self) -> range:
        return range(self.first, self.first + len(self._lines))

    def set_search(self, needle: str | None) -> None:
        """Highlight every match of `needle` in the lines shown (None: no search)."""
        self._search = needle_pattern(needle) if needle else None
        self.matches, self.current = [], None
        if self._search:
            self._find(self._numbers())
        self._cache.clear()
        self.refresh()

    def _find(self, numbers) -> None:
        pattern = self._search
        for n in numbers:
            plain = self._plain(n)
            if pattern.search(plain):
                self.matches.extend((n, m.start(), m.end()) for m in pattern.finditer(plain) if m.end() > m.start())
                self._cache.pop(n, None)

    def _plain(self, n: int) -> str:
        return log_plain(self._lines[n - self.first])

    def show_match(self, index: int | None) -> None:
        """Make match `index` the current one and bring it into view (None: no current match)."""
        previous = self.current
        self.current = index
        for i in (previous, index):
            if i is not None and i < len(self.matches):
                self._cache.pop(self.matches[i][0], None)
        if index is not None:
            n, start, end = self.matches[index]
            row = self._row_of(n, start)
            top = self.scroll_offset.y
            height = self.scrollable_content_region.height
            if not top <= row < top + height:
                self.scroll_to(y=max(0, row - height // 3), animate=False, immediate=True)
            if not self.wrap:
                left, width = self.scroll_offset.x, self.scrollable_content_region.width
                column = cell_len(self._plain(n)[:start])
                if not (left <= column and column + (end - start) <= left + width):
                    self.scroll_to(x=max(0, column - width // 3), animate=False, immediate=True)
        self.refresh()

    def match_at_or_after(self, row: int) -> int | None:
        """The first match on or below screen row `row` of the view (for a new search)."""
        if not self.matches:
            return None
        n = self._line_at(row)[0] if row < self._row_count() else self.first + len(self._lines)
        i = bisect_left(self.matches, (n, -1, -1))
        return i if i < len(self.matches) else None

    # -- rows ----------------------------------------------------------------------------
    def set_wrap(self, wrap: bool) -> None:
        line = self._line_at(self.scroll_offset.y)[0] if self._row_count() else None
        self.wrap = wrap
        self._rows_end = []
        self._resize()
        if not self._following and line is not None:  # keep the top line where it was
            self.scroll_to(x=0, y=self._row_of(line, 0), animate=False, immediate=True)
        self.refresh()

    def _text_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _heights(self, numbers) -> list[int]:
        width = self._text_width()
        return [max(1, -(-self._widths[n - self.first] // width)) for n in numbers]

    def _extend_rows(self, numbers) -> None:
        if not self._rows_end or self._rows_width != self._text_width():
            return  # rebuilt whole when next needed
        total = self._rows_end[-1]
        for h in self._heights(numbers):
            total += h
            self._rows_end.append(total)

    def _rows(self) -> list[int]:
        numbers = self._numbers()
        if (not self._rows_end and numbers) or self._rows_width != self._text_width():
            self._rows_width = self._text_width()
            total, ends = 0, []
            for h in self._heights(numbers):
                total += h
                ends.append(total)
            self._rows_end = ends
        return self._rows_end

    def _row_count(self) -> int:
        if not self.wrap:
            return self.shown_count
        rows = self._rows()
        return rows[-1] if rows else 0

    def _line_at(self, row: int) -> tuple[int, int]:
        """(line number, which of its rows) drawn at row `row` of the whole view."""
        numbers = self._numbers()
        if not self.wrap:
            return numbers[row], 0
        rows = self._rows()
        i = bisect_right(rows, row)
        return numbers[i], row - (rows[i - 1] if i else 0)

    def _row_of(self, n: int, column: int) -> int:
        """The row of the view that shows character `column` of line `n`."""
        i = bisect_left(self._shown, n) if self._filter else n - self.first
        if not self.wrap:
            return i
        rows = self._rows()
        sub = cell_len(self._plain(n)[:column]) // self._text_width()
        return (rows[i - 1] if i else 0) + sub

    def _resize(self) -> None:
        width = self._text_width() if self.wrap else self._widest
        rows = self._row_count()
        height = self.scrollable_content_region.height
        if self._following and height:
            rows = min(rows, height)
        self.virtual_size = Size(width, rows)

    def on_resize(self) -> None:
        if self.wrap:
            self._rows_end = []
        self._resize()

    # -- drawing -------------------------------------------------------------------------
    def _text(self, n: int) -> Text:
        text = self._cache.get(n)
        if text is None:
            text = safe_ansi(self._lines[n - self.first])
            if self._search:
                i = bisect_left(self.matches, (n, -1, -1))
                while i < len(self.matches) and self.matches[i][0] == n:
                    _, start, end = self.matches[i]
                    text.stylize(CURRENT_STYLE if i == self.current else MATCH_STYLE, start, end)
                    i += 1
            if len(self._cache) >= CACHE_LINES:
                self._cache.clear()
            self._cache[n] = text
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        row = (self._tail_start() if self._following else scroll_y) + y
        if row >= self._row_count():
            return Strip.blank(width, self.rich_style)
        n, sub = self._line_at(row)
        strip = Strip(self._text(n).render(self.app.console))
        start = sub * width if self.wrap else scroll_x
        return strip.crop_extend(start, start + width, None).apply_style(self.rich_style)

    # -- moving --------------------------------------------------------------------------
    def _moved_up(self) -> None:
        if self.following:
            self.following = False
            self.post_message(self.Moved(self))

    def action_line(self, step: int) -> None:
        if step < 0:
            self._moved_up()
        self.scroll_to(y=self.scroll_offset.y + step, animate=False, immediate=True)

    def action_half_page(self, step: int) -> None:
        if step < 0:
            self._moved_up()
        half = max(1, self.scrollable_content_region.height // 2)
        self.scroll_to(y=self.scroll_offset.y + step * half, animate=False, immediate=True)

    def action_page(self, step: int) -> None:
        if step < 0:
            self._moved_up()
        page = max(1, self.scrollable_content_region.height)
        self.scroll_to(y=self.scroll_offset.y + step * page, animate=False, immediate=True)

    def action_top(self) -> None:
        self._moved_up()
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.scroll_to(y=self._tail_start(), animate=False, immediate=True)

    def action_column(self, step: int) -> None:
        if not self.wrap:
            self.scroll_to(x=self.scroll_offset.x + step, animate=False, immediate=True)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self._moved_up()


def _width(plain: str) -> int:
    return len(plain) if plain.isascii() else cell_len(plain)
