"""The quick path (issue 24): `add`, `enqueue`, `status` and `list` with the database driver
alone (sqlite3, or psycopg2 for PostgreSQL), without peewee and the models, whose import costs
more than the command itself.

It serves only the plain case, and only on a store that is plainly usable: for SQLite a file
that exists, is private, is ours, has the current schema and is in WAL mode; for PostgreSQL a
database that holds our tables at the current schema.  Anything else (no store yet, a store to
migrate, another application's file, a read-only mount, a busy lock, a taken id, a dependency, a
filter) is left to the full store, opened in its place (`leave`) before anything is written, so
every error and every edge case is the full store's own.  The statements it runs are the full
store's (store/sqltext.py); tests compare the two paths' output on both backends.  The full
store is opened instead whenever peewee is loaded already (the process gains nothing).
"""

from __future__ import annotations

import sqlite3
import sys
import time

from . import clock, sqltext

#: what a quick function answers when it does not serve the call (the full store then does)
NOT_SERVED = object()
_conn = None  # _Sqlite or _Postgres: the driver's connection, with what differs between the two
_how: tuple | None = None  # (location, readonly, empty_if_missing) for the full store


def open_store(location, readonly: bool = False, verify: bool = False, empty_if_missing: bool = False, quick=False):
    """store.open_store: connection.open_store, or with `quick` (the commands people run in
    loops) the quick path where the store is plainly usable."""
    close()
    if quick and not verify and open(location, readonly, empty_if_missing):
        return
    from .connection import open_store as open_full

    open_full(location, readonly=readonly, verify=verify, empty_if_missing=empty_if_missing)


def close_store() -> None:
    """store.close_store: the quick path's connection and the full store's, whichever is open."""
    close()
    from .connection import close_store as close_full

    close_full()


def open(location, readonly: bool, empty_if_missing: bool) -> bool:  # noqa: A001 (the store's verb)
    """Open the store at `location` for the quick path; False: the full store must."""
    global _conn, _how
    close()
    if "peewee" in sys.modules or not (location.is_postgres or location.sqlite_path is not None):
        return False
    if location.is_postgres:
        return _open_postgres(location, readonly, empty_if_missing)
    try:
        conn = _connect(location.sqlite_path, readonly)
    except Exception:  # whatever it is, the full store says it as it always does
        return False
    if conn is None:
        return False
    _conn, _how = conn, (location, readonly, empty_if_missing)
    _forget_full_functions()
    clock.forget()
    clock.execute = _execute
    try:
        now()  # as the full store does when it opens: a store's first writer sets its clock's anchor
    except sqlite3.Error:
        close()
        return False
    return True


def _open_postgres(location, readonly: bool, empty_if_missing: bool) -> bool:
    """open() for a PostgreSQL store.  A server that cannot be reached is said here, in the full
    store's words: handing over would make the person wait out a second connect_timeout."""
    global _conn, _how
    from .drivers import import_psycopg2

    try:
        psycopg2 = import_psycopg2()
    except ImportError:  # the full store says how to install the driver
        return False
    try:
        conn = _Postgres(psycopg2, location.url)
    except psycopg2.OperationalError as exc:
        from ..errors import StoreError, first_line

        raise StoreError(first_line(exc)) from None
    except Exception:
        return False
    try:
        tables = {name for (name,) in conn.execute(sqltext.PG_TABLES_SQL)}
        row = conn.execute(sqltext.SCHEMA_VERSION_SQL).fetchone() if "setting" in tables else None
    except psycopg2.Error:
        conn.close()
        return False
    if not (sqltext.TABLES <= tables and _current_schema(row)):
        conn.close()
        return False
    _conn, _how = conn, (location, readonly, empty_if_missing)
    _forget_full_functions()
    return True


def _current_schema(row) -> bool:
    return row is not None and row[0].isdigit() and int(row[0]) == sqltext.SCHEMA_VERSION


class _Sqlite(sqlite3.Connection):
    """sqlite3's connection, with what the quick path does its own way on SQLite."""

    param = "?"
    begin = "BEGIN IMMEDIATE"
    errors = (sqlite3.Error,)  # any of them hands over to the full store

    readonly = False

    def now(self) -> float:
        """The store's clock, steered by a writer (clock.py)."""
        return clock.store_time(time.time(), writable=not self.readonly)

    def insert_jobs(self, statement: str, rows: list[tuple], ids: list[str]) -> None:
        """Insert the rows and count the kept ones (SQLite's triggers do not count inserts)."""
        before = self.total_changes
        self.executemany(statement, rows)
        if self.total_changes - before == len(rows):
            kept = [(row[_QUEUE], row[_STATE]) for row in rows]
        else:
            kept = self.execute(sqltext.KEPT_ROWS.format(marks=sqltext.marks("?", len(ids))), ids).fetchall()
        counted: dict = {}
        for key in kept:
            counted[key] = counted.get(key, 0) + 1
        for (queue, state), n in counted.items():
            self.execute(sqltext.COUNT_INSERTED.format(p="?"), (queue, state, n, n))

    def wake(self, location) -> None:
        from ..wakeup import notify

        notify(location.run_dir, watchers=False)  # (the SQLite dialect's wake-up)


class _Postgres:
    """A psycopg2 connection that answers as _Sqlite does (execute returns the cursor), in
    autocommit: a transaction is an explicit BEGIN ... COMMIT, as on SQLite."""

    param = "%s"
    begin = "BEGIN"

    def __init__(self, psycopg2, url: str):
        from psycopg2.extensions import parse_dsn

        params = parse_dsn(url)  # (the full store's defaults: PostgresDialect.connect)
        params.setdefault("connect_timeout", 5)
        params.setdefault("application_name", "queuectl")
        self.errors = (psycopg2.Error,)
        self.conn = psycopg2.connect(**params)
        self.conn.autocommit = True

    def now(self) -> float:
        """The server's clock."""
        return float(self.execute(sqltext.SERVER_TIME_SQL).fetchone()[0])

    def insert_jobs(self, statement: str, rows: list[tuple], ids: list[str]) -> None:
        self.conn.cursor().executemany(statement, rows)  # (its statement trigger counts them)

    def wake(self, location) -> None:
        self.execute(sqltext.WAKE_SQL)  # (after the commit, as the full store's wake_workers)

    def execute(self, statement: str, params: tuple = ()):
        cursor = self.conn.cursor()
        cursor.execute(statement, params)
        return cursor

    @property
    def in_transaction(self) -> bool:
        from psycopg2.extensions import TRANSACTION_STATUS_IDLE

        return self.conn.get_transaction_status() != TRANSACTION_STATUS_IDLE

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


def _connect(path, readonly: bool) -> _Sqlite | None:
    """The checks of the full store's opening that a plainly usable store passes; None (or an
    exception) where the full store has something to do or to say."""
    from urllib.parse import quote

    from ..paths import check_private, check_store_folder, refuse_read_only_mount

    check_store_folder(path.parent)
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        check_private(companion, "the store's journal", folder=False)
    if not check_private(path, "the store", folder=False):
        return None  # no store yet: the full store makes one, or answers as an empty one
    refuse_read_only_mount(path)
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=rw",
        uri=True,
        timeout=0,
        isolation_level=None,
        check_same_thread=False,
        factory=_Sqlite,
    )
    conn.readonly = readonly
    try:
        conn.execute("PRAGMA synchronous = normal")
        conn.execute("PRAGMA foreign_keys = 1")
        tables = {name for (name,) in conn.execute(sqltext.TABLES_SQL)}
        row = conn.execute(sqltext.SCHEMA_VERSION_SQL).fetchone() if "setting" in tables else None
        usable = (
            sqltext.TABLES <= tables
            and _current_schema(row)
            and (readonly or conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal")
        )
    except BaseException:
        conn.close()
        raise
    if not usable:
        conn.close()
        return None
    return conn


def _forget_full_functions() -> None:
    """The store package's functions looked up before (store/__init__ keeps each it loads): the
    next look-up goes through its __getattr__ again, which hands over to the full store."""
    from .. import store as package

    for name in package._WHERE:
        value = package.__dict__.get(name)
        if name not in package._QUICK and callable(value) and not isinstance(value, type):
            del package.__dict__[name]


def _execute(statement: str, params: tuple = ()):
    return _conn.execute(statement, params)


def is_open() -> bool:
    return _conn is not None


def close() -> None:
    global _conn, _how
    if _conn is not None:
        clock.execute = None
        clock.forget()
        try:
            _conn.close()
        except _conn.errors:
            pass  # (a PostgreSQL connection the server dropped)
        finally:
            _conn, _how = None, None


def leave() -> None:
    """The full store in the quick path's place (for what it does not serve)."""
    if _conn is None:
        return
    location, readonly, empty_if_missing = _how
    close()
    from .connection import open_store

    open_store(location, readonly=readonly, empty_if_missing=empty_if_missing)


def serve(name: str, args: tuple, kwargs: dict):
    """The quick answer to store.NAME(*args, **kwargs), or NOT_SERVED once the full store has
    taken over (a case it does not serve, or any database error: the full store then does the
    same again, from the start, and says what is wrong as it always does)."""
    errors = _conn.errors
    try:
        answer = _SERVED[name](*args, **kwargs)
    except errors:
        try:
            if _conn is not None and _conn.in_transaction:
                _conn.rollback()
        except errors:
            pass  # (a connection the server dropped: the full store connects anew)
        answer = NOT_SERVED
    if answer is NOT_SERVED:
        leave()
    return answer


def now() -> float:
    """connection.now() for this store."""
    return _conn.now()


def counts(*args, **kwargs) -> dict[str, int]:
    if args or kwargs:
        return NOT_SERVED
    from ..states import JobState

    found = dict(_conn.execute(sqltext.COUNTS).fetchall())
    return {s.value: int(found.get(s.value) or 0) for s in JobState}


def paused_count(where=None):
    if where:
        return NOT_SERVED
    return _conn.execute(sqltext.PAUSED_COUNT).fetchone()[0]


def live_worker_count(*args, **kwargs):
    if args or kwargs:
        return NOT_SERVED
    return _conn.execute(sqltext.LIVE_WORKERS.format(p=_conn.param), (now() - sqltext.LIVENESS_SECONDS,)).fetchone()[0]


def list_jobs(state=None, limit=50, where=None, **others):
    if where or others or limit is None:
        return NOT_SERVED
    from .views import JobView

    states = [state] if isinstance(state, str) else list(state or ())
    statement = sqltext.list_jobs(_conn.param, tuple(JobView.__dataclass_fields__), len(states))
    cursor = _conn.execute(statement, (*states, limit))
    names = [column[0] for column in cursor.description]
    return [JobView.from_row(dict(zip(names, row))) for row in cursor.fetchall()]


def enqueue(specs):
    """jobs.enqueue for jobs without dependencies, in one transaction, then the wake-up."""
    if _how[1] or any(spec.depends_on for spec in specs):
        return NOT_SERVED
    from ..spec import new_job_ids
    from .cached import config_from

    t = now()
    fresh = new_job_ids()
    ids = [spec.id or next(fresh) for spec in specs]
    conn, p = _conn, _conn.param
    conn.execute(conn.begin)
    try:
        given = [spec.id for spec in specs if spec.id]
        if given and conn.execute(sqltext.EXISTING_IDS.format(marks=sqltext.marks(p, len(given))), given).fetchone():
            conn.rollback()  # a taken id: the full store says so (no insert tried, no sequence number spent)
            return NOT_SERVED
        cfg = config_from(conn.execute(sqltext.SETTINGS_SQL).fetchall())
        rows = [sqltext.job_row(spec, job_id, cfg, t) for spec, job_id in zip(specs, ids)]
        conn.insert_jobs(sqltext.INSERT_JOBS.format(marks=sqltext.marks(p, len(sqltext.INSERT_COLUMNS))), rows, ids)
        added = [sqltext.Enqueued(job_id) for job_id in ids]
        for i, spec in enumerate(specs):
            if spec.unique_key:
                (holder,) = conn.execute(sqltext.UNIQUE_HOLDER.format(p=p), (spec.unique_key,)).fetchone()
                if holder != ids[i]:
                    added[i] = sqltext.Enqueued(holder, duplicate=True)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    conn.wake(_how[0])
    return added


_QUEUE, _STATE = sqltext.INSERT_COLUMNS.index("queue"), sqltext.INSERT_COLUMNS.index("state")
_SERVED = {
    "counts": counts,
    "paused_count": paused_count,
    "live_worker_count": live_worker_count,
    "list_jobs": list_jobs,
    "enqueue": enqueue,
}
