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

from .states import ACTIVE_STATES, CLAIMABLE_STATES, JobState, sql_literals

db = DatabaseProxy()

SCHEMA_VERSION = 8


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
    # schema 8: what the job asks of its host (JSON object: cpus, mem in bytes, gpus, NAME: count);
    # NULL asks for nothing but a slot (resources.py)
    resources = TextField(null=True)


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
    # schema 8: what the run used (usage.py) and what it was granted (resources.py)
    wall = DoubleField(null=True)  # seconds, start to end as its worker measured them
    cpu_user = DoubleField(null=True)  # seconds: the shell's wait4 rusage, plus the orphans reaped for it
    cpu_system = DoubleField(null=True)
    max_rss = BigIntegerField(null=True)  # bytes: the peak of the job's processes together (sampled /proc)
    signal = IntegerField(null=True)  # the signal that ended its shell, if one did
    granted = TextField(null=True)  # JSON: what it holds of its host while open (cpus, mem, gpus by index)
    note = TextField(null=True)  # a remark on the run that is not an error (a memory warning)

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

    On PostgreSQL each connection adds to one of COUNT_SHARDS (store/postgres.py) rows per queue and state, so that
    workers on many hosts do not queue up behind one counter row; a count is a sum of shards.
    """

    queue = CharField(max_length=64)
    state = CharField(max_length=16)
    shard = IntegerField(default=0)
    n = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("queue", "state", "shard")


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
    # schema 8: what it offers its jobs (JSON: cpus, mem in bytes, gpus as a list of devices,
    # NAME: count), as its latest `worker start` detected or was told (resources.py)
    resources = TextField(null=True)


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

_FAILED = sql_literals(JobState.FAILED)
_PENDING = sql_literals(JobState.PENDING)
_PROCESSING = sql_literals(JobState.PROCESSING)
_CLAIMABLE = sql_literals(*CLAIMABLE_STATES)
# Indexes whose shape peewee cannot express (partial, descending), one per hot query.
INDEXES = (
    # the claim of pending jobs: best first; partial, so finished history does not slow it
    # down; covering next_attempt_at and queue, so jobs not yet due (run_at) or in a paused queue
    # are skipped inside the index without a table lookup each
    "CREATE INDEX IF NOT EXISTS job_claim ON job (priority DESC, seq, next_attempt_at, queue) "
    f"WHERE state = {sql_literals(JobState.PENDING)}",
    # schema 4: the claim of failed jobs whose retry is due: by due time, so the retries still
    # waiting are never walked (they were, in job_claim: 36 ms -> 0.7 ms per PostgreSQL claim at
    # 1M jobs with 18k awaiting a retry)
    f"CREATE INDEX IF NOT EXISTS job_retry ON job (next_attempt_at, priority DESC, seq) WHERE state = {_FAILED}",
    # when the next scheduled job or retry becomes due (how long an idle worker may sleep)
    f"CREATE INDEX IF NOT EXISTS job_due ON job (next_attempt_at) WHERE state IN ({_CLAIMABLE})",
    # listing by state, newest first; the DLQ
    "CREATE INDEX IF NOT EXISTS job_state_seq ON job (state, seq)",
    # listing a queue, newest first
    "CREATE INDEX IF NOT EXISTS job_queue_seq ON job (queue, seq)",
    # metrics: recent completions and runtimes
    "CREATE INDEX IF NOT EXISTS job_state_finished ON job (state, finished_at)",
    # leases that ran out
    f"CREATE INDEX IF NOT EXISTS job_lease ON job (lease_expires_at) WHERE state = {_PROCESSING}",
    # schema 5: each queue's oldest ready job (the metrics' queue_oldest_ready_age_seconds)
    f"CREATE INDEX IF NOT EXISTS job_queue_due ON job (queue, next_attempt_at) WHERE state IN ({_CLAIMABLE})",
    # the dashboard's column sorts over the whole store, keyset-paged (store/sorting.py); made at
    # open in a store of schema 7 that lacks them (connection.ensure_indexes)
    # (priority is global: it changes by hand only, and state changes do not move its entries;
    # attempts and runtime move at each run anyway, and by state they also serve a state filter)
    "CREATE INDEX IF NOT EXISTS job_priority_seq ON job (priority, seq)",
    "CREATE INDEX IF NOT EXISTS job_state_attempts ON job (state, attempts, seq)",
    "CREATE INDEX IF NOT EXISTS job_state_runtime ON job (state, (COALESCE(finished_at - started_at, -1)), seq)",
    # ... and by when a run failed (the failed jobs awaiting a retry; few)
    f"CREATE INDEX IF NOT EXISTS job_failed_at ON job (updated_at, seq) WHERE state = {_FAILED}",
    # schema 2: one unfinished job per unique_key, enforced by the database (atomic on both)
    "CREATE UNIQUE INDEX IF NOT EXISTS job_unique_key ON job (unique_key) "
    f"WHERE unique_key IS NOT NULL AND state IN ({sql_literals(*ACTIVE_STATES)})",
)
#: indexes of later schema versions (made by their migration steps; INDEXES by version 2's)
LATER_INDEXES = (
    # schema 6: the paused jobs (few), counted by `status` without a scan
    "CREATE INDEX IF NOT EXISTS job_paused ON job (seq) WHERE paused",
    # schema 8: the waiting jobs that ask for resources, in claim order (the fits-filter's scan)
    "CREATE INDEX IF NOT EXISTS job_wants ON job (priority DESC, seq) "
    f"WHERE state IN ({_CLAIMABLE}) AND resources IS NOT NULL",
    # schema 8: what each host has granted to runs still open (its free resources)
    "CREATE INDEX IF NOT EXISTS attempt_granted ON attempt (host) WHERE finished_at IS NULL AND granted IS NOT NULL",
    # the claim's scans of the jobs that ask for nothing (made at open where missing): job_claim
    # and job_retry hold the jobs that ask too, which a claim walked past one by one (100k
    # waiting GPU jobs: 100k rows read by every claim of a plain job)
    "CREATE INDEX IF NOT EXISTS job_claim_plain ON job (priority DESC, seq, next_attempt_at, queue) "
    f"WHERE state = {_PENDING} AND resources IS NULL",
    "CREATE INDEX IF NOT EXISTS job_retry_plain ON job (next_attempt_at, priority DESC, seq) "
    f"WHERE state = {_FAILED} AND resources IS NULL",
)
