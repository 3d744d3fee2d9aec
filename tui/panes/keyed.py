"""A small table pane: rows keyed by name, updated in place, the cursor kept on its row."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..base import StorePane, cursor_key


class KeyedTablePane(StorePane):
    """Subclasses compose a DataTable with id TABLE_ID and call fill() from show()."""

    TABLE_ID = ""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, tuple] = {}
        self._columns: list[str] = []

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    @property
    def selected_key(self) -> str | None:
        table = self.table
        return cursor_key(table)

    def fill(self, columns: list[tuple[str, int | None]], rows: list[tuple[str, tuple]]) -> None:
        """columns: (label, width or None); rows: (key, cells)."""
        table = self.table
        labels = [label for label, _ in columns]
        if labels != self._columns:
            self._columns = labels
            table.clear(columns=True)
            for label, width in columns:
                table.add_column(label, key=label, width=width)
            self._shown = {}
        selected = self.selected_key
        keys = [key for key, _ in rows]
        with self.app.batch_update():
            if list(self._shown) != keys:
                old_index = table.cursor_row
                table.clear()
                self._shown = {}
                for key, cells in rows:
                    table.add_row(*cells, key=key)
                    self._shown[key] = cells
                if keys:
                    index = keys.index(selected) if selected in keys else min(max(old_index, 0), len(keys) - 1)
                    table.move_cursor(row=index, animate=False, scroll=False)
            else:
                for key, cells in rows:
                    for label, new, old in zip(labels, cells, self._shown[key]):
                        if _plain(new) != _plain(old):
                            table.update_cell(key, label, new)
                    self._shown[key] = cells


def _plain(cell) -> tuple:
    return (cell.plain, tuple(cell.spans), str(cell.style)) if isinstance(cell, Text) else (cell,)
