"""The quick path (issue 24): `add`, `enqueue`, `status` and `list` on a SQLite store with
sqlite3 alone, without peewee and the models, whose import costs more than the command itself.

It serves only the plain case, and only on a store that is plainly usable: a file that exists,
is private, is ours, has the current schema and is in WAL mode.  Anything else (no store yet, a
store to migrate, another application's file, a read-only mount, a busy lock, a taken id, a
dependency, a filter) is left to the full store, opened in its place (`leave`) before anything
is written, so every error and every edge case is the full store's own.  The statements it runs
are the full store's (store/sqltext.py); tests compare the two paths' output on both backends.
The full store is opened instead whenever peewee is loaded already (the process gains nothing).
"""

from __future__ import annotations

import sqlite3
import sys
import time

from . import clock, sqltext

#: what a quick function answers when it does not serve the call (the full store then does)
NOT_SERVED = object()
_conn: sqlite3.Connection | None = None
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
    if "peewee" in sys.modules or location.is_postgres or location.sqlite_path is None:
        return False
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


def _connect(path, readonly: bool) -> sqlite3.Connection | None:
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
        f"file:{quote(str(path))}?mode=rw", uri=True, timeout=0, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA synchronous = normal")
        conn.execute("PRAGMA foreign_keys = 1")
        tables = {name for (name,) in conn.execute(sqltext.TABLES_SQL)}
        row = conn.execute(sqltext.SCHEMA_VERSION_SQL).fetchone() if "setting" in tables else None
        usable = (
            sqltext.TABLES <= tables
            and row is not None
            and row[0].isdigit()
            and int(row[0]) == sqltext.SCHEMA_VERSION
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
    try:
        answer = _SERVED[name](*args, **kwargs)
    except sqlite3.Error:
        if _conn is not None and _conn.in_transaction:
            _conn.rollback()
        answer = NOT_SERVED
    if answer is NOT_SERVED:
        leave()
    return answer


def now() -> float:
    """connection.now() for this store: its clock, steered by a writer."""
    return clock.store_time(time.time(), writable=not _how[1])


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
    return _conn.execute(sqltext.LIVE_WORKERS.format(p="?"), (now() - sqltext.LIVENESS_SECONDS,)).fetchone()[0]


def list_jobs(state=None, limit=50, where=None, **others):
    if where or others or limit is None:
        return NOT_SERVED
    from .views import JobView

    states = [state] if isinstance(state, str) else list(state or ())
    cursor = _conn.execute(sqltext.list_jobs("?", tuple(JobView.__dataclass_fields__), len(states)), (*states, limit))
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
    conn = _conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        cfg = config_from(conn.execute(sqltext.SETTINGS_SQL).fetchall())
        rows = [sqltext.job_row(spec, job_id, cfg, t) for spec, job_id in zip(specs, ids)]
        before = conn.total_changes
        conn.executemany(sqltext.INSERT_JOBS.format(marks=sqltext.marks("?", len(sqltext.INSERT_COLUMNS))), rows)
        if conn.total_changes - before == len(rows):
            kept = [(row[_QUEUE], row[_STATE]) for row in rows]
        else:
            statement = sqltext.KEPT_ROWS.format(marks=sqltext.marks("?", len(ids)))
            kept = conn.execute(statement, ids).fetchall()
        counted: dict = {}
        for key in kept:
            counted[key] = counted.get(key, 0) + 1
        for (queue, state), n in counted.items():
            conn.execute(sqltext.COUNT_INSERTED.format(p="?"), (queue, state, n, n))
        added = [sqltext.Enqueued(job_id) for job_id in ids]
        for i, spec in enumerate(specs):
            if spec.unique_key:
                (holder,) = conn.execute(sqltext.UNIQUE_HOLDER.format(p="?"), (spec.unique_key,)).fetchone()
                if holder != ids[i]:
                    added[i] = sqltext.Enqueued(holder, duplicate=True)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    from ..wakeup import notify

    notify(_how[0].run_dir, watchers=False)  # (the SQLite dialect's wake-up)
    return added


_QUEUE, _STATE = sqltext.INSERT_COLUMNS.index("queue"), sqltext.INSERT_COLUMNS.index("state")
_SERVED = {
    "counts": counts,
    "paused_count": paused_count,
    "live_worker_count": live_worker_count,
    "list_jobs": list_jobs,
    "enqueue": enqueue,
}
