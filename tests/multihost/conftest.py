"""Real hosts for the fleet tests: network namespaces joined by veth pairs to a bridge, and a
private PostgreSQL server listening on the bridge.

Topology (all of it made here, none of the machine's own network touched):

    qc-db:  bridge qcbr (10.231.42.1/24) + the test's PostgreSQL on 10.231.42.1:55432
    qc-h1, qc-h2, qc-h3:  one veth each (10.231.42.11-13/24), the other end on the bridge

Each host runs `queuectl` inside its namespace (`ip netns exec`) with its own QUEUECTL_HOST_ID,
logs folder and data folder; a link taken down on the bridge's side is a network partition of
that host.  The server is started with initdb/pg_ctl from /usr/lib/postgresql/*/bin as the
postgres user (initdb refuses root), in a folder of its own: the machine's server on 5432 is
never touched.  Needs root, iproute2 and a PostgreSQL installation; skips with the reason
otherwise.

Jobs of these tests take a per-job lock (flock) in a folder every host sees (namespaces share
the file system): a run that finds the lock taken, i.e. a second run while the first is alive,
writes to `overlaps`; each run logs its start and end in `runs.log`.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PREFIX = "qc"
SUBNET = "10.231.42"
DB_ADDRESS = f"{SUBNET}.1"
PG_PORT = 55432
HOSTS = ("h1", "h2", "h3")
#: short leases keep the suite short: fenced after 3 s without renewal, taken over after 6 s
LEASE_SECONDS = 6


def _run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()[-600:]}")
    return result


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the multihost tests need root (network namespaces, a private PostgreSQL started as postgres)"
    for tool in ("ip", "runuser", "flock"):
        if shutil.which(tool) is None:
            return f"the multihost tests need {tool} (iproute2, util-linux)"
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "the multihost tests need a PostgreSQL installation in /usr/lib/postgresql/*/bin"
    probe = f"{PREFIX}-probe{os.getpid()}"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    _run("ip", "netns", "del", probe, check=False)
    return None


def _ns(name: str) -> str:
    return f"{PREFIX}-{name}"


class Network:
    """The namespaces, the bridge and the links; removed at the end."""

    def __init__(self) -> None:
        self.cleanup()
        _run("ip", "netns", "add", _ns("db"))
        _run("ip", "-n", _ns("db"), "link", "set", "lo", "up")
        _run("ip", "-n", _ns("db"), "link", "add", f"{PREFIX}br", "type", "bridge")
        _run("ip", "-n", _ns("db"), "addr", "add", f"{DB_ADDRESS}/24", "dev", f"{PREFIX}br")
        _run("ip", "-n", _ns("db"), "link", "set", f"{PREFIX}br", "up")
        for i, host in enumerate(HOSTS, start=11):
            ns = _ns(host)
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            inside, outside = f"{PREFIX}-{host}-in", f"{PREFIX}-{host}-br"
            _run("ip", "link", "add", inside, "netns", ns, "type", "veth", "peer", "name", outside, "netns", _ns("db"))
            _run("ip", "-n", ns, "addr", "add", f"{SUBNET}.{i}/24", "dev", inside)
            _run("ip", "-n", ns, "link", "set", inside, "up")
            _run("ip", "-n", _ns("db"), "link", "set", outside, "master", f"{PREFIX}br")
            _run("ip", "-n", _ns("db"), "link", "set", outside, "up")

    def link(self, host: str, up: bool) -> None:
        """Take a host's link down (a partition: its packets go nowhere) or up again."""
        _run("ip", "-n", _ns("db"), "link", "set", f"{PREFIX}-{host}-br", "up" if up else "down")

    @staticmethod
    def cleanup() -> None:
        for name in ("db", *HOSTS):
            for pid in _ns_pids(_ns(name)):
                _kill(pid)
            _run("ip", "netns", "del", _ns(name), check=False)


def _ns_pids(ns: str) -> list[int]:
    found = _run("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in found.stdout.split()] if found.returncode == 0 else []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Postgres:
    """A private server in the db namespace, owned by postgres, in its own folder."""

    def __init__(self, root: Path) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
        self.root = root
        self.data = root / "pgdata"
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o700)
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        with open(self.data / "pg_hba.conf", "a") as f:
            f.write(f"host all all {SUBNET}.0/24 trust\n")
        self.start()

    def _as_postgres(self, *args: str, netns: bool = False) -> subprocess.CompletedProcess:
        prefix = ["ip", "netns", "exec", _ns("db")] if netns else []
        return _run(*prefix, "runuser", "-u", "postgres", "--", *args, cwd=self.root)

    def start(self) -> None:
        options = (
            f"-c listen_addresses={DB_ADDRESS} -p {PG_PORT} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100 -c shared_buffers=32MB"
        )
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            netns=True,
        )

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", netns=True)

    def admin(self):
        """A connection through the server's Unix socket (reachable from here, outside the namespaces)."""
        import psycopg2

        conn = psycopg2.connect(host=str(self.root), port=PG_PORT, user="postgres", dbname="postgres")
        conn.autocommit = True
        return conn

    def create_database(self, name: str) -> str:
        conn = self.admin()  # (not `with conn`: that would open a transaction)
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {name}")
        conn.close()
        return f"postgresql://postgres@{DB_ADDRESS}:{PG_PORT}/{name}"

    def query(self, name: str, statement: str) -> list[tuple]:
        import psycopg2

        with psycopg2.connect(host=str(self.root), port=PG_PORT, user="postgres", dbname=name) as conn:
            with conn.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall()


@dataclass
class Fleet:
    """One test's store on the private server, hosts that run queuectl in their namespaces,
    and the shared folder of the jobs' locks and run log."""

    network: Network
    pg: Postgres
    db_name: str
    url: str
    root: Path
    procs: list = field(default_factory=list)

    def env(self, host: str) -> dict:
        home = self.root / host
        return dict(
            os.environ,
            QUEUECTL_DB=self.url,
            QUEUECTL_HOST_ID=host,
            QUEUECTL_LOGS=str(home / "logs"),
            XDG_DATA_HOME=str(home / "data"),
            PGCONNECT_TIMEOUT="3",
        )

    def command(self, host: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", _ns(host), sys.executable, "-m", "queuectl", *args]

    def q(self, host: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        """`queuectl ARGS` run on a host."""
        result = subprocess.run(
            self.command(host, *args), env=self.env(host), capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert result.returncode == 0, f"{host}: queuectl {' '.join(args)}: {result.stderr}"
        return result

    def start(self, host: str, *args: str, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        """A long-running `queuectl ARGS` on a host (workers, a follower)."""
        proc = subprocess.Popen(
            self.command(host, *args),
            env=self.env(host),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def workers(self, host: str, count: int = 2, *args: str) -> subprocess.Popen:
        return self.start(host, "worker", "start", "--quiet", "--count", str(count), "--procs", "1", *args)

    def enqueue(self, jobs: list[dict]) -> None:
        self.q("h3", "enqueue", "-", "--file", str(self._jobs_file(jobs)))

    def _jobs_file(self, jobs: list[dict]) -> Path:
        path = self.root / f"jobs-{time.monotonic_ns()}.jsonl"
        path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
        return path

    def locked_job(self, job_id: str, seconds: float, **fields) -> dict:
        """A job that holds its lock for `seconds` and logs its start and end."""
        runs, overlaps, lock = self.root / "runs.log", self.root / "overlaps", self.root / f"lock-{job_id}"
        command = (
            f'exec 9>>{lock}; flock -n 9 || {{ echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT" >> {overlaps}; exit 99; }}; '
            f'echo "start $QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $QUEUECTL_HOST_ID" >> {runs}; '
            f'echo "output of $QUEUECTL_JOB_ID"; sleep {seconds}; '
            f'echo "end $QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $QUEUECTL_HOST_ID" >> {runs}'
        )
        return {"id": job_id, "command": command, "max_retries": 5, **fields}

    def rows(self, statement: str) -> list[tuple]:
        return self.pg.query(self.db_name, statement)

    def wait_until_done(self, job_ids: list[str], timeout: float) -> None:
        result = self.q("h3", "wait", *job_ids, "--timeout", str(timeout), timeout=timeout + 30, check=False)
        assert result.returncode == 0, f"not all completed: {result.stdout} {result.stderr}"

    def check_exactly_once(self, job_ids: list[str]) -> dict[str, int]:
        """Every job completed, with exactly one successful attempt; no run found its lock
        taken (no two runs overlapped); every run that started either ended or was stopped.
        Returns the hosts that completed each job's run."""
        states = dict(self.rows("SELECT id, state FROM job"))
        assert {job_id: states.get(job_id) for job_id in job_ids} == {job_id: "completed" for job_id in job_ids}
        ok = self.rows(
            "SELECT j.id, COUNT(*) FROM attempt a JOIN job j ON j.seq = a.job_seq "
            "WHERE a.exit_code = 0 AND a.error IS NULL GROUP BY j.id"
        )
        assert dict(ok) == {job_id: 1 for job_id in job_ids}
        overlaps = self.root / "overlaps"
        assert not overlaps.exists(), f"runs overlapped: {overlaps.read_text()}"
        hosts = dict(
            self.rows(
                "SELECT j.id, a.host FROM attempt a JOIN job j ON j.seq = a.job_seq "
                "WHERE a.exit_code = 0 AND a.error IS NULL"
            )
        )
        return hosts

    def kill_host(self, host: str) -> None:
        """Every process of the host, at once (its power is cut)."""
        for pid in _ns_pids(_ns(host)):
            _kill(pid)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for host in HOSTS:  # whatever is left (workers run in process groups of their own)
            self.kill_host(host)
        for proc in self.procs:
            if proc.poll() is None:
                proc.wait(5)


_reason = None


@pytest.fixture(scope="session")
def network():
    global _reason
    _reason = _why_not()
    if _reason:
        pytest.skip(_reason)
    net = Network()
    yield net
    Network.cleanup()


@pytest.fixture(scope="session")
def private_pg(network):
    import tempfile

    # not under pytest's folder, which only root may enter: the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="queuectl-multihost-pg-"))
    pg = Postgres(root)
    yield pg
    try:
        pg.stop()
    except RuntimeError:
        pass
    shutil.rmtree(root, ignore_errors=True)


_names = itertools.count()


@pytest.fixture
def fleet(network, private_pg, tmp_path):
    name = f"fleet_{os.getpid()}_{next(_names)}"
    url = private_pg.create_database(name)
    root = tmp_path / "fleet"
    root.mkdir()
    root.chmod(0o755)
    for host in HOSTS:
        (root / host).mkdir(mode=0o700)
    for host in HOSTS:
        network.link(host, True)
    f = Fleet(network, private_pg, name, url, root)
    setup = (
        "from queuectl import store; from queuectl.paths import resolve; store.open_store(resolve(None)); "
        f"[store.set_config(k, v) for k, v in (('lease_seconds', '{LEASE_SECONDS}'), ('backoff_base', '1'), "
        "('max_backoff', '1'))]"
    )  # one process instead of four commands (each a Python start-up)
    made = subprocess.run(
        ["ip", "netns", "exec", _ns("h3"), sys.executable, "-c", setup],
        env=f.env("h3"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    yield f
    f.stop_all()
    for host in HOSTS:
        network.link(host, True)


@pytest.fixture(autouse=True)
def store_url():
    """(The suite's store fixture does not apply: these tests run against the private server.)"""
    yield None
