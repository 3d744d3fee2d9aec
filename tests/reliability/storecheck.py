"""Consistency checks on a queuectl SQLite store, read with the plain sqlite3 module.

Used after every fault the reliability suite injects: whatever was killed, and whenever, the
store must pass all of these.  Reads only (autocommit SELECTs), so it never holds a write lock.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

STATES = ("pending", "processing", "completed", "failed", "dead", "cancelled", "blocked")


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def dump(path: str | Path) -> list[str]:
    """The store's content as SQLite sees it (to prove that a refused command wrote nothing)."""
    conn = connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def problems(path: str | Path) -> list[str]:
    """Every broken invariant, as readable lines (empty when the store is consistent)."""
    conn = connect(path)
    try:
        return _problems(conn)
    finally:
        conn.close()


def _problems(conn: sqlite3.Connection) -> list[str]:
    found: list[str] = []
    integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        found.append(f"integrity_check: {integrity[:5]}")
    fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        found.append(f"foreign_key_check: {fk[:5]}")
    # the trigger-kept counters agree with the table
    actual = dict(conn.execute("SELECT state, COUNT(*) FROM job GROUP BY state").fetchall())
    counted = dict(conn.execute("SELECT state, n FROM job_count").fetchall())
    for state in set(actual) | set(counted):
        if actual.get(state, 0) != counted.get(state, 0):
            found.append(f"job_count[{state}] = {counted.get(state, 0)} but {actual.get(state, 0)} jobs are {state}")
    unknown = set(actual) - set(STATES)
    if unknown:
        found.append(f"unknown states: {sorted(unknown)}")
    rows = conn.execute(
        "SELECT j.id, j.state, j.worker_id, j.lease_expires_at, j.next_attempt_at, j.attempts, j.max_retries, "
        "j.exit_code, j.finished_at, "
        "(SELECT COUNT(*) FROM attempt a WHERE a.job_seq = j.seq AND a.finished_at IS NULL), "
        "(SELECT COUNT(*) FROM attempt a WHERE a.job_seq = j.seq), "
        "(SELECT MAX(number) FROM attempt a WHERE a.job_seq = j.seq) FROM job j"
    ).fetchall()
    for job_id, state, worker, lease, next_at, attempts, max_retries, code, finished, open_, _total, top in rows:

        def bad(what: str, job_id: str = job_id, state: str = state) -> None:
            found.append(f"job {job_id!r} ({state}): {what}")

        if state == "processing":
            if worker is None or lease is None:
                bad("processing without a worker or a lease")
            if open_ != 1:
                bad(f"processing with {open_} open attempts (expected 1)")
        else:
            if open_:
                bad(f"{open_} attempt(s) still open")
            if worker is not None or lease is not None:
                bad(f"keeps worker {worker!r} / lease {lease!r}")
        if state in ("pending", "failed") and next_at is None:
            bad("waiting without next_attempt_at")
        if state not in ("pending", "failed", "blocked") and next_at is not None:
            bad("not waiting but has next_attempt_at")
        if state == "completed" and (code != 0 or finished is None):
            bad(f"completed with exit code {code!r}, finished_at {finished!r}")
        if attempts > (top or 0):
            bad(f"attempts = {attempts} but only {top or 0} attempt rows")
        if attempts > 1 + max_retries:
            bad(f"ran {attempts} times, more than 1 + max_retries = {1 + max_retries}")
    dup_numbers = conn.execute(
        "SELECT job_seq, number, COUNT(*) FROM attempt GROUP BY job_seq, number HAVING COUNT(*) > 1"
    ).fetchall()
    if dup_numbers:
        found.append(f"attempt numbers used twice: {dup_numbers[:5]}")
    return found


def state_counts(path: str | Path) -> dict[str, int]:
    conn = connect(path)
    try:
        return dict(conn.execute("SELECT state, COUNT(*) FROM job GROUP BY state").fetchall())
    finally:
        conn.close()
