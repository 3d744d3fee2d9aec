"""The schema: peewee models bound through a proxy, their indexes, and the schema version.

Times are UTC epoch seconds (floats): comparable, index-friendly and free of time-zone
ambiguity; they become ISO 8601 only at the edges (JSON, tables).
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .states import JobState

db = DatabaseProxy()

SCHEMA_VERSION = 7


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Job(BaseModel):
    seq = AutoField()  # insertion order: the FIFO tie-break, also for the lines of one batch
    id = CharField(max_length=128, unique=True)
    command = TextField()
    state = CharField(max_length=16, default=JobState.PENDING.value)
    priority = IntegerField(default=0)
    attempts = IntegerField(default=0)
    max_retries = IntegerField()
    timeout = DoubleField()
    run_at = DoubleField()
    # when a pending or failed job may next be claimed (run_at, then each retry time); else NULL
    next_attempt_at = DoubleField(null=True)
    created_at = DoubleField()
    updated_at = DoubleField()
    started_at = DoubleField(null=True)
    finished_at = DoubleField(null=True)
    exit_code = IntegerField(null=True)
    last_error = TextField(null=True)
    worker_id = CharField(max_length=200, null=True)
    lease_expires_at = DoubleField(null=True)
    # schema 2: workflows
    dependency_policy = CharField(max_length=16, default="success")  # success | finish
    unique_key = CharField(max_length=200, null=True)
    env = TextField(null=True)  # JSON object of strings
    cwd = TextField(null=True)
    fatal_exit_codes = TextField(null=True)  # JSON list of ints
    has_dependents = BooleanField(default=False)  # lets a finishing job skip the dependents query
    queue = CharField(max_length=64, default="default")
    # schema 6: labels, pause, a hook per job
    labels = TextField(null=True)  # JSON list of short strings (spec.LABEL_PATTERN: no quotes)
    paused = BooleanField(default=False)  # not claimed while waiting; SIGSTOPped while running
    on_finish = TextField(null=True)  # a shell command the worker runs when the job ends for good


class Queue(BaseModel):
    """A named queue's controls; a queue without a row is running and unlimited."""

    name = CharField(max_length=64, primary_key=True)
    paused = BooleanField(default=False)
    max_running = IntegerField(null=True)  # at most this many of its jobs run at once, on all hosts


class Dependency(BaseModel):
    """job waits for depends_on (both job seqs); rows only point back in time, so no cycles."""

    job = ForeignKeyField(Job, field=Job.seq, column_name="job_seq", on_delete="CASCADE")
    depends_on = ForeignKeyField(
        Job, field=Job.seq, column_name="depends_on_seq", on_delete="CASCADE", backref="dependents"
    )

    class Meta:
        primary_key = CompositeKey("job", "depends_on")
        indexes = ((("depends_on",), False),)


class Attempt(BaseModel):
    """One run of a job: kept after retries so the history survives."""

    job = ForeignKeyField(Job, field=Job.seq, column_name="job_seq", on_delete="CASCADE")
    number = IntegerField()
    worker_id = CharField(max_length=200, null=True)
    host = CharField(max_length=255, null=True)
    pgid = IntegerField(null=True)  # process group of the running command, to kill it from outside
    started_at = DoubleField()
    finished_at = DoubleField(null=True)
    exit_code = IntegerField(null=True)
    error = TextField(null=True)
    stdout_path = TextField(null=True)
    stderr_path = TextField(null=True)

    class Meta:
        indexes = ((("job", "number"), True),)


class Worker(BaseModel):
    id = CharField(max_length=200, primary_key=True)
    host = CharField(max_length=255)
    pid = IntegerField()
    supervisor_pid = IntegerField(null=True)
    started_at = DoubleField()
    heartbeat_at = DoubleField()
    state = CharField(max_length=16, default="idle")  # idle | busy | stopping
    current_job = CharField(max_length=128, null=True)
    stop_requested = BooleanField(default=False)
    slots = IntegerField(default=1)  # schema 3: one worker process runs this many jobs at once
    version = CharField(max_length=64, null=True)  # schema 5: the queuectl it runs (`host list`)


class Setting(BaseModel):
    key = CharField(max_length=64, primary_key=True)
    value = TextField()  # JSON


class Schedule(BaseModel):
    """A recurring job: every cron tick (in its time zone) enqueues one job, id NAME@TICK."""

    name = CharField(max_length=64, primary_key=True)
    cron = CharField(max_length=200)
    tz = CharField(max_length=64, default="UTC")
    overlap = CharField(max_length=8, default="allow")  # skip: no new run while the last is unfinished
    job = TextField()  # the job's fields, as JSON
    paused = BooleanField(default=False)
    next_run_at = DoubleField()
    last_run_at = DoubleField(null=True)
    last_job_id = CharField(max_length=200, null=True)
    skipped = IntegerField(default=0)
    last_error = TextField(null=True)  # why the last tick could not enqueue; the schedule is paused


class JobCount(BaseModel):
    """Jobs per queue and state, kept by triggers so that counting never scans the job table.

    On PostgreSQL each connection adds to one of COUNT_SHARDS rows per queue and state, so that
    workers on many hosts do not queue up behind one counter row; a count is a sum of shards.
    """

    queue = CharField(max_length=64)
    state = CharField(max_length=16)
    shard = IntegerField(default=0)
    n = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("queue", "state", "shard")


COUNT_SHARDS = 16


class Host(BaseModel):
    """A machine that ran workers (schema 5): remembered after its workers are gone, so that
    `host list` can say when a host was lost (its workers stopped sending heartbeats) or
    stopped (its workers exited cleanly)."""

    name = CharField(max_length=255, primary_key=True)
    version = CharField(max_length=64, null=True)
    first_seen_at = DoubleField()
    #: the newest heartbeat of its workers that were forgotten (live workers have their own)
    last_heartbeat_at = DoubleField()
    lost_at = DoubleField(null=True)  # its workers were declared dead after a silent lease
    stopped_at = DoubleField(null=True)  # its last worker unregistered


class MetricCount(BaseModel):
    """Counters that survive restarts and deletes (schema 5), kept by triggers in the same
    transaction as the state change they count: jobs finished per queue and outcome, and the
    buckets of the duration and wait histograms (label = the bucket's upper bound, `total` the
    sum of what fell into it).  Sharded on PostgreSQL like JobCount."""

    name = CharField(max_length=64)
    queue = CharField(max_length=64)
    label = CharField(max_length=32)
    shard = IntegerField(default=0)
    n = BigIntegerField(default=0)
    total = DoubleField(default=0.0)

    class Meta:
        primary_key = CompositeKey("name", "queue", "label", "shard")


class AttemptOutput(BaseModel):
    """An attempt's output in the store (schema 5, PostgreSQL): chunks of one stream at byte
    offset `pos`, so that any host reads and follows it; deleted with its attempt."""

    attempt = ForeignKeyField(Attempt, column_name="attempt_id", on_delete="CASCADE")
    stream = CharField(max_length=8)  # stdout | stderr
    pos = BigIntegerField()
    data = BlobField()

    class Meta:
        primary_key = CompositeKey("attempt", "stream", "pos")


MODELS = (Job, Attempt, Worker, Setting, JobCount, Dependency, Queue, Schedule, Host, MetricCount, AttemptOutput)

# Indexes whose shape peewee cannot express (partial, descending), one per hot query.
INDEXES = (
    # the claim of pending jobs: best first; partial, so finished history does not slow it
    # down; covering next_attempt_at and queue, so jobs not yet due (run_at) or in a paused queue
    # are skipped inside the index without a table lookup each
    "CREATE INDEX IF NOT EXISTS job_claim ON job (priority DESC, seq, next_attempt_at, queue) WHERE state = 'pending'",
    # schema 4: the claim of failed jobs whose retry is due: by due time, so the retries still
    # waiting are never walked (they were, in job_claim: 36 ms -> 0.7 ms per PostgreSQL claim at
    # 1M jobs with 18k awaiting a retry)
    "CREATE INDEX IF NOT EXISTS job_retry ON job (next_attempt_at, priority DESC, seq) WHERE state = 'failed'",
    # when the next scheduled job or retry becomes due (how long an idle worker may sleep)
    "CREATE INDEX IF NOT EXISTS job_due ON job (next_attempt_at) WHERE state IN ('pending', 'failed')",
    # listing by state, newest first; the DLQ
    "CREATE INDEX IF NOT EXISTS job_state_seq ON job (state, seq)",
    # listing a queue, newest first
    "CREATE INDEX IF NOT EXISTS job_queue_seq ON job (queue, seq)",
    # metrics: recent completions and runtimes
    "CREATE INDEX IF NOT EXISTS job_state_finished ON job (state, finished_at)",
    # leases that ran out
    "CREATE INDEX IF NOT EXISTS job_lease ON job (lease_expires_at) WHERE state = 'processing'",
    # schema 5: each queue's oldest ready job (the metrics' queue_oldest_ready_age_seconds)
    "CREATE INDEX IF NOT EXISTS job_queue_due ON job (queue, next_attempt_at) WHERE state IN ('pending', 'failed')",
    # the dashboard's column sorts over the whole store, keyset-paged (store/sorting.py); made at
    # open in a store of schema 7 that lacks them (connection.ensure_indexes)
    # (priority is global: it changes by hand only, and state changes do not move its entries;
    # attempts and runtime move at each run anyway, and by state they also serve a state filter)
    "CREATE INDEX IF NOT EXISTS job_priority_seq ON job (priority, seq)",
    "CREATE INDEX IF NOT EXISTS job_state_attempts ON job (state, attempts, seq)",
    "CREATE INDEX IF NOT EXISTS job_state_runtime ON job (state, (COALESCE(finished_at - started_at, -1)), seq)",
    # ... and by when a run failed (the failed jobs awaiting a retry; few)
    "CREATE INDEX IF NOT EXISTS job_failed_at ON job (updated_at, seq) WHERE state = 'failed'",
    # schema 2: one unfinished job per unique_key, enforced by the database (atomic on both)
    "CREATE UNIQUE INDEX IF NOT EXISTS job_unique_key ON job (unique_key) "
    "WHERE unique_key IS NOT NULL AND state IN ('pending', 'blocked', 'processing', 'failed')",
)
#: indexes of later schema versions (made by their migration steps; INDEXES by version 2's)
LATER_INDEXES = (
    # schema 6: the paused jobs (few), counted by `status` without a scan
    "CREATE INDEX IF NOT EXISTS job_paused ON job (seq) WHERE paused",
)

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


#: the upper bounds (seconds) of the duration and wait histograms' buckets; +Inf is implied
HISTOGRAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_FINISHED_LABELS = "('completed', 'dead', 'cancelled')"


def _bucket(value: str) -> str:
    cases = " ".join(f"WHEN {value} <= {le} THEN '{le}'" for le in HISTOGRAM_BUCKETS)
    return f"CASE {cases} ELSE '+Inf' END"


# What the metric counters observe of one job row changing (NEW, OLD): a job finishing (its
# outcome), a run ending (leaving processing: its outcome, so that failed runs and retries can be
# graphed (schema 8); how long it ran, claim to end), and a job's first run starting (how long it
# waited since it became due: enqueued, scheduled, retried by hand).
# (name, the observed value, when; a value of None counts the new state, others fill buckets)
_OBSERVED = (
    ("jobs_finished", None, f"{{new}}.state IN {_FINISHED_LABELS}"),
    ("runs", None, "{old}.state = 'processing'"),
    ("job_duration_seconds", "{new}.updated_at - {new}.started_at", "{old}.state = 'processing'"),
    (
        "job_wait_seconds",
        "{new}.started_at - {old}.next_attempt_at",
        "{new}.state = 'processing' AND {old}.attempts = 0",
    ),
)


def _observations(new: str, old: str) -> list[str]:
    """One SELECT per observation of a changed row, of (name, queue, label, value); a changed
    state is the caller's condition."""
    selects = []
    for name, value, when in _OBSERVED:
        when = when.format(new=new, old=old)
        if value is None:
            selects.append(
                f"SELECT '{name}' AS name, {new}.queue AS queue, {new}.state AS label, 0.0 AS v WHERE {when}"
            )
            continue
        d = f"COALESCE(CASE WHEN {value} > 0 THEN {value} ELSE 0 END, 0)".format(new=new, old=old)
        selects.append(
            f"SELECT '{name}' AS name, queue, {_bucket('d')} AS label, d AS v FROM "
            f"(SELECT {new}.queue AS queue, {d} AS d WHERE {when}) AS observed"
        )
    return selects


METRIC_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS job_metrics AFTER UPDATE OF state ON job WHEN OLD.state <> NEW.state BEGIN "
    + " ".join(
        f"INSERT INTO metric_count (name, queue, label, shard, n, total) SELECT name, queue, label, 0, 1, v FROM "
        f"({select}) WHERE true ON CONFLICT (name, queue, label, shard) DO UPDATE SET n = n + 1, "
        "total = total + excluded.total;"
        for select in _observations("NEW", "OLD")
    )
    + " END",
)

_PG_OBSERVED = " UNION ALL ".join(
    select.replace(" WHERE ", " FROM new_rows n JOIN old_rows o ON o.seq = n.seq WHERE n.state <> o.state AND ", 1)
    for select in _observations("n", "o")
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


def create_schema(dialect) -> None:
    """Create every table, index and trigger of the current version (in one transaction);
    `dialect` is the store's (queuectl.store.dialect)."""
    with db.atomic():
        if dialect.lock_schema():
            return
        db.create_tables(MODELS)
        for statement in (
            INDEXES + LATER_INDEXES + dialect.counting_triggers + dialect.metric_triggers + dialect.table_tuning
        ):
            db.execute_sql(statement)
        from .store.migrations import COMPATIBILITY, compatibility

        Setting.insert_many(
            [("schema_version", str(SCHEMA_VERSION)), (COMPATIBILITY, compatibility(SCHEMA_VERSION))],
            fields=[Setting.key, Setting.value],
        ).on_conflict_ignore().execute()
