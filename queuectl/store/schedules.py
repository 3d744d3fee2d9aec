"""Schedules: recurring jobs from cron expressions, enqueued exactly once per tick.

Any worker on any host may run run_due_schedules(); the schedule's row is claimed inside the
transaction (SQLite: one writer; PostgreSQL: FOR UPDATE SKIP LOCKED) and its next_run_at moves
on in the same commit, and the job's id names the tick, so a tick can never enqueue twice.
After downtime only the most recent missed tick runs; older ones are not replayed.

A tick that cannot be run (its job depends on a job since deleted, its cron expression has no
next date, a row written by hand) pauses its schedule with the reason in last_error, in the
transaction that claimed it: never an exception out of a worker's heartbeat, which would end
that worker and every other one that takes the tick next.  Paused, not skipped: such a failure
repeats at every tick until a person acts, so skipping would log and write it every second on
every worker, and a cron with no next date has no tick to skip to.  Resuming clears the error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import NamedTuple

from ..errors import InputError, NotFound, StoreError
from ..models import Job, Schedule, db
from ..spec import spec_from_dict, validate_queue_name
from ..states import FINISHED_STATES
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
    #: why the schedule's last tick could not run (it is paused until resumed)
    last_error: str | None

    def as_dict(self) -> dict:
        from .views import iso

        return dict(asdict(self), next_run_at=iso(self.next_run_at), last_run_at=iso(self.last_run_at))


def _view(row: Schedule) -> ScheduleView:
    return ScheduleView(
        row.name,
        row.cron,
        row.tz,
        row.overlap,
        _job_fields(row.job),
        bool(row.paused),
        row.next_run_at,
        row.last_run_at,
        row.last_job_id,
        row.skipped,
        row.last_error,
    )


def _job_fields(text: str) -> dict:
    """The job's fields; {} for a row that holds no JSON object (written by hand): it is listed,
    with the error its tick recorded, rather than breaking every listing."""
    try:
        job = json.loads(text)
    except ValueError:
        return {}
    return job if isinstance(job, dict) else {}


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
    return _step(cron, tz, t, "get_next", "after")


def _latest_at_or_before(cron: str, tz: str, t: float) -> float:
    return _step(cron, tz, t + 1e-6, "get_prev", "at or before")


def _step(cron: str, tz: str, t: float, direction: str, words: str) -> float:
    from croniter import CroniterBadDateError

    try:
        return getattr(_ticks(cron, tz, t), direction)(datetime).timestamp()
    except CroniterBadDateError:  # a date that has passed, 31 February: croniter looks so far, then gives up
        raise InputError(f"cron expression {cron[:100]!r} has no run {words} {_utc(t)}") from None


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_errors(name: str, cron: str, tz: str, overlap: str) -> dict[str, str]:
    """Each bad field of a schedule and why (croniter reads the cron expression, zoneinfo the
    time zone), all at once and before anything is saved, so that a form can show every one;
    add_schedule refuses with the first.  A cron expression must have a next run: one that
    names a past date (or 31 February) would never enqueue anything."""
    tz_error = _why(_zone, tz)
    errors = {
        "name": _why(validate_queue_name, name, "schedule"),  # it becomes part of job ids
        "cron": _why(_next_after, cron.strip(), "UTC" if tz_error else tz, now()),
        "tz": tz_error,
        "overlap": None if overlap in OVERLAP else f"overlap must be {' or '.join(OVERLAP)}, not {overlap[:20]!r}",
    }
    return {field: error for field, error in errors.items() if error}


def _why(check, *args) -> str | None:
    try:
        check(*args)
    except InputError as exc:
        return str(exc)
    return None


def _check_job(job: dict) -> None:
    if not isinstance(job, dict):
        raise InputError("the job must be a JSON object")
    for field in ("id", "run_at"):
        if field in job:
            raise InputError(f"a scheduled job cannot name {field!r}: each tick gets its own")
    spec_from_dict(job)


@guarded
def add_schedule(name: str, cron: str, job: dict, tz: str = "UTC", overlap: str = "allow") -> ScheduleView:
    cron = cron.strip()
    errors = schedule_errors(name, cron, tz, overlap)
    if errors:
        raise InputError(next(iter(errors.values())))
    _check_job(job)
    with db.atomic():
        if Schedule.get_or_none(Schedule.name == name) is not None:
            raise InputError(f"schedule {name!r} exists already (remove it first)")
        Schedule.create(
            name=name, cron=cron, tz=tz, overlap=overlap, job=json.dumps(job), next_run_at=_next_after(cron, tz, now())
        )
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
    """Pause, or resume from now on (ticks missed while paused are not run, and the error that
    paused it is cleared: resuming says it was dealt with)."""
    with db.atomic():
        row = _schedule(name)
        changes = {"paused": paused}
        if not paused:
            changes.update(next_run_at=_next_after(row.cron, row.tz, now()), last_error=None)
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


class DueRun(NamedTuple):
    #: the ids of the jobs enqueued
    enqueued: list[str]
    #: the schedules whose tick failed, and why (each is now paused)
    failed: dict[str, str]


@guarded
def run_due_schedules() -> DueRun:
    """Enqueue one job for each schedule that is due (called by workers every second); a
    schedule whose tick fails is paused with the reason instead (see the module's docstring)."""
    t = now()
    due = Schedule.select(Schedule.name).where(~Schedule.paused & (Schedule.next_run_at <= t))
    names = [name for (name,) in due.tuples()]
    result = DueRun([], {})
    for name in names:
        with db.atomic():
            query = Schedule.select().where((Schedule.name == name) & (Schedule.next_run_at <= t) & ~Schedule.paused)
            row = dialect.current().for_update(query).first()
            if row is None:  # another worker took this tick
                continue
            changes, job_id = _tick(row, t)
            Schedule.update(**changes).where(Schedule.name == name).execute()
        if job_id is not None:
            result.enqueued.append(job_id)
        if changes.get("last_error"):
            result.failed[name] = changes["last_error"]
    if result.enqueued:
        wake_workers()
    return result


def _tick(row: Schedule, t: float) -> tuple[dict, str | None]:
    """The changes to a due schedule's row, and the job its tick enqueued.  A failure pauses
    it, after what could be done: a one-shot (a cron with a year) enqueues its last tick, then
    finds no next one."""
    changes: dict = {}
    job_id = None
    try:
        tick = _latest_at_or_before(row.cron, row.tz, t)
        last = Job.select(Job.state).where(Job.id == row.last_job_id).scalar() if row.last_job_id else None
        if row.overlap == "skip" and last is not None and last not in _FINISHED:
            changes["skipped"] = Schedule.skipped + 1
        else:
            with db.atomic():  # a savepoint: an enqueue that fails half-way leaves no row behind
                job_id = _enqueue_tick(row, tick)
            changes.update(last_run_at=tick, last_job_id=job_id)
        changes["next_run_at"] = _next_after(row.cron, row.tz, t)
    except Exception as exc:  # whatever the row holds, a worker outlives it
        if _store_trouble(exc):
            raise
        changes.update(paused=True, last_error=_reason(exc))
    return changes, job_id


def _store_trouble(exc: Exception) -> bool:
    """The store's failure (busy, connection lost, disk full, damage), not the schedule's: the
    heartbeat reports it and tries again.  A refused row (a constraint, a value too long) is
    the schedule's."""
    import sqlite3

    from peewee import DatabaseError, DataError, IntegrityError, InterfaceError

    if isinstance(exc, (IntegrityError, DataError, sqlite3.IntegrityError, sqlite3.DataError)):
        return False
    return isinstance(exc, (StoreError, DatabaseError, InterfaceError, sqlite3.Error))


def _reason(exc: Exception) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return (text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}")[:500]


def _enqueue_tick(row: Schedule, tick: float) -> str:
    job_id = f"{row.name}@{_utc(tick)}"
    if Job.get_or_none(Job.id == job_id) is None:
        add_jobs([spec_from_dict(json.loads(row.job))], [job_id], now())
    return job_id
