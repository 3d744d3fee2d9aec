"""Many slots on one host: what 64 running jobs cost (connections, memory), and how fast 500
slots fill and empty.

- `worker start --count 64` with 64 running `sleep 30` jobs: the RSS of every queuectl process
  (supervisor, worker processes, guards) summed, and (PostgreSQL) the connections to the store's
  database in pg_stat_activity.
- `worker start --count 500` with 500 `sleep 5` jobs enqueued first: from the supervisor's
  start until all 500 run at once, and the longest gap between a job's end (its start + 5 s)
  and the moment it was recorded.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from common import (
    PgServer,
    PgStore,
    Sizes,
    children,
    drop_store,
    env_for,
    fresh_dir,
    make_store,
    note,
    q,
    queuectl_cmd,
    rss_mb,
    sql,
    stop_process,
    wait_for,
    write_jobs_file,
)


def _queuectl_tree(pid: int) -> list[int]:
    """The supervisor and every queuectl process below it (not the jobs' shells)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(b"queuectl" in part for part in argv):
            found.append(current)
            todo += children(current)
    return found


def _running(db) -> int:
    return sql(db, "SELECT count(*) FROM job WHERE state = 'processing'")[0][0]


def sixty_four(root: Path, backend: str, pg: PgServer | None, settle: float) -> dict:
    work = fresh_dir(root, f"slots64-{backend}")
    db = make_store(backend, work, "slots64", pg)
    try:
        q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", 64, "sleep 30"))
        sup = subprocess.Popen(
            queuectl_cmd() + ["worker", "start", "--count", "64", "--quiet"],
            env=env_for(db),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for(lambda: _running(db) == 64, 60, 0.05, "64 running jobs")
            time.sleep(settle)  # a heartbeat or two: steady state
            tree = _queuectl_tree(sup.pid)
            out = {"processes": len(tree), "rss_mb": sum(rss_mb(pid) or 0 for pid in tree)}
            if isinstance(db, PgStore):
                out["connections"] = db.server_connections()
            note(f"{backend} --count 64: {out}")
        finally:
            stop_process(sup, 5)  # one SIGTERM, then SIGKILL: the sleeps are not waited for
    finally:
        drop_store(db)
    return out


def five_hundred(root: Path, backend: str, pg: PgServer | None, seconds: float) -> dict:
    work = fresh_dir(root, f"slots500-{backend}")
    db = make_store(backend, work, "slots500", pg)
    try:
        q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", 500, f"sleep {seconds:g}"))
        t0 = time.time()
        sup = subprocess.Popen(
            queuectl_cmd() + ["worker", "start", "--count", "500", "--burst", "--quiet"],
            env=env_for(db),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: _running(db) == 500, 60, 0.02, "500 running jobs")
            all_running = time.time() - t0
            sup.wait(120)
        finally:
            stop_process(sup)
        ((done, lag),) = sql(
            db, f"SELECT count(*), max(finished_at - started_at - {seconds}) FROM job WHERE state = 'completed'"
        )
    finally:
        drop_store(db)
    out = {"all_running_s": all_running, "completed": done, "record_lag_max_s": lag}
    note(f"{backend} --count 500: {out}")
    return out


def measure(sizes: Sizes, root: Path, backend: str = "sqlite", pg: PgServer | None = None) -> dict:
    """(--quick: a shorter steady state and shorter jobs; it only shows that the section runs)"""
    settle, seconds = (0.5, 1.0) if sizes.quick else (2.0, 5.0)
    return {
        "count_64": sixty_four(root, backend, pg, settle),
        "count_500": five_hundred(root, backend, pg, seconds),
    }
