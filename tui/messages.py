"""Messages: from thread workers back to the UI, and from the panes up to the actions (past
tense: something was loaded, done, requested or highlighted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class Loaded(Message):
    """A pane's store query finished: `result` is what it returned, or the QueuectlError it raised."""

    result: Any
    error: Exception | None = None


@dataclass
class StatusLoaded(Message):
    """The header's counts and live workers (None, None and the error when the store failed)."""

    counts: dict | None
    workers: int | None
    error: str | None


@dataclass
class ActionRequested(Message):
    """A pane (or the palette) asks for an action by name: tui/actions.py carries it out, or
    refuses it in read-only mode.  Data goes down to the panes, requests come up."""

    action: str
    args: tuple = ()


@dataclass
class JobHighlighted(Message):
    """The cursor is on this job (the Logs pane and the palette's "selected job" follow it)."""

    job_id: str


@dataclass
class ActionDone(Message):
    """A store action finished (posted to the app): then() runs on the UI thread."""

    result: Any
    error: Exception | None
    then: Callable[[Any], None] | None
    done: str | Callable[[Any], str] | None
    cli: str | Callable[[Any], str] | None
