"""PostgreSQL: a server shared by hosts.  Its dialect object holds what only PostgreSQL does: the
driver, row locks in claims, statement-level triggers over sharded counters, the server's clock,
LISTEN/NOTIFY (dialect.py chooses it; it starts from SQLite's, sqlite.py).
"""

from __future__ import annotations

import contextlib

from ..errors import StoreError
from .observed import observations
from .sqlite import SqliteDialect

#: each connection adds to one of this many counter rows per queue and state (job_count), and
#: per metric (metric_count), so that workers on many hosts do not queue up behind one row
COUNT_SHARDS = 16

_PG_COUNT = (
    "INSERT INTO job_count (queue, state, shard, n) "
    f"SELECT queue, state, mod(pg_backend_pid(), {COUNT_SHARDS}), SUM(d) FROM ({{rows}}) AS changes "
    "GROUP BY queue, state HAVING SUM(d) <> 0 ORDER BY queue, state "
    "ON CONFLICT (queue, state, shard) DO UPDATE SET n = job_count.n + EXCLUDED.n;"
)
_NEW_ROWS = "SELECT queue, state, 1 AS d FROM new_rows"
_OLD_ROWS = "SELECT queue, state, -1 AS d FROM old_rows"
# Statement-level triggers: one counter update per statement (a batch of 100,000 inserts costs
# one), rows taken in a fixed order so that two transactions never lock counters crosswise.
POSTGRES_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION queuectl_job_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN {_PG_COUNT.format(rows=_NEW_ROWS)}
      ELSIF TG_OP = 'DELETE' THEN {_PG_COUNT.format(rows=_OLD_ROWS)}
      ELSE {_PG_COUNT.format(rows=_NEW_ROWS + " UNION ALL " + _OLD_ROWS)}
      END IF;
      RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER job_count_insert AFTER INSERT ON job REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION queuectl_job_count()",
    "CREATE OR REPLACE TRIGGER job_count_delete AFTER DELETE ON job REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION queuectl_job_count()",
    "CREATE OR REPLACE TRIGGER job_count_update AFTER UPDATE ON job "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION queuectl_job_count()",
)

_PG_OBSERVED = " UNION ALL ".join(
    select.replace(" WHERE ", " FROM new_rows n JOIN old_rows o ON o.seq = n.seq WHERE n.state <> o.state AND ", 1)
    for select in observations("n", "o")
)
METRIC_POSTGRES_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION queuectl_job_metrics() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO metric_count (name, queue, label, shard, n, total)
      SELECT name, queue, label, mod(pg_backend_pid(), {COUNT_SHARDS}), COUNT(*), SUM(v) FROM ({_PG_OBSERVED}) AS all_observed
      GROUP BY name, queue, label ORDER BY name, queue, label
      ON CONFLICT (name, queue, label, shard)
      DO UPDATE SET n = metric_count.n + EXCLUDED.n, total = metric_count.total + EXCLUDED.total;
      RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER job_metrics AFTER UPDATE ON job "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION queuectl_job_metrics()",
)


class PostgresDialect(SqliteDialect):
    """A server shared by hosts: claims lock rows (SKIP LOCKED) so hosts take different jobs
    without waiting, limited queues are locked row by row, wake-ups are LISTEN/NOTIFY, and
    times come from the server's clock."""

    postgres = True
    #: a database shared with other applications is fine (their table names are not)
    shared_database = True
    output_in_store = True
    claim_index = ""
    retry_index = ""
    due_index = ""
    wants_index = ""
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

    def load_peewee(self) -> None:
        """Before anything imports peewee: psycopg2 first, without `ssl` (store.drivers), when
        installed (connect() says how to install it when not)."""
        from .drivers import import_psycopg2

        try:
            import_psycopg2()
        except ImportError:
            pass

    def settle(self, readonly: bool) -> None:
        pass

    def file_identity(self) -> tuple[int, int] | None:
        return None

    def quick_check(self) -> str | None:
        return None  # PostgreSQL checks its own pages

    def damaged(self, what: str) -> str:
        return f"the store at {self.location.display} is damaged: {what}"

    def disk_full(self) -> bool:
        return False  # (PostgreSQL says so: "No space left on device")

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

    counting_triggers = POSTGRES_TRIGGERS
    metric_triggers = METRIC_POSTGRES_TRIGGERS

    def drop_trigger(self, name: str) -> str:
        return f"DROP TRIGGER IF EXISTS {name} ON job"

    def lock_schema(self) -> bool:
        from ..models import db

        # two processes creating a new store at once: the second waits, then finds it
        db.execute_sql("SELECT pg_advisory_xact_lock(7274706)")
        return db.table_exists("setting")

    @property
    def store_file(self):
        return None

    def foreign_keys(self, on: bool) -> None:
        pass  # (enforced all along: its schema changes never rebuild a table)

    def broken_references(self) -> list:
        return []

    def bool_literal(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

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

    def server_time(self) -> float:
        from ..models import db

        return float(db.execute_sql("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()[0])

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

    def forward_wake_ups(self, channel: str):
        from .listen import forward_to_host

        return forward_to_host(self.location.url, self.location.run_dir, channel)


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
