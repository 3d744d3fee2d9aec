"""`?`: the focused pane's keys first, then the ones that work everywhere; `/` searches the keys
of every pane.  All of it is made from the action table (tui/keymap.py).  And the `@` command log."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from .. import keymap
from ..widgets.footer import KeysFooter

#: what the focused place's help shows after its own keys
SHARED = ("global", "table")


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "VerticalScroll"
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close"),
        Binding("slash", "search", "Search"),
    ]

    def __init__(self, place: str, readonly: bool) -> None:
        super().__init__()
        self.place, self.readonly = place, readonly

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help") as box:
            box.border_title = "Keys" + ("  (read-only: actions are off)" if self.readonly else "")
            field = Input(placeholder="search every pane's keys (esc: back)", id="help-search", classes="search")
            field.display = False
            yield field
            with VerticalScroll():
                yield Static(self.table(""), id="help-keys")
        yield KeysFooter()

    def sections(self, needle: str) -> list[tuple[str, list[tuple[str, str]]]]:
        """(title, rows): the focused place, then the shared ones; searching: every place,
        only the rows that match."""
        titles = dict(keymap.PLACES)
        if needle:
            places = [self.place] + [p for p, _ in keymap.PLACES if p != self.place]
        else:
            places = [self.place, *(p for p in SHARED if p != self.place)]
        found = []
        for place in places:
            rows = keymap.help_rows(place, self.readonly)
            if needle:
                rows = [(k, d) for k, d in rows if needle in k.lower() or needle in d.lower()]
            title = titles.get(place, place.capitalize())
            if rows:
                found.append((title + ("  (this pane)" if place == self.place and place not in SHARED else ""), rows))
        return found

    def table(self, needle: str) -> Group:
        """Each place's title, then its keys; the key column as wide as the widest key shown."""
        sections = self.sections(needle.strip().lower())
        width = max((cell_len(key) for _, rows in sections for key, _ in rows), default=1)
        parts: list = []
        for i, (title, rows) in enumerate(sections):
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", no_wrap=True, min_width=width)
            grid.add_column()
            for key, doc in rows:
                grid.add_row(Text(key), Text(doc))
            parts += [Text("")] * bool(i) + [Text(title, style="underline"), grid]
        if not sections:
            parts.append(Text("no key matches", style="dim"))
        elif not needle:
            parts += [Text(""), Text("/ searches the keys of every pane", style="dim")]
        return Group(*parts)

    def action_search(self) -> None:
        field = self.query_one("#help-search", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#help-search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#help-keys", Static).update(self.table(event.value))

    @on(Input.Submitted, "#help-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(VerticalScroll).focus()

    def on_key(self, event) -> None:
        field = self.query_one("#help-search", Input)
        if event.key == "escape" and field.has_focus:  # esc leaves the search, then the help
            event.stop()
            field.value = ""
            field.display = False
            self.query_one(VerticalScroll).focus()

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
