"""Job listings sorted by a column other than insertion order (the dashboard's column sort), over
the whole store.

Two ways to a page, both exact:
- a listing of at most SORT_WINDOW matching jobs (a rare state, a narrow filter) is sorted whole
  and paged by offset (list_sorted): the window holds every match, found through the seq index;
- a larger one is keyset-paged (list_keyset): a page starts after the key of a row, (column,
  seq), and walks an index in that order, so the top, the bottom and any page in between each
  cost a page's index walk, whatever the size of the store.

The indexes (models.INDEXES), SQLite told to use them (its planner, led by statistics, may not):
- state, attempts, runtime and ended are read one state at a time, through an index that starts
  with the state, and merged: the state sort walks (state, seq) in lifecycle order; attempts
  (state, attempts, seq); runtime (state, RUNTIME, seq), RUNTIME being a finished run's length,
  with the running jobs' growing runtimes read apart (few rows); ended walks (state, finished_at)
  for the finished states, the failed jobs by their last update (the time their last run failed;
  job_failed_at) and gives the others no end.  A filter on state reads that state alone.
- priority walks (priority, seq) and id the unique index on id, for all states: state changes do
  not move their entries (priority changes by hand only).  A filter on state is checked while
  walking; such a listing holds more than SORT_WINDOW jobs, so a page is found within a few
  thousand index entries unless the state's jobs cluster at one end of the order.
A page past a key (column, seq) is read as two index ranges: the ties of the key's column value
after its seq, then the values past it (SQLite seeks a row value by its first part only).
"""

from __future__ import annotations

from peewee import SQL, Case, SqliteDatabase, Value, fn

from ..models import Job, db
from ..states import FINISHED, JobState, sql_literals
from .connection import guarded, now
from .queries import _matching
from .statements import job_fields, job_views
from .views import JobFilter, JobView

#: a listing of at most this many matching jobs is sorted whole (by offset); a larger one by keyset
SORT_WINDOW = 10_000

#: the columns a listing can be sorted by ("created" is insertion order: list_jobs)
SORT_COLUMNS = ("created", "ended", "id", "state", "priority", "attempts", "runtime")

#: the states in the order a job lives through them (the state sort)
LIFECYCLE = tuple(
    s.value
    for s in (
        JobState.BLOCKED,
        JobState.PENDING,
        JobState.PROCESSING,
        JobState.FAILED,
        JobState.COMPLETED,
        JobState.DEAD,
        JobState.CANCELLED,
    )
)
_RANK = {state: rank for rank, state in enumerate(LIFECYCLE)}
#: states whose jobs hold the time they ended (finished_at)
ENDED = FINISHED

#: a finished run's length (-1: never ran), as the job_runtime index holds it
RUNTIME = fn.COALESCE(Job.finished_at - Job.started_at, SQL("-1"))


def sort_key(job: JobView, column: str, t: float) -> tuple:
    """Where `job` stands in a listing sorted by `column` (ascending; descending reverses it);
    t: the clock the page was read at (a running job's runtime grows with it)."""
    if column == "created":
        return (job.seq,)
    if column == "id":
        return (job.id,)
    if column == "state":
        return (_RANK.get(job.state, len(LIFECYCLE)), job.seq)
    if column == "priority":
        return (job.priority, job.seq)
    if column == "attempts":
        return (job.attempts, job.seq)
    if column == "runtime":
        return (_runtime(job, t), job.seq)
    if column == "ended":
        return (ended_at(job) or 0.0, job.seq)
    raise ValueError(f"no sort by {column!r} (known: {', '.join(SORT_COLUMNS)})")


def ended_at(job: JobView) -> float | None:
    """When the job ended (a finished state) or its last run failed (failed, awaiting a retry)."""
    if job.state in ENDED:
        return job.finished_at
    if job.state == JobState.FAILED:
        return job.updated_at
    return None


def _runtime(job: JobView, t: float) -> float:
    if job.started_at is None:
        return -1
    if job.state == JobState.PROCESSING.value:
        return t - job.started_at
    return job.finished_at - job.started_at if job.finished_at is not None else -1


def _key(column: str, t: float):
    """The SQL of sort_key's first part (for the whole-window sort)."""
    if column == "runtime":
        ran = Case(None, [(Job.state == JobState.PROCESSING.value, t - fn.COALESCE(Job.started_at, 0))], RUNTIME)
        return Case(None, [(Job.started_at.is_null(), -1)], ran)
    if column == "state":
        return Case(Job.state, [(state, rank) for state, rank in _RANK.items()], len(LIFECYCLE))
    if column == "ended":
        return Case(
            None,
            [
                (Job.state.in_(ENDED), fn.COALESCE(Job.finished_at, 0)),
                (Job.state == JobState.FAILED.value, Job.updated_at),
            ],
            0,
        )
    return {"id": Job.id, "priority": Job.priority, "attempts": Job.attempts}[column]


def _check(column: str) -> None:
    if column not in SORT_COLUMNS or column == "created":
        raise ValueError(f"a column sort is by {', '.join(SORT_COLUMNS[1:])}, not {column!r}")


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
    """One page, by offset, of the newest SORT_WINDOW matching jobs ordered by `column` (ties:
    newest first when descending, oldest first when ascending): every match when there are at
    most SORT_WINDOW of them (the caller knows the count and uses list_keyset past it)."""
    _check(column)
    window = _matching(Job.select(Job.seq), state, search, where).order_by(Job.seq.desc()).limit(SORT_WINDOW)
    key = _key(column, now())
    order = (key.desc(), Job.seq.desc()) if descending else (key.asc(), Job.seq.asc())
    query = job_fields().where(Job.seq.in_(window)).order_by(*order).offset(max(0, offset)).limit(limit)
    return job_views(query)


def _streams(column: str, state: str | None, t: float) -> list[tuple]:
    """One (states or None for any, SQL key or a constant, its index) per stream: each stream is
    read in key order through its index, the streams are merged by sort_key.  A stream of one
    state walks an index that starts with the state; one of several states, a global index."""
    one = [s for s in LIFECYCLE if state in (None, s)]
    if column == "state":
        return [((s,), _RANK[s], "job_state_seq") for s in one]
    if column == "ended":
        streams = [((s,), Job.finished_at, "job_state_finished") for s in ENDED]
        streams.append(((JobState.FAILED.value,), Job.updated_at, "job_failed_at"))
        streams += [
            ((s,), 0.0, "job_state_seq")
            for s in (JobState.BLOCKED.value, JobState.PENDING.value, JobState.PROCESSING.value)
        ]
        return [s for s in streams if s[0][0] in one]
    if column == "runtime":
        running = ((JobState.PROCESSING.value,), Value(t) - Job.started_at, None)
        return [((s,), RUNTIME, "job_state_runtime") if s != JobState.PROCESSING else running for s in one]
    if column == "attempts":
        return [((s,), Job.attempts, "job_state_attempts") for s in one]
    expression, index = {"id": (Job.id, "job_id"), "priority": (Job.priority, "job_priority_seq")}[column]
    return [((state,) if state else None, expression, index)]


def _views(query, index: str | None) -> list[JobView]:
    """Rows of `query`; on SQLite through `index` (INDEXED BY): its planner, led by statistics
    that say a priority of 0 matches most rows, would walk the seq order and filter instead."""
    if index is None or not isinstance(db.obj, SqliteDatabase):
        return job_views(query)
    text, params = query.sql()
    table = '"job" AS "t1"'
    return [
        JobView.from_row(row) for row in Job.raw(text.replace(table, f"{table} INDEXED BY {index}", 1), *params).dicts()
    ]


def _stream_rows(stream, column, key, desc, inclusive, limit, search, where) -> list[JobView]:
    states, expression, index = stream
    query = _matching(job_fields(), None, search, where)
    if index == "job_failed_at":  # the partial index's condition, as written there
        query = query.where(Job.state == SQL(sql_literals(JobState.FAILED)))
    elif states is None:
        pass
    elif index is None or index.startswith("job_state"):
        query = query.where(Job.state == states[0])
    else:  # filtered while walking a global index (the state's index would sort the whole state)
        query = query.where(Job.state.concat("") == states[0])
    constant = isinstance(expression, (int, float))
    if constant:
        order = [Job.seq.desc() if desc else Job.seq.asc()]
    elif column == "id":
        order = [Job.id.desc() if desc else Job.id.asc()]
    else:
        order = [expression.desc(), Job.seq.desc()] if desc else [expression.asc(), Job.seq.asc()]
    if key is not None:
        if constant:
            if expression == key[0]:
                query = query.where(_compare(Job.seq, key[1], desc, inclusive))
            elif (expression < key[0]) != desc:
                return []  # the whole stream comes before the key
        elif column == "id":
            query = query.where(_compare(Job.id, key[0], desc, inclusive))
        else:
            # (column, seq) past the key, as two index ranges: SQLite would seek a row value
            # by its first part only, then walk every tie of it (a million jobs of priority 0)
            ties = query.where((expression == key[0]) & _compare(Job.seq, key[1], desc, inclusive))
            rows = _views(ties.order_by(order[-1]).limit(limit), index)  # (by seq: SQLite would sort the ties)
            if len(rows) >= limit:
                return rows
            query = query.where(_compare(expression, key[0], desc, False))
            return rows + _views(query.order_by(*order).limit(limit - len(rows)), index)
    return _views(query.order_by(*order).limit(limit), index)


def _compare(left, right, desc: bool, inclusive: bool):
    if desc:
        return left <= right if inclusive else left < right
    return left >= right if inclusive else left > right


@guarded
def list_keyset(
    column: str,
    descending: bool,
    after: tuple | None = None,
    limit: int = 50,
    state: str | None = None,
    search: str | None = None,
    where: JobFilter | None = None,
    inclusive: bool = False,
    backwards: bool = False,
    t: float | None = None,
) -> list[JobView]:
    """Up to `limit` matching jobs ordered by `column` (as sort_key orders them; descending: the
    other way round) that come after the key `after` (None: from the first), or with
    `backwards` the ones before it, nearest first; `inclusive`: the row at `after` too.
    t: the clock of a running job's runtime (default: now)."""
    _check(column)
    t = now() if t is None else t
    desc = descending != backwards
    rows: list[JobView] = []
    streams = _streams(column, state, t)
    for stream in streams:
        rows += _stream_rows(stream, column, after, desc, inclusive, limit, search, where)
    if len(streams) > 1:
        rows.sort(key=lambda job: sort_key(job, column, t), reverse=desc)
    return rows[:limit]
