"""What the metric triggers observe of a job row that changed state, as SQL both backends share;
each dialect (sqlite.py, postgres.py) wraps it in its own kind of trigger.

No database code runs here, and nothing imports peewee: the dialects are chosen before peewee is
loaded (SQLite stores load it without the PostgreSQL drivers).
"""

from __future__ import annotations

from ..states import FINISHED_STATES, JobState, sql_literals

#: the upper bounds (seconds) of the duration and wait histograms' buckets; +Inf is implied
HISTOGRAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_FINISHED_LABELS = f"({sql_literals(*FINISHED_STATES)})"
_PROCESSING = sql_literals(JobState.PROCESSING)


def _bucket(value: str) -> str:
    cases = " ".join(f"WHEN {value} <= {le} THEN '{le}'" for le in HISTOGRAM_BUCKETS)
    return f"CASE {cases} ELSE '+Inf' END"


# What the metric counters observe of one job row changing (NEW, OLD): a job finishing (its
# outcome), a run ending (leaving processing: its outcome, so that failed runs and retries can be
# graphed (schema 8); how long it ran, claim to end), and a job's first run starting (how long it
# waited since it became due: enqueued, scheduled, retried by hand).
# (name, the observed value, when; a value of None counts the new state, others fill buckets)
_OBSERVED = (
    ("jobs_finished", None, f"{{new}}.state IN {_FINISHED_LABELS}"),
    ("runs", None, f"{{old}}.state = {_PROCESSING}"),
    ("job_duration_seconds", "{new}.updated_at - {new}.started_at", f"{{old}}.state = {_PROCESSING}"),
    (
        "job_wait_seconds",
        "{new}.started_at - {old}.next_attempt_at",
        f"{{new}}.state = {_PROCESSING} AND {{old}}.attempts = 0",
    ),
)


def observations(new: str, old: str) -> list[str]:
    """One SELECT per observation of a changed row, of (name, queue, label, value); a changed
    state is the caller's condition."""
    selects = []
    for name, value, when in _OBSERVED:
        when = when.format(new=new, old=old)
        if value is None:
            selects.append(
                f"SELECT '{name}' AS name, {new}.queue AS queue, {new}.state AS label, 0.0 AS v WHERE {when}"
            )
            continue
        d = f"COALESCE(CASE WHEN {value} > 0 THEN {value} ELSE 0 END, 0)".format(new=new, old=old)
        selects.append(
            f"SELECT '{name}' AS name, queue, {_bucket('d')} AS label, d AS v FROM "
            f"(SELECT {new}.queue AS queue, {d} AS d WHERE {when}) AS observed"
        )
    return selects
