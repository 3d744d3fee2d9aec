"""The statements that both ways into a store run: the store's own (peewee) and the quick path
of the commands people run in loops (store/quick.py, sqlite3 alone).  One text each, so that the
two can never drift apart; {p} marks a parameter (the dialect's: ? or %s), {marks} a list of them.

Nothing here imports more than the states: the quick path must not pay for peewee or the models.
"""

from __future__ import annotations

from ..states import ACTIVE_STATES, FINISHED_STATES, JobState, sql_literals

#: the schema this code reads and writes (models.SCHEMA_VERSION; a test keeps the two equal)
SCHEMA_VERSION = 8
#: every table of that schema (the models' tables; a test keeps the two equal)
TABLES = frozenset(
    (
        "job",
        "attempt",
        "worker",
        "setting",
        "job_count",
        "dependency",
        "queue",
        "schedule",
        "host",
        "metric_count",
        "attempt_output",
    )
)
#: a worker whose heartbeat is older than this is not counted as live
LIVENESS_SECONDS = 5.0

SCHEMA_VERSION_SQL = "SELECT value FROM setting WHERE key = 'schema_version'"
TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"
#: PostgreSQL's tables where the full store looks for them (peewee's get_tables: schema public)
PG_TABLES_SQL = "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
SERVER_TIME_SQL = "SELECT EXTRACT(EPOCH FROM clock_timestamp())"
#: the NOTIFY channel that wakes idle workers on every host (PostgreSQL), and its wake-up
WAKE_CHANNEL = "queuectl_wake"
WAKE_SQL = f"NOTIFY {WAKE_CHANNEL}"
SETTINGS_SQL = "SELECT key, value FROM setting"

#: the columns an enqueue writes (the others start empty)
INSERT_COLUMNS = (
    "id",
    "command",
    "state",
    "priority",
    "attempts",
    "max_retries",
    "timeout",
    "run_at",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "dependency_policy",
    "unique_key",
    "env",
    "cwd",
    "fatal_exit_codes",
    "has_dependents",
    "queue",
    "labels",
    "on_finish",
    "paused",
    "resources",
)
#: a row whose unique key an unfinished job holds is skipped (job_unique_key's condition)
SKIP_TAKEN_KEYS = (
    f"ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ({sql_literals(*ACTIVE_STATES)}) DO NOTHING"
)
INSERT_JOBS = f"INSERT INTO job ({', '.join(INSERT_COLUMNS)}) VALUES ({{marks}}) {SKIP_TAKEN_KEYS}"
#: the job counters SQLite's triggers do not keep for inserts (PostgreSQL's statement trigger does)
COUNT_INSERTED = (
    "INSERT INTO job_count (queue, state, shard, n) VALUES ({p}, {p}, 0, {p}) "
    "ON CONFLICT (queue, state, shard) DO UPDATE SET n = job_count.n + {p}"
)
KEPT_ROWS = "SELECT queue, state FROM job WHERE id IN ({marks})"
EXISTING_IDS = "SELECT id FROM job WHERE id IN ({marks})"
UNIQUE_HOLDER = f"SELECT id FROM job WHERE unique_key = {{p}} AND state IN ({sql_literals(*ACTIVE_STATES)}) LIMIT 1"

COUNTS = "SELECT state, SUM(n) FROM job_count GROUP BY state"
PAUSED_COUNT = f"SELECT COUNT(*) FROM job WHERE paused AND state NOT IN ({sql_literals(*FINISHED_STATES)})"
LIVE_WORKERS = "SELECT COUNT(*) FROM worker WHERE heartbeat_at >= {p}"
#: the newest jobs, of any state or of these ({where}: "" or "WHERE state IN (…)"); JobView's fields
LIST_JOBS = "SELECT {columns} FROM job {where} ORDER BY seq DESC LIMIT {p}"


class Enqueued(tuple):
    """What enqueue answers for one job: (id, duplicate); duplicate is True when an unfinished
    job with the same unique_key existed, and id is that job's.  (A plain tuple class: the
    quick path must not import typing's NamedTuple machinery.)"""

    __slots__ = ()

    def __new__(cls, id: str, duplicate: bool = False):  # noqa: A002
        return tuple.__new__(cls, (id, duplicate))

    @property
    def id(self) -> str:
        return self[0]

    @property
    def duplicate(self) -> bool:
        return self[1]

    def __repr__(self) -> str:
        return f"Enqueued(id={self[0]!r}, duplicate={self[1]!r})"


def marks(param: str, n: int) -> str:
    return ", ".join([param] * n)


def list_jobs(param: str, columns: tuple[str, ...], states: int) -> str:
    """LIST_JOBS for `states` states (0: any)."""
    where = f"WHERE state IN ({marks(param, states)})" if states else ""
    return LIST_JOBS.format(columns=", ".join(columns), where=where, p=param)


def job_row(spec, job_id: str, cfg: dict, t: float) -> tuple:
    """A JobSpec as the row INSERT_JOBS writes (its INSERT_COLUMNS), with the configured defaults."""
    import json

    run_at = spec.run_at if spec.run_at is not None else t
    return (
        job_id,
        spec.command,
        JobState.BLOCKED.value if spec.depends_on else JobState.PENDING.value,
        cfg["default_priority"] if spec.priority is None else spec.priority,
        0,
        cfg["max_retries"] if spec.max_retries is None else spec.max_retries,
        cfg["default_timeout"] if spec.timeout is None else spec.timeout,
        run_at,
        run_at,
        t,
        t,
        spec.dependency_policy,
        spec.unique_key,
        json.dumps(spec.env) if spec.env else None,
        spec.cwd,
        json.dumps(list(spec.fatal_exit_codes)) if spec.fatal_exit_codes else None,
        False,
        spec.queue,
        json.dumps(list(spec.labels)) if spec.labels else None,
        spec.on_finish,
        spec.paused,
        json.dumps(spec.resources) if spec.resources else None,
    )
