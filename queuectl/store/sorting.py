"""Job listings sorted by a column other than insertion order (the dashboard's column sort).

Why a bounded window instead of an index per column: an index per sortable column and direction
would tax every enqueue and state change, and a sort over all matching rows at a million jobs is
a full scan per page.  So a sort by id, state, priority, attempts or runtime orders the newest
SORT_WINDOW jobs that match the filter (found through the seq index), and pages through them by
offset: one page costs at most a window's sort, whatever the size of the store.  The newest /
oldest order ("created") needs no window: it is the seq order, keyset-paged by list_jobs.
"""

from __future__ import annotations

from peewee import Case, fn

from ..models import Job, JobState
from .connection import guarded, now
from .queries import _matching
from .statements import job_fields, job_views
from .views import JobFilter, JobView

#: the newest this-many matching jobs are what a column sort orders
SORT_WINDOW = 10_000

#: the columns a listing can be sorted by ("created" is insertion order, unbounded)
SORT_COLUMNS = ("created", "id", "state", "priority", "attempts", "runtime")


def _key(column: str, t: float):
    if column == "runtime":  # a running job's runtime grows with the clock; never run: -1 (sorts below 0s)
        started = fn.COALESCE(Job.started_at, 0)
        ran = Case(
            None,
            [(Job.state == JobState.PROCESSING.value, t - started)],
            fn.COALESCE(Job.finished_at - Job.started_at, -1),
        )
        return Case(None, [(Job.started_at.is_null(), -1)], ran)
    return {"id": Job.id, "state": Job.state, "priority": Job.priority, "attempts": Job.attempts}[column]


@guarded
def list_sorted(
    column: str,
    descending: bool,
    offset: int = 0,
    limit: int = 50,
    state: str | None = None,
    search: str | None = None,
    where: JobFilter | None = None,
) -> list[JobView]:
    """One page of the newest SORT_WINDOW matching jobs ordered by `column` (ties: newest first
    when descending, oldest first when ascending)."""
    if column not in SORT_COLUMNS or column == "created":
        raise ValueError(f"list_sorted sorts by {', '.join(SORT_COLUMNS[1:])}, not {column!r}")
    window = _matching(Job.select(Job.seq), state, search, where).order_by(Job.seq.desc()).limit(SORT_WINDOW)
    key = _key(column, now())
    order = (key.desc(), Job.seq.desc()) if descending else (key.asc(), Job.seq.asc())
    query = job_fields().where(Job.seq.in_(window)).order_by(*order).offset(max(0, offset)).limit(limit)
    return job_views(query)
