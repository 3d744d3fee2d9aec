"""The header: where the store is, live workers, and the counts per state, coloured like the rows."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from queuectl.states import JobState

from ..format import compact_count, shown_states, state_styles


class StatusHeader(Horizontal):
    """Redrawn from the last status on a resize (the short labels depend on the width)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._last: tuple = ()

    def compose(self) -> ComposeResult:
        yield Static(id="hdr-left")
        yield Static(id="hdr-right")

    def on_resize(self) -> None:
        if self._last:
            self.update_status(*self._last)

    def update_status(self, label: str, readonly: bool, counts: dict | None, workers: int | None) -> None:
        self._last = (label, readonly, counts, workers)
        width = self.size.width or self.app.size.width
        left = Text(no_wrap=True, overflow="ellipsis")
        left.append(" queuectl ", style="bold reverse")
        if readonly:
            left.append(" READ-ONLY ", style="bold")
        left.append(" " + label)
        self.query_one("#hdr-left", Static).update(left)
        right = Text(no_wrap=True, justify="right")
        if counts is not None:
            styles = state_styles(self.app.current_theme)
            states = shown_states(counts)

            gap, number = "  ", "{:,}".format

            def cells(shown: list[str]) -> int:  # the right part's width (and its padding)
                words = [f"● {workers} workers"] + [f"{s} {number(counts.get(s, 0))}" for s in shown]
                return 2 + sum(len(w) + len(gap) for w in words)

            if left.cell_len + cells(states) > width:  # the zeros go before the title shrinks
                states = [s for s in states if counts.get(s, 0)] or [JobState.PENDING.value]
            if len(" queuectl ") + 2 + cells(states) > width:  # ... then the wide gaps
                gap = " "
            if len(" queuectl ") + 2 + cells(states) > width:  # ... then the digits (837k)
                number = compact_count
            for least in (
                JobState.CANCELLED.value,
                JobState.COMPLETED.value,
            ):  # ... then the states an operator needs least
                if len(" queuectl ") + 2 + cells(states) > width and least in states and len(states) > 1:
                    states.remove(least)
            right.append("● ", style=styles[JobState.COMPLETED] if workers else "dim")
            right.append(f"{workers} worker{'s' * (workers != 1)}{gap}")
            for state in states:
                n = counts.get(state, 0)
                style = styles.get(state, "") if n else "dim"  # a zero is dim, whatever its state
                right.append(f"{state} {number(n)}{gap}", style=style)
        self.query_one("#hdr-right", Static).update(right)
