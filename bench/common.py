"""Shared helpers: sizes, timing, medians, /proc readings, and how to run queuectl."""
from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PYTHON = sys.executable
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sizes:
    """How big each step is; --quick shrinks everything."""

    quick: bool
    runs: int  # repeats of each throughput figure (the median is reported)
    drain_jobs: int
    raw_jobs: int
    pickup_jobs: int
    idle_seconds: float  # idle spell before each "after idle" pickup sample
    idle_samples: int
    cpu_seconds: float
    enqueue_jobs: int
    startup_runs: int
    scale_sizes: list[int] = field(default_factory=list)
    query_runs: int = 5
    claims: int = 20

    @classmethod
    def make(cls, quick: bool, runs: int | None = None) -> "Sizes":
        if quick:
            return cls(quick=True, runs=runs or 1, drain_jobs=200, raw_jobs=200, pickup_jobs=5, idle_seconds=2.0,
                       idle_samples=1, cpu_seconds=2.0, enqueue_jobs=10_000, startup_runs=3,
                       scale_sizes=[10_000], query_runs=2, claims=3)  # fmt: skip
        return cls(quick=False, runs=runs or 3, drain_jobs=2000, raw_jobs=2000, pickup_jobs=50, idle_seconds=30.0,
                   idle_samples=3, cpu_seconds=10.0, enqueue_jobs=100_000, startup_runs=15,
                   scale_sizes=[10_000, 100_000, 1_000_000])  # fmt: skip


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values, q: float):
    """Nearest-rank percentile (q in 0..100)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = max(1, -(-len(values) * q // 100))
    return values[int(rank) - 1]


def queuectl_cmd() -> list[str]:
    """The queuectl console script beside this Python, else `python -m queuectl`."""
    script = Path(PYTHON).parent / "queuectl"
    if script.exists():
        return [str(script)]
    found = shutil.which("queuectl")
    return [found] if found else [PYTHON, "-m", "queuectl"]


def env_for(db: Path) -> dict:
    env = dict(os.environ)
    env["QUEUECTL_DB"] = str(db)
    env.pop("QUEUECTL_LOGS", None)
    return env


def q(db: Path, *args: str, input_path: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run one queuectl command against the store at `db`."""
    stdin = open(input_path, "rb") if input_path else subprocess.DEVNULL
    try:
        proc = subprocess.run(queuectl_cmd() + list(args), env=env_for(db), stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
    finally:
        if input_path:
            stdin.close()
    if check and proc.returncode != 0:
        raise RuntimeError(f"queuectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return proc


def wall_ms(argv: list[str], env: dict | None = None, stdin_path: Path | None = None) -> float:
    """Wall time of one process, output discarded."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        t = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = (time.perf_counter() - t) * 1000
    finally:
        if stdin_path:
            stdin.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def write_jobs_file(path: Path, n: int, command: str = "true") -> Path:
    line = ('{"command": "%s"}\n' % command).encode()
    with open(path, "wb") as f:
        f.write(line * n)
    return path


def fresh_dir(root: Path, name: str) -> Path:
    path = root / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def temp_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="queuectl-bench-"))


def sql(db: Path, query: str, params=()) -> list[tuple]:
    """Read the store directly (a test fixture's view; the engine is not involved)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (not its children), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def wait_for(predicate, timeout: float, interval: float = 0.01, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM one process we started, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def note(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)
