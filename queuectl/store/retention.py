"""Deleting finished jobs: `prune`, `dlq purge`, and the retention settings applied by workers.

Deletes run in small transactions (one batch of jobs each) so claims never wait long behind them.
A job's log folder goes with it (on the host that deletes it; with PostgreSQL, other hosts keep
the logs of jobs they ran).
"""

from __future__ import annotations

from ..models import Attempt, Job, JobState, db
from ..states import FINISHED_STATES
from . import logfiles
from .cached import current_config
from .connection import guarded, location, now

BATCH = 500
_RETENTION = {
    JobState.COMPLETED.value: "retention_completed",
    JobState.DEAD.value: "retention_dead",
    JobState.CANCELLED.value: "retention_cancelled",
}


def _old(states: list[str], older_than: float):
    return Job.state.in_(states) & (Job.finished_at < now() - older_than)


@guarded
def prune(states: list[str] | None, older_than: float, dry_run: bool = False, limit: int | None = None) -> list[str]:
    """Delete finished jobs (of these states) that ended more than older_than seconds ago,
    with their attempts and logs; returns their ids (or, with dry_run, the ids it would)."""
    states = states or [s.value for s in FINISHED_STATES]
    where = _old(states, older_than)
    if dry_run:
        return [job_id for (job_id,) in Job.select(Job.id).where(where).order_by(Job.seq).limit(limit).tuples()]
    deleted: list[str] = []
    while limit is None or len(deleted) < limit:
        size = BATCH if limit is None else min(BATCH, limit - len(deleted))
        with db.atomic():
            batch = list(Job.select(Job.seq, Job.id).where(where).order_by(Job.seq).limit(size).tuples())
            if not batch:
                break
            seqs = [seq for seq, _ in batch]
            Attempt.delete().where(Attempt.job.in_(seqs)).execute()
            Job.delete().where(Job.seq.in_(seqs)).execute()
        for _, job_id in batch:
            logfiles.remove_job_logs(location().logs_dir, job_id)
        deleted += [job_id for _, job_id in batch]
    return deleted


@guarded
def apply_retention(limit: int = BATCH) -> int:
    """One small step of the retention settings (run by idle workers); returns jobs deleted."""
    cfg = current_config()
    deleted = 0
    for state, key in _RETENTION.items():
        if cfg[key] is not None and deleted < limit:
            deleted += len(prune([state], cfg[key], limit=limit - deleted))
    return deleted


@guarded
def dead_jobs(contains: str | None = None) -> list[str]:
    """Ids of dead jobs whose id, command or last error contains the text (all if None)."""
    where = Job.state == JobState.DEAD.value
    if contains:
        where &= Job.id.contains(contains) | Job.command.contains(contains) | Job.last_error.contains(contains)
    return [job_id for (job_id,) in Job.select(Job.id).where(where).order_by(Job.seq).tuples()]


@guarded
def dead_by_error(examples: int = 3) -> list[dict]:
    """The DLQ grouped by exit code and error: how many, the latest, a few ids; largest first."""
    from peewee import fn

    dead = Job.state == JobState.DEAD.value
    groups = (
        Job.select(Job.exit_code, Job.last_error, fn.COUNT(Job.seq).alias("n"), fn.MAX(Job.finished_at).alias("latest"))
        .where(dead)
        .group_by(Job.exit_code, Job.last_error)
        .order_by(fn.COUNT(Job.seq).desc(), Job.last_error)
        .dicts()
    )
    out = []
    for group in groups:
        same = _same_error(group["exit_code"], group["last_error"])
        ids = [j for (j,) in Job.select(Job.id).where(same).order_by(Job.seq.desc()).limit(examples).tuples()]
        out.append(
            {
                "exit_code": group["exit_code"],
                "error": group["last_error"],
                "count": group["n"],
                "latest": group["latest"],
                "examples": ids,
            }
        )
    return out


def _same_error(exit_code: int | None, error: str | None):
    where = Job.state == JobState.DEAD.value
    where &= Job.exit_code.is_null() if exit_code is None else Job.exit_code == exit_code
    return where & (Job.last_error.is_null() if error is None else Job.last_error == error)


@guarded
def dead_ids_by_error(exit_code: int | None, error: str | None) -> list[str]:
    """Ids of the dead jobs in one group of dead_by_error (same exit code and error), oldest first."""
    return [job_id for (job_id,) in Job.select(Job.id).where(_same_error(exit_code, error)).order_by(Job.seq).tuples()]
