"""Opening the store: the database behind the models, its schema version, its clock, and the
mapping of database failures to one-line errors.

What differs between SQLite and PostgreSQL is asked of the store's dialect (dialect.py).
"""

from __future__ import annotations

import contextlib
import functools
import re
import time

from ..errors import InputError, NoStore, StoreDamaged, StoreError, StoreUnusable, first_line
from ..paths import Location
from . import clock, dialect
from .dialect import ENDED_CHANNEL, WAKE_CHANNEL
from .sqlite_busy import BUSY_TIMEOUT

#: how often the offset between this host's clock and PostgreSQL's is measured again
CLOCK_SYNC_SECONDS = 60.0

_location: Location | None = None
_readonly = False  # opened by a command that only reads: it writes nothing, not even the clock
_file_identity: tuple[int, int] | None = None  # the SQLite file opened: (st_dev, st_ino)


def open_store(
    location: Location, readonly: bool = False, verify: bool = False, empty_if_missing: bool = False
) -> None:
    """Connect the models to the store at `location`.

    A store that is missing is created, and an old one migrated, unless `readonly`: a command
    that only reads creates and changes nothing (no file, no schema, no switch to WAL), so that
    pointing it at the wrong file is harmless.  Either way a file that holds another
    application's tables is refused, never given ours.  `verify` (workers, `init`) also runs
    SQLite's quick_check, so that a damaged file stops them at once.  `empty_if_missing` (with
    `readonly`): where there is no store yet, an empty one in memory stands in, so that a
    newcomer's first `status` shows an empty queue rather than an error, and still nothing is
    created.  (store.open_store is quick.open_store, which may take the quick path instead.)
    """
    global _file_identity
    chosen = dialect.for_location(location)
    chosen.load_peewee()  # before anything imports peewee (SQLite: without its drivers)
    from .migrations import create_schema

    close_store()
    _file_identity = None
    try:
        _connect(chosen, location, readonly)
        with mapped_errors():
            _ensure_schema(create=not readonly)
    except NoStore:
        if not (readonly and empty_if_missing):
            raise
        close_store()
        _connect(dialect.NothingYet(location), location, readonly=True)
        with mapped_errors():
            create_schema(dialect.current())
        return
    with mapped_errors():
        chosen.settle(readonly)
        if verify:
            quick_check()
        if not chosen.server_clock():
            now()  # a store's first writer (after each boot) sets its clock's anchor
        _file_identity = chosen.file_identity()


def _connect(chosen: dialect.SqliteDialect, location: Location, readonly: bool) -> None:
    global _location, _readonly
    from ..models import db

    db.initialize(chosen.connect(readonly))
    dialect.use(chosen)
    _location, _readonly = location, readonly
    _clock_offset.cache_clear()
    clock.forget()
    from .cached import forget_cached_config

    forget_cached_config()


def store_file_changed() -> str | None:
    """ "deleted" or "replaced" when the SQLite file at the open store's path is no longer the
    one this process opened: its connection still reads and writes the old file, which no other
    process sees any more.  One stat, cheap enough for every turn of a worker's loop."""
    if _file_identity is None:
        return None
    now_there = dialect.current().file_identity()
    if now_there == _file_identity:
        return None
    return "deleted" if now_there is None else "replaced"


def close_store() -> None:
    import sys

    if "queuectl.models" not in sys.modules:
        return  # (the quick path's process: no models, nothing of theirs open)
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
    so that leases, schedules and backoff agree across hosts whose clocks disagree.  On SQLite
    it is this host's clock, kept from jumping when the wall clock is stepped (see clock.py).
    """
    if _fixed_clock is not None:
        return _fixed_clock()
    if _location is None:
        return _host_clock()
    if not dialect.current().server_clock():
        return clock.store_time(_host_clock(), writable=not _readonly)
    return _host_clock() + _clock_offset(int(time.monotonic() // CLOCK_SYNC_SECONDS))


def elapsed_clock() -> float:
    """Seconds on a clock that only moves forward, for durations this process measures itself
    (the fixed clock of set_clock in tests)."""
    return _fixed_clock() if _fixed_clock is not None else time.monotonic()


@functools.lru_cache(maxsize=1)
def _clock_offset(_period: int) -> float:
    before = _host_clock()
    with mapped_errors():
        server = dialect.current().server_time()
    after = _host_clock()
    return server - (before + after) / 2


def set_clock(clock=None) -> None:
    """Fix the store's clock (tests and snapshots); no argument restores the real one."""
    global _fixed_clock
    _fixed_clock = clock


def set_wall_clock(clock=time.time) -> None:
    """Replace this process's reading of the wall clock (tests: step it and see what the
    store's clock does); no argument restores the real one."""
    global _host_clock
    _host_clock = clock


def _ensure_schema(create: bool) -> None:
    """Create, migrate or just check the schema.  Tables we do not know mean another
    application's file; some of ours missing mean a damaged store."""
    from ..models import MODELS, SCHEMA_VERSION, Setting, db
    from .migrations import create_schema, migrate

    tables = set(db.get_tables())
    if "setting" not in tables:
        if tables and not dialect.current().shared_database:
            raise StoreUnusable(
                f"{location().display} is not a queuectl store (it holds other tables); "
                "choose another file with --db or QUEUECTL_DB"
            )
        taken = sorted(tables & {m._meta.table_name for m in MODELS})
        if taken:  # (PostgreSQL: a database shared with other applications is fine, its names are not)
            raise StoreUnusable(
                f"the database {location().display} already has table(s) named {', '.join(taken)} "
                "that queuectl did not make; give queuectl a database of its own"
            )
        if not create:
            raise NoStore(f"there is no queuectl store in {location().display} yet (`queuectl init` creates one)")
        create_schema(dialect.current())
        return
    row = Setting.get_or_none(Setting.key == "schema_version")
    try:
        version = int(row.value) if row else 0
    except ValueError:
        raise InputError(
            f"the store at {location().display} has schema version {row.value[:20]!r}, not a number: "
            "it was not made by queuectl"
        ) from None
    if version > SCHEMA_VERSION:
        _refuse_incompatible(version)
        return
    if version < SCHEMA_VERSION:  # (our own store: upgraded by any command, even one that reads)
        migrate(version)
        return
    missing = sorted(m._meta.table_name for m in MODELS if m._meta.table_name not in tables)
    if missing:
        raise StoreDamaged(_damaged(f"its table(s) {', '.join(missing)} are missing"))
    if create:
        ensure_indexes()


def _index_name(statement: str) -> str:
    return statement.split(" IF NOT EXISTS ", 1)[1].split()[0]


def ensure_indexes() -> None:
    """Make the indexes of models.INDEXES that a store of the current schema lacks (added since
    it was made, without a schema step: the dashboard's sort indexes); one catalogue read when
    none is missing.  Building one over a large store takes a few seconds, once."""
    from ..models import INDEXES, LATER_INDEXES, db

    have = {index.name for index in db.get_indexes("job")}
    wanted = [s for s in INDEXES + LATER_INDEXES if _index_name(s) not in have]
    if not wanted:
        return
    with db.atomic():
        dialect.current().lock_schema()
        for statement in wanted:
            db.execute_sql(statement)


class SchemaTooNew(StoreUnusable):
    """The store was upgraded to a schema this queuectl must not use: a worker stops (and its
    supervisor with it) instead of restarting into the same refusal."""


def check_schema() -> None:
    """For a running worker, at each heartbeat: raise SchemaTooNew once another host has
    upgraded the store to a schema this code is not compatible with."""
    from ..models import SCHEMA_VERSION, Setting

    with mapped_errors():
        version = int(Setting.get(Setting.key == "schema_version").value)
    if version > SCHEMA_VERSION:
        _refuse_incompatible(version)


def _refuse_incompatible(version: int) -> None:
    """A newer schema is used as it is when its steps since ours are all compatible (the store
    says which schema's code it still accepts: migrations.COMPATIBILITY); else refused."""
    from ..models import SCHEMA_VERSION, Setting
    from .migrations import COMPATIBILITY, oldest_accepted

    row = Setting.get_or_none(Setting.key == COMPATIBILITY)
    oldest = oldest_accepted(version, row.value if row else None)
    if oldest > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the store at {location().display} has schema version {version}, which needs "
            f"queuectl of schema {oldest} or later; this queuectl has schema {SCHEMA_VERSION}: "
            "upgrade queuectl on this host"
        )


def _damaged(what: str) -> str:
    return dialect.current().damaged(what)


def quick_check() -> None:
    """SQLite's quick_check (every page and record, without cross-checking indexes): raises
    StoreDamaged on the first problem.  Nothing to do on PostgreSQL, which checks its pages."""
    with mapped_errors():
        problem = dialect.current().quick_check()
    if problem is not None:
        raise StoreDamaged(_damaged(problem))


#: what SQLite and PostgreSQL say about a store that lost pages or tables
_DAMAGE = re.compile(r"malformed|file is not a database|no such (table|column)|relation \S+ does not exist")
#: errors in a row (none of them busy or a lost connection) after which the file is checked
REPEATS_BEFORE_CHECK = 3
_errors_in_a_row = 0
#: what SQLite (SQLITE_FULL) and PostgreSQL (ENOSPC) say when the disk under the store is full
_FULL = re.compile(r"disk is full|No space left on device")


def _disk_full(text: str) -> bool:
    """Is the disk under the store full?  SQLite also says only "disk I/O error" when it
    cannot make its -shm file there."""
    if _FULL.search(text):
        return True
    chosen = dialect.opened()
    return "disk I/O error" in text and chosen is not None and chosen.disk_full()


@contextlib.contextmanager
def mapped_errors():
    """Turn database failures into one-line StoreErrors (busy, disk full, connection lost),
    or StoreDamaged for a damaged store: at once when the error says so, and after
    REPEATS_BEFORE_CHECK failures in a row when quick_check finds damage.

    A lost PostgreSQL connection is dropped, so that the next call connects again.
    """
    global _errors_in_a_row
    import sqlite3

    from peewee import DatabaseError, IntegrityError, InterfaceError

    try:
        yield
    except IntegrityError:
        raise
    except (DatabaseError, InterfaceError, sqlite3.DatabaseError) as exc:  # (sqlite3's: raised while rows are read)
        text = first_line(exc)
        if _DAMAGE.search(text) and _location is not None:
            raise StoreDamaged(_damaged(text)) from exc
        if _location is not None and dialect.current().connection_lost():
            text = f"lost the connection to PostgreSQL ({text})"
        elif "locked" in text or "busy" in text:
            text = f"the store is busy: another process has held its write lock for over {BUSY_TIMEOUT:g}s"
        else:
            if _disk_full(text):
                text = f"the disk is full where the store is ({text}); free some space there"
            _errors_in_a_row += 1
            if _errors_in_a_row == REPEATS_BEFORE_CHECK and _location is not None:
                quick_check()
        raise StoreError(text) from exc
    else:
        _errors_in_a_row = 0


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


def wake_channel(name: str, watcher: bool = False, forwarded: bool = False):
    """The channel on which the worker `name` is woken (or, for a watcher, told that jobs
    ended): a Unix socket beside a SQLite store, LISTEN/NOTIFY for PostgreSQL (or, `forwarded`,
    the socket to which this host's supervisor passes on what it hears)."""
    return dialect.current().wake_channel(name, ENDED_CHANNEL if watcher else WAKE_CHANNEL, watcher, forwarded)


def forward_wake_ups():
    """See dialect.forward_wake_ups (the store must be open)."""
    return dialect.current().forward_wake_ups(WAKE_CHANNEL)
