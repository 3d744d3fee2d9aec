"""SQLite: one file on this host.  Its dialect object holds what only SQLite does: the private
file and its checks, WAL, the triggers that keep the counters, quick_check, the wake-up sockets
beside the store (dialect.py chooses it; PostgreSQL's, in postgres.py, starts from it).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from ..errors import NoStore, StoreError
from ..paths import Location, check_private, check_store_folder, open_private, private_dir, refuse_read_only_mount
from .observed import observations

_SQLITE_COUNT = (
    "INSERT INTO job_count (queue, state, shard, n) VALUES ({row}.queue, {row}.state, 0, {d}) "
    "ON CONFLICT (queue, state, shard) DO UPDATE SET n = n + {d};"
)
# No insert trigger on SQLite: store.enqueue adds a whole batch to the counter at once (a
# trigger per row made batch enqueues 2.7x slower).
SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS job_count_delete AFTER DELETE ON job BEGIN "
    + _SQLITE_COUNT.format(row="OLD", d=-1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS job_count_update AFTER UPDATE OF state, queue ON job "
    "WHEN OLD.state <> NEW.state OR OLD.queue <> NEW.queue BEGIN "
    + _SQLITE_COUNT.format(row="OLD", d=-1)
    + _SQLITE_COUNT.format(row="NEW", d=1)
    + " END",
)

METRIC_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS job_metrics AFTER UPDATE OF state ON job WHEN OLD.state <> NEW.state BEGIN "
    + " ".join(
        f"INSERT INTO metric_count (name, queue, label, shard, n, total) SELECT name, queue, label, 0, 1, v FROM "
        f"({select}) WHERE true ON CONFLICT (name, queue, label, shard) DO UPDATE SET n = n + 1, "
        "total = total + excluded.total;"
        for select in observations("NEW", "OLD")
    )
    + " END",
)


class SqliteDialect:
    """One file on this host: the write lock (BEGIN IMMEDIATE) serializes writers, so claims
    need no row locks, and wake-ups are Unix datagram sockets beside the store."""

    postgres = False
    #: may the database hold other applications' tables? (a store file is queuectl's alone)
    shared_database = False
    #: attempts' output is kept in the store (any host reads it), not only in this host's files
    output_in_store = False
    #: inside the claim's subqueries: keep the planner on the partial claim indexes
    claim_index = "INDEXED BY job_claim_plain"
    retry_index = "INDEXED BY job_retry_plain"
    due_index = "INDEXED BY job_due"
    wants_index = "INDEXED BY job_wants"
    #: after the claim's subquery: nothing to lock, the transaction holds the write lock
    skip_locked = ""
    #: storage settings of the job table, run when a store is made or upgraded
    table_tuning: tuple[str, ...] = ()
    #: db.atomic() arguments of a transaction that reads many tables as of one moment (a
    #: scrape): WAL gives a deferred transaction one snapshot, without taking the write lock
    read_snapshot = {"lock_type": "DEFERRED"}

    def __init__(self, location: Location):
        self.location = location

    def load_peewee(self) -> None:
        """Before anything imports peewee: a SQLite store needs none of the drivers that peewee
        would import (~175 ms per process)."""
        from .drivers import import_peewee_without_drivers

        import_peewee_without_drivers()

    def connect(self, readonly: bool = False):
        """The file and its folder checked (or made) private first; a command that only reads
        never creates the file (mode=rw).  WAL is switched on by settle(), once the file is
        known to be ours."""
        from urllib.parse import quote

        from .sqlite_busy import sqlite_class

        path = self.location.sqlite_path
        if not readonly or path.exists():
            refuse_read_only_mount(path)
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

    def settle(self, readonly: bool) -> None:
        """Once the schema is there: WAL, switched on once and only on our own store."""
        from ..models import db

        if not readonly and db.execute_sql("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute_sql("PRAGMA journal_mode=wal")

    def file_identity(self) -> tuple[int, int] | None:
        """The store file as (st_dev, st_ino), to notice it deleted or replaced under us."""
        try:
            st = os.stat(self.location.sqlite_path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def quick_check(self) -> str | None:
        """SQLite's quick_check (every page and record, without cross-checking indexes): the
        first problem, or None."""
        from ..models import db

        result = db.execute_sql("PRAGMA quick_check(1)").fetchone()[0]
        if result == "ok":
            return None
        # e.g. "*** in database main ***\nPage 109: btreeInitPage() returns error code 11"
        return result.strip().splitlines()[-1]

    def damaged(self, what: str) -> str:
        """What to say about a damaged store: a file that is no SQLite database at all is the
        wrong file, not a damaged store."""
        path, display = self.location.sqlite_path, self.location.display
        if not _is_sqlite_file(path):
            return f"{display} is not a queuectl store (not a SQLite database); give --db a store's path"
        return (
            f"the store at {display} is damaged ({what}); check it with "
            f"`sqlite3 {path} 'PRAGMA integrity_check'` and restore a backup"
        )

    def disk_full(self) -> bool:
        """SQLite says only "disk I/O error" when it cannot make its -shm file on a full disk."""
        try:
            return os.statvfs(self.location.sqlite_path.parent).f_bavail == 0
        except OSError:
            return False

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

    #: the triggers that keep the job counters (job_count)
    counting_triggers = SQLITE_TRIGGERS
    #: the triggers that keep the durable metric counters (schema 5)
    metric_triggers = METRIC_SQLITE_TRIGGERS

    def drop_trigger(self, name: str) -> str:
        return f"DROP TRIGGER IF EXISTS {name}"

    def lock_schema(self) -> bool:
        """Inside the schema's transaction: True if another process created it meanwhile
        (SQLite: the write lock already keeps a second creator out)."""
        return False

    @property
    def store_file(self) -> Path | None:
        """The file a migration copies first (None: a server, whose backups are its operator's)."""
        return self.location.sqlite_path

    def foreign_keys(self, on: bool) -> None:
        """Around a migration: SQLite's foreign keys off, so that no table change can cascade
        (a no-op inside a transaction: call it outside one)."""
        from ..models import db

        db.execute_sql(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")

    def broken_references(self) -> list:
        """At the end of a migration: the rows that point to rows that are gone."""
        from ..models import db

        return db.execute_sql("PRAGMA foreign_key_check").fetchall()

    def bool_literal(self, value: bool) -> str:
        return str(int(value))

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

    def server_time(self) -> float:
        """The database server's clock (UTC epoch seconds), where server_clock()."""
        raise NotImplementedError

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

    def forward_wake_ups(self, channel: str):
        """For a supervisor: pass wake-ups on `channel` from other hosts on to this host's
        workers (a stoppable thread), or None when they all come through the run folder anyway."""
        return None


class NothingYet(SqliteDialect):
    """An empty store in memory, in place of one that does not exist yet (open_store's
    empty_if_missing): every query answers as an empty store does, with the default settings."""

    def connect(self, readonly: bool = False):
        from .sqlite_busy import sqlite_class

        return sqlite_class()(":memory:", pragmas={"foreign_keys": 1}, check_same_thread=False)


def _is_sqlite_file(path) -> bool:
    """A SQLite file starts with its format's 16 bytes; a text file or an image given to --db
    does not, and is no damaged store but the wrong file."""
    try:
        with open(path, "rb") as file:
            return file.read(16) in (b"SQLite format 3\x00", b"")
    except OSError:
        return True  # (the error the connection gave stands)


def _create_private_file(path: Path) -> None:
    """Create the folder and the database file owner-only before SQLite opens them; an
    existing file must be a regular file of ours (never a link to follow)."""
    if not path.parent.exists():
        private_dir(path.parent, "the store's folder")
    try:
        os.close(open_private(path, "the store", os.O_CREAT | os.O_RDWR))
    except OSError as exc:
        check_private(path, "the store", folder=False)  # a folder: say so
        raise StoreError(f"cannot create the store at {path}: {exc.strerror}") from None
