"""A worker's hot path: claim a batch of jobs for its free slots, and record a batch of
finished jobs together with the claims that refill their slots, each in one transaction.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

from ..models import Job, JobState, db
from ..states import sql_literals
from . import dependencies, dialect, fits, usage
from .cached import current_config, limited_queues
from .connection import guarded, location, now, wake_watchers, wake_workers
from .jobs import fail
from .views import Claim

P = JobState.PROCESSING.value
_PROCESSING = sql_literals(JobState.PROCESSING)
_COMPLETED = sql_literals(JobState.COMPLETED)
_FAILED = sql_literals(JobState.FAILED)
_PENDING = sql_literals(JobState.PENDING)

# The best k runnable jobs, taken in one statement.  SQLite: the write lock is already ours
# (BEGIN IMMEDIATE) and INDEXED BY keeps the planner on the partial indexes.  PostgreSQL: SKIP
# LOCKED lets workers on many hosts take different jobs without waiting for each other.
# Candidates come from two index scans, each in claim order: pending jobs (job_claim_plain), and
# failed jobs whose retry is due (job_retry_plain, by due time, so retries still waiting are never
# walked: at 1M jobs with 18k awaiting a retry, one scan over both took 36 ms on PostgreSQL).
# Paused queues and queues at their limit are passed over inside the scans; of the k
# candidates, a limited queue gives no more than the room it has left (its place among the
# candidates of its queue, against its limit minus its running jobs).
_CANDIDATES_SQL = (
    "SELECT * FROM (SELECT seq, queue, priority FROM job {index} WHERE state = '{state}' "
    "AND next_attempt_at <= {p} AND NOT paused AND resources IS NULL {only_queues} "
    "AND queue NOT IN (SELECT q.name FROM queue q WHERE q.paused OR q.max_running <= "
    "(SELECT COALESCE(SUM(c.n), 0) FROM job_count c WHERE c.queue = q.name AND c.state = {processing})) "
    "ORDER BY priority DESC, seq LIMIT {p} {lock}) AS {state}"
)
_CLAIM_SQL = (
    "UPDATE job SET state = {processing}, attempts = attempts + 1, worker_id = {p}, "
    "started_at = {p}, updated_at = {p}, lease_expires_at = {p}, next_attempt_at = NULL, "
    "finished_at = NULL, exit_code = NULL "
    "WHERE seq IN (SELECT seq FROM ("
    "SELECT c.seq, q.max_running - (SELECT COALESCE(SUM(n.n), 0) FROM job_count n "
    "WHERE n.queue = c.queue AND n.state = {processing}) AS room, "
    "ROW_NUMBER() OVER (PARTITION BY c.queue ORDER BY c.priority DESC, c.seq) AS place FROM ("
    "SELECT * FROM ({pending} UNION ALL {failed}) AS best ORDER BY priority DESC, seq LIMIT {p}"
    ") AS c LEFT JOIN queue q ON q.name = c.queue"
    ") AS ranked WHERE room IS NULL OR place <= room) "
    "RETURNING seq, id, command, timeout, env, cwd, priority, on_finish"
)

# Attempt numbers continue after a retry, which resets the job's attempt count.
_ATTEMPTS_SQL = (
    "{grants}INSERT INTO attempt (job_seq, number, worker_id, host, started_at, stdout_path, stderr_path, granted) "
    "SELECT seq, n, {p}, {p}, {p}, {p} || id || {p} || n || '.stdout', {p} || id || {p} || n || '.stderr', "
    "{granted} FROM "
    "(SELECT j.seq, j.id, (SELECT COALESCE(MAX(a.number), 0) + 1 FROM attempt a WHERE a.job_seq = j.seq) AS n "
    "FROM job j WHERE j.seq IN ({seqs})) AS next_number "
    "RETURNING id, job_seq, number"
)


# PostgreSQL: the claim, its attempt rows and the worker row in one statement (data-modifying
# CTEs: one round trip and one statement on the server instead of three).  The attempt numbers
# are read from the snapshot before the statement, as the separate INSERT read them.
_CLAIM_CTE_SQL = (
    "WITH {grants}claimed AS ({claim}), "
    "numbered AS (SELECT c.*, (SELECT COALESCE(MAX(a.number), 0) + 1 FROM attempt a WHERE a.job_seq = c.seq) AS n "
    "FROM claimed c), "
    "added AS (INSERT INTO attempt (job_seq, number, worker_id, host, started_at, stdout_path, stderr_path, granted) "
    "SELECT seq, n, {p}, {p}, {p}, {p} || id || {p} || n || '.stdout', {p} || id || {p} || n || '.stderr', "
    "{granted} FROM numbered RETURNING id, job_seq, number), "
    "busy AS (UPDATE worker SET state = 'busy', heartbeat_at = {p}, "
    "current_job = (SELECT id FROM claimed ORDER BY priority, seq DESC LIMIT 1) "
    "WHERE id = {p} AND EXISTS (SELECT 1 FROM claimed)) "
    "SELECT n.seq, n.id, n.command, n.timeout, n.env, n.cwd, n.priority, n.on_finish, a.id, a.number "
    "FROM numbered n JOIN added a ON a.job_seq = n.seq"
)
# PostgreSQL: successful runs recorded in one statement (their attempts closed, then their jobs
# completed, for the runs whose attempt was still open).
_COMPLETE_CTE_SQL = (
    "WITH closed AS (UPDATE attempt SET finished_at = {p}, exit_code = 0, error = NULL "
    "WHERE id = ANY({p}) AND finished_at IS NULL RETURNING job_seq) "
    f"UPDATE job SET state = {_COMPLETED}, finished_at = {{p}}, exit_code = 0, last_error = NULL, "
    "worker_id = NULL, lease_expires_at = NULL, updated_at = {p} "
    f"WHERE seq IN (SELECT job_seq FROM closed) AND state = {_PROCESSING} AND worker_id = {{p}} "
    "RETURNING seq, has_dependents"
)


@dataclass(frozen=True)
class Finished:
    """A run that ended, as the worker saw it: what the store records for it."""

    claim: Claim
    error: str | None  # None: success
    exit_code: int | None
    #: what the run used (store/usage.py: wall, cpu user, cpu system, peak bytes, signal, note)
    usage: tuple | None = None
    #: when it started, on the store's clock, for a job held after its claim (prefetch) whose start
    #: no heartbeat has recorded yet (None: it started with its claim, whose time is its start)
    started_at: float | None = None


@functools.cache
def _claim_sql(claim_index: str, retry_index: str, lock: str, queues: int, with_rows: bool) -> str:
    """The claim of one pass; with_rows (PostgreSQL): with its attempt rows and the worker row."""
    only_queues = f"AND queue IN ({', '.join(['{p}'] * queues)})" if queues else ""
    pending, failed = (
        _CANDIDATES_SQL.format(
            p="{p}", index=index, state=state, only_queues=only_queues, lock=lock, processing=_PROCESSING
        )
        for index, state in ((claim_index, JobState.PENDING.value), (retry_index, JobState.FAILED.value))
    )
    claim = _CLAIM_SQL.format(p="{p}", pending=pending, failed=failed, processing=_PROCESSING)
    return _CLAIM_CTE_SQL.format(p="{p}", grants="", claim=claim, granted="NULL") if with_rows else claim


@functools.cache
def _attempts_sql(n: int, granted: int) -> str:
    """SQLite: the attempt rows of n claimed jobs, the first `granted` of them with their grants
    (parameters: (seq, grant JSON) per granted job, then the rows', then the n seqs)."""
    if not granted:
        return _ATTEMPTS_SQL.format(p="{p}", grants="", granted="NULL", seqs=_marks(n))
    grants = "WITH grants(seq, given) AS (VALUES " + ", ".join(["({p}, {p})"] * granted) + ") "
    given = "(SELECT g.given FROM grants g WHERE g.seq = next_number.seq)"
    return _ATTEMPTS_SQL.format(p="{p}", grants=grants, granted=given, seqs=_marks(n))


@functools.cache
def _fitted_sql(n: int) -> str:
    """PostgreSQL: the claim of n jobs that fits.choose granted resources, with their attempt
    rows (each holding its grant) and the worker row, in one statement, as the claim of the
    others is (parameters: (seq, grant JSON) per job, then fits.take's, then the rows')."""
    grants = "grants(seq, given) AS (VALUES " + ", ".join(["({p}, {p})"] * n) + "), "
    claim = fits.TAKE_SQL.replace("{seqs}", _marks(n))
    granted = "(SELECT g.given FROM grants g WHERE g.seq = numbered.seq)"
    return _CLAIM_CTE_SQL.format(p="{p}", grants=grants, claim=claim, granted=granted)


@guarded
def claim_batch(worker_id: str, host: str, k: int, queues: tuple[str, ...] = ()) -> list[Claim]:
    """pending/failed (due) -> processing: up to k of the best runnable jobs (of these
    queues), in claim order (priority, then FIFO)."""
    with db.atomic():
        return _claim(worker_id, host, now(), k, queues)


@guarded
def finish_batch(
    finished: list[Finished],
    worker_id: str,
    host: str,
    k: int = 0,
    queues: tuple[str, ...] = (),
    still_running: int = 0,
) -> tuple[list[str], list[Claim]]:
    """Record finished runs (processing -> completed, failed or dead) and claim up to k jobs
    for the slots they freed, all in one transaction: returns each run's state afterwards, in
    order, and the new claims.

    A job that is no longer this worker's (cancelled, or recovered after a lost lease) gets
    its attempt recorded and is left as it is.  `still_running`: the worker's other jobs (none
    left and none claimed: the worker is idle)."""
    from .statements import sql

    with db.atomic():
        t = now()
        states, wake = _finish(finished, worker_id, t)
        claims = _claim(worker_id, host, t, k, queues) if k else []
        if not claims and not still_running:
            sql("UPDATE worker SET state = 'idle', current_job = NULL WHERE id = {p}", worker_id)
    if wake:
        wake_workers()  # a retry is scheduled or dependents became runnable
    if finished:
        wake_watchers()  # `queuectl wait` and friends
    return states, claims


@guarded
def release_claims(claims: list[Claim], worker_id: str) -> int:
    """Hand back jobs this worker claimed but never started (its prefetched jobs, on a stop or
    when held too long): each waits again as before its claim, due now, and the claim leaves no
    trace but the counters below: its attempt row is deleted and its attempt count lowered
    (pending again; failed, with its retry due now, if it had run before).  Only jobs still this
    worker's, with their attempt open (not recovered or cancelled meanwhile).  Returns how many.

    Leaving `processing` is a run ending for the metric triggers (models._OBSERVED): that run,
    and its duration (none: started_at is cleared), are taken out again here.  A job handed back
    before its first run has its wait observed again when it is claimed next."""
    from .observed import HISTOGRAM_BUCKETS
    from .statements import chunks, sql

    if not claims:
        return 0
    back: list[tuple] = []
    with db.atomic():
        t = now()
        for piece in chunks(list(claims)):
            seqs = [
                seq
                for (seq,) in sql(
                    f"DELETE FROM attempt WHERE id IN ({_marks(len(piece))}) AND finished_at IS NULL "
                    "AND pgid IS NULL RETURNING job_seq",
                    *[c.attempt_id for c in piece],
                ).fetchall()
            ]
            if seqs:
                back += sql(
                    f"UPDATE job SET state = CASE WHEN attempts > 1 THEN {_FAILED} ELSE {_PENDING} END, "
                    "attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL, started_at = NULL, "
                    "next_attempt_at = {p}, updated_at = {p} "
                    f"WHERE seq IN ({_marks(len(seqs))}) AND state = {_PROCESSING} AND worker_id = {{p}} "
                    "RETURNING queue, state",
                    t,
                    t,
                    *sorted(seqs),
                    worker_id,
                ).fetchall()
        undo: dict[tuple[str, str, str], int] = {}
        for queue, state in back:
            for key in (("runs", queue, state), ("job_duration_seconds", queue, f"{HISTOGRAM_BUCKETS[0]}")):
                undo[key] = undo.get(key, 0) - 1
        for (name, queue, label), n in sorted(undo.items()):
            sql(
                "INSERT INTO metric_count (name, queue, label, shard, n, total) VALUES ({p}, {p}, {p}, 0, {p}, 0.0) "
                "ON CONFLICT (name, queue, label, shard) DO UPDATE SET n = metric_count.n + {p}",
                name,
                queue,
                label,
                n,
                n,
            )
    if back:
        wake_workers()
    return len(back)


def record_starts(starts: list[tuple[Claim, float]], worker_id: str) -> None:
    """The real start of jobs that were held after their claim (prefetch: claimed ahead of a
    free slot, started when one freed), into their attempts and jobs: the claim wrote its own
    time as their start, and the order in which jobs ran, a run's duration and the runtime sort
    all read started_at.  (A job's wait, observed at its claim, ends at the claim.)  Called by
    the finish, before the states change, so the duration the metric triggers observe is the
    run's; and by the heartbeat, for a held job still running.  Only runs still open, of jobs
    still this worker's."""
    from .statements import chunks, sql

    for piece in chunks(starts, 250):
        cases = " ".join("WHEN {p} THEN {p}" for _ in piece)
        sql(
            f"UPDATE attempt SET started_at = CASE id {cases} END "
            f"WHERE id IN ({_marks(len(piece))}) AND finished_at IS NULL",
            *[v for claim, at in piece for v in (claim.attempt_id, at)],
            *[claim.attempt_id for claim, _ in piece],
        )
        sql(
            f"UPDATE job SET started_at = CASE seq {cases} END "
            f"WHERE seq IN ({_marks(len(piece))}) AND state = {_PROCESSING} AND worker_id = {{p}}",
            *[v for claim, at in piece for v in (claim.seq, at)],
            *[claim.seq for claim, _ in piece],
            worker_id,
        )


def _marks(n: int) -> str:
    return ", ".join(["{p}"] * n)


def _claim(worker_id: str, host: str, t: float, k: int, queues: tuple[str, ...]) -> list[Claim]:
    from .statements import prepared, sql

    cfg = current_config()
    store = dialect.current()
    limited = limited_queues()
    store.lock_queue_limits(tuple(q for q in limited if q in queues) if queues else limited)
    statement = _claim_sql(store.claim_index, store.retry_index, store.skip_locked, len(queues), store.postgres)
    prefix = f"{location().logs_dir}{os.sep}"  # + job id + "/attempt-" + number, as logfiles.attempt_paths
    paths = (prefix, f"{os.sep}attempt-", prefix, f"{os.sep}attempt-")
    # jobs that ask for resources: only where they fit (fits.py); the statement takes the others
    granted = fits.choose(host, t, k, queues)
    lease_until = t + cfg["lease_seconds"]
    if store.postgres and granted:  # with their attempt rows, grants and the worker row
        given = [value for seq, grant in granted.items() for value in (seq, json.dumps(grant))]
        rows_after = (worker_id, host, t, *paths, t, worker_id)
        fitted = prepared(
            _fitted_sql(len(granted)), *given, worker_id, t, t, lease_until, *granted, *rows_after
        ).fetchall()
    else:
        fitted = fits.take(granted, worker_id, t, lease_until)
    rows: list[tuple] = []
    while len(rows) + len(fitted) < k:
        # a limited queue may have given fewer than asked: the next pass passes over it (full)
        n = k - len(rows) - len(fitted)
        params = (worker_id, t, t, lease_until, t, *queues, n, t, *queues, n, n)
        if store.postgres:  # the attempt rows and the worker row in the same statement
            params += (worker_id, host, t, *paths, t, worker_id)
        got = prepared(statement, *params).fetchall()
        rows += got
        if not got or not limited:
            break
    if not rows and not fitted:
        return []
    if store.postgres:  # (the statements wrote the attempt rows and the worker row)
        rows += fitted
    else:
        bare = fitted + rows
        given = [value for row in fitted for value in (row[0], json.dumps(granted[row[0]]))]
        attempts = {
            seq: (attempt_id, number)
            for attempt_id, seq, number in sql(
                _attempts_sql(len(bare), len(fitted)),
                *given,
                worker_id,
                host,
                t,
                *paths,
                *[row[0] for row in bare],
            ).fetchall()
        }
        rows = [(*row, *attempts[row[0]]) for row in bare]
    rows.sort(key=lambda row: (-row[6], row[0]))
    if not store.postgres:
        sql(
            "UPDATE worker SET state = 'busy', current_job = {p}, heartbeat_at = {p} WHERE id = {p}",
            rows[-1][1],
            t,
            worker_id,
        )
    limit = int(cfg["max_log_bytes"])
    return [
        Claim(
            seq=seq,
            id=job_id,
            command=command,
            timeout=timeout,
            attempt=number,
            attempt_id=attempt_id,
            max_log_bytes=limit,
            lease_seconds=cfg["lease_seconds"],
            env=json.loads(env) if env else None,
            cwd=cwd,
            on_finish=on_finish,
            granted=granted.get(seq),
        )
        for seq, job_id, command, timeout, env, cwd, _priority, on_finish, attempt_id, number in rows
    ]


def _finish(finished: list[Finished], worker_id: str, t: float) -> tuple[list[str], bool]:
    """Record the attempts and the jobs' new states; returns them, and whether to wake workers.

    Successes are two statements for the whole batch (one on PostgreSQL); a failure is a few statements of its own
    (its backoff, its retries left, its fatal exit codes)."""
    from .statements import prepared, sql

    if not finished:
        return [], False
    record_starts([(f.claim, f.started_at) for f in finished if f.started_at is not None], worker_id)
    usage.record([(f.claim.attempt_id, *f.usage) for f in finished if f.usage is not None])
    state_of: dict[int, str] = {}
    wake = False
    # A run is this worker's while its attempt is open: a cancel or a recovery closes it (with
    # its reason), and the job may since have been claimed again, even by this very worker.
    ok = [f for f in finished if f.error is None]
    done: list[tuple] = []
    if ok and dialect.current().postgres:  # one statement
        done = prepared(_COMPLETE_CTE_SQL, t, [f.claim.attempt_id for f in ok], t, t, worker_id).fetchall()
    elif ok:
        open_ = {
            attempt_id
            for (attempt_id,) in sql(
                f"UPDATE attempt SET finished_at = {{p}}, exit_code = 0, error = NULL "
                f"WHERE id IN ({_marks(len(ok))}) AND finished_at IS NULL RETURNING id",
                t,
                *[f.claim.attempt_id for f in ok],
            ).fetchall()
        }
        ok = [f for f in ok if f.claim.attempt_id in open_]
        if ok:
            done = sql(
                f"UPDATE job SET state = {_COMPLETED}, finished_at = {{p}}, exit_code = 0, last_error = NULL, "
                "worker_id = NULL, lease_expires_at = NULL, updated_at = {p} "
                f"WHERE seq IN ({_marks(len(ok))}) AND state = {_PROCESSING} AND worker_id = {{p}} "
                "RETURNING seq, has_dependents",
                t,
                t,
                *[f.claim.seq for f in ok],
                worker_id,
            ).fetchall()
    for seq, has_dependents in sorted(done):
        state_of[seq] = JobState.COMPLETED.value
        wake = bool(has_dependents) and dependencies.job_ended(seq, t) or wake
    for f in finished:
        if f.error is None:
            continue
        closed = sql(
            "UPDATE attempt SET finished_at = {p}, exit_code = {p}, error = {p} "
            "WHERE id = {p} AND finished_at IS NULL RETURNING id",
            t,
            f.exit_code,
            f.error,
            f.claim.attempt_id,
        ).fetchall()
        if not closed:
            continue
        job = Job.get_or_none((Job.seq == f.claim.seq) & (Job.state == P) & (Job.worker_id == worker_id))
        if job is not None:
            state_of[f.claim.seq], woke = fail(job, f.error, f.exit_code, t)
            wake = wake or woke
    # not ours any more (cancelled, recovered, deleted): report what it is now
    gone = [f.claim.seq for f in finished if f.claim.seq not in state_of]
    if gone:
        state_of.update(Job.select(Job.seq, Job.state).where(Job.seq.in_(gone)).tuples())
    return [state_of.get(f.claim.seq, "deleted") for f in finished], wake
