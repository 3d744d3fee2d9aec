"""Schedules: recurring jobs from cron expressions, enqueued exactly once per tick.

Any worker on any host may run run_due_schedules(); the schedule's row is claimed inside the
transaction (SQLite: one writer; PostgreSQL: FOR UPDATE SKIP LOCKED) and its next_run_at moves
on in the same commit, and the job's id names the tick, so a tick can never enqueue twice.
After downtime only the most recent missed tick runs; older ones are not replayed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from ..errors import InputError, NotFound
from ..models import FINISHED_STATES, Job, Schedule, db
from ..spec import spec_from_dict, validate_queue_name
from . import dialect
from .connection import guarded, now, wake_workers
from .jobs import add_jobs

_FINISHED = {s.value for s in FINISHED_STATES}
OVERLAP = ("allow", "skip")


@dataclass(frozen=True)
class ScheduleView:
    name: str
    cron: str
    tz: str
    overlap: str
    job: dict
    paused: bool
    next_run_at: float
    last_run_at: float | None
    last_job_id: str | None
    skipped: int

    def as_dict(self) -> dict:
        from .views import iso

        return dict(asdict(self), next_run_at=iso(self.next_run_at), last_run_at=iso(self.last_run_at))


def _view(row: Schedule) -> ScheduleView:
    return ScheduleView(row.name, row.cron, row.tz, row.overlap, json.loads(row.job), bool(row.paused),
                        row.next_run_at, row.last_run_at, row.last_job_id, row.skipped)  # fmt: skip


def _zone(tz: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {tz[:64]!r} (e.g. UTC, Europe/Berlin)") from None


def _ticks(cron: str, tz: str, t: float):
    """A croniter positioned at t, in the schedule's time zone."""
    from croniter import croniter

    if not croniter.is_valid(cron):
        raise InputError(f"invalid cron expression {cron[:100]!r} (e.g. '*/5 * * * *')")
    return croniter(cron, datetime.fromtimestamp(t, _zone(tz)))


def _next_after(cron: str, tz: str, t: float) -> float:
    return _ticks(cron, tz, t).get_next(datetime).timestamp()


def _latest_at_or_before(cron: str, tz: str, t: float) -> float:
    return _ticks(cron, tz, t + 1e-6).get_prev(datetime).timestamp()


def validate(name: str, cron: str, tz: str, overlap: str, job: dict) -> None:
    validate_queue_name(name, "schedule")  # the rules of a queue name: it becomes part of job ids
    if overlap not in OVERLAP:
        raise InputError(f"--overlap must be skip or allow, not {overlap[:20]!r}")
    _next_after(cron, tz, now())
    if not isinstance(job, dict):
        raise InputError("the job must be a JSON object")
    for field in ("id", "run_at"):
        if field in job:
            raise InputError(f"a scheduled job cannot name {field!r}: each tick gets its own")
    spec_from_dict(job)


@guarded
def add_schedule(name: str, cron: str, job: dict, tz: str = "UTC", overlap: str = "allow") -> ScheduleView:
    validate(name, cron, tz, overlap, job)
    with db.atomic():
        if Schedule.get_or_none(Schedule.name == name) is not None:
            raise InputError(f"schedule {name!r} exists already (remove it first)")
        Schedule.create(name=name, cron=cron, tz=tz, overlap=overlap, job=json.dumps(job),
                        next_run_at=_next_after(cron, tz, now()))  # fmt: skip
    return get_schedule(name)


def _schedule(name: str) -> Schedule:
    row = Schedule.get_or_none(Schedule.name == name)
    if row is None:
        raise NotFound(f"no schedule {name!r}")
    return row


@guarded
def get_schedule(name: str) -> ScheduleView:
    return _view(_schedule(name))


@guarded
def list_schedules() -> list[ScheduleView]:
    return [_view(row) for row in Schedule.select().order_by(Schedule.name)]


@guarded
def remove_schedule(name: str) -> None:
    with db.atomic():
        _schedule(name).delete_instance()


@guarded
def pause_schedule(name: str, paused: bool = True) -> None:
    """Pause, or resume from now on (ticks missed while paused are not run)."""
    with db.atomic():
        row = _schedule(name)
        changes = {"paused": paused}
        if not paused:
            changes["next_run_at"] = _next_after(row.cron, row.tz, now())
        Schedule.update(**changes).where(Schedule.name == name).execute()


@guarded
def run_schedule_now(name: str) -> str:
    """Enqueue the schedule's job once, now (the regular ticks go on as they were)."""
    t = now()
    with db.atomic():
        row = _schedule(name)
        job_id = _enqueue_tick(row, t)
    wake_workers()
    return job_id


@guarded
def run_due_schedules() -> list[str]:
    """Enqueue one job for each schedule that is due (called by workers every second)."""
    t = now()
    due = Schedule.select(Schedule.name).where(~Schedule.paused & (Schedule.next_run_at <= t))
    names = [name for (name,) in due.tuples()]
    added = []
    for name in names:
        with db.atomic():
            query = Schedule.select().where((Schedule.name == name) & (Schedule.next_run_at <= t) & ~Schedule.paused)
            row = dialect.current().for_update(query).first()
            if row is None:  # another worker took this tick
                continue
            tick = _latest_at_or_before(row.cron, row.tz, t)
            changes = {"next_run_at": _next_after(row.cron, row.tz, t)}
            last = Job.select(Job.state).where(Job.id == row.last_job_id).scalar() if row.last_job_id else None
            if row.overlap == "skip" and last is not None and last not in _FINISHED:
                changes["skipped"] = Schedule.skipped + 1
            else:
                changes.update(last_run_at=tick, last_job_id=_enqueue_tick(row, tick))
                added.append(changes["last_job_id"])
            Schedule.update(**changes).where(Schedule.name == name).execute()
    if added:
        wake_workers()
    return added


def _enqueue_tick(row: Schedule, tick: float) -> str:
    stamp = datetime.fromtimestamp(tick, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    job_id = f"{row.name}@{stamp}"
    if Job.get_or_none(Job.id == job_id) is None:
        add_jobs([spec_from_dict(json.loads(row.job))], [job_id], now())
    return job_id
