"""Opening the store: the database behind the models, its schema version, its clock, and the
mapping of database failures to one-line errors.

What differs between SQLite and PostgreSQL is asked of the store's dialect (dialect.py).
"""
from __future__ import annotations

import contextlib
import functools
import time

from ..errors import StoreError
from ..paths import Location
from . import dialect
from .dialect import ENDED_CHANNEL, WAKE_CHANNEL

#: seconds a connection waits for another process's write lock before reporting the store busy
BUSY_TIMEOUT = 10.0
#: how often the offset between this host's clock and PostgreSQL's is measured again
CLOCK_SYNC_SECONDS = 60.0

_location: Location | None = None


def open_store(location: Location) -> None:
    """Connect the models to the store at `location`, creating or migrating its schema."""
    global _location
    from ..models import db

    close_store()
    chosen = dialect.for_location(location)
    db.initialize(chosen.connect())
    dialect.use(chosen)
    _location = location
    _clock_offset.cache_clear()
    from .cached import forget_cached_config

    forget_cached_config()
    with mapped_errors():
        _ensure_schema()


def close_store() -> None:
    from ..models import db

    if db.obj is not None and not db.is_closed():
        try:
            db.close()
        except Exception:  # a broken connection: forget it
            db._state.reset()


def location() -> Location:
    if _location is None:
        raise RuntimeError("the store is not open")
    return _location


_host_clock = time.time  # this host's clock
_fixed_clock = None  # a clock given by set_clock, taken as it is


def now() -> float:
    """The store's clock (UTC epoch seconds).

    On PostgreSQL it is the database server's clock (this host's clock plus a measured offset),
    so that leases, schedules and backoff agree across hosts whose clocks disagree.
    """
    if _fixed_clock is not None:
        return _fixed_clock()
    if _location is None or not dialect.current().server_clock():
        return _host_clock()
    return _host_clock() + _clock_offset(int(time.monotonic() // CLOCK_SYNC_SECONDS))


@functools.lru_cache(maxsize=1)
def _clock_offset(_period: int) -> float:
    from ..models import db

    before = _host_clock()
    with mapped_errors():
        server = db.execute_sql("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()[0]
    after = _host_clock()
    return float(server) - (before + after) / 2


def set_clock(clock=None) -> None:
    """Fix the store's clock (tests and snapshots); no argument restores the real one."""
    global _fixed_clock
    _fixed_clock = clock


def _ensure_schema() -> None:
    from ..models import SCHEMA_VERSION, Setting, create_schema, db
    from .migrations import migrate

    if not db.table_exists("setting"):
        create_schema(dialect.current())
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
    """Turn database failures into one-line StoreErrors (busy, disk full, connection lost).

    A lost PostgreSQL connection is dropped, so that the next call connects again.
    """
    from peewee import DatabaseError, IntegrityError, InterfaceError

    try:
        yield
    except IntegrityError:
        raise
    except (DatabaseError, InterfaceError) as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if _location is not None and dialect.current().connection_lost():
            text = f"lost the connection to PostgreSQL ({text})"
        elif "locked" in text or "busy" in text:
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
    _wake(WAKE_CHANNEL, watchers=False)


def wake_watchers() -> None:
    """Tell whoever waits for jobs to end (`queuectl wait`) to look again (after the commit)."""
    _wake(ENDED_CHANNEL, watchers=True)


def _wake(channel: str, watchers: bool) -> None:
    dialect.current().wake(channel, watchers)


def wake_channel(name: str, watcher: bool = False):
    """The channel on which the worker `name` is woken (or, for a watcher, told that jobs
    ended): a Unix socket beside a SQLite store, LISTEN/NOTIFY for PostgreSQL."""
    return dialect.current().wake_channel(name, ENDED_CHANNEL if watcher else WAKE_CHANNEL, watcher)


def wait_while_busy(attempt):
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
def sqlite_class():
    from peewee import SqliteDatabase

    class SqliteStore(SqliteDatabase):
        """SQLite whose lock waits go through wait_while_busy."""

        def begin(self, lock_type=None):
            wait_while_busy(lambda: SqliteDatabase.begin(self, lock_type))

        def execute_sql(self, sql, params=None):
            if self.in_transaction():  # the write lock is ours already; readers never wait in WAL
                return SqliteDatabase.execute_sql(self, sql, params)
            return wait_while_busy(lambda: SqliteDatabase.execute_sql(self, sql, params))

        def rollback(self):
            """SQLite ends the transaction itself on some errors (SQLITE_FULL): the ROLLBACK that
            follows must not replace that error with "no transaction is active"."""
            if self.is_closed() or self.connection().in_transaction:
                SqliteDatabase.rollback(self)

    return SqliteStore
