"""Where SQLite and PostgreSQL differ, in one object per backend (sqlite.py, postgres.py); the
rest of the store is the same code on both and asks the open store's dialect (`current()`) for
what differs: how to connect and check the store, the claim statement's index hint and row lock,
bulk inserts, the counting and metric triggers, schema locks and migrations, the server clock,
and the wake-up channel.
"""

from __future__ import annotations

from ..paths import Location
from .postgres import PostgresDialect
from .sqlite import NothingYet, SqliteDialect
from .sqltext import WAKE_CHANNEL

__all__ = ["NothingYet", "PostgresDialect", "SqliteDialect", "WAKE_CHANNEL"]  # (used through current())

#: the NOTIFY channel that tells watchers (`queuectl wait`) that jobs ended
ENDED_CHANNEL = "queuectl_ended"


def for_location(location: Location) -> SqliteDialect:
    if location.is_postgres:
        return PostgresDialect(location)
    if location.sqlite_path is not None:
        return SqliteDialect(location)
    scheme = location.url.split("://", 1)[0]
    from ..errors import InputError

    raise InputError(f"unsupported store URL scheme {scheme!r}: use a file path, sqlite:///PATH or postgresql://…")


_current: SqliteDialect | None = None


def use(dialect: SqliteDialect | None) -> None:
    global _current
    _current = dialect


def opened() -> SqliteDialect | None:
    """The open store's dialect, or None (a log file read with no store open)."""
    return _current


def current() -> SqliteDialect:
    """The open store's dialect."""
    if _current is None:
        raise RuntimeError("the store is not open")
    return _current
