"""A DataTable that holds only the rows on screen and reports when the cursor tries to leave them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .vim_table import VimTable


class PagedTable(VimTable):
    """A DataTable that reports when the cursor tries to leave the rows it has."""

    @dataclass
    class Edge(Message):
        """The cursor wants rows this table does not hold: up, down, pgup, pgdown, top, bottom."""

        direction: str

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.Edge("down"))
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.Edge("up"))
            return
        super().action_cursor_up()

    def action_half_page_down(self) -> None:
        """Within the rows held, half a page; from the last one, the next rows (a page)."""
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.Edge("pgdown"))
            return
        super().action_half_page_down()

    def action_half_page_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.Edge("pgup"))
            return
        super().action_half_page_up()

    def action_page_down(self) -> None:
        self.post_message(self.Edge("pgdown"))

    def action_page_up(self) -> None:
        self.post_message(self.Edge("pgup"))

    def action_scroll_top(self) -> None:
        self.post_message(self.Edge("top"))

    def action_scroll_bottom(self) -> None:
        self.post_message(self.Edge("bottom"))
