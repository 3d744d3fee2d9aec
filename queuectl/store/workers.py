"""Worker registration, heartbeats, stop requests and the recovery of jobs whose worker is gone."""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..models import Attempt, Job, JobState, Worker, db
from . import counters, hosts, sqltext
from .cached import current_config
from .claims import record_starts
from .connection import elapsed_clock, guarded, now, wake_workers
from .hosts import LIVENESS_SECONDS
from .views import Claim, WorkerView

P = JobState.PROCESSING.value

#: how often a worker reports that it is alive (and extends the leases of its running jobs)
HEARTBEAT_SECONDS = 1.0
#: the state of a worker asked to stop through the store, from the request until it has stopped
STOPPING = "stopping"


def _view(row: dict, busy: int | None = None) -> WorkerView:
    return WorkerView.from_row(dict(row, busy=busy))


@guarded
def register_worker(
    worker_id: str, host: str, pid: int, supervisor_pid: int | None, slots: int = 1, offer: dict | None = None
) -> None:
    """A worker process starts (or starts again); `offer`: what its host offers jobs that ask
    for resources (resources.host_offer), kept in the host's row."""
    t = now()
    with db.atomic():
        Worker.delete().where(Worker.id == worker_id).execute()
        Worker.insert(
            id=worker_id,
            host=host,
            pid=pid,
            supervisor_pid=supervisor_pid,
            started_at=t,
            heartbeat_at=t,
            state="idle",
            slots=slots,
            version=hosts.queuectl_version(),
        ).execute()
        hosts.host_seen(host, t, offer)


@dataclass(frozen=True)
class Heartbeat:
    stop_requested: bool
    #: attempt ids of the runs that are no longer this worker's (cancelled, or taken away
    #: after their lease ran out: their attempt was closed): their commands must be killed
    lost: frozenset[int] = frozenset()
    #: seqs of the running jobs paused by `queuectl pause`: their process groups are stopped
    paused: frozenset[int] = frozenset()

    def owns(self, claim: Claim) -> bool:
        return claim.attempt_id not in self.lost


@guarded
def heartbeat(
    worker_id: str,
    running: Sequence[Claim] = (),
    pgids: Mapping[int, int] | None = None,
    stopping: bool = False,
    started: Sequence[tuple[Claim, float]] = (),
) -> Heartbeat:
    """I am alive, running these jobs: refresh the worker row and every running job's lease
    (one statement for all), and note new process groups (attempt id -> pgid) so that those
    jobs can be killed from outside, and the real start of held jobs that started since
    (claims.record_starts).  `stopping`: the worker was told to stop by a signal (Ctrl+C,
    SIGTERM), so it reads `stopping` as one told through the store does."""
    from peewee import Case

    from .config import current_config
    from .statements import chunks

    t = now()
    with db.atomic():
        state, job_id = ("busy", running[-1].id) if running else ("idle", None)
        state = STOPPING if stopping else Case(None, [(Worker.stop_requested, STOPPING)], state)  # (until it has)
        updated = Worker.update(heartbeat_at=t, state=state, current_job=job_id).where(Worker.id == worker_id).execute()
        stop = Worker.select(Worker.stop_requested).where(Worker.id == worker_id).scalar()
        renewed: set[int] = set()
        paused: set[int] = set()
        open_: set[int] = set()
        lease = current_config()["lease_seconds"]
        for piece in chunks(list(running)):
            mine = (
                Job.seq.in_([c.seq for c in piece])
                & (Job.state == JobState.PROCESSING.value)
                & (Job.worker_id == worker_id)
            )
            for seq, is_paused in (
                Job.update(lease_expires_at=t + lease).where(mine).returning(Job.seq, Job.paused).tuples()
            ):
                renewed.add(seq)
                if is_paused:
                    paused.add(seq)
            still_open = Attempt.id.in_([c.attempt_id for c in piece]) & Attempt.finished_at.is_null()
            open_.update(attempt_id for (attempt_id,) in Attempt.select(Attempt.id).where(still_open).tuples())
        for attempt_id, pgid in (pgids or {}).items():
            Attempt.update(pgid=pgid).where((Attempt.id == attempt_id) & Attempt.pgid.is_null()).execute()
        record_starts(list(started), worker_id)
    # a worker whose row was removed (declared dead while it was frozen) must stop
    # a run is this worker's while its job is and its attempt is still open (see claims._finish)
    return Heartbeat(
        stop_requested=bool(stop) or not updated,
        lost=frozenset(c.attempt_id for c in running if c.seq not in renewed or c.attempt_id not in open_),
        paused=frozenset(paused),
    )


@guarded
def unregister_worker(worker_id: str) -> None:
    with db.atomic():
        _forget([worker_id], lost=False)


@guarded
def request_stop(host: str | None = None, worker_id: str | None = None, now: bool = False) -> list[WorkerView]:
    """Ask every registered worker (or those of one host, or one worker) to finish its job and
    exit; each reads `stopping` until it has.  now: without finishing: their running attempts
    fail at once (the jobs are retried, or go to the DLQ when out of retries) and each worker
    kills those commands at its next heartbeat, as it does for a job cancelled from any host."""
    where = Worker.id.is_null(False)
    if host:
        where &= Worker.host == host
    if worker_id:
        where &= Worker.id == worker_id
    with db.atomic():
        Worker.update(stop_requested=True, state=STOPPING).where(where).execute()
        asked = [_view(r) for r in Worker.select().where(where).dicts()]
        if now and asked:
            from .jobs import fail_lost_attempts

            fail_lost_attempts(Job.worker_id.in_([w.id for w in asked]), "killed: its worker was stopped")
    wake_workers()
    return asked


@guarded
def list_workers(live_only: bool = True) -> list[WorkerView]:
    """Worker processes, with their slots and how many of them run a job."""

    query = Worker.select().order_by(Worker.host, Worker.started_at)
    if live_only:
        query = query.where(Worker.heartbeat_at >= now() - LIVENESS_SECONDS)
    workers = list(query.dicts())
    busy = hosts.running_per_worker() if workers else {}
    return [_view(r, busy.get(r["id"], 0)) for r in workers]


@guarded
def live_worker_count() -> int:
    return db.execute_sql(sqltext.LIVE_WORKERS.format(p=db.param), (now() - LIVENESS_SECONDS,)).fetchone()[0]


@guarded
def recover_worker(worker_id: str, reason: str) -> list[int]:
    """The worker is known to be dead: fail its running attempt now and forget it.

    Returns the process groups of its job commands, for the caller to kill.
    """
    with db.atomic():
        from .jobs import fail_lost_attempts  # (not at the top: `status` needs this module, not jobs)

        pgids = fail_lost_attempts(Job.worker_id == worker_id, reason)
        _forget([worker_id], lost=True)
    wake_workers()
    return pgids


class _Silence:
    """How long, on this process's steady clock, each watched value has stood unchanged.

    Leases are judged by watching them, not by comparing their times with a clock: a lease is
    lost when it has not been renewed for lease_seconds of the observer's own monotonic time.
    Clocks that disagree, or a wall clock stepped forward, cannot make a live worker look dead,
    and a long lock (nobody could renew) is not mistaken for silence, since the observer waits a
    whole lease of its own successful heartbeats first (worker._may_recover)."""

    def __init__(self) -> None:
        self._since: dict = {}

    def silent_for(self, values: dict) -> dict:
        t = elapsed_clock()
        self._since = {
            key: (value, since if prior == value else t)
            for key, value in values.items()
            for prior, since in [self._since.get(key, (None, t))]
        }
        return {key: t - since for key, (value, since) in self._since.items()}


_leases = _Silence()
_heartbeats = _Silence()


@guarded
def recover_expired() -> int:
    """Jobs whose lease was not renewed for a whole lease (their worker stopped heartbeating, on
    any host) fail their attempt; workers silent as long are forgotten.  The first call of a
    process only starts watching.  Returns how many jobs were recovered."""
    with db.atomic():
        lease = current_config()["lease_seconds"]
        fields = (Job.worker_id, Job.attempts, Job.lease_expires_at)
        running = {seq: tuple(rest) for seq, *rest in Job.select(Job.seq, *fields).where(Job.state == P).tuples()}
        lost = [seq for seq, seconds in _leases.silent_for(running).items() if seconds >= lease]
        if lost:
            # only if still the very lease that was watched (PostgreSQL: a heartbeat may have
            # committed since it was read)
            unrenewed = functools.reduce(
                operator.or_,
                (
                    (Job.seq == seq) & functools.reduce(operator.and_, (f == v for f, v in zip(fields, running[seq])))
                    for seq in lost
                ),
            )
            counters.add("leases_expired", Job.select().where((Job.state == P) & unrenewed).count())
            from .jobs import fail_lost_attempts

            fail_lost_attempts(unrenewed, "lost: its worker stopped sending heartbeats (lease expired)")
        beats = dict(Worker.select(Worker.id, Worker.heartbeat_at).tuples())
        quiet = [w for w, seconds in _heartbeats.silent_for(beats).items() if seconds >= max(lease, LIVENESS_SECONDS)]
        if quiet:
            _forget(quiet, lost=True)
    if lost:
        wake_workers()
    return len(lost)


def _forget(worker_ids: list[str], lost: bool) -> None:
    """Delete these workers' rows (inside the caller's transaction); their hosts remember them."""
    gone = list(Worker.select(Worker.host, Worker.heartbeat_at).where(Worker.id.in_(worker_ids)).tuples())
    Worker.delete().where(Worker.id.in_(worker_ids)).execute()
    hosts.workers_gone(gone, now(), lost)


@guarded
def workers_of_host(host: str) -> list[WorkerView]:
    query = Worker.select().where(Worker.host == host)
    return [_view(r) for r in query.dicts()]
