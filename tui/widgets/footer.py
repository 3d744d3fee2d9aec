"""The footer of every screen: that screen's own keys, with `?`, `q` and `esc` pinned right.

Textual's Footer lists the keys in binding order and cuts the row at the screen's edge, so at 80
columns the pane keys pushed `? Help` and `q Quit` out of sight.  This one moves the keys a person
must always find (help, quit, back out) into a group docked at the right edge; the rest fill the
row from the left and are cut first.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: the keys that stay visible at any width
PINNED = ("question_mark", "colon", "q", "escape")


class KeysFooter(Footer):
    """A Footer whose help / quit / back keys never scroll out of sight."""

    DEFAULT_CSS = """
    KeysFooter HorizontalGroup.pinned {
        dock: right;
        width: auto;
        height: 1;
        background: $footer-background;
    }
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("show_command_palette", False)
        super().__init__(**kwargs)

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        pinned = [w for w in widgets if isinstance(w, FooterKey) and w.key in PINNED]
        pinned.sort(key=lambda w: PINNED.index(w.key))
        yield from (w for w in widgets if w not in pinned)
        if pinned:
            yield HorizontalGroup(*pinned, classes="pinned")
