"""Peers measured in the same run: task-spooler (tsp) and huey (SqliteHuey) beside SQLite, pgqueuer
beside PostgreSQL, each skipped with a note when missing.

All drain the same workload as queuectl: N jobs of `true`, all enqueued before any may start,
timed from the first job's start to the last one's end.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from common import BENCH_DIR, PYTHON, Sizes, fresh_dir, median, note, wait_for

INSTALL_TSP = "apt-get install -y task-spooler"
INSTALL_HUEY = "pip install huey"
INSTALL_PGQUEUER = "pip install pgqueuer asyncpg"
#: concurrencies at which pgqueuer is measured (queuectl's PostgreSQL drains use the same)
PGQUEUER_CONCURRENCY = (2, 8)
#: each job waiting in tsp's queue is a client process holding a connection; the server accepts
#: about 1,000 (TS_MAXCONN can only lower that), so tsp gets at most this many jobs up front
TSP_MAX_QUEUED = 900


# -- task-spooler ---------------------------------------------------------------------------
def tsp_binary() -> str | None:
    return shutil.which("tsp")  # Debian names it tsp; upstream's "ts" clashes with moreutils


def tsp_drain(root: Path, jobs: int, slots: int) -> float:
    """Jobs/s: `slots` blockers hold the queue while N `true` jobs are added, then are released."""
    tsp = tsp_binary()
    work = fresh_dir(root, f"tsp-{slots}")
    release = work / "release"
    env = dict(os.environ, TS_SOCKET=str(work / "socket"), TMPDIR=str(work), TS_MAXFINISHED=str(jobs + 100))

    def run(*a):
        return subprocess.run(
            [tsp, "-B", *a],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,  # noqa: E731
            timeout=60,
        ).stdout

    jobs = min(jobs, TSP_MAX_QUEUED)
    try:
        run("-S", str(slots))
        for _ in range(slots):
            run("sh", "-c", f"while [ ! -e {release} ]; do sleep 0.002; done")
        wait_for(lambda: run("-l").count(" running ") == slots, 10, what="tsp blockers")
        last = None
        for _ in range(jobs):
            last = run("true").strip()
        t0 = time.time()
        release.touch()
        run("-w", last)
        wait_for(lambda: " running " not in run("-l") and " queued " not in run("-l"), 60, 0.002, "tsp drain")
        t1 = time.time()
        return jobs / (t1 - t0)
    finally:
        subprocess.run([tsp, "-K"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- huey -----------------------------------------------------------------------------------
def huey_available() -> bool:
    return (
        importlib.util.find_spec("huey") is not None
        and shutil.which("huey_consumer", path=os.path.dirname(PYTHON)) is not None
    )


def huey_drain(root: Path, jobs: int, workers: int) -> float:
    work = fresh_dir(root, f"huey-{workers}")
    out = work / "done.txt"
    env = dict(
        os.environ,
        HUEY_BENCH_DB=str(work / "huey.db"),
        HUEY_BENCH_OUT=str(out),
        PYTHONPATH=str(BENCH_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    # enqueue up front, from a separate process (the producer), before the consumer starts
    subprocess.run(
        [PYTHON, "-c", f"import huey_app\nfor _ in range({jobs}): huey_app.run('true')"],
        env=env,
        cwd=BENCH_DIR,
        check=True,
    )
    consumer = subprocess.Popen(
        [
            shutil.which("huey_consumer", path=os.path.dirname(PYTHON)),
            "huey_app.huey",
            "-k",
            "process",
            "-w",
            str(workers),
            "-q",
            "-C",
        ],
        env=env,
        cwd=BENCH_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def lines() -> int:
            try:
                return out.read_bytes().count(b"\n")
            except FileNotFoundError:
                return 0

        wait_for(lambda: lines() >= jobs, 300, 0.05, "huey drain")
    finally:
        try:
            os.killpg(consumer.pid, signal.SIGINT)
            consumer.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(consumer.pid, signal.SIGKILL)
            consumer.wait()
        except ProcessLookupError:
            pass
    spans = [tuple(map(float, line.split())) for line in out.read_text().splitlines()]
    return len(spans) / (max(e for _, e in spans) - min(s for s, _ in spans))


# -- pgqueuer --------------------------------------------------------------------------------
def pgqueuer_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("pgqueuer", "asyncpg"))


def pgqueuer_drain(root: Path, jobs: int, concurrency: int, pg) -> float:
    import json

    store = pg.create(fresh_dir(root, f"pgqueuer-{concurrency}"), f"pgqueuer_{concurrency}")
    try:
        out = subprocess.run(
            [PYTHON, str(BENCH_DIR / "pgqueuer_app.py"), store.url, str(jobs), str(concurrency)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
    finally:
        store.drop()
    return json.loads(out.strip().splitlines()[-1])["jobs_per_s"]


def measure(sizes: Sizes, root: Path, pg=None) -> dict:
    out: dict = {"notes": []}
    if pg is None:
        out["notes"].append("PostgreSQL not measured: pgqueuer skipped")
    elif pgqueuer_available():
        for concurrency in PGQUEUER_CONCURRENCY:
            rates = [pgqueuer_drain(root, sizes.drain_jobs, concurrency, pg) for _ in range(sizes.runs)]
            out[f"pgqueuer_{concurrency}"] = {"jobs_per_s": median(rates), "runs": rates}
            note(f"pgqueuer, concurrency {concurrency}: {median(rates):.0f} jobs/s")
    else:
        out["notes"].append(f"pgqueuer not installed: skipped ({INSTALL_PGQUEUER})")
    if tsp_binary():
        if sizes.drain_jobs > TSP_MAX_QUEUED:
            out["notes"].append(
                f"tsp drains {TSP_MAX_QUEUED} jobs, not {sizes.drain_jobs}: its queue holds ~1,000 waiting "
                "clients at most"
            )
        for slots in (1, 2):
            rates = [tsp_drain(root, sizes.drain_jobs, slots) for _ in range(sizes.runs)]
            out[f"tsp_{slots}"] = {
                "jobs_per_s": median(rates),
                "runs": rates,
                "jobs": min(sizes.drain_jobs, TSP_MAX_QUEUED),
            }
            note(f"tsp, {slots} slot(s): {median(rates):.0f} jobs/s")
    else:
        out["notes"].append(f"task-spooler not installed: skipped ({INSTALL_TSP})")
    if huey_available():
        for workers in (1, 2):
            rates = [huey_drain(root, sizes.drain_jobs, workers) for _ in range(sizes.runs)]
            out[f"huey_{workers}"] = {"jobs_per_s": median(rates), "runs": rates}
            note(f"huey, {workers} worker(s): {median(rates):.0f} jobs/s")
    else:
        out["notes"].append(f"huey not installed: skipped ({INSTALL_HUEY})")
    for text in out["notes"]:
        note(text)
    return out
