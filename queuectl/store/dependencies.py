"""Dependencies between jobs: a blocked job moves on once its dependencies have ended.

Dependencies can only name jobs that exist already (or come earlier in the same batch), so the
graph never has a cycle.  Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

from ..models import Dependency, Job, JobState
from ..states import FINISHED_STATES, sql_literals
from .statements import chunks, sql, update_job

_FINISHED = {s.value for s in FINISHED_STATES}
_BROKEN = {JobState.DEAD.value, JobState.CANCELLED.value}


def link(pairs: list[tuple[int, int]]) -> None:
    """Record that each (job, dependency) pair's job waits for the dependency."""
    for piece in chunks(pairs):
        Dependency.insert_many([{"job": job, "depends_on": dep} for job, dep in piece]).on_conflict_ignore().execute()
    dependencies = sorted({dep for _, dep in pairs})
    for piece in chunks(dependencies):
        Job.update(has_dependents=True).where(Job.seq.in_(piece)).execute()


def settle(seq: int, t: float) -> bool:
    """Move a blocked job on if its dependencies allow it; True if it was cancelled."""
    job = Job.get_by_id(seq)
    if job.state != JobState.BLOCKED.value:
        return False
    states = sql(
        "SELECT j.id, j.state FROM dependency d JOIN job j ON j.seq = d.depends_on_seq "
        "WHERE d.job_seq = {p} ORDER BY j.seq",
        seq,
    ).fetchall()
    if job.dependency_policy == "success":
        broken = next(((dep_id, state) for dep_id, state in states if state in _BROKEN), None)
        if broken is not None:
            update_job(
                seq,
                t,
                state=JobState.CANCELLED.value,
                finished_at=t,
                next_attempt_at=None,
                last_error=f"dependency '{broken[0]}' ended {broken[1]}",
            )
            return True
        ready = all(state == JobState.COMPLETED.value for _, state in states)
    else:
        ready = all(state in _FINISHED for _, state in states)
    if ready:
        update_job(seq, t, state=JobState.PENDING.value, next_attempt_at=max(job.run_at, t))
    return False


def job_ended(seq: int, t: float) -> bool:
    """A job with dependents reached completed, dead or cancelled: settle its blocked
    dependents, and theirs in turn when they are cancelled.  True if any became runnable."""
    todo, runnable = [seq], False
    while todo:
        ended = todo.pop()
        waiting = sql(
            "SELECT d.job_seq FROM dependency d JOIN job j ON j.seq = d.job_seq "
            "WHERE d.depends_on_seq = {p} AND j.state = " + sql_literals(JobState.BLOCKED),
            ended,
        ).fetchall()
        for (dependent,) in waiting:
            if settle(dependent, t):
                todo.append(dependent)
            else:
                runnable = runnable or Job.get_by_id(dependent).state == JobState.PENDING.value
    return runnable


def cancelled_downstream(seqs: list[int]) -> list[tuple[int, str]]:
    """The cancelled jobs that depend on these, and the cancelled ones that depend on those in
    turn (a build's later steps, cancelled when one step died), as (seq, id) in seq order:
    the order in which their dependencies were made."""
    found: dict[int, str] = {}
    frontier = list(seqs)
    while frontier:
        rows = []
        for piece in chunks(frontier):
            marks = ", ".join(["{p}"] * len(piece))
            rows += sql(
                f"SELECT j.seq, j.id FROM dependency d JOIN job j ON j.seq = d.job_seq "
                f"WHERE d.depends_on_seq IN ({marks}) AND j.state = {sql_literals(JobState.CANCELLED)}",
                *piece,
            ).fetchall()
        frontier = list(dict.fromkeys(seq for seq, _ in rows if seq not in found))
        found.update(rows)
    return sorted(found.items())


def ids_of(seqs_of: str, seqs: list[int]) -> dict[int, list[str]]:
    """For each of these jobs, the ids of its dependencies (seqs_of="job") or of its dependents
    (seqs_of="depends_on")."""
    other = "depends_on_seq" if seqs_of == "job" else "job_seq"
    mine = "job_seq" if seqs_of == "job" else "depends_on_seq"
    found: dict[int, list[str]] = {seq: [] for seq in seqs}
    for piece in chunks(seqs):
        marks = ", ".join(["{p}"] * len(piece))
        rows = sql(
            f"SELECT d.{mine}, j.id FROM dependency d JOIN job j ON j.seq = d.{other} "
            f"WHERE d.{mine} IN ({marks}) ORDER BY j.seq",
            *piece,
        ).fetchall()
        for seq, job_id in rows:
            found[seq].append(job_id)
    return found
