"""Schema migrations, one function per version step, applied in order in one transaction.

A store without a version row predates versioning and cannot be upgraded automatically.
"""
from __future__ import annotations

from ..errors import StoreError
from . import dialect


def _v2_workflows_and_queues() -> None:
    """Dependencies, unique keys, per-job environment and fatal exit codes, the blocked state;
    named queues, with the counters kept per queue; schedules."""
    from peewee import BooleanField, CharField, TextField
    from playhouse.migrate import migrate

    from ..models import INDEXES, Dependency, JobCount, Queue, Schedule, db

    migrator = dialect.current().migrator(db)
    migrate(
        migrator.add_column("job", "dependency_policy", CharField(max_length=16, default="success")),
        migrator.add_column("job", "unique_key", CharField(max_length=200, null=True)),
        migrator.add_column("job", "env", TextField(null=True)),
        migrator.add_column("job", "cwd", TextField(null=True)),
        migrator.add_column("job", "fatal_exit_codes", TextField(null=True)),
        migrator.add_column("job", "has_dependents", BooleanField(default=False)),
        migrator.add_column("job", "queue", CharField(max_length=64, default="default")),
    )
    db.create_tables([Dependency, Queue, Schedule])
    for trigger in ("job_count_insert", "job_count_delete", "job_count_update"):
        db.execute_sql(dialect.current().drop_trigger(trigger))
    db.execute_sql("DROP TABLE job_count")
    db.create_tables([JobCount])
    db.execute_sql("INSERT INTO job_count (queue, state, shard, n) SELECT queue, state, 0, COUNT(*) FROM job GROUP BY queue, state")
    for statement in INDEXES + dialect.current().counting_triggers:
        db.execute_sql(statement)


def _v3_worker_slots() -> None:
    """A worker process runs many jobs at once: its number of slots."""
    from peewee import IntegerField
    from playhouse.migrate import migrate

    from ..models import db

    migrate(dialect.current().migrator(db).add_column("worker", "slots", IntegerField(default=1)))


def _v4_retry_claim_index() -> None:
    """Failed jobs are claimed through their own index, by due time (models.INDEXES); the job
    table's storage settings (dialect.table_tuning)."""
    from ..models import INDEXES, db

    db.execute_sql("DROP INDEX IF EXISTS job_claim")
    for statement in INDEXES + dialect.current().table_tuning:
        db.execute_sql(statement)


def _v5_fleet() -> None:
    """Operating a fleet: the queuectl version of each worker, the hosts seen, durable metric
    counters (kept by triggers from now on) and attempts' output in the store."""
    from peewee import CharField
    from playhouse.migrate import migrate

    from ..models import INDEXES, AttemptOutput, Host, MetricCount, db

    migrate(dialect.current().migrator(db).add_column("worker", "version", CharField(max_length=64, null=True)))
    db.create_tables([Host, MetricCount, AttemptOutput])
    for statement in INDEXES + dialect.current().metric_triggers:
        db.execute_sql(statement)


def _v6_labels_pause_hooks() -> None:
    """Labels on jobs, the pause of a job (waiting or running), a job's own on_finish hook
    (issue 15)."""
    from peewee import BooleanField, TextField
    from playhouse.migrate import migrate

    from ..models import LATER_INDEXES, db

    migrator = dialect.current().migrator(db)
    migrate(
        migrator.add_column("job", "labels", TextField(null=True)),
        migrator.add_column("job", "paused", BooleanField(default=False)),
        migrator.add_column("job", "on_finish", TextField(null=True)),
    )
    db.execute_sql(LATER_INDEXES[0])


def _v7_schedule_errors() -> None:
    """A schedule whose tick cannot enqueue (a deleted dependency, a cron with no next date) keeps
    the reason here and is paused, instead of taking the worker down (issue 22)."""
    from peewee import TextField
    from playhouse.migrate import migrate

    from ..models import db

    # a store upgraded from schema 1 made its schedule table from today's model (step 2) and has it
    if "last_error" not in {column.name for column in db.get_columns("schedule")}:
        migrate(dialect.current().migrator(db).add_column("schedule", "last_error", TextField(null=True)))


def _v8_run_outcomes() -> None:
    """The metric trigger also counts each run's outcome (metric_count `runs`), for a retry rate
    (issue 22).  Runs before the upgrade are not counted: the counter starts at the upgrade."""
    from ..models import db

    db.execute_sql(dialect.current().drop_trigger("job_metrics"))
    for statement in dialect.current().metric_triggers:
        db.execute_sql(statement)


#: version -> function that upgrades a store from version-1 to version (playhouse.migrate inside)
STEPS: dict = {2: _v2_workflows_and_queues, 3: _v3_worker_slots, 4: _v4_retry_claim_index, 5: _v5_fleet,
                6: _v6_labels_pause_hooks, 7: _v7_schedule_errors, 8: _v8_run_outcomes}


def migrate(from_version: int) -> None:
    from ..models import SCHEMA_VERSION, Setting, db

    if from_version < 1:
        raise StoreError("the store has no schema version; it was not made by queuectl")
    with db.atomic():
        for version in range(from_version + 1, SCHEMA_VERSION + 1):
            STEPS[version]()
        Setting.update(value=str(SCHEMA_VERSION)).where(Setting.key == "schema_version").execute()
