"""`?`: every binding, pane by pane, and the `@` command log."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..widgets.footer import KeysFooter

GLOBAL_KEYS = [
    ("1 … 8, tab, shift+tab", "switch pane: Jobs, DLQ, Logs, Metrics, Workers, Config, Queues, Schedules"),
    ("↑ ↓ j k, pgup pgdn, g G", "move; g/G first/last (fetches only the rows on screen)"),
    ("click a header", "Jobs, DLQ: sort by that column; click again to reverse (o / O in Jobs)"),
    ("enter", "open the selected job: fields, dependencies (enter jumps, backspace back), attempts, output"),
    ("ctrl+p or :", "command palette (retry all dead, start a worker, jump to a job …)"),
    ("@", "the command log: the queuectl CLI commands equal to what you did"),
    ("?", "this help"),
    ("q", "quit (asks first if workers started here are still running)"),
]
VIM_HIDDEN = {"j", "k", "g", "G", "home", "end", "equals_sign"}


def _key_name(key: str) -> str:
    names = {
        "slash": "/",
        "space": "space",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "plus": "+",
        "minus": "-",
        "escape": "esc",
        "question_mark": "?",
        "at": "@",
        "colon": ":",
        "ampersand": "&",
    }
    return ", ".join(names.get(k, k) for k in key.split(",") if k not in VIM_HIDDEN)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, panes: list[tuple[str, list[Binding]]], focused: str, readonly: bool) -> None:
        super().__init__()
        self.panes, self.pane_name, self.readonly = panes, focused, readonly

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help") as box:
            box.border_title = "Keys" + ("  (read-only: actions are off)" if self.readonly else "")
            with VerticalScroll():
                yield Static(self._table())
        yield KeysFooter()

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_row(Text("everywhere", style="underline"), "")
        for key, what in GLOBAL_KEYS:
            table.add_row(key, what)
        ordered = sorted(self.panes, key=lambda p: p[0] != self.pane_name)
        for name, bindings in ordered:
            table.add_row("", "")
            table.add_row(Text(name + ("  (this pane)" if name == self.pane_name else ""), style="underline"), "")
            for b in bindings:
                key = _key_name(b.key)
                if key:
                    table.add_row(key, b.description or b.action)
        return table

    def action_close(self) -> None:
        self.dismiss(None)


class CommandLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,at", "close", "Close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="command-log") as box:
            box.border_title = "Command log: the CLI equivalent of each action in this session"
            with VerticalScroll():
                body = (
                    "\n".join(self.lines)
                    if self.lines
                    else "Nothing done yet: each action you take shows here as the queuectl command that does it."
                )
                yield Static(Text(body, style="" if self.lines else "dim"))
        yield KeysFooter()

    def action_close(self) -> None:
        self.dismiss(None)
