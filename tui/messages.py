"""Messages from thread workers back to the UI (past tense: something was loaded or done)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from textual.message import Message


@dataclass
class Loaded(Message):
    """A pane's store query finished: `result` is what it returned, or the QueuectlError it raised."""

    result: Any
    error: Exception | None = None


@dataclass
class ActionDone(Message):
    """A store action finished (posted to the app): then() runs on the UI thread."""

    result: Any
    error: Exception | None
    then: Callable[[Any], None] | None
    done: str | Callable[[Any], str] | None
    cli: str | Callable[[Any], str] | None
