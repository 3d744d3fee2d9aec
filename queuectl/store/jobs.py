"""Job state transitions: one function each, shared by the CLI, the workers and the TUI.

Every function here is one short write transaction (SQLite: BEGIN IMMEDIATE), and checks the
job's current state inside it, so two processes racing on one job cannot both win.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import failure
from ..errors import InputError, InvalidState, NotFound
from ..models import Attempt, Job, JobState, db
from ..spec import JobSpec, new_job_ids, validate_priority
from ..states import ACTIVE_STATES, FINISHED_STATES
from . import dependencies, dialect, logfiles, sqltext
from .cached import current_config
from .connection import guarded, location, now, wake_watchers, wake_workers
from .sqltext import Enqueued
from .statements import chunks, find_job, job_view, sql, update_job
from .views import JobView

P = JobState.PROCESSING.value
_FINISHED = {s.value for s in FINISHED_STATES}
_ACTIVE = tuple(s.value for s in ACTIVE_STATES)


@guarded
def enqueue(specs: list[JobSpec]) -> list[Enqueued]:
    """Add jobs in one transaction: all of them, or none (and an error naming why).

    A job whose unique_key an unfinished job holds is not added: its entry names that job.
    A job with dependencies starts blocked (or cancelled, if one it needs has failed already).
    """
    added: list[Enqueued] = []
    enqueue_batches([specs], added.extend)
    return added


@guarded
def enqueue_batches(batches: Iterable[list[JobSpec]], report: Callable[[list[Enqueued]], None]) -> None:
    """enqueue() for more jobs than memory should hold (`add --each`): each batch is inserted
    as it comes and its entries handed to report, all in one transaction.  An error raised by
    the batches themselves rolls back every batch before it."""
    from peewee import IntegrityError

    t = now()
    ids: list[str] = []
    fresh = new_job_ids()
    try:
        with db.atomic():
            for specs in batches:
                ids = [spec.id or next(fresh) for spec in specs]
                report(add_jobs(specs, ids, t))
    except IntegrityError:
        taken = _existing_ids(ids)
        raise InputError(f"job id {taken[0]!r} already exists" if taken else "job ids are not unique") from None
    wake_workers()


def add_jobs(specs: list[JobSpec], ids: list[str], t: float) -> list[Enqueued]:
    """enqueue() inside the caller's transaction (schedules use it); a taken id raises
    IntegrityError."""
    from peewee import __exception_wrapper__ as driver_errors

    cfg = current_config()
    rows = [_row(spec, job_id, cfg, t) for spec, job_id in zip(specs, ids)]
    with driver_errors:  # raw driver errors become peewee's, as for every other query
        _insert_rows(rows)
    return _link_and_dedupe(specs, ids, t)


_row = sqltext.job_row


def _insert_rows(rows: list[tuple]) -> None:
    """Many rows in few round trips (the dialect's bulk insert); a row whose unique_key is
    taken is skipped."""
    store = dialect.current()
    store.count_inserted(store.insert_rows(sqltext.INSERT_COLUMNS, rows, sqltext.SKIP_TAKEN_KEYS))


def _link_and_dedupe(specs: list[JobSpec], ids: list[str], t: float) -> list[Enqueued]:
    """Resolve unique keys and dependencies of a batch just inserted."""
    if not any(spec.unique_key or spec.depends_on for spec in specs):
        return [Enqueued(job_id) for job_id in ids]
    result = [Enqueued(job_id) for job_id in ids]
    for i, spec in enumerate(specs):
        if spec.unique_key:
            holder = sql(sqltext.UNIQUE_HOLDER, spec.unique_key).fetchone()[0]
            if holder != ids[i]:
                result[i] = Enqueued(holder, duplicate=True)
    # a dependency on a line that turned out to be a duplicate means its holder
    batch = {job_id: result[i].id for i, job_id in enumerate(ids)}
    wanted = sorted({batch.get(dep, dep) for spec in specs for dep in spec.depends_on} | {r.id for r in result})
    seq_of: dict[str, int] = {}
    for piece in chunks(wanted):
        seq_of.update(Job.select(Job.id, Job.seq).where(Job.id.in_(piece)).tuples())
    position = {job_id: i for i, job_id in enumerate(ids)}
    pairs, blocked = [], []
    for i, spec in enumerate(specs):
        if not spec.depends_on or result[i].duplicate:
            continue
        for dep in spec.depends_on:
            if dep not in seq_of and batch.get(dep) not in seq_of:
                raise InputError(f"job {ids[i]!r} depends on {dep!r}, which does not exist")
            if dep in position and position[dep] > i:
                raise InputError(f"job {ids[i]!r} depends on {dep!r}, which comes later in the batch")
            pairs.append((seq_of[ids[i]], seq_of[batch.get(dep, dep)]))
        blocked.append(seq_of[ids[i]])
    if pairs:
        dependencies.link(pairs)
    for seq in blocked:
        if dependencies.settle(seq, t):
            dependencies.job_ended(seq, t)
    return result


def _existing_ids(ids: list[str]) -> list[str]:
    found: list[str] = []
    for piece in chunks(ids):
        found += [
            job_id
            for (job_id,) in sql(sqltext.EXISTING_IDS.format(marks=sqltext.marks("{p}", len(piece)), p="{p}"), *piece)
        ]
    return found


def fail(job: Job, error: str, exit_code: int | None, t: float) -> tuple[str, bool]:
    """Record a failed run as failure.py decides (a retry after a backoff, or the DLQ).
    Returns the new state and whether workers should be woken."""
    verdict = failure.after_failure(
        job.attempts,
        job.max_retries,
        exit_code,
        json.loads(job.fatal_exit_codes or "[]"),
        failure.Backoff.from_config(current_config()),
        random.uniform(-1, 1),
        error,
    )
    if verdict.state is JobState.FAILED:
        update_job(
            job.seq,
            t,
            state=verdict.state.value,
            next_attempt_at=t + verdict.delay,
            exit_code=exit_code,
            last_error=verdict.error,
        )
        return verdict.state.value, True
    update_job(job.seq, t, state=verdict.state.value, finished_at=t, exit_code=exit_code, last_error=verdict.error)
    return verdict.state.value, job.has_dependents and dependencies.job_ended(job.seq, t)


@dataclass(frozen=True)
class Cancelled:
    job: JobView
    #: the running command's process group and host, when the job was running
    pgid: int | None
    host: str | None


@guarded
def cancel(job_id: str) -> Cancelled:
    """pending/blocked/failed/processing -> cancelled (and dependents that needed it, too).
    The caller kills a local process group; a remote worker notices at its next heartbeat or
    wake-up."""
    t = now()
    with db.atomic():
        job = find_job(job_id)
        if job.state in _FINISHED:
            raise InvalidState(f"job {job_id!r} is {job.state}; only unfinished jobs can be cancelled")
        running = None
        if job.state == P:
            running = (
                Attempt.select()
                .where((Attempt.job == job.seq) & Attempt.finished_at.is_null())
                .order_by(Attempt.number.desc())
                .first()
            )
            if running is not None:
                Attempt.update(finished_at=t, error="cancelled").where(Attempt.id == running.id).execute()
        update_job(
            job.seq, t, state=JobState.CANCELLED.value, finished_at=t, next_attempt_at=None, last_error="cancelled"
        )
        if job.has_dependents:
            dependencies.job_ended(job.seq, t)
    wake_workers()  # a running job's owner checks it and kills it; dependents may run
    wake_watchers()
    return Cancelled(job_view(job_id), running.pgid if running else None, running.host if running else None)


@guarded
def retry(job_ids: list[str] | None = None, only_state: str | None = None, with_dependents: bool = False) -> list[str]:
    """Finished (completed, dead, cancelled) -> pending, attempts reset, history kept; a job
    with dependencies waits for them again.  job_ids None: every job in only_state.
    with_dependents: the cancelled jobs downstream of them (transitively) are retried too, so
    that fixing one step of a build runs its later steps again; returned after the others."""
    from peewee import IntegrityError

    t = now()
    allowed = {only_state} if only_state else _FINISHED
    with db.atomic():
        if job_ids is None:
            targets = list(Job.select(Job.seq, Job.id, Job.state).where(Job.state.in_(sorted(allowed))).tuples())
        else:
            found = {}
            for piece in chunks(list(dict.fromkeys(job_ids))):
                found.update(
                    (row[1], row) for row in Job.select(Job.seq, Job.id, Job.state).where(Job.id.in_(piece)).tuples()
                )
            missing = [job_id for job_id in job_ids if job_id not in found]
            if missing:
                raise NotFound(f"no job {missing[0]!r}")
            targets = [found[job_id] for job_id in dict.fromkeys(job_ids)]
        for _, job_id, state in targets:
            if state not in allowed:
                wanted = only_state or "completed, dead or cancelled"
                raise InvalidState(f"job {job_id!r} is {state}, not {wanted}")
        if with_dependents:
            named = {seq for seq, _, _ in targets}
            downstream = dependencies.cancelled_downstream(sorted(named))
            targets += [(seq, job_id, JobState.CANCELLED.value) for seq, job_id in downstream if seq not in named]
        seqs = [seq for seq, _, _ in targets]
        try:
            for piece in chunks(seqs):
                Job.update(
                    state=JobState.PENDING.value,
                    attempts=0,
                    next_attempt_at=t,
                    updated_at=t,
                    paused=False,
                    finished_at=None,
                    worker_id=None,
                    lease_expires_at=None,
                ).where(Job.seq.in_(piece)).execute()
        except IntegrityError:
            raise InvalidState("another unfinished job holds the same unique_key") from None
        waiting = set()
        for piece in chunks(seqs):
            waiting |= {
                s
                for (s,) in sql(
                    "SELECT DISTINCT job_seq FROM dependency WHERE job_seq IN ({})".format(
                        ", ".join(["{p}"] * len(piece))
                    ),
                    *piece,
                ).fetchall()
            }
        for seq in sorted(waiting):
            update_job(seq, t, state=JobState.BLOCKED.value)
            if dependencies.settle(seq, t):
                dependencies.job_ended(seq, t)
    if targets:
        wake_workers()
    return [job_id for _, job_id, _ in targets]


@guarded
def cancelled_dependents(job_ids: list[str]) -> list[str]:
    """The cancelled jobs downstream of these (transitively): what a retry without
    with_dependents leaves cancelled."""
    seqs = []
    for piece in chunks(list(job_ids)):
        seqs += [seq for (seq,) in Job.select(Job.seq).where(Job.id.in_(piece)).tuples()]
    return [job_id for _, job_id in dependencies.cancelled_downstream(seqs)]


def retry_dead(job_id: str | None = None, with_dependents: bool = False) -> list[str]:
    """dead -> pending: one job, or every dead job when job_id is None (the DLQ's retry)."""
    return retry(None if job_id is None else [job_id], only_state=JobState.DEAD.value, with_dependents=with_dependents)


@guarded
def set_priority(job_id: str, priority: int) -> None:
    """Change the priority of a job that has not started (pending, blocked, or failed)."""
    validate_priority(priority)
    t = now()
    with db.atomic():
        job = find_job(job_id)
        if job.state not in (JobState.PENDING.value, JobState.BLOCKED.value, JobState.FAILED.value):
            raise InvalidState(f"job {job_id!r} is {job.state}; only waiting jobs can change priority")
        update_job(job.seq, t, priority=priority)
    wake_workers()


@guarded
def set_paused(job_id: str, paused: bool) -> JobView:
    """Pause or resume an unfinished job.  Waiting (pending, blocked, failed): it is not
    claimed while paused.  Running: its worker stops (SIGSTOP) or continues (SIGCONT) its
    process group at its next heartbeat, which the wake-up sent here makes come soon; the lease
    goes on being renewed, so a paused job is never taken for lost."""
    t = now()
    with db.atomic():
        job = find_job(job_id)
        verb = "paused" if paused else "resumed"
        if job.state in _FINISHED:
            raise InvalidState(f"job {job_id!r} is {job.state}; only unfinished jobs can be {verb}")
        if bool(job.paused) == paused:
            raise InvalidState(f"job {job_id!r} is {'paused already' if paused else 'not paused'}")
        Job.update(paused=paused, updated_at=t).where(Job.seq == job.seq).execute()
    wake_workers()  # a runnable job again, or a running job's worker to act on it
    return job_view(job_id)


#: the states in which a job waits to run: an edit changes only these
WAITING = (JobState.PENDING.value, JobState.BLOCKED.value, JobState.FAILED.value)


@guarded
def edit_job(
    job_id: str,
    changes: dict,
    states: tuple[str, ...] = WAITING,
    then_retry: bool = False,
    with_dependents: bool = False,
) -> JobView:
    """Change fields of a job in one of these states (spec.validate_changes checked them), in
    one transaction that reads its state first: a job that started meanwhile is refused whole.
    then_retry: a finished job edited and sent back to pending in the same transaction (with
    its cancelled dependents: see retry)."""
    t = now()
    columns = dict(changes)
    for name in ("env", "labels", "resources"):
        if name in columns:
            columns[name] = (
                json.dumps(list(columns[name]) if name == "labels" else columns[name]) if columns[name] else None
            )
    with db.atomic():
        job = find_job(job_id)
        if job.state not in states:
            raise not_editable(job_id, job.state, states)
        if then_retry:
            retry([job_id], with_dependents=with_dependents)
            job = find_job(job_id)
        if "run_at" in columns:
            columns["run_at"] = t if columns["run_at"] is None else columns["run_at"]
            if job.state != JobState.BLOCKED.value:  # a blocked job's turn comes when it is unblocked
                columns["next_attempt_at"] = columns["run_at"]
        if columns:
            Job.update(updated_at=t, **columns).where(Job.seq == job.seq).execute()
    wake_workers()
    return job_view(job_id)


def not_editable(job_id: str, state: str, states: tuple[str, ...]) -> InvalidState:
    """The refusal of an edit of a job in `state` (only `states` may be edited)."""
    names = ", ".join(states[:-1]) + " or " + states[-1] if len(states) > 1 else states[0]
    return InvalidState(f"job {job_id!r} is {state}; only {names} jobs can be edited")


@guarded
def delete_job(job_id: str) -> None:
    """Remove a finished job, its attempts and its log files."""
    with db.atomic():
        job = find_job(job_id)
        if job.state not in _FINISHED:
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
            Attempt.select()
            .where((Attempt.job == job.seq) & Attempt.finished_at.is_null())
            .order_by(Attempt.number.desc())
            .first()
        )
        if attempt is not None:
            Attempt.update(finished_at=t, error=reason).where(Attempt.id == attempt.id).execute()
            if attempt.pgid:
                pgids.append(attempt.pgid)
        fail(job, reason, None, t)
    return pgids
