"""The footer of every screen: that screen's own keys, with `?`, `q` and `esc` pinned right.

Textual's Footer lists the keys in binding order and cuts the row at the screen's edge, so at 80
columns the pane keys pushed `? Help` and `q Quit` out of sight.  This one moves the keys a person
must always find (help, quit, back out) into a group docked at the right edge; the rest fill the
row from the left, and a key that does not fit whole is hidden rather than cut mid-word.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.dom import NoScreen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # no public path; textual is pinned in pyproject.toml

#: the keys that stay visible at any width
PINNED = ("question_mark", "colon", "q", "escape")


def _width(key: FooterKey) -> int:
    return key.render().cell_len + key.styles.margin.width


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
        self._shown: tuple | None = None

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit)

    async def recompose(self) -> None:
        """Only when the keys to show changed: Textual asks again on every focus change and
        binding refresh, and rebuilding the row each time cost the first screen 0.2 s."""
        try:
            bindings = self.screen.active_bindings.values()
        except NoScreen:  # asked after refresh, while its dialog was being closed
            return
        shown = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for _, binding, enabled, tooltip in bindings
            if binding.show
        )
        if self._bindings_ready and shown == self._shown:
            return
        self._shown = shown if self._bindings_ready else None
        await super().recompose()
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Show the unpinned keys, in order, until one does not fit whole beside the pinned group
        (its trailing blank may go under the group, which starts with a blank of its own)."""
        keys = list(self.query(FooterKey))
        room = self.size.width - sum(_width(k) for k in keys if k.key in PINNED)
        fits = True
        for key in keys:
            if key.key not in PINNED:
                fits = fits and cell_len(key.render().plain.rstrip()) <= room
                room -= _width(key)
                key.display = fits

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        pinned = [w for w in widgets if isinstance(w, FooterKey) and w.key in PINNED]
        pinned.sort(key=lambda w: PINNED.index(w.key))
        yield from (w for w in widgets if w not in pinned)
        if pinned:
            yield HorizontalGroup(*pinned, classes="pinned")
