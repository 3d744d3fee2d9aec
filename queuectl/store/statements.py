"""Small helpers shared by the transition modules (inside the caller's transaction)."""

from __future__ import annotations

from ..errors import NotFound
from ..models import Job, db
from .views import JobView

_JOB_FIELDS = [getattr(Job, name) for name in JobView.__dataclass_fields__]


def sql(statement: str, *params):
    """Run one hand-written statement ({p} marks a parameter): the hot path of every job
    (claim, finish) skips the query builder, which cost more than SQLite itself."""
    return db.execute_sql(statement.format(p=db.param), params)


def update_job(seq: int, t: float, **changes) -> None:
    """Change a job; unless named, it is nobody's any more (no worker, no lease)."""
    changes.setdefault("worker_id", None)
    changes.setdefault("lease_expires_at", None)
    Job.update(updated_at=t, **changes).where(Job.seq == seq).execute()


def find_job(job_id: str) -> Job:
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


def job_views(query) -> list[JobView]:
    return [JobView.from_row(row) for row in query.dicts()]


def job_view(job_id: str) -> JobView:
    rows = job_views(Job.select(*_JOB_FIELDS).where(Job.id == job_id))
    if not rows:
        raise NotFound(f"no job {job_id!r}")
    return rows[0]


def job_fields(*extra):
    """A select of every field a JobView has."""
    return Job.select(*_JOB_FIELDS, *extra)


def chunks(items: list, size: int = 500):
    """Pieces small enough for any database's limit on parameters per statement."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
