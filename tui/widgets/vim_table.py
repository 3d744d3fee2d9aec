"""A DataTable with the vim keys every table of the dashboard answers to (not in the footer),
whose cells are plain text."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


def _plain(cell: object) -> object:
    return Text(cell, no_wrap=True, end="") if isinstance(cell, str) else cell


class VimTable(DataTable):
    """DataTable reads a str cell as Rich markup: a command such as `echo [i] x` lost its `[i]`,
    and `[/var/log]` broke the table.  Here a str cell is the text it holds."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_top", "Top", show=False),
        Binding("end", "scroll_bottom", "Bottom", show=False),
    ]

    def add_row(self, *cells, **kwargs):
        return super().add_row(*map(_plain, cells), **kwargs)

    def update_cell(self, row_key, column_key, value, *, update_width: bool = False) -> None:
        super().update_cell(row_key, column_key, _plain(value), update_width=update_width)
