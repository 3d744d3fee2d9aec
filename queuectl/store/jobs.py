"""Job state transitions: one function each, shared by the CLI, the workers and the TUI.

Every function here is one short write transaction (SQLite: BEGIN IMMEDIATE), and checks the
job's current state inside it, so two processes racing on one job cannot both win.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import InputError, InvalidState, NotFound
from ..models import FINISHED_STATES, Attempt, Job, JobState, db
from ..spec import JobSpec, new_job_id
from . import logfiles
from .config import current_config
from .connection import guarded, is_postgres, location, now, wake_workers
from .views import Claim, JobView

P = JobState.PROCESSING.value

_INSERT_COLUMNS = (
    "id", "command", "state", "priority", "attempts", "max_retries", "timeout",
    "run_at", "next_attempt_at", "created_at", "updated_at",
)  # fmt: skip

# The best runnable job, taken in one statement.  SQLite: the write lock is already ours
# (BEGIN IMMEDIATE) and INDEXED BY keeps the planner on the partial claim index.  PostgreSQL:
# SKIP LOCKED lets workers on many hosts take different jobs without waiting for each other.
_CLAIM_SQL = (
    "UPDATE job SET state = 'processing', attempts = attempts + 1, worker_id = {p}, "
    "started_at = {p}, updated_at = {p}, lease_expires_at = {p}, next_attempt_at = NULL, "
    "finished_at = NULL, exit_code = NULL "
    "WHERE seq = (SELECT seq FROM job {sqlite_index} WHERE state IN ('pending', 'failed') "
    "AND next_attempt_at <= {p} ORDER BY priority DESC, seq LIMIT 1 {postgres_lock}) "
    "RETURNING seq, id, command, timeout, attempts"
)


@guarded
def enqueue(specs: list[JobSpec]) -> list[str]:
    """Add jobs in one transaction: all of them, or none (and an error naming why)."""
    from peewee import IntegrityError, __exception_wrapper__ as driver_errors

    t = now()
    rows = []
    try:
        with db.atomic():
            cfg = current_config()
            for spec in specs:
                run_at = spec.run_at if spec.run_at is not None else t
                rows.append((
                    spec.id or new_job_id(), spec.command, JobState.PENDING.value,
                    cfg["default_priority"] if spec.priority is None else spec.priority, 0,
                    cfg["max_retries"] if spec.max_retries is None else spec.max_retries,
                    cfg["default_timeout"] if spec.timeout is None else spec.timeout,
                    run_at, run_at, t, t,
                ))  # fmt: skip
            with driver_errors:  # raw driver errors become peewee's, as for every other query
                _insert_rows(rows)
    except IntegrityError:
        taken = _existing_ids([r[0] for r in rows])
        raise InputError(f"job id {taken[0]!r} already exists" if taken else "job ids are not unique") from None
    wake_workers()
    return [r[0] for r in rows]


def _insert_rows(rows: list[tuple]) -> None:
    """Many rows in few round trips: executemany on SQLite (in-process, no round trips),
    multi-row VALUES pages on PostgreSQL."""
    columns = ", ".join(_INSERT_COLUMNS)
    if is_postgres():
        from psycopg2.extras import execute_values

        execute_values(db.cursor(), f"INSERT INTO job ({columns}) VALUES %s", rows, page_size=1000)
    else:
        marks = ", ".join([db.param] * len(_INSERT_COLUMNS))
        db.cursor().executemany(f"INSERT INTO job ({columns}) VALUES ({marks})", rows)
        # the counter that PostgreSQL's statement trigger keeps, kept here (see models)
        _sql("UPDATE job_count SET n = n + {p} WHERE state = 'pending' AND shard = 0", len(rows))


def _existing_ids(ids: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found += [j.id for j in Job.select(Job.id).where(Job.id.in_(chunk))]
    return found


def _sql(statement: str, *params):
    """Run one hand-written statement ({p} marks a parameter): the hot path of every job
    (claim, finish) skips the query builder, which cost more than SQLite itself."""
    return db.execute_sql(statement.format(p=db.param), params)


@functools.cache
def _claim_sql(postgres: bool) -> str:
    return _CLAIM_SQL.format(
        p="{p}",
        sqlite_index="" if postgres else "INDEXED BY job_claim",
        postgres_lock="FOR UPDATE SKIP LOCKED" if postgres else "",
    )


@guarded
def claim(worker_id: str, host: str) -> Claim | None:
    """pending/failed (due) -> processing: the best runnable job, or None."""
    with db.atomic():
        return _claim(worker_id, host, now())


@guarded
def finish(claim: Claim, worker_id: str, error: str | None, exit_code: int | None) -> str:
    """processing -> completed (no error) or failed/dead; returns the job's state afterwards.

    If the job is no longer this worker's (cancelled, or recovered after a lost lease), only the
    attempt is recorded and the job is left as it is.
    """
    with db.atomic():
        state = _finish(claim, worker_id, error, exit_code, now())
    if state == JobState.FAILED.value:
        wake_workers()  # idle workers re-arm their timers for the retry
    return state


@guarded
def finish_and_claim(claim: Claim, worker_id: str, host: str, error: str | None,
                     exit_code: int | None) -> tuple[str, Claim | None]:  # fmt: skip
    """finish(), then claim() the next job, in one transaction: a busy worker's loop costs one
    commit per job instead of two."""
    with db.atomic():
        t = now()
        state = _finish(claim, worker_id, error, exit_code, t)
        following = _claim(worker_id, host, t)
    if state == JobState.FAILED.value:
        wake_workers()
    return state, following


def _claim(worker_id: str, host: str, t: float) -> Claim | None:
    cfg = current_config()
    row = _sql(_claim_sql(is_postgres()), worker_id, t, t, t + cfg["lease_seconds"], t).fetchone()
    if row is None:
        return None
    seq, job_id, command, timeout, attempts = row
    # attempt numbers continue after a DLQ retry, which resets the job's attempt count
    prefix = logfiles.attempt_prefix(location().logs_dir, job_id)
    attempt_id, number = _sql(
        "INSERT INTO attempt (job_seq, number, worker_id, host, started_at, stdout_path, stderr_path) "
        "SELECT {p}, n, {p}, {p}, {p}, {p} || n || '.stdout', {p} || n || '.stderr' FROM "
        "(SELECT COALESCE(MAX(number), 0) + 1 AS n FROM attempt WHERE job_seq = {p}) AS next_number "
        "RETURNING id, number",
        seq, worker_id, host, t, prefix, prefix, seq,
    ).fetchone()  # fmt: skip
    _sql("UPDATE worker SET state = 'busy', current_job = {p}, heartbeat_at = {p} WHERE id = {p}", job_id, t, worker_id)
    return Claim(
        seq=seq, id=job_id, command=command, timeout=timeout, attempt=number, attempt_id=attempt_id,
        max_log_bytes=int(cfg["max_log_bytes"]), lease_seconds=cfg["lease_seconds"],
    )  # fmt: skip


def _finish(claim: Claim, worker_id: str, error: str | None, exit_code: int | None, t: float) -> str:
    # an attempt already closed by a cancel or a recovery keeps its reason
    _sql("UPDATE attempt SET finished_at = {p}, exit_code = {p}, error = {p} WHERE id = {p} AND finished_at IS NULL",
         t, exit_code, error, claim.attempt_id)  # fmt: skip
    _sql("UPDATE worker SET state = 'idle', current_job = NULL WHERE id = {p}", worker_id)
    if error is None:
        done = _sql(
            "UPDATE job SET state = 'completed', finished_at = {p}, exit_code = {p}, last_error = NULL, "
            "worker_id = NULL, lease_expires_at = NULL, updated_at = {p} "
            "WHERE seq = {p} AND state = 'processing' AND worker_id = {p}",
            t, exit_code, t, claim.seq, worker_id,
        ).rowcount  # fmt: skip
        if done:
            return JobState.COMPLETED.value
    else:
        job = Job.get_or_none((Job.seq == claim.seq) & (Job.state == P) & (Job.worker_id == worker_id))
        if job is not None:
            return _fail(job, error, exit_code, t)
    # not ours any more (cancelled, recovered, deleted): report what it is now
    return Job.select(Job.state).where(Job.seq == claim.seq).scalar() or "deleted"


def _fail(job: Job, error: str, exit_code: int | None, t: float) -> str:
    """A failed run: retry after backoff while runs remain, else dead (the DLQ)."""
    if job.attempts < 1 + job.max_retries:
        cfg = current_config()
        delay = min(cfg["backoff_base"] ** job.attempts, cfg["max_backoff"])
        _update(job, state=JobState.FAILED.value, next_attempt_at=t + delay, exit_code=exit_code, last_error=error)
        return JobState.FAILED.value
    _update(job, state=JobState.DEAD.value, finished_at=t, exit_code=exit_code, last_error=error)
    return JobState.DEAD.value


def _update(job: Job, **changes) -> None:
    changes.setdefault("worker_id", None)
    changes.setdefault("lease_expires_at", None)
    changes["updated_at"] = now()
    Job.update(**changes).where(Job.seq == job.seq).execute()


def _job(job_id: str) -> Job:
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


@dataclass(frozen=True)
class Cancelled:
    job: JobView
    #: the running command's process group and host, when the job was running
    pgid: int | None
    host: str | None


@guarded
def cancel(job_id: str) -> Cancelled:
    """pending/failed/processing -> cancelled.  The caller kills a local process group; a
    remote worker notices at its next heartbeat or wake-up."""
    from .queries import get_job

    t = now()
    with db.atomic():
        job = _job(job_id)
        if job.state in {s.value for s in FINISHED_STATES}:
            raise InvalidState(f"job {job_id!r} is {job.state}; only pending, failed or processing jobs can be cancelled")
        running = None
        if job.state == P:
            running = (
                Attempt.select().where((Attempt.job == job.seq) & Attempt.finished_at.is_null())
                .order_by(Attempt.number.desc()).first()
            )  # fmt: skip
            if running is not None:
                Attempt.update(finished_at=t, error="cancelled").where(Attempt.id == running.id).execute()
        _update(job, state=JobState.CANCELLED.value, finished_at=t, next_attempt_at=None, last_error="cancelled")
    if running is not None:
        wake_workers()  # the owner checks its job and kills it
    return Cancelled(get_job(job_id), running.pgid if running else None, running.host if running else None)


@guarded
def retry_dead(job_id: str | None = None) -> list[str]:
    """dead -> pending with attempts reset; one job, or every dead job when job_id is None."""
    t = now()
    with db.atomic():
        if job_id is not None:
            job = _job(job_id)
            if job.state != JobState.DEAD.value:
                raise InvalidState(f"job {job_id!r} is {job.state}, not dead")
            ids = [job_id]
            where = Job.seq == job.seq
        else:
            where = Job.state == JobState.DEAD.value
            ids = [j.id for j in Job.select(Job.id).where(where)]
        Job.update(
            state=JobState.PENDING.value, attempts=0, next_attempt_at=t, updated_at=t,
            finished_at=None, worker_id=None, lease_expires_at=None,
        ).where(where).execute()  # fmt: skip
    if ids:
        wake_workers()
    return ids


@guarded
def set_priority(job_id: str, priority: int) -> None:
    """Change the priority of a job that has not started (pending, or failed awaiting retry)."""
    with db.atomic():
        job = _job(job_id)
        if job.state not in (JobState.PENDING.value, JobState.FAILED.value):
            raise InvalidState(f"job {job_id!r} is {job.state}; only waiting jobs can change priority")
        _update(job, priority=priority)
    wake_workers()


@guarded
def delete_job(job_id: str) -> None:
    """Remove a finished job, its attempts and its log files."""
    with db.atomic():
        job = _job(job_id)
        if job.state not in {s.value for s in FINISHED_STATES}:
            raise InvalidState(f"job {job_id!r} is {job.state}; cancel it before deleting it")
        Attempt.delete().where(Attempt.job == job.seq).execute()
        job.delete_instance()
    logfiles.remove_job_logs(location().logs_dir, job_id)


def fail_lost_attempts(where, reason: str) -> list[int]:
    """Jobs whose worker is gone: the open attempt fails (it counts), then retry or DLQ.

    Runs inside the caller's transaction; returns the process groups that may still run.
    """
    t = now()
    pgids = []
    for job in Job.select().where((Job.state == P) & where):
        attempt = (
            Attempt.select().where((Attempt.job == job.seq) & Attempt.finished_at.is_null())
            .order_by(Attempt.number.desc()).first()
        )  # fmt: skip
        if attempt is not None:
            Attempt.update(finished_at=t, error=reason).where(Attempt.id == attempt.id).execute()
            if attempt.pgid:
                pgids.append(attempt.pgid)
        _fail(job, reason, None, t)
    return pgids
