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
    drain_workers: tuple = (2, 4, 8)  # slots: SQLite's targets are at 2 and 4, PostgreSQL's at 2 and 8
    diagnostics: bool = True  # PostgreSQL again without a WAL flush per commit: what the flush costs

    @classmethod
    def make(cls, quick: bool, runs: int | None = None) -> Sizes:
        if quick:
            return cls(
                quick=True,
                runs=runs or 1,
                drain_jobs=200,
                raw_jobs=200,
                pickup_jobs=5,
                idle_seconds=1.0,
                idle_samples=1,
                cpu_seconds=2.0,
                enqueue_jobs=10_000,
                startup_runs=2,
                scale_sizes=[10_000],
                query_runs=2,
                claims=3,
                drain_workers=(2, 8),
                diagnostics=False,
            )
        return cls(
            quick=False,
            runs=runs or 3,
            drain_jobs=2000,
            raw_jobs=2000,
            pickup_jobs=50,
            idle_seconds=30.0,
            idle_samples=3,
            cpu_seconds=10.0,
            enqueue_jobs=100_000,
            startup_runs=15,
            scale_sizes=[10_000, 100_000, 1_000_000],
        )


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


def env_for(db) -> dict:
    """The environment of a queuectl process using the store `db` (a SQLite path or a PgStore)."""
    env = dict(os.environ)
    env["QUEUECTL_DB"] = str(db)
    env.pop("QUEUECTL_LOGS", None)
    if isinstance(db, PgStore):  # logs beside the run's other files, not in the user data folder
        env["QUEUECTL_LOGS"] = str(db.work / "logs")
        if db.pgoptions:  # libpq reads it: session settings for every connection of these processes
            env["PGOPTIONS"] = db.pgoptions
    return env


def q(db: Path, *args: str, input_path: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run one queuectl command against the store at `db`."""
    stdin = open(input_path, "rb") if input_path else subprocess.DEVNULL
    try:
        proc = subprocess.run(queuectl_cmd() + list(args), env=env_for(db), stdin=stdin, capture_output=True)
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


def write_jobs_file(path: Path, n: int, command: str = "true", ids: str | None = None) -> Path:
    """n jobs of `command`, one JSON line each; ids: a prefix for explicit ids (PREFIX-1, PREFIX-2 …)."""
    with open(path, "wb") as f:
        if ids is None:
            f.write((f'{{"command": "{command}"}}\n').encode() * n)
        else:
            f.write("".join(f'{{"id": "{ids}-{i}", "command": "{command}"}}\n' for i in range(1, n + 1)).encode())
    return path


def fresh_dir(root: Path, name: str) -> Path:
    path = root / name
    if path.exists():
        shutil.rmtree(path, onerror=_gone_is_fine)
    path.mkdir(parents=True)
    return path


def _gone_is_fine(function, name: str, exc_info) -> None:
    """A file that vanished while its folder was being removed (tsp's server deletes its socket
    as it exits, after `tsp -K` returned) is what rmtree wanted anyway."""
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def temp_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="queuectl-bench-"))


def sql(db, query: str, params=()) -> list[tuple]:
    """Read the store directly (a test fixture's view; the engine is not involved).

    `?` marks a parameter on both backends."""
    if isinstance(db, PgStore):
        return db.sql(query, params)
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


# -- backends ----------------------------------------------------------------------------------
BACKENDS = ("sqlite", "postgres")
#: the PostgreSQL server the bench creates its databases on (any database of it; trust auth or a password in the URL)
PG_URL = os.environ.get("QUEUECTL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_DB_PREFIX = "qcbench_"
#: the diagnostic variant: commits no longer wait for the WAL to reach the disk (not durable:
#: a server crash may lose the last transactions); shows what the per-commit flush costs
ASYNC_COMMIT = "-c synchronous_commit=off"


class PgServer:
    """The PostgreSQL server: one fresh database per measurement, dropped after it."""

    def __init__(self, url: str = PG_URL):
        from urllib.parse import urlsplit

        self.url = url
        parts = urlsplit(url)
        self._base = parts._replace(path="/{name}").geturl()
        self.display = parts._replace(
            netloc=(f"{parts.username}@" if parts.username else "")
            + f"{parts.hostname}"
            + (f":{parts.port}" if parts.port else "")
        ).geturl()
        self.version: str | None = None

    def unreachable(self) -> str | None:
        """Why the server cannot be used (None when it can); leftovers of killed runs are dropped."""
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            return "psycopg2 is not installed (pip install '.[postgres]' in the queuectl checkout)"
        try:
            con = self._admin()
        except Exception as exc:  # noqa: BLE001 - any reason is a reason to skip
            return f"server unreachable at {self.display}: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}"
        try:
            with con.cursor() as cur:
                cur.execute("SHOW server_version")
                self.version = cur.fetchone()[0]
                cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (_DB_PREFIX + "%",))
                for (name,) in cur.fetchall():
                    pid = name[len(_DB_PREFIX) :].split("_", 1)[0]
                    if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            con.close()
        return None

    def _admin(self):
        import psycopg2

        con = psycopg2.connect(self.url, connect_timeout=3)
        con.autocommit = True
        return con

    def create(self, work: Path, name: str) -> PgStore:
        db_name = f"{_DB_PREFIX}{os.getpid()}_{''.join(c if c.isalnum() else '_' for c in name)}".lower()
        con = self._admin()
        try:
            with con.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
                cur.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            con.close()
        return PgStore(self, self._base.format(name=db_name), db_name, work)

    def drop(self, db_name: str) -> None:
        con = self._admin()
        try:
            with con.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            con.close()


class PgStore:
    """One fresh PostgreSQL database; str() is its URL (what QUEUECTL_DB gets)."""

    def __init__(self, server: PgServer, url: str, name: str, work: Path):
        self.server, self.url, self.name, self.work = server, url, name, work
        self.pgoptions: str | None = None  # e.g. ASYNC_COMMIT for a diagnostic variant
        self._con = None

    def __str__(self) -> str:
        return self.url

    def connection(self):
        import psycopg2

        if self._con is None or self._con.closed:
            self._con = psycopg2.connect(self.url)
            self._con.autocommit = True
        return self._con

    def sql(self, query: str, params=()) -> list[tuple]:
        with self.connection().cursor() as cur:
            cur.execute(query.replace("%", "%%").replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

    def commit_latency_ms(self, n: int) -> dict:
        """Median and p95 of a one-row INSERT's commit: durable (the default) and with ASYNC_COMMIT."""
        out = {}
        with self.connection().cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS bench_commit (x int)")
            for name, value in (("sync", "on"), ("async", "off")):
                cur.execute(f"SET synchronous_commit = {value}")
                times = []
                for _ in range(n):
                    t = time.perf_counter()
                    cur.execute("INSERT INTO bench_commit VALUES (1)")  # autocommit: one transaction
                    times.append((time.perf_counter() - t) * 1000)
                out[name] = {"p50": percentile(times, 50), "p95": percentile(times, 95)}
            cur.execute("RESET synchronous_commit")
        return out

    def size_mb(self) -> float:
        return self.sql("SELECT pg_database_size(current_database())")[0][0] / 2**20

    def server_connections(self) -> int:
        """Connections to this database, other than the bench's own."""
        return self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()", (self.name,)
        )[0][0]

    def drop(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self.server.drop(self.name)


def make_store(backend: str, work: Path, name: str, pg: PgServer | None = None):
    """A fresh, empty store location: a SQLite path in `work`, or a new PostgreSQL database."""
    if backend == "postgres":
        return pg.create(work, name)
    return work / "q.db"


def drop_store(db) -> None:
    if isinstance(db, PgStore):
        db.drop()


def store_size_mb(db) -> float:
    return db.size_mb() if isinstance(db, PgStore) else Path(db).stat().st_size / 2**20


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


def as_installed(env: dict) -> dict:
    """A command's environment as an installed queuectl runs: Python writes and reads its
    bytecode cache (PYTHONDONTWRITEBYTECODE in the bench's own environment would have every
    run compile queuectl's modules again, which no user pays after the first run)."""
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_engine() -> None:
    """Write the bytecode of queuectl and its dashboard now, as an install does, so a timed first
    run of them reads it instead of compiling every module (which `as_installed` lets it keep)."""
    import compileall
    import importlib.util

    for package in ("queuectl", "queuectl.tui"):
        for folder in importlib.util.find_spec(package).submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)
