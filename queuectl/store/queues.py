"""Named queues: pause, resume, limits on running jobs, and what each queue holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..models import Queue, db
from ..spec import validate_queue_limit, validate_queue_name
from ..states import JobState
from .cached import forget_cached_config
from .connection import guarded, wake_workers


@dataclass(frozen=True)
class QueueView:
    name: str
    paused: bool
    max_running: int | None
    jobs: dict  # state -> count
    running: int

    def as_dict(self) -> dict:
        return asdict(self)


def _set(name: str, **changes) -> None:
    validate_queue_name(name)
    with db.atomic():
        Queue.insert(name=name, **changes).on_conflict(conflict_target=[Queue.name], update=changes).execute()
    forget_cached_config()
    wake_workers()  # a resumed or widened queue may have runnable jobs


@guarded
def pause_queue(name: str) -> None:
    """Its waiting jobs stay waiting; its running jobs finish."""
    _set(name, paused=True)


@guarded
def resume_queue(name: str) -> None:
    _set(name, paused=False)


@guarded
def limit_queue(name: str, max_running: int | None) -> None:
    """At most max_running of its jobs run at once, across all workers and hosts (None: no limit)."""
    validate_queue_limit(max_running)
    _set(name, max_running=max_running)


@guarded
def list_queues() -> list[QueueView]:
    """Every queue that has jobs or settings, by name."""
    counts: dict[str, dict[str, int]] = {}
    for queue, state, n in db.execute_sql(
        "SELECT queue, state, SUM(n) FROM job_count GROUP BY queue, state"
    ).fetchall():
        counts.setdefault(queue, {s.value: 0 for s in JobState})[state] = int(n or 0)
    controls = {q.name: q for q in Queue.select()}
    names = sorted(set(controls) | {name for name, jobs in counts.items() if any(jobs.values())})
    views = []
    for name in names:
        jobs = counts.get(name, {s.value: 0 for s in JobState})
        control = controls.get(name)
        views.append(
            QueueView(
                name,
                bool(control and control.paused),
                control.max_running if control else None,
                jobs,
                jobs[JobState.PROCESSING.value],
            )
        )
    return views
