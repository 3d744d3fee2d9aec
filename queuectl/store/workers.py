"""Worker registration, heartbeats, stop requests and the recovery of jobs whose worker is gone."""
from __future__ import annotations

from dataclasses import dataclass

from ..models import Attempt, Job, JobState, Worker, db
from .cached import current_config
from .connection import guarded, now, wake_workers
from .jobs import fail_lost_attempts
from .views import Claim, WorkerView

#: how often a worker reports that it is alive (and extends the lease of its running job)
HEARTBEAT_SECONDS = 1.0
#: a worker silent for longer is not counted as live
LIVENESS_SECONDS = 5.0


@guarded
def register_worker(worker_id: str, host: str, pid: int, supervisor_pid: int | None) -> None:
    t = now()
    with db.atomic():
        Worker.delete().where(Worker.id == worker_id).execute()
        Worker.insert(
            id=worker_id, host=host, pid=pid, supervisor_pid=supervisor_pid,
            started_at=t, heartbeat_at=t, state="idle",
        ).execute()  # fmt: skip


@dataclass(frozen=True)
class Heartbeat:
    stop_requested: bool
    #: False when the job this worker runs was cancelled or taken away (its lease ran out)
    owns_job: bool


@guarded
def heartbeat(worker_id: str, claim: Claim | None = None, pgid: int | None = None) -> Heartbeat:
    """I am alive (and running `claim` as process group `pgid`): refresh the worker row and
    the job's lease, and note the process group so the job can be killed from outside."""
    t = now()
    with db.atomic():
        state, job_id = ("busy", claim.id) if claim else ("idle", None)
        updated = Worker.update(heartbeat_at=t, state=state, current_job=job_id).where(Worker.id == worker_id).execute()
        stop = Worker.select(Worker.stop_requested).where(Worker.id == worker_id).scalar()
        owns = True
        if claim is not None:
            lease = current_config()["lease_seconds"]
            mine = (Job.seq == claim.seq) & (Job.state == JobState.PROCESSING.value) & (Job.worker_id == worker_id)
            owns = bool(Job.update(lease_expires_at=t + lease).where(mine).execute())
            if pgid is not None:
                Attempt.update(pgid=pgid).where((Attempt.id == claim.attempt_id) & Attempt.pgid.is_null()).execute()
    # a worker whose row was removed (declared dead while it was frozen) must stop
    return Heartbeat(stop_requested=bool(stop) or not updated, owns_job=owns)


@guarded
def unregister_worker(worker_id: str) -> None:
    with db.atomic():
        Worker.delete().where(Worker.id == worker_id).execute()


@guarded
def request_stop(host: str | None = None) -> list[WorkerView]:
    """Ask every registered worker (or those of one host) to finish its job and exit."""
    with db.atomic():
        where = Worker.host == host if host else Worker.id.is_null(False)
        Worker.update(stop_requested=True).where(where).execute()
        asked = [WorkerView.from_row(r) for r in Worker.select().where(where).dicts()]
    wake_workers()
    return asked


@guarded
def list_workers(live_only: bool = True) -> list[WorkerView]:
    query = Worker.select().order_by(Worker.host, Worker.started_at)
    if live_only:
        query = query.where(Worker.heartbeat_at >= now() - LIVENESS_SECONDS)
    return [WorkerView.from_row(r) for r in query.dicts()]


@guarded
def live_worker_count() -> int:
    return Worker.select().where(Worker.heartbeat_at >= now() - LIVENESS_SECONDS).count()


@guarded
def recover_worker(worker_id: str, reason: str) -> list[int]:
    """The worker is known to be dead: fail its running attempt now and forget it.

    Returns the process groups of its job commands, for the caller to kill.
    """
    with db.atomic():
        pgids = fail_lost_attempts(Job.worker_id == worker_id, reason)
        Worker.delete().where(Worker.id == worker_id).execute()
    wake_workers()
    return pgids


@guarded
def recover_expired() -> int:
    """Jobs whose lease ran out (their worker stopped heartbeating, on any host) fail their
    attempt; silent workers are forgotten.  Returns how many jobs were recovered.

    Leases are judged against the newest heartbeat of any worker, not the clock alone: when the
    store was locked for longer than a lease, nobody could heartbeat, and the first writer after
    the lock must not take the jobs of workers that were alive all along."""
    from peewee import fn

    t = now()
    with db.atomic():
        lease = current_config()["lease_seconds"]
        newest = Worker.select(fn.MAX(Worker.heartbeat_at)).scalar()
        reference = t if newest is None else min(t, newest)
        expired = Job.lease_expires_at < reference
        n = Job.select().where((Job.state == JobState.PROCESSING.value) & expired).count()
        if n:
            fail_lost_attempts(expired, "lost: its worker stopped sending heartbeats (lease expired)")
        Worker.delete().where(Worker.heartbeat_at < reference - max(lease, LIVENESS_SECONDS)).execute()
    if n:
        wake_workers()
    return n


@guarded
def workers_of_host(host: str) -> list[WorkerView]:
    query = Worker.select().where(Worker.host == host)
    return [WorkerView.from_row(r) for r in query.dicts()]
