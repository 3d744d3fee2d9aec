"""Where SQLite and PostgreSQL differ, in one object per backend; the rest of the store is the
same code on both and asks the open store's dialect (`current()`) for what differs: how to
connect, the claim statement's index hint and row lock, bulk inserts, the counting triggers,
schema locks and migrations, the server clock, and the wake-up channel.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

from ..errors import NoStore, StoreError
from ..paths import Location, check_private, check_store_folder, open_private, private_dir

#: the NOTIFY channel that wakes idle workers on every host
WAKE_CHANNEL = "queuectl_wake"
#: the NOTIFY channel that tells watchers (`queuectl wait`) that jobs ended
ENDED_CHANNEL = "queuectl_ended"


class SqliteDialect:
    """One file on this host: the write lock (BEGIN IMMEDIATE) serializes writers, so claims
    need no row locks, and wake-ups are Unix datagram sockets beside the store."""

    postgres = False
    #: attempts' output is kept in the store (any host reads it), not only in this host's files
    output_in_store = False
    #: inside the claim's subqueries: keep the planner on the partial claim indexes
    claim_index = "INDEXED BY job_claim"
    retry_index = "INDEXED BY job_retry"
    due_index = "INDEXED BY job_due"
    #: after the claim's subquery: nothing to lock, the transaction holds the write lock
    skip_locked = ""
    #: storage settings of the job table, run when a store is made or upgraded
    table_tuning: tuple[str, ...] = ()
    #: db.atomic() arguments of a transaction that reads many tables as of one moment (a
    #: scrape): WAL gives a deferred transaction one snapshot, without taking the write lock
    read_snapshot = {"lock_type": "DEFERRED"}

    def __init__(self, location: Location):
        self.location = location

    def connect(self, readonly: bool = False):
        """The file and its folder checked (or made) private first; a command that only reads
        never creates the file (mode=rw).  WAL is switched on by open_store, once the file is
        known to be ours."""
        from urllib.parse import quote

        from .sqlite_busy import sqlite_class

        path = self.location.sqlite_path
        check_store_folder(path.parent)
        for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            check_private(companion, "the store's journal", folder=False)
        if readonly:
            if not check_private(path, "the store", folder=False):
                raise NoStore(f"there is no store at {path} yet (`queuectl init` creates one)")
        else:
            _create_private_file(path)
        return sqlite_class()(
            f"file:{quote(str(path))}?mode=rw",
            uri=True,
            pragmas={"synchronous": "normal", "foreign_keys": 1},
            timeout=0,  # busy waits are ours (sqlite_busy.wait_while_busy), not SQLite's
            lock_type="IMMEDIATE",  # every write transaction takes the write lock up front
            check_same_thread=False,
        )

    def insert_rows(self, columns: tuple[str, ...], rows: list[tuple], suffix: str) -> list[tuple[str, str]]:
        """executemany (in-process: no round trips); returns the (queue, state) of the rows
        kept, for the counters that PostgreSQL's statement trigger keeps by itself."""
        from ..models import db
        from .sqltext import KEPT_ROWS, marks
        from .statements import chunks

        before = db.execute_sql("SELECT total_changes()").fetchone()[0]
        statement = f"INSERT INTO job ({', '.join(columns)}) VALUES ({marks(db.param, len(columns))}) {suffix}"
        db.cursor().executemany(statement, rows)  # (sqltext.INSERT_JOBS: quick.py runs the same)
        if db.execute_sql("SELECT total_changes()").fetchone()[0] - before == len(rows):
            queue, state = columns.index("queue"), columns.index("state")
            return [(row[queue], row[state]) for row in rows]
        kept = []  # some rows were skipped: count what is there
        for piece in chunks([row[0] for row in rows]):
            kept.extend(db.execute_sql(KEPT_ROWS.format(marks=marks(db.param, len(piece))), piece).fetchall())
        return kept

    def count_inserted(self, kept: list[tuple[str, str]]) -> None:
        from .sqltext import COUNT_INSERTED
        from .statements import sql

        for (queue, state), n in Counter(kept).items():
            sql(COUNT_INSERTED, queue, state, n, n)

    @property
    def counting_triggers(self) -> tuple[str, ...]:
        from ..models import SQLITE_TRIGGERS

        return SQLITE_TRIGGERS

    @property
    def metric_triggers(self) -> tuple[str, ...]:
        """The triggers that keep the durable metric counters (schema 5)."""
        from ..models import METRIC_SQLITE_TRIGGERS

        return METRIC_SQLITE_TRIGGERS

    def drop_trigger(self, name: str) -> str:
        return f"DROP TRIGGER IF EXISTS {name}"

    def lock_schema(self) -> bool:
        """Inside the schema's transaction: True if another process created it meanwhile
        (SQLite: the write lock already keeps a second creator out)."""
        return False

    def migrator(self, db):
        from playhouse.migrate import SqliteMigrator

        return SqliteMigrator(db)

    def lock_queue_limits(self, queues: tuple[str, ...]) -> None:
        """Inside a claim: make the running counts of these limited queues ours until commit
        (SQLite: the write lock does)."""

    def for_update(self, query):
        """A query whose rows a racing transaction on another host must skip."""
        return query

    def server_clock(self) -> bool:
        """Does this backend decide times by the database server's clock?"""
        return False

    def connection_lost(self) -> bool:
        return False

    def wake(self, channel: str, watchers: bool) -> None:
        from ..wakeup import notify

        notify(self.location.run_dir, watchers=watchers)

    def wake_channel(self, name: str, topic: str, watcher: bool, forwarded: bool = False):
        """`forwarded`: this host's supervisor passes the server's notifications on to the
        run folder (PostgreSQL; SQLite's wake-ups are always local)."""
        from ..wakeup import WATCHER_PREFIX, WakeChannel

        return WakeChannel(self.location.run_dir, f"{WATCHER_PREFIX}{name}" if watcher else name)

    def forward_wake_ups(self):
        """For a supervisor: pass wake-ups from other hosts on to this host's workers (a
        stoppable thread), or None when they all come through the run folder anyway."""
        return None


class PostgresDialect(SqliteDialect):
    """A server shared by hosts: claims lock rows (SKIP LOCKED) so hosts take different jobs
    without waiting, limited queues are locked row by row, wake-ups are LISTEN/NOTIFY, and
    times come from the server's clock."""

    postgres = True
    output_in_store = True
    claim_index = ""
    retry_index = ""
    due_index = ""
    skip_locked = "FOR UPDATE SKIP LOCKED"
    #: (read committed, the default, would give each statement its own moment)
    read_snapshot = {"isolation_level": "REPEATABLE READ"}
    # Every job row is rewritten several times in its life (claim, heartbeats, end): vacuum
    # the job table after 1% of it changed, not the default 20%, and without the cost delay,
    # so the claim's partial indexes do not fill with dead entries; leave a tenth of each page
    # free for the updates that touch no indexed column to stay on their page (HOT).
    table_tuning = (
        "ALTER TABLE job SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01, "
        "autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0)",
    )

    def connect(self, readonly: bool = False):  # (a reader creates no tables: open_store)
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            from ..hints import install_extra

            raise StoreError(f"PostgreSQL needs its driver: {install_extra('postgres')}") from None
        from peewee import PostgresqlDatabase
        from playhouse.db_url import parse

        params = parse(self.location.url)
        params.setdefault("connect_timeout", 5)
        params.setdefault("application_name", "queuectl")
        return PostgresqlDatabase(params.pop("database"), **params)

    def insert_rows(self, columns: tuple[str, ...], rows: list[tuple], suffix: str) -> list[tuple[str, str]]:
        """COPY (one stream, the fastest way in), or where a row has a unique key, whose
        conflict COPY cannot skip, multi-row VALUES pages; the statement trigger counts them."""
        from ..models import db

        if "unique_key" in columns and any(row[columns.index("unique_key")] is not None for row in rows):
            from psycopg2.extras import execute_values

            sql = f"INSERT INTO job ({', '.join(columns)}) VALUES %s {suffix}"
            execute_values(db.cursor(), sql, rows, page_size=1000)
        else:
            db.cursor().copy_expert(f"COPY job ({', '.join(columns)}) FROM STDIN", _CopyText(rows))
        return []

    def count_inserted(self, kept: list[tuple[str, str]]) -> None:
        pass  # the statement trigger did

    @property
    def counting_triggers(self) -> tuple[str, ...]:
        from ..models import POSTGRES_TRIGGERS

        return POSTGRES_TRIGGERS

    @property
    def metric_triggers(self) -> tuple[str, ...]:
        from ..models import METRIC_POSTGRES_TRIGGERS

        return METRIC_POSTGRES_TRIGGERS

    def drop_trigger(self, name: str) -> str:
        return f"DROP TRIGGER IF EXISTS {name} ON job"

    def lock_schema(self) -> bool:
        from ..models import db

        # two processes creating a new store at once: the second waits, then finds it
        db.execute_sql("SELECT pg_advisory_xact_lock(7274706)")
        return db.table_exists("setting")

    def migrator(self, db):
        from playhouse.migrate import PostgresqlMigrator

        return PostgresqlMigrator(db)

    def lock_queue_limits(self, queues: tuple[str, ...]) -> None:
        """Claims on many hosts run at once: a limited queue's row is locked (in name order, so
        two claims never wait for each other crosswise) before its running jobs are counted, so
        the count a claim reads is final until it commits."""
        from .statements import sql

        if queues:
            marks = ", ".join(["{p}"] * len(queues))
            sql(f"SELECT name FROM queue WHERE name IN ({marks}) ORDER BY name FOR UPDATE", *sorted(queues)).fetchall()

    def for_update(self, query):
        return query.for_update("FOR UPDATE SKIP LOCKED")

    def server_clock(self) -> bool:
        return True

    def connection_lost(self) -> bool:
        """True (and the connection forgotten) when the connection is unusable."""
        from ..models import db

        conn = db._state.conn
        if conn is None:
            return False
        if not conn.closed:
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
                return False
            except Exception:
                pass
        with contextlib.suppress(Exception):
            conn.close()
        db._state.reset()
        return True

    def wake(self, channel: str, watchers: bool) -> None:
        from ..models import db

        with contextlib.suppress(Exception):  # a missed wake-up costs at most a safety poll
            db.execute_sql(f"NOTIFY {channel}")

    def wake_channel(self, name: str, topic: str, watcher: bool, forwarded: bool = False):
        if forwarded:
            return SqliteDialect.wake_channel(self, name, topic, watcher)
        from .listen import wake_channel as listening_channel

        return listening_channel(self.location.url, name, topic)

    def forward_wake_ups(self):
        from .listen import forward_to_host

        return forward_to_host(self.location.url, self.location.run_dir, WAKE_CHANNEL)


#: COPY's text format: a backslash, and the characters that end a field or a row, escaped
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value) -> str:
    """One value as COPY's text format writes it (NULL is \\N)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return repr(value) if isinstance(value, float) else str(value)


class _CopyText:
    """Rows as the file COPY … FROM STDIN reads (psycopg2 calls read), a page at a time."""

    def __init__(self, rows: list[tuple], page: int = 1000):
        self._pages = (rows[i : i + page] for i in range(0, len(rows), page))

    def read(self, size: int = -1) -> str:
        page = next(self._pages, None)
        if page is None:
            return ""
        return "".join(["\t".join([copy_field(v) for v in row]) + "\n" for row in page])

    readline = read


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


def _create_private_file(path: Path) -> None:
    """Create the folder and the database file owner-only before SQLite opens them; an
    existing file must be a regular file of ours (never a link to follow)."""
    import os

    if not path.parent.exists():
        private_dir(path.parent, "the store's folder")
    try:
        os.close(open_private(path, "the store", os.O_CREAT | os.O_RDWR))
    except OSError as exc:
        check_private(path, "the store", folder=False)  # a folder: say so
        raise StoreError(f"cannot create the store at {path}: {exc.strerror}") from None
