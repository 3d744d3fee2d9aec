"""The machines of a fleet: each host that ran workers, what they run now, and, once its workers
are gone, when it was lost (its workers went silent for a lease) or stopped (they unregistered).

Worker rows are deleted when their worker ends or is declared dead, so the host row keeps what
`host list` must still say afterwards.  It is written only when a worker registers, unregisters
or is forgotten, never on the heartbeat path.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Host, Job, JobState, Worker, db
from .connection import guarded, now
from .sqltext import LIVENESS_SECONDS

#: hosts whose workers have all been gone this long are no longer listed (and forgotten)
FORGET_SECONDS = 7 * 24 * 3600.0


def queuectl_version() -> str:
    from .. import __version__

    return __version__


def host_seen(host: str, t: float, offer: dict | None = None) -> None:
    """A worker of this host registered (inside the caller's transaction): it is up; `offer`:
    what it offers jobs (resources.py), when its worker said."""
    import json

    changes = dict(version=queuectl_version(), last_heartbeat_at=t, lost_at=None, stopped_at=None)
    if offer is not None:
        changes["resources"] = json.dumps(offer)
    updated = Host.update(**changes).where(Host.name == host).execute()
    if not updated:
        Host.insert(
            name=host,
            version=queuectl_version(),
            first_seen_at=t,
            last_heartbeat_at=t,
            resources=None if offer is None else json.dumps(offer),
        ).on_conflict_ignore().execute()
    Host.delete().where(Host.last_heartbeat_at < t - FORGET_SECONDS).execute()


def workers_gone(rows: list[tuple[str, float]], t: float, lost: bool) -> None:
    """Workers (host, last heartbeat) were deleted (inside the caller's transaction): a host
    left without workers is marked lost (they were declared dead) or stopped (they exited)."""
    newest: dict[str, float] = {}
    for host, beat in rows:
        newest[host] = max(beat, newest.get(host, beat))
    for host, beat in newest.items():
        known = Host.select(Host.last_heartbeat_at).where(Host.name == host).scalar() or beat
        changes = {Host.last_heartbeat_at: max(known, beat)}
        if not Worker.select().where(Worker.host == host).exists():
            changes[Host.lost_at if lost else Host.stopped_at] = t
        Host.update(changes).where(Host.name == host).execute()


@dataclass(frozen=True)
class HostView:
    name: str
    state: str  # up | lost | stopped
    workers: int
    slots: int
    busy: int  # slots running a job
    running: int  # jobs in processing whose worker is on this host
    heartbeat_at: float | None  # the newest heartbeat of any of its workers
    version: str | None
    since: float | None  # lost or stopped: since when

    def as_dict(self) -> dict:
        from .views import iso

        return {
            "host": self.name,
            "state": self.state,
            "workers": self.workers,
            "slots": self.slots,
            "busy": self.busy,
            "running": self.running,
            "heartbeat_at": iso(self.heartbeat_at),
            "version": self.version,
            "since": iso(self.since),
        }


@guarded
def list_hosts() -> list[HostView]:
    """Every host with workers now, and those lost or stopped in the last FORGET_SECONDS.

    A host whose workers are registered but silent for LIVENESS_SECONDS is lost already (before
    any other worker declares them dead): since its newest heartbeat."""

    t = now()
    with db.atomic():
        workers = list(
            Worker.select(Worker.id, Worker.host, Worker.slots, Worker.heartbeat_at, Worker.version).tuples()
        )
        running = running_per_worker() if workers else {}
        known = {row.name: row for row in Host.select().where(Host.last_heartbeat_at >= t - FORGET_SECONDS)}
    by_host: dict[str, list] = {}
    for worker_id, host, slots, beat, version in workers:
        by_host.setdefault(host, []).append((worker_id, slots, beat, version))
    views = []
    for name in sorted(set(by_host) | set(known)):
        row = known.get(name)
        mine = by_host.get(name, [])
        live = [w for w in mine if w[2] >= t - LIVENESS_SECONDS]
        beat = max((w[2] for w in mine), default=row.last_heartbeat_at if row else None)
        busy = sum(min(running.get(w[0], 0), w[1]) for w in live)
        if live:
            state, since = "up", None
        elif mine or row is None or row.lost_at is not None or row.stopped_at is None:
            state, since = "lost", beat
        else:
            state, since = "stopped", row.stopped_at
        versions = sorted({w[3] for w in mine if w[3]})
        views.append(
            HostView(
                name=name,
                state=state,
                workers=len(live),
                slots=sum(w[1] for w in live),
                busy=busy,
                running=sum(running.get(w[0], 0) for w in mine),
                heartbeat_at=beat,
                version=", ".join(versions) if versions else (row.version if row else None),
                since=since,
            )
        )
    return views


def running_per_worker() -> dict[str, int]:
    """How many jobs each worker holds (running, or prefetched and held), by worker id."""
    from peewee import fn

    return dict(
        Job.select(Job.worker_id, fn.COUNT(Job.seq))
        .where(Job.state == JobState.PROCESSING.value)
        .group_by(Job.worker_id)
        .tuples()
    )
