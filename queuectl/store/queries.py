"""Reads: single jobs, listings, counts and metrics, each served by an index (see models)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from peewee import SQL, fn

from ..errors import NotFound
from ..models import Attempt, Job, JobState, db
from ..states import ACTIVE_STATES, CLAIMABLE_STATES, sql_literals
from . import dialect, sqltext
from .connection import guarded, now
from .dependencies import ids_of
from .statements import chunks, job_fields, job_view, job_views, sql
from .views import AttemptView, JobFilter, JobView, Metrics
from .workers import live_worker_count

#: how many of the most recent completions the runtime figures are computed over
RUNTIME_SAMPLE = 10_000

get_job = guarded(job_view)


@guarded
def list_jobs(
    state: str | Sequence[str] | None = None,
    limit: int | None = 50,
    before_seq: int | None = None,
    search: str | None = None,
    oldest_first: bool = False,
    queue: str | None = None,
    where: JobFilter | None = None,
) -> list[JobView]:
    """Jobs newest first (or oldest first), keyset-paged by seq so deep pages stay cheap;
    state: one state or several."""
    if not (before_seq is not None or search or oldest_first or where or queue) and limit is not None:
        states = [state] if isinstance(state, str) else list(state or ())  # (the quick path's statement: sqltext)
        statement = sqltext.list_jobs(db.param, tuple(JobView.__dataclass_fields__), len(states))
        cursor = db.execute_sql(statement, (*states, limit))
        names = [column[0] for column in cursor.description]
        return [JobView.from_row(dict(zip(names, row))) for row in cursor.fetchall()]
    query = _matching(job_fields(), state, search, JobFilter(queue=queue) if where is None and queue else where)
    if before_seq is not None:
        query = query.where(Job.seq > before_seq if oldest_first else Job.seq < before_seq)
    query = query.order_by(Job.seq.asc() if oldest_first else Job.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    return job_views(query)


#: (relation, the dependency column naming the other job, the one naming this job)
_LINKS = (("needs", "depends_on_seq", "job_seq"), ("needed by", "job_seq", "depends_on_seq"))


def _matching(query, state: str | Sequence[str] | None, search: str | None, where: JobFilter | None):
    if isinstance(state, str):
        query = query.where(Job.state == state)
    elif state:
        query = query.where(Job.state.in_(list(state)))
    if search:
        query = query.where(Job.id.contains(search) | Job.command.contains(search))
    if not where:
        return query
    if where.queue:
        query = query.where(Job.queue == where.queue)
    if where.min_priority is not None:
        query = query.where(Job.priority > where.min_priority)
    if where.max_priority is not None:
        query = query.where(Job.priority < where.max_priority)
    if where.error:
        query = query.where(Job.last_error.contains(where.error))
    if where.label:
        query = query.where(Job.labels.contains(f'"{where.label}"'))  # labels hold no quotes (spec)
    if where.worker or where.host:
        ran = Attempt.select(Attempt.id).where(Attempt.job == Job.seq)
        if where.worker:
            ran = ran.where(Attempt.worker_id.contains(where.worker))
        if where.host:
            ran = ran.where(Attempt.host == where.host)
        query = query.where(fn.EXISTS(ran))
    return query


@guarded
def count_matching(state: str | None, search: str | None, where: JobFilter | None, cap: int) -> int:
    """How many jobs a filtered listing holds, counted up to `cap` (the count of a rare term
    at a million jobs is a scan; the cap bounds the common case)."""
    matched = _matching(Job.select(Job.seq), state, search, where).limit(cap)
    return Job.select(fn.COUNT(SQL("1"))).from_(matched.alias("m")).scalar() or 0


@guarded
def ids_matching(states: Sequence[str] | None, where: JobFilter) -> list[str]:
    """The ids of the jobs in these states (None: any) that match, oldest first: what an
    operation by filter (`retry --label`, `cancel --label`) applies to."""
    return [job_id for (job_id,) in _matching(Job.select(Job.id), states, None, where).order_by(Job.seq).tuples()]


@guarded
def counts_matching(where: JobFilter) -> dict[str, int]:
    """Jobs per state among those that match (a scan of them, unlike counts())."""
    found = dict(_matching(Job.select(Job.state, fn.COUNT(Job.seq)), None, None, where).group_by(Job.state).tuples())
    return {s.value: int(found.get(s.value) or 0) for s in JobState}


@guarded
def paused_count(where: JobFilter | None = None) -> int:
    """Jobs paused and not finished (the partial index job_paused holds only paused ones)."""
    from ..states import FINISHED

    if not where:  # (the quick path's statement: sqltext)
        return db.execute_sql(sqltext.PAUSED_COUNT).fetchone()[0]
    return _matching(Job.select(), None, None, where).where(Job.paused & Job.state.not_in(list(FINISHED))).count()


@guarded
def unfinished_in_queue(queue: str) -> int:
    """The queue's jobs not finished yet (pending, blocked, processing, failed), from the
    trigger-kept counters: 0 means its last one just ended (the on_queue_drained hook)."""
    row = db.execute_sql(
        f"SELECT COALESCE(SUM(n), 0) FROM job_count WHERE queue = {db.param} AND state IN "
        f"({sql_literals(*ACTIVE_STATES)})",
        (queue,),
    ).fetchone()
    return int(row[0] or 0)


@guarded
def paused_queues() -> set[str]:
    from ..models import Queue

    return {name for (name,) in Queue.select(Queue.name).where(Queue.paused).tuples()}


@guarded
def linked_jobs(job_id: str, limit: int | None = None) -> tuple[list[JobView], list[JobView]]:
    """A job's dependencies and its dependents (at most `limit` of each), in one query."""
    columns = ", ".join(f"j.{name}" for name in JobView.__dataclass_fields__)
    cap = "" if limit is None else f" LIMIT {int(limit)}"
    branches = [
        f"SELECT * FROM (SELECT '{rel}' AS rel, {columns} FROM dependency d JOIN job j ON j.seq = d.{other} "
        f"WHERE d.{mine} = (SELECT seq FROM job WHERE id = {{p}}) ORDER BY j.seq{cap}) AS {mine}_side"
        for rel, other, mine in _LINKS
    ]
    cursor = sql(" UNION ALL ".join(branches), job_id, job_id)
    names = [d[0] for d in cursor.description]
    found: dict[str, list[JobView]] = {rel: [] for rel, _, _ in _LINKS}
    for row in cursor.fetchall():
        record = dict(zip(names, row))
        found[record["rel"]].append(JobView.from_row(record))
    return found["needs"], found["needed by"]


@guarded
def waiting_for(jobs: list[JobView]) -> dict[str, list[str]]:
    """For the blocked ones among these jobs, the ids of the dependencies that have not
    completed yet (what they wait for)."""
    blocked = {job.seq: job.id for job in jobs if job.state == JobState.BLOCKED.value}
    dependencies = ids_of("job", list(blocked))
    states = states_of([dep for ids in dependencies.values() for dep in ids])
    return {
        blocked[seq]: [dep for dep in ids if states.get(dep) != JobState.COMPLETED.value]
        for seq, ids in dependencies.items()
    }


@guarded
def counts() -> dict[str, int]:
    """Jobs per state, from the trigger-kept counters (no table scan)."""
    found = dict(db.execute_sql(sqltext.COUNTS).fetchall())
    return {s.value: int(found.get(s.value) or 0) for s in JobState}


@guarded
def attempts(job_id: str) -> list[AttemptView]:
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    query = Attempt.select().where(Attempt.job == job.seq).order_by(Attempt.number)
    return [AttemptView.from_row(row) for row in query.dicts()]


@guarded
def latest_attempts(seqs: list[int]) -> dict[int, AttemptView]:
    """Each of these jobs' latest attempt, by job seq (one query): `list --json`'s usage."""
    if not seqs:
        return {}
    from peewee import fn

    newest = (
        Attempt.select(Attempt.job.alias("s"), fn.MAX(Attempt.number).alias("n"))
        .where(Attempt.job.in_(seqs))
        .group_by(Attempt.job)
    )
    query = Attempt.select().join(newest, on=((Attempt.job == newest.c.s) & (Attempt.number == newest.c.n)))
    return {row["job"]: AttemptView.from_row(row) for row in query.dicts()}


@guarded
def next_due() -> float | None:
    """When the earliest waiting job (scheduled or retrying) becomes claimable."""
    row = db.execute_sql(
        f"SELECT next_attempt_at FROM job {dialect.current().due_index} "
        f"WHERE state IN ({sql_literals(*CLAIMABLE_STATES)}) "
        "AND NOT paused ORDER BY next_attempt_at LIMIT 1"
    ).fetchone()
    return row[0] if row else None


@guarded
def has_burst_work(queues: tuple[str, ...] = (), offer: dict | None = None) -> bool:
    """Work a `--burst` worker (of these queues, on a host offering `offer`) must wait for:
    running jobs, due pending jobs and retries to come; not the waiting jobs of a paused queue,
    which would never come, nor those asking for more than this host offers, which it could
    never run (another host may)."""
    from ..models import Queue
    from ..resources import Free

    paused = {name for (name,) in Queue.select(Queue.name).where(Queue.paused).tuples()}
    mine = (lambda queue: queue in queues) if queues else (lambda queue: True)
    counted = db.execute_sql(
        f"SELECT queue, SUM(n) FROM job_count WHERE state = {sql_literals(JobState.PROCESSING)} GROUP BY queue"
    ).fetchall()
    if any(n and mine(queue) for queue, n in counted):
        return True
    waiting = ((Job.state == JobState.PENDING.value) & (Job.next_attempt_at <= now())) | (
        Job.state == JobState.FAILED.value
    )
    waiting &= ~Job.paused
    if queues:
        waiting &= Job.queue.in_(queues)
    if paused:
        waiting &= Job.queue.not_in(sorted(paused))
    if Job.select(Job.seq).where(waiting & Job.resources.is_null()).exists():
        return True
    whole = Free(offer)
    asked = Job.select(Job.resources).where(waiting & Job.resources.is_null(False)).distinct().limit(1000)
    return any(not whole.short_of(json.loads(request)) for (request,) in asked.tuples())


@guarded
def metrics() -> Metrics:
    t = now()
    per_state = counts()
    completed = per_state[JobState.COMPLETED.value]
    dead = per_state[JobState.DEAD.value]
    done = Job.state == JobState.COMPLETED.value
    recent = (
        Job.select(Job.started_at, Job.finished_at)
        .where(done)
        .order_by(Job.finished_at.desc())
        .limit(RUNTIME_SAMPLE)
        .tuples()
    )
    runtimes = sorted(f - s for s, f in recent if s is not None and f is not None and f >= s)
    last_minute = Job.select().where(done & (Job.finished_at >= t - 60)).count()
    return Metrics(
        total=sum(per_state.values()),
        jobs=per_state,
        success_rate=round(completed / (completed + dead), 4) if completed + dead else None,
        avg_runtime_s=round(sum(runtimes) / len(runtimes), 4) if runtimes else None,
        p95_runtime_s=round(runtimes[max(0, math.ceil(0.95 * len(runtimes)) - 1)], 4) if runtimes else None,
        completed_last_minute=last_minute,
        workers=live_worker_count(),
    )


@guarded
def states_of(job_ids: list[str]) -> dict[str, str]:
    """The state of each of these jobs that exists (the dashboard's 'waits for' notes)."""
    found: dict[str, str] = {}
    for piece in chunks(sorted(set(job_ids))):
        found.update(Job.select(Job.id, Job.state).where(Job.id.in_(piece)).tuples())
    return found
