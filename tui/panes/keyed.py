"""Rows keyed by name, updated in place: the one keyed-row update of every table pane, and a
small table pane built on it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..base import StorePane, cursor_key


def put_rows(table: DataTable, shown: dict[str, tuple], rows: list[tuple[str, tuple]]) -> bool:
    """Show rows (key, cells): when the keys are the ones shown, only changed cells are written
    (no flicker, the cursor stays on its row); else the rows are replaced.  `shown` follows
    what the table holds.  Returns True when the rows were replaced."""
    keys = [key for key, _ in rows]
    if list(shown) != keys:
        table.clear()
        shown.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
            shown[key] = cells
        return True
    columns = [column.key for column in table.ordered_columns]
    for key, cells in rows:
        for column, new, old in zip(columns, cells, shown[key]):
            if _differs(new, old):
                table.update_cell(key, column, new)
        shown[key] = cells
    return False


def _differs(a, b) -> bool:
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain != b.plain or a.spans != b.spans or a.style != b.style
    return a != b


class KeyedTablePane(StorePane):
    """Subclasses compose a DataTable with id TABLE_ID and call fill() from show()."""

    TABLE_ID = ""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, tuple] = {}
        self._columns: list[tuple[str, int | None]] = []

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    @property
    def selected_key(self) -> str | None:
        return cursor_key(self.table)

    def fill(self, columns: list[tuple[str, int | None]], rows: list[tuple[str, tuple]]) -> None:
        """columns: (label, width or None); rows: (key, cells)."""
        table = self.table
        selected = self.selected_key  # (before a change of columns clears the table: the cursor stays)
        old_index = table.cursor_row
        if columns != self._columns:
            self._columns = columns
            table.clear(columns=True)
            for label, width in columns:
                table.add_column(label, key=label, width=width)
            self._shown = {}
        keys = [key for key, _ in rows]
        with self.app.batch_update():
            if put_rows(table, self._shown, rows) and keys:
                index = keys.index(selected) if selected in keys else min(max(old_index, 0), len(keys) - 1)
                table.move_cursor(row=index, animate=False, scroll=False)
