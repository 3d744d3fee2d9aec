"""A DataTable with the vim keys every table of the dashboard answers to (not in the footer),
whose cells are plain text."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from .. import keymap


def _plain(cell: object) -> object:
    return Text(cell, no_wrap=True, end="") if isinstance(cell, str) else cell


class VimTable(DataTable):
    """DataTable reads a str cell as Rich markup: a command such as `echo [i] x` lost its `[i]`,
    and `[/var/log]` broke the table.  Here a str cell is the text it holds."""

    BINDINGS = keymap.bindings("table")

    def _half_page(self) -> int:
        return max(1, (self.scrollable_content_region.height - self.header_height) // 2)

    def action_half_page_down(self) -> None:
        """ctrl+d: the cursor half a page down (as less and vim)."""
        self.move_cursor(row=min(self.cursor_row + self._half_page(), max(self.row_count - 1, 0)))

    def action_half_page_up(self) -> None:
        """ctrl+u: the cursor half a page up."""
        self.move_cursor(row=max(self.cursor_row - self._half_page(), 0))

    def add_row(self, *cells, **kwargs):
        return super().add_row(*map(_plain, cells), **kwargs)

    def update_cell(self, row_key, column_key, value, *, update_width: bool = False) -> None:
        super().update_cell(row_key, column_key, _plain(value), update_width=update_width)
