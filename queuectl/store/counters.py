"""Durable figures for the metrics exporter, read as of one moment per scrape (one transaction,
one snapshot: dialect.read_snapshot).

Counters live in the metric_count table: the job triggers (the dialects' metric_triggers) count
finished jobs and the outcome of each run, and fill the duration and wait histograms, in the
transaction that changes the job; lease expiries are added by the recovery that fails the lost
attempt.  Deleting jobs (prune, retention, dlq purge) never lowers them, so they are true
Prometheus counters across restarts of every process.  Nothing here scans the job table:
counts come from job_count, ages from one index lookup per queue, workers from the worker
table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Job, MetricCount, db
from ..states import CLAIMABLE_STATES, JobState, sql_literals
from . import dialect
from .connection import guarded, now


def add(name: str, n: int) -> None:
    """Add n to a counter without labels (inside the caller's transaction)."""
    if n:
        (
            MetricCount.insert(name=name, queue="", label="", shard=0, n=n, total=0.0)
            .on_conflict(
                conflict_target=[MetricCount.name, MetricCount.queue, MetricCount.label, MetricCount.shard],
                update={MetricCount.n: MetricCount.n + n},
            )
            .execute()
        )


@dataclass
class Figures:
    """One scrape's worth of the store: every figure the exporter reports."""

    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, state) -> jobs
    #: (name, queue, label) -> (count, sum): counters and histogram buckets (not cumulative)
    counts: dict[tuple[str, str, str], tuple[int, float]] = field(default_factory=dict)
    oldest_ready_age: dict[str, float] = field(default_factory=dict)  # queue -> seconds (0: none ready)
    workers: dict[tuple[str, str], int] = field(default_factory=dict)  # (host, state) -> workers
    slots: dict[tuple[str, str], int] = field(default_factory=dict)  # (host, busy|idle) -> slots
    #: every queue and host the store knows (the default queue, those with controls; the hosts
    #: `host list` shows), so that each has its series even when all of them read 0
    queues: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)


@guarded
def figures() -> Figures:
    from .hosts import FORGET_SECONDS, LIVENESS_SECONDS

    t = now()
    out = Figures(queues={Job.queue.default})
    with db.atomic(**dialect.current().read_snapshot):
        for queue, state, n in db.execute_sql("SELECT queue, state, SUM(n) FROM job_count GROUP BY queue, state"):
            out.jobs[(queue, state)] = int(n or 0)
        rows = db.execute_sql(
            "SELECT name, queue, label, SUM(n), SUM(total) FROM metric_count GROUP BY name, queue, label"
        )
        for name, queue, label, n, total in rows:
            out.counts[(name, queue, label)] = (int(n or 0), float(total or 0.0))
        waiting = sorted({queue for (queue, state), n in out.jobs.items() if n and state in CLAIMABLE_STATES})
        for queue in waiting:  # the job_queue_due index: one lookup per queue
            (due,) = db.execute_sql(
                f"SELECT MIN(next_attempt_at) FROM job WHERE state IN ({sql_literals(*CLAIMABLE_STATES)}) AND queue = {db.param}",
                (queue,),
            ).fetchone()
            out.oldest_ready_age[queue] = max(0.0, t - due) if due is not None else 0.0
        for queue in {queue for queue, _ in out.jobs} - set(waiting):
            out.oldest_ready_age[queue] = 0.0
        out.queues.update(name for (name,) in db.execute_sql("SELECT name FROM queue"))
        out.hosts.update(
            name
            for (name,) in db.execute_sql(
                f"SELECT name FROM host WHERE last_heartbeat_at >= {db.param}", (t - FORGET_SECONDS,)
            )
        )
        workers = db.execute_sql("SELECT id, host, state, slots, heartbeat_at FROM worker").fetchall()
        busy = (
            dict(
                db.execute_sql(
                    f"SELECT worker_id, COUNT(*) FROM job WHERE state = {sql_literals(JobState.PROCESSING)} "
                    "GROUP BY worker_id"
                ).fetchall()
            )
            if workers
            else {}
        )
    out.queues.update(queue for queue, _ in out.jobs)
    out.queues.update(queue for _, queue, _ in out.counts if queue)
    for worker_id, host, state, slots, beat in workers:
        out.hosts.add(host)
        live = beat >= t - LIVENESS_SECONDS
        key = (host, state if live else "lost")
        out.workers[key] = out.workers.get(key, 0) + 1
        if live:
            used = min(int(busy.get(worker_id, 0)), slots)
            for kind, n in (("busy", used), ("idle", slots - used)):
                out.slots[(host, kind)] = out.slots.get((host, kind), 0) + n
    return out
