"""Schema migrations, one function per version step, applied in order in one transaction.

What every step keeps (issue 27): every row of every table.  A step adds columns in place
(ALTER TABLE … ADD COLUMN, with the default in the DDL), never by rebuilding a table: on
SQLite, playhouse.migrate's rebuild (create, copy, drop, rename) dropped `job` with its
triggers, and with foreign keys on the drop cascaded to every attempt.  The whole migration
runs with SQLite's foreign keys off and checks them (PRAGMA foreign_key_check) before it
commits, as SQLite's documented procedure for schema changes says, so that even a rebuild a
later step may need cannot cascade.  Counters are recomputed from the rows at the end.

A step that creates a table makes it from today's model, with today's columns; so a step that
adds a column adds it only where it is missing (`_add_column`).

Before a SQLite store is migrated, a copy of it is written beside it (`backup_path`); a
migration that fails leaves the store as it was (one transaction) and names the copy.

A fleet upgrades host by host: COMPATIBLE lists the steps that workers of the version before
can live with (nullable columns, tables and indexes they never read), and the store keeps the
oldest schema whose code may still use it (setting COMPATIBILITY).  Workers look
at it at start and at every heartbeat (connection.check_schema).

A store without a version row predates versioning and cannot be upgraded automatically.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from ..errors import StoreError, first_line
from ..states import FINISHED_STATES, sql_literals
from . import dialect

#: the setting that says which schema versions' code may use the store: {"schema": the store's
#: version, "oldest": the oldest compatible one}; it counts only while "schema" is the store's
#: version (a later release that does not write it, or a hand edit, means: only its own code)
COMPATIBILITY = "schema_compatibility"
#: tests only: seconds to sleep after each step, so that a test can kill a migration mid-way
STEP_PAUSE_ENV = "QUEUECTL_TEST_MIGRATION_PAUSE"


def _step_pause() -> float:
    """The tests' pause between steps; anything but a finite number of seconds ≥ 0 is none, so
    that a stray value in the environment can never fail an upgrade."""
    try:
        pause = float(os.environ.get(STEP_PAUSE_ENV) or 0)
    except ValueError:
        return 0.0
    return pause if math.isfinite(pause) and pause > 0 else 0.0


def _add_column(table: str, field, default=None) -> None:
    """Add today's `field` to `table` in place, with `default` written into the DDL so that
    every existing row (and every insert by older code) gets it; skipped where it exists."""
    from ..models import db

    if field.column_name in {column.name for column in db.get_columns(table)}:
        return
    ctx = db.get_sql_context()
    sql, _ = ctx.sql(field.ddl(ctx)).query()
    if default is not None:
        sql += f" DEFAULT {_literal(default)}"
    db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {sql}')


def _literal(value) -> str:
    if isinstance(value, bool):
        return dialect.current().bool_literal(value)
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def create_schema(chosen) -> None:
    """Create every table, index and trigger of the current version (in one transaction);
    `chosen` is the store's dialect (dialect.py)."""
    from ..models import INDEXES, LATER_INDEXES, MODELS, SCHEMA_VERSION, Setting, db

    with db.atomic():
        if chosen.lock_schema():
            return
        db.create_tables(MODELS)
        for statement in (
            INDEXES + LATER_INDEXES + chosen.counting_triggers + chosen.metric_triggers + chosen.table_tuning
        ):
            db.execute_sql(statement)
        Setting.insert_many(
            [("schema_version", str(SCHEMA_VERSION)), (COMPATIBILITY, compatibility(SCHEMA_VERSION))],
            fields=[Setting.key, Setting.value],
        ).on_conflict_ignore().execute()


def _v2_workflows_and_queues() -> None:
    """Dependencies, unique keys, per-job environment and fatal exit codes, the blocked state;
    named queues, with the counters kept per queue; schedules."""
    from ..models import INDEXES, Dependency, Job, JobCount, Queue, Schedule, db

    _add_column("job", Job.dependency_policy, "success")
    _add_column("job", Job.unique_key)
    _add_column("job", Job.env)
    _add_column("job", Job.cwd)
    _add_column("job", Job.fatal_exit_codes)
    _add_column("job", Job.has_dependents, False)
    _add_column("job", Job.queue, "default")
    db.create_tables([Dependency, Queue, Schedule])
    for trigger in ("job_count_insert", "job_count_delete", "job_count_update"):
        db.execute_sql(dialect.current().drop_trigger(trigger))
    db.execute_sql("DROP TABLE job_count")  # (state, shard, n): now per queue too, recounted at the end
    db.create_tables([JobCount])
    for statement in INDEXES + dialect.current().counting_triggers:
        db.execute_sql(statement)


def _v3_worker_slots() -> None:
    """A worker process runs many jobs at once: its number of slots."""
    from ..models import Worker

    _add_column("worker", Worker.slots, 1)


def _v4_retry_claim_index() -> None:
    """Failed jobs are claimed through their own index, by due time (models.INDEXES); the job
    table's storage settings (dialect.table_tuning)."""
    from ..models import INDEXES, db

    db.execute_sql("DROP INDEX IF EXISTS job_claim")
    for statement in INDEXES + dialect.current().table_tuning:
        db.execute_sql(statement)


def _v5_fleet() -> None:
    """Operating a fleet: the queuectl version of each worker, the hosts seen, durable metric
    counters (kept by triggers from now on, seeded with the jobs that had finished) and
    attempts' output in the store."""
    from ..models import INDEXES, AttemptOutput, Host, MetricCount, Worker, db

    _add_column("worker", Worker.version)
    db.create_tables([Host, MetricCount, AttemptOutput])
    db.execute_sql(
        "INSERT INTO metric_count (name, queue, label, shard, n, total) "
        "SELECT 'jobs_finished', queue, state, 0, COUNT(*), 0 FROM job "
        f"WHERE state IN ({sql_literals(*FINISHED_STATES)}) GROUP BY queue, state"
    )
    for statement in INDEXES + dialect.current().metric_triggers:
        db.execute_sql(statement)


def _v6_labels_pause_hooks() -> None:
    """Labels on jobs, the pause of a job (waiting or running), a job's own on_finish hook
    (issue 15)."""
    from ..models import LATER_INDEXES, Job, db

    _add_column("job", Job.labels)
    _add_column("job", Job.paused, False)
    _add_column("job", Job.on_finish)
    db.execute_sql(LATER_INDEXES[0])


def _v7_schedule_errors_and_run_outcomes() -> None:
    """A schedule whose tick cannot enqueue (a deleted dependency, a cron with no next date) keeps
    the reason and is paused, instead of taking the worker down; the metric trigger also counts
    each run's outcome (metric_count `runs`), for a retry rate, from the upgrade on (issue 22)."""
    from ..models import Schedule, db

    _add_column("schedule", Schedule.last_error)
    db.execute_sql(dialect.current().drop_trigger("job_metrics"))
    for statement in dialect.current().metric_triggers:
        db.execute_sql(statement)


def _v8_resources_and_usage() -> None:
    """Resources (issue 26): what a job asks for, what a host offers, what each attempt was
    granted, and what each attempt used (wall, CPU user and system seconds, peak memory, the
    ending signal, a note).  Nullable columns and two partial indexes only."""
    from ..models import LATER_INDEXES, Attempt, Host, Job, db

    _add_column("job", Job.resources)
    _add_column("host", Host.resources)
    for field in (
        Attempt.wall,
        Attempt.cpu_user,
        Attempt.cpu_system,
        Attempt.max_rss,
        Attempt.signal,
        Attempt.granted,
        Attempt.note,
    ):
        _add_column("attempt", field)
    for statement in LATER_INDEXES[1:]:
        db.execute_sql(statement)


#: version -> function that upgrades a store from version-1 to version
STEPS: dict = {
    2: _v2_workflows_and_queues,
    3: _v3_worker_slots,
    4: _v4_retry_claim_index,
    5: _v5_fleet,
    6: _v6_labels_pause_hooks,
    7: _v7_schedule_errors_and_run_outcomes,
    8: _v8_resources_and_usage,
}
#: the steps that a worker of the version before keeps working with: it neither misreads the
#: new schema nor writes what the new schema misreads (2 and 6 add columns that the claim must
#: honour, 3 a column that worker rows need, 8 a job's resources, which the claim must honour:
#: a worker of schema 7 would run a job asking for 4 GPUs on a host that has none)
COMPATIBLE = frozenset({4, 5, 7})


def oldest_compatible(version: int) -> int:
    """The oldest schema whose code may use a store of `version`."""
    while version in COMPATIBLE:
        version -= 1
    return version


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a SQLite store of schema `version` is kept while it is upgraded."""
    return path.with_name(f"{path.name}.schema-{version}.backup")


def _safety_copy(path: Path, version: int) -> Path:
    """A consistent copy of the store, owner-only, replacing the copy of any earlier upgrade.

    Made by a second connection (VACUUM INTO) while ours holds the write lock: readers are
    not blocked by it, and no write can slip in between the copy and the migration."""
    import sqlite3
    from urllib.parse import quote

    copy = backup_path(path, version)
    copy.unlink(missing_ok=True)
    os.close(os.open(copy, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600))
    reader = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        reader.execute("VACUUM INTO ?", (str(copy),))
    except sqlite3.Error as exc:  # (a full disk): no upgrade without its copy
        copy.unlink(missing_ok=True)
        raise StoreError(
            f"could not write a copy of the store to {copy} before upgrading it ({exc}); nothing was changed"
        ) from None
    finally:
        reader.close()
    for older in path.parent.glob(f"{path.name}.schema-*.backup"):
        if older != copy:
            older.unlink(missing_ok=True)
    if sys.stderr.isatty():
        print(
            f"queuectl: upgrading the store from schema {version}; its copy before the upgrade: {copy}", file=sys.stderr
        )
    return copy


def migrate(from_version: int) -> None:
    """Upgrade the store from `from_version`, in one transaction (taken with the write lock, or
    PostgreSQL's schema lock, so that two processes upgrading at once do it once)."""
    from ..models import SCHEMA_VERSION, db

    if from_version < 1:
        raise StoreError("the store has no schema version; it was not made by queuectl")
    chosen = dialect.current()
    copy = None
    chosen.foreign_keys(on=False)  # (before the transaction: inside, it would do nothing)
    try:
        with db.atomic():
            chosen.lock_schema()
            version = _version()
            if version >= SCHEMA_VERSION:
                return  # another process upgraded it meanwhile
            if chosen.store_file is not None:
                copy = _safety_copy(chosen.store_file, version)
            pause = _step_pause()
            for step in range(version + 1, SCHEMA_VERSION + 1):
                STEPS[step]()
                time.sleep(pause)
            _repair()
            _recount()
            broken = chosen.broken_references()
            if broken:
                raise StoreError(f"{len(broken)} row(s) would point to rows that are gone (first: {broken[0]})")
            _set_version(SCHEMA_VERSION)
    except Exception as exc:
        if copy is None:
            raise
        text = first_line(exc)
        raise StoreError(
            f"upgrading the store from schema {version} to {SCHEMA_VERSION} failed ({text}); "
            f"the store is unchanged, and a copy of it is at {copy}"
        ) from exc
    finally:
        chosen.foreign_keys(on=True)


def _version() -> int:
    from ..models import Setting

    row = Setting.get_or_none(Setting.key == "schema_version")
    return int(row.value) if row else 0


def _set_version(version: int) -> None:
    """The store's schema version, and the oldest schema whose code may still use it."""
    from ..models import Setting

    for key, value in (("schema_version", str(version)), (COMPATIBILITY, compatibility(version))):
        Setting.insert(key=key, value=value).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: value}
        ).execute()


def compatibility(version: int) -> str:
    """The COMPATIBILITY setting's value for a store of `version`."""
    import json

    return json.dumps({"schema": version, "oldest": oldest_compatible(version)})


def oldest_accepted(version: int, value: str | None) -> int:
    """The oldest schema whose code may use a store of `version`, by its COMPATIBILITY
    setting's `value` (its own version only, when the setting is missing or not about it)."""
    import json

    try:
        said = json.loads(value or "{}")
        return int(said["oldest"]) if said.get("schema") == version else version
    except (ValueError, TypeError, KeyError, AttributeError):
        return version


def _repair() -> None:
    """Every index and trigger of today's schema, where missing: a SQLite store upgraded by a
    release before issue 27's fix lost job's triggers (and so its counters drifted) with the
    table rebuild."""
    from ..models import INDEXES, LATER_INDEXES, db

    chosen = dialect.current()
    for statement in INDEXES + LATER_INDEXES + chosen.counting_triggers + chosen.metric_triggers:
        db.execute_sql(statement)


def _recount() -> None:
    """The state counters from a full count of the jobs (the triggers keep them from here)."""
    from ..models import db

    db.execute_sql("DELETE FROM job_count")
    db.execute_sql(
        "INSERT INTO job_count (queue, state, shard, n) SELECT queue, state, 0, COUNT(*) FROM job GROUP BY queue, state"
    )
