"""What every pane shares: a store query that runs in a thread worker and re-polls only after the
previous one finished, requests posted up to the actions, and the read-only switch for its keys."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable

from queuectl.errors import QueuectlError

from .messages import ActionRequested, Loaded


def cursor_key(table) -> str | None:
    """The key of the row under a DataTable's cursor (None when the table is empty)."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # the cursor is past the rows for a moment while they are replaced
        return None


class StorePane(Vertical):
    """A pane that shows the result of one store query, refreshed while the pane is visible."""

    #: seconds between refreshes while the pane is on screen
    REFRESH_SECONDS = 1.0
    #: while nothing changes, refreshes are spaced out up to this many ticks apart
    MAX_IDLE_TICKS = 4
    #: the pane's tab id (the app's TabbedContent)
    TAB = ""
    #: its key actions that change the store: hidden in read-only mode (tui/actions.py refuses
    #: them); made from the action table (tui/keymap.py)
    WRITES: frozenset[str] = frozenset()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._busy = False
        self._dirty = False
        self._last_error = ""
        self._last_seen: Any = None
        self._idle_every = 1  # refresh every this many ticks (doubles while nothing changes)
        self._ticks = 0
        #: jobs per state as the header last showed them (the app hands every pane the same
        #: snapshot, so their totals agree with the header); None until the first one
        self.counts: dict[str, int] | None = None

    def on_mount(self) -> None:
        self.set_interval(self.REFRESH_SECONDS, self._tick)
        self._reload_if_visible()

    def on_resize(self) -> None:
        self._reload_if_visible()  # layouts and page sizes depend on the size

    def _reload_if_visible(self) -> None:
        """A hidden pane queries nothing: the dashboard's first screen waits for no other pane's
        store query or render, and showing a pane reloads it (the app's tab switch)."""
        if self.is_visible_pane:
            self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.WRITES and self.app.readonly)

    def request(self, action: str, *args: Any) -> None:
        """Ask the dashboard's actions for something (they know read-only and confirmations).
        Posted to the app itself: bubbling up through the tabs would cost a message hop each."""
        self.app.post_message(ActionRequested(action, args))

    def focus_target(self) -> Widget | None:
        """What gets the focus when the pane is shown."""
        tables = self.query(DataTable)
        return next((t for t in tables if t.display), None)

    @property
    def editing(self) -> bool:
        """Is a form field of the pane focused (tab then moves between fields, not panes)?"""
        return False

    @property
    def is_visible_pane(self) -> bool:
        return self.app.active_tab == self.TAB and self.display

    def _tick(self) -> None:
        """Refresh while visible; a pane whose data stays the same is asked less and less often
        (an idle dashboard costs little), and any change brings it back to every tick."""
        if not self.is_visible_pane or self.app.paused:
            return
        self._ticks += 1
        if self._ticks >= self._idle_every:
            self._ticks = 0
            self.reload()

    def fingerprint(self, result: Any) -> Any:
        """What must differ between two results for the pane to count as changing."""
        return result

    def reload(self) -> None:
        """Query the store again now (or right after the query in flight)."""
        if self._busy:
            self._dirty = True
            return
        self._busy = True
        self._load(self.query_args())

    def query_args(self) -> Any:
        """Read on the UI thread: what the query needs (filters, page size...)."""
        return None

    def fetch(self, args: Any) -> Any:
        """Runs in a thread: the blocking store calls."""
        raise NotImplementedError

    def show(self, result: Any) -> None:
        """Runs on the UI thread with what fetch returned."""
        raise NotImplementedError

    @work(thread=True, group="pane-load")
    def _load(self, args: Any) -> None:
        try:
            self.post_message(Loaded(self.fetch(args)))
        except QueuectlError as exc:
            self.post_message(Loaded(None, exc))
        except Exception as exc:  # a bug must not kill the dashboard: report it, keep polling
            self.post_message(Loaded(None, RuntimeError(f"internal error: {type(exc).__name__}: {exc}")))

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        self._busy = False
        if message.error is not None:
            text = str(message.error)
            if text != self._last_error:  # once per distinct error, not once a second
                self.notify(text, title="Store", severity="error")
            self._last_error = text
        else:
            self._last_error = ""
            seen = self.fingerprint(message.result)
            same = seen == self._last_seen
            self._idle_every = min(self._idle_every * 2, self.MAX_IDLE_TICKS) if same else 1
            self._last_seen = seen
            self.show(message.result)
        if self._dirty:
            self._dirty = False
            self.reload()
