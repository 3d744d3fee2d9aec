"""The last hour, minute by minute (or another window, in other buckets): what the dashboard's
Metrics charts show.

Every figure comes from the job table through the (state, finished_at) index, so its cost is
that of the last hour's finished jobs, not of the store:
- completions: jobs completed in each minute; failures: jobs that failed an attempt in it (dead
  ones by finished_at; those waiting for a retry by their last update, a small set), so a job that
  failed twice in the hour counts once, at its latest failure;
- runtime (start -> end) of the jobs that ended in each minute, p50 and p95;
- queue wait (enqueue, or the time it was scheduled for, -> start) of first attempts that
  started in each minute, p50 and p95.
Percentiles read at most SAMPLE of the most recent jobs (exact below SAMPLE jobs an hour, about
5 a second); the counts per minute are always exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from peewee import fn

from ..models import Job, JobState
from .connection import guarded, now

#: at most this many recent jobs are read for the percentiles
SAMPLE = 20_000

_ENDED = (JobState.COMPLETED.value, JobState.DEAD.value)


@dataclass(frozen=True)
class Series:
    """Per minute, oldest first (index minutes-1 is the minute now ends)."""

    minutes: int  # the number of buckets
    completed: list[int]
    failed: list[int]
    wait_p50: list[float | None]
    wait_p95: list[float | None]
    runtime_p50: list[float | None]
    runtime_p95: list[float | None]
    #: seconds per bucket
    bucket_s: int = 60
    #: over the whole window (of the sampled jobs): (p50, p95) of the queue wait and of the runtime
    wait: tuple[float | None, float | None] = (None, None)
    runtime: tuple[float | None, float | None] = (None, None)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of values (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


@guarded
def last_ended_span(within: float) -> float | None:
    """Seconds since the oldest job that ended (completed or dead) within the last `within`
    seconds, or None when none did: how wide a window the charts need (the index's first entry
    of each state)."""
    t = now()
    oldest = Job.select(fn.MIN(Job.finished_at)).where(Job.state.in_(_ENDED) & (Job.finished_at > t - within)).scalar()
    return None if oldest is None else max(0.0, t - oldest)


@guarded
def last_hour(minutes: int = 60, bucket_s: int = 60) -> Series:
    """`minutes` buckets of `bucket_s` seconds each, ending now (by default the last hour)."""
    t = now()
    start = t - minutes * bucket_s

    def minute(ts: float) -> int | None:
        b = int((ts - start) // bucket_s)
        return b if 0 <= b < minutes else None

    completed, failed = [0] * minutes, [0] * minutes
    waits: list[list[float]] = [[] for _ in range(minutes)]
    runtimes: list[list[float]] = [[] for _ in range(minutes)]
    ended = (
        Job.select(Job.state, Job.finished_at, Job.started_at, Job.run_at, Job.attempts)
        .where(Job.state.in_(_ENDED) & (Job.finished_at > start))
        .order_by(Job.finished_at.desc())
        .limit(SAMPLE)
        .tuples()
    )
    for _state, finished, started, run_at, attempts in ended:
        b = minute(finished)
        if b is None:
            continue
        if started is not None and finished >= started:
            runtimes[b].append(finished - started)
        if started is not None and attempts == 1 and minute(started) is not None:
            waits[minute(started)].append(max(0.0, started - run_at))
    # exact counts per minute, whatever the sample held
    # whole seconds, then integer division: the same on both backends (PostgreSQL rounds a
    # float cast, SQLite truncates; at most half a second moves across a minute's edge)
    bucket = (Job.finished_at - start).cast("INTEGER") / bucket_s
    counted = (
        Job.select(Job.state, bucket.alias("b"), fn.COUNT(Job.seq))
        .where(Job.state.in_(_ENDED) & (Job.finished_at > start) & (Job.finished_at <= t))
        .group_by(Job.state, bucket)
        .tuples()
    )
    for state, b, n in counted:
        (completed if state == JobState.COMPLETED.value else failed)[min(minutes - 1, int(b))] += n
    retrying = Job.select(Job.updated_at, Job.started_at, Job.run_at, Job.attempts).where(
        (Job.state == JobState.FAILED.value) & (Job.updated_at > start)
    )
    running = Job.select(Job.started_at, Job.run_at).where(
        (Job.state == JobState.PROCESSING.value) & (Job.attempts == 1) & (Job.started_at > start)
    )
    for updated, started, run_at, attempts in retrying.limit(SAMPLE).tuples():
        if minute(updated) is not None:
            failed[minute(updated)] += 1
        if started is not None and attempts == 1 and minute(started) is not None:
            waits[minute(started)].append(max(0.0, started - run_at))
    for started, run_at in running.limit(SAMPLE).tuples():
        if minute(started) is not None:
            waits[minute(started)].append(max(0.0, started - run_at))
    every_wait = [w for bucket in waits for w in bucket]
    every_runtime = [r for bucket in runtimes for r in bucket]
    return Series(
        minutes,
        completed,
        failed,
        [percentile(w, 0.5) for w in waits],
        [percentile(w, 0.95) for w in waits],
        [percentile(r, 0.5) for r in runtimes],
        [percentile(r, 0.95) for r in runtimes],
        bucket_s,
        (percentile(every_wait, 0.5), percentile(every_wait, 0.95)),
        (percentile(every_runtime, 0.5), percentile(every_runtime, 0.95)),
    )
