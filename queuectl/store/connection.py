"""Opening the store: the database behind the models, its schema version, and error mapping.

Only the store package imports peewee.  When the store is SQLite, peewee is kept from importing
PostgreSQL and MySQL drivers it would otherwise load at import time (they cost ~150 ms of start-up
that every command would pay).
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from pathlib import Path

from ..errors import InputError, StoreError
from ..paths import Location

#: seconds a connection waits for another process's write lock before reporting the store busy
BUSY_TIMEOUT = 10.0

_location: Location | None = None
_UNUSED_DRIVERS = ("psycopg2", "psycopg", "psycopg2cffi", "pymysql", "MySQLdb", "mysql", "cysqlite")


def _import_peewee_without_drivers() -> None:
    if "peewee" in sys.modules:
        return
    hidden = [m for m in _UNUSED_DRIVERS if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import fails fast: "not installed"
    try:
        import peewee  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


def open_store(location: Location) -> None:
    """Connect the models to the store at `location`, creating or migrating its schema."""
    global _location
    if location.sqlite_path is None:
        scheme = location.url.split("://", 1)[0]
        raise InputError(f"unsupported store URL scheme {scheme!r}: use a file path or sqlite:///PATH")
    from ..models import db

    path = location.sqlite_path
    _create_private_file(path)
    close_store()
    db.initialize(
        _sqlite_class()(
            str(path),
            pragmas={"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1},
            timeout=0,  # busy waits are ours (_wait_while_busy), not SQLite's
            lock_type="IMMEDIATE",  # every write transaction takes the write lock up front
            check_same_thread=False,
        )
    )
    _location = location
    with mapped_errors():
        _ensure_schema()


def _wait_while_busy(attempt):
    """Call attempt() until the database stops answering "locked", for up to BUSY_TIMEOUT.

    SQLite's own busy handler first sleeps 1 ms and then longer; workers that finish a job
    every millisecond would spend most of their time asleep.  Retrying after tens of
    microseconds, doubling to 2 ms, keeps contention cheap and a long-held lock harmless.
    """
    from peewee import OperationalError

    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.00005
    while True:
        try:
            return attempt()
        except OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.002)


@functools.cache
def _sqlite_class():
    from peewee import SqliteDatabase

    class SqliteStore(SqliteDatabase):
        """SQLite whose lock waits go through _wait_while_busy."""

        def begin(self, lock_type=None):
            _wait_while_busy(lambda: SqliteDatabase.begin(self, lock_type))

        def execute_sql(self, sql, params=None):
            if self.in_transaction():  # the write lock is ours already; readers never wait in WAL
                return SqliteDatabase.execute_sql(self, sql, params)
            return _wait_while_busy(lambda: SqliteDatabase.execute_sql(self, sql, params))

    return SqliteStore


def close_store() -> None:
    from ..models import db

    if db.obj is not None and not db.is_closed():
        db.close()


def location() -> Location:
    if _location is None:
        raise RuntimeError("the store is not open")
    return _location


_clock = time.time


def now() -> float:
    """The store's clock (UTC epoch seconds)."""
    return _clock()


def set_clock(clock=time.time) -> None:
    """Replace the clock (tests and snapshots use a fixed one); no argument restores it."""
    global _clock
    _clock = clock


def _create_private_file(path: Path) -> None:
    """Create the folder and the database file owner-only before SQLite opens them."""
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create the store at {path}: {exc.strerror}") from None


def _ensure_schema() -> None:
    from ..models import SCHEMA_VERSION, Setting, create_schema, db
    from .migrations import migrate

    if not db.table_exists("setting"):
        create_schema()
        return
    row = Setting.get_or_none(Setting.key == "schema_version")
    version = int(row.value) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store at {location().display} has schema version {version}, newer than this "
            f"queuectl understands ({SCHEMA_VERSION}); upgrade queuectl"
        )
    if version < SCHEMA_VERSION:
        migrate(version)


@contextlib.contextmanager
def mapped_errors():
    """Turn database failures into one-line StoreErrors (busy, disk full, corrupt)."""
    from peewee import DatabaseError, InterfaceError

    try:
        yield
    except (DatabaseError, InterfaceError) as exc:
        if type(exc).__name__ == "IntegrityError":
            raise
        text = str(exc) or type(exc).__name__
        if "locked" in text or "busy" in text:
            text = f"the store is busy: another process has held its write lock for over {BUSY_TIMEOUT:g}s"
        raise StoreError(text) from exc


def guarded(fn):
    """Decorator for public store functions: database failures become StoreErrors."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mapped_errors():
            return fn(*args, **kwargs)

    return wrapper


def wake_workers() -> None:
    """Tell idle workers that runnable work or a request is waiting (after the commit)."""
    from ..wakeup import notify

    notify(location().run_dir)
