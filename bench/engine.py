"""queuectl's own figures: drain throughput, pickup latency, idle cost, enqueue, start-up, memory."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

from common import (
    ASYNC_COMMIT,
    PYTHON,
    PgServer,
    PgStore,
    Sizes,
    as_installed,
    cpu_seconds,
    drop_store,
    env_for,
    fresh_dir,
    make_store,
    median,
    note,
    percentile,
    q,
    queuectl_cmd,
    rss_mb,
    sql,
    stop_process,
    wait_for,
    wall_ms,
    write_jobs_file,
)


# -- drain ----------------------------------------------------------------------------------
def drain(root: Path, jobs: int, workers: int, backend: str, pg: PgServer | None, pgoptions: str | None = None) -> dict:
    """N `true` jobs enqueued up front, drained by a burst supervisor: first claim to last completion."""
    work = fresh_dir(root, f"drain-{backend}-{workers}")
    db = make_store(backend, work, f"drain_{workers}", pg)
    if isinstance(db, PgStore):
        db.pgoptions = pgoptions
    try:
        q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", jobs))
        t = time.perf_counter()
        q(db, "worker", "start", "--count", str(workers), "--burst", "--quiet")
        wall = time.perf_counter() - t
        ((done, first, last),) = sql(
            db, "SELECT count(*), min(started_at), max(finished_at) FROM job WHERE state = 'completed'"
        )
    finally:
        drop_store(db)
    if done != jobs:
        raise RuntimeError(f"drain: {done} of {jobs} jobs completed")
    return {"jobs_per_s": jobs / (last - first), "wall_s": wall}


def measure_drain(sizes: Sizes, root: Path, backend: str = "sqlite", pg: PgServer | None = None) -> dict:
    out = {}
    variants = [("drain", None, sizes.drain_workers)]
    if backend == "postgres" and sizes.diagnostics:
        variants.append(("drain_async", ASYNC_COMMIT, (2, 4)))
    for key, pgoptions, counts in variants:
        for workers in counts:
            runs = [drain(root, sizes.drain_jobs, workers, backend, pg, pgoptions) for _ in range(sizes.runs)]
            out[f"{key}_{workers}"] = {
                "jobs_per_s": median(r["jobs_per_s"] for r in runs),
                "wall_s": median(r["wall_s"] for r in runs),
                "runs": [r["jobs_per_s"] for r in runs],
            }
            note(
                f"queuectl ({backend}{', ' + pgoptions if pgoptions else ''}) drain, {workers} worker(s): "
                f"{out[f'{key}_{workers}']['jobs_per_s']:.0f} jobs/s"
            )
    return out


# -- pickup latency, idle CPU and memory -------------------------------------------------------
class Enqueuer:
    """Enqueues in this process and notes the moment each enqueue's transaction committed.

    The store calls wake_workers() right after its commit; the bench wraps it to read the clock
    there (the engine is not changed: the wrapper lives in this process only).
    """

    def __init__(self, db):
        from queuectl import store
        from queuectl.paths import resolve
        from queuectl.spec import JobSpec
        from queuectl.store import jobs as jobs_module

        store.close_store()
        store.open_store(resolve(str(db)))
        self.store, self.JobSpec = store, JobSpec
        self.committed: float | None = None
        self._jobs_module = jobs_module
        self._original = jobs_module.wake_workers

        def stamped() -> None:
            self.committed = time.time()
            self._original()

        jobs_module.wake_workers = stamped

    def enqueue(self, command: str) -> tuple[str, float]:
        first = self.store.enqueue([self.JobSpec(command=command)])[0]
        # an id, or (newer engines) a record whose first field is the id
        job_id = first if isinstance(first, str) else getattr(first, "id", None) or first[0]
        return job_id, self.committed

    def close(self) -> None:
        self._jobs_module.wake_workers = self._original
        self.store.close_store()


def _read_stamp(path: Path) -> float | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return float(text) if text.endswith("\n") else None


def _stamp_command(path: Path) -> str:
    # exec: the timestamp is taken by the job's own process, one exec after the shell started
    return f"exec date +%s.%N > {path}"


def spawn_floor(work: Path, n: int) -> list[float]:
    """The same command started directly from Python: what a pickup cannot beat (ms)."""
    out = []
    for i in range(n):
        path = work / f"floor-{i}"
        t = time.time()
        subprocess.run(["/bin/sh", "-c", _stamp_command(path)])
        out.append((_read_stamp(path) - t) * 1000)
    return out


def _pickup_one(enq: Enqueuer, db, work: Path, name: str) -> float:
    path = work / name
    job_id, committed = enq.enqueue(_stamp_command(path))
    started = wait_for(lambda: _read_stamp(path), 10, 0.0005, f"job {name} to start")
    wait_for(
        lambda: sql(db, "SELECT state FROM job WHERE id = ?", (job_id,))[0][0] == "completed",
        10,
        0.002,
        f"job {name} to finish",
    )
    return (started - committed) * 1000


def measure_pickup(sizes: Sizes, root: Path, backend: str = "sqlite", pg: PgServer | None = None) -> dict:
    work = fresh_dir(root, f"pickup-{backend}")
    db = make_store(backend, work, "pickup", pg)
    try:
        out = _pickup(sizes, work, db, backend)
    finally:
        drop_store(db)
    if backend == "postgres" and sizes.diagnostics:  # the warm pickups again, without the WAL flush
        work = fresh_dir(root, "pickup-postgres-async")
        db = make_store(backend, work, "pickup_async", pg)
        db.pgoptions = ASYNC_COMMIT
        try:
            out["async"] = _pickup(sizes, work, db, f"{backend} ({ASYNC_COMMIT})", idle_spells=False)
        finally:
            drop_store(db)
    return out


def _pickup(sizes: Sizes, work: Path, db, backend: str, idle_spells: bool = True) -> dict:
    q(db, "init")
    supervisor = subprocess.Popen(
        queuectl_cmd() + ["worker", "start", "--count", "2", "--quiet"],
        env=env_for(db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    enq = None
    try:
        wait_for(
            lambda: sql(db, "SELECT count(*) FROM worker WHERE state = 'idle'")[0][0] == 2, 30, 0.05, "2 idle workers"
        )
        time.sleep(0.5)
        workers = [pid for (pid,) in sql(db, "SELECT pid FROM worker")]
        enq = Enqueuer(db)
        floor = spawn_floor(work, 10 if sizes.quick else 30)
        warm = []
        for i in range(sizes.pickup_jobs):
            time.sleep(random.uniform(0.02, 0.08))  # workers back to idle, at no fixed phase
            warm.append(_pickup_one(enq, db, work, f"warm-{i}"))
        note(
            f"{backend} pickup p50 {percentile(warm, 50):.1f} ms, p95 {percentile(warm, 95):.1f} ms over {len(warm)} jobs"
        )
        if not idle_spells:
            return {
                "pickup_ms": {
                    "p50": percentile(warm, 50),
                    "p95": percentile(warm, 95),
                    "max": max(warm),
                    "n": len(warm),
                    "samples": warm,
                }
            }
        # idle spells: idle CPU and RSS are read during the first one, then one pickup after each
        idle, cpu, rss = [], {}, {}
        for spell in range(sizes.idle_samples):
            if spell == 0:
                before = {pid: cpu_seconds(pid) for pid in workers + [supervisor.pid]}
                t = time.monotonic()
                time.sleep(sizes.cpu_seconds)
                elapsed = time.monotonic() - t
                cpu = {pid: (cpu_seconds(pid) - c) / elapsed * 100 for pid, c in before.items()}
                rss = {pid: rss_mb(pid) for pid in workers + [supervisor.pid]}
                time.sleep(max(0.0, sizes.idle_seconds - sizes.cpu_seconds))
            else:
                time.sleep(sizes.idle_seconds)
            idle.append(_pickup_one(enq, db, work, f"idle-{spell}"))
        note(f"{backend} pickup after {sizes.idle_seconds:g}s idle: {', '.join(f'{x:.1f}' for x in idle)} ms")
    finally:
        if enq is not None:
            enq.close()
        stop_process(supervisor)
    return {
        "pickup_ms": {
            "p50": percentile(warm, 50),
            "p95": percentile(warm, 95),
            "max": max(warm),
            "n": len(warm),
            "samples": warm,
        },
        "pickup_idle_ms": {
            "p50": percentile(idle, 50),
            "max": max(idle),
            "n": len(idle),
            "idle_s": sizes.idle_seconds,
            "samples": idle,
        },
        "spawn_floor_ms": {"p50": percentile(floor, 50), "p95": percentile(floor, 95)},
        "idle_cpu_pct": {
            "worker": max(cpu[p] for p in workers),
            "supervisor": cpu[supervisor.pid],
            "seconds": sizes.cpu_seconds,
        },
        "rss_mb": {"worker": max(rss[p] for p in workers), "supervisor": rss[supervisor.pid]},
    }


# -- enqueue and start-up ----------------------------------------------------------------------
def measure_enqueue(sizes: Sizes, root: Path, backend: str = "sqlite", pg: PgServer | None = None) -> dict:
    work = fresh_dir(root, f"enqueue-{backend}")
    jobs = write_jobs_file(work / "jobs.jsonl", sizes.enqueue_jobs)
    rates, peaks, cpus = [], [], []
    for i in range(sizes.runs):
        run_dir = fresh_dir(work, f"run{i}")
        db = make_store(backend, run_dir, f"enqueue_{i}", pg)
        try:
            q(db, "init")
            ms, peak, cpu = _timed_with_peak(queuectl_cmd() + ["enqueue", "-"], as_installed(env_for(db)), jobs)
        finally:
            drop_store(db)
        rates.append(sizes.enqueue_jobs / ms * 1000)
        peaks.append(peak)
        cpus.append(cpu)
    note(
        f"{backend} batch enqueue of {sizes.enqueue_jobs}: {median(rates):.0f} jobs/s, peak RSS {max(peaks):.0f} MB, "
        f"{sizes.enqueue_jobs / median(cpus):.0f} jobs per CPU second of the queuectl process"
    )
    return {
        "batch_enqueue": {
            "jobs_per_s": median(rates),
            "jobs": sizes.enqueue_jobs,
            "runs": rates,
            "peak_rss_mb": peaks,
            # the enqueuing process's own CPU (user + system; not PostgreSQL's): steadier than
            # the wall time on a loaded machine
            "cpu_s": cpus,
        }
    }


def _timed_with_peak(argv: list[str], env: dict, stdin_path: Path) -> tuple[float, float, float]:
    """Wall ms of one process, its peak RSS in MB and its CPU seconds (its own rusage, from wait4)."""
    import os

    with open(stdin_path, "rb") as stdin:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        ms = (time.perf_counter() - t) * 1000
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {stderr.decode()[-500:]}")
    return ms, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure_startup(sizes: Sizes, root: Path, backend: str = "sqlite", pg: PgServer | None = None) -> dict:
    work = fresh_dir(root, f"startup-{backend}")
    db = make_store(backend, work, "startup", pg)
    try:
        return _startup(sizes, db, backend)
    finally:
        drop_store(db)


def _startup(sizes: Sizes, db, backend: str) -> dict:
    q(db, "init")
    env = as_installed(env_for(db))
    probes = {
        "python_pass": [PYTHON, "-c", "pass"],
        "import_click_sqlite3": [PYTHON, "-c", "import click, sqlite3"],
        "queuectl_enqueue": queuectl_cmd() + ["enqueue", '{"command": "true"}'],
        "queuectl_status": queuectl_cmd() + ["status"],
        "queuectl_add": queuectl_cmd() + ["add", "--", "true"],
        "queuectl_list": queuectl_cmd() + ["list"],
    }
    for argv in probes.values():  # warm caches (bytecode, page cache) once
        wall_ms(argv, env)
    times: dict[str, list[float]] = {k: [] for k in probes}
    for _ in range(sizes.startup_runs):
        for key, argv in probes.items():  # interleaved, so drift hits all alike
            times[key].append(wall_ms(argv, env))
    out = {k: median(v) for k, v in times.items()}
    # paired: each round's command against the floor measured right beside it (a loaded
    # machine slows whole rounds; the median of the round ratios holds up better than a ratio
    # of medians)
    floor = times["import_click_sqlite3"]
    paired = {
        key: median([t / f for t, f in zip(times[key], floor)])
        for key in ("queuectl_enqueue", "queuectl_status", "queuectl_add", "queuectl_list")
    }
    note(
        f"{backend} start-up ms: "
        + ", ".join(f"{k} {v:.0f}" for k, v in out.items())
        + "; paired ratio to the floor: "
        + ", ".join(f"{k} {v:.2f}x" for k, v in paired.items())
    )
    return {"startup_ms": out, "paired_ratio": paired}


def modules_loaded(db: Path, command: str) -> list[str]:
    """Heavy modules a command imports (diagnostic)."""
    code = (
        "import sys, runpy; sys.argv = ['queuectl'] + sys.argv[1:]\n"
        "try:\n    from queuectl.cli import main; main()\nexcept SystemExit: pass\n"
        "print('\\n'.join(sorted(m for m in sys.modules if '.' not in m)), file=sys.stderr)"
    )
    proc = subprocess.run([PYTHON, "-c", code, *command.split()], env=env_for(db), capture_output=True, text=True)
    return proc.stderr.split()
