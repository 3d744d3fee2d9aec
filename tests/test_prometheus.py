"""Prometheus for real (issue 22): `promtool check metrics` as the oracle of the exposition, on
both backends; `metrics serve` as a real process against raw sockets that never finish their
request; every known series present at 0; the outcome of each run, for a retry rate; a scrape
taken during a drain is one moment of the store."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import urllib.request

import pytest
from conftest import enqueue, qctl, run_cli, start_workers, stop, wait_for
from test_metrics import sample, scrape

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian's prometheus package; .ci/run installs it)"
)
STATES = ("pending", "processing", "completed", "failed", "dead", "cancelled", "blocked")


def promtool_check(text: str) -> None:
    """`promtool check metrics` reads the exposition on stdin: no error, and no lint either."""
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result


def exposition() -> str:
    result = qctl("metrics", "--format", "prometheus")
    assert result.returncode == 0, result.stderr
    return result.stdout


class Exporter:
    """`queuectl metrics serve ARGS` as a real process on a free port, and its printed URL."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl", "metrics", "serve", "--port", "0", *args],
            stderr=subprocess.PIPE,
            text=True,
        )
        self.line = self.proc.stderr.readline()
        assert self.line.startswith("Serving metrics at http://"), self.line
        self.url = self.line.split()[3]

    def get(self) -> str:
        with urllib.request.urlopen(self.url, timeout=20) as response:
            return response.read().decode()

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(30) == 0


@pytest.fixture
def exporter():
    assert run_cli("init").exit_code == 0
    server = Exporter()
    yield server
    server.stop()


def test_a_client_that_never_finishes_its_request_does_not_block_a_scrape(exporter, backend):
    """The server read one request at a time with no timeout: half a request line (or a
    connection that sends nothing) held every scrape behind it."""
    host, port = exporter.url.split("/")[2].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as half, socket.create_connection((host, int(port))) as silent:
        half.sendall(b"GET /metr")
        for _ in range(2):  # twice: one scrape is not all the idle clients may hold
            assert sample(scrape(exporter.get()), "queuectl_jobs", queue="default", state="pending") == 0
        exporter.stop()  # and they do not keep it from stopping
        assert silent.fileno() >= 0


def test_an_ipv6_address_is_printed_in_brackets():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    assert run_cli("init").exit_code == 0
    server = Exporter("--host", "::1")
    try:
        assert server.url.startswith("http://[::1]:") and server.url.endswith("/metrics"), server.line
        assert "queuectl_jobs" in server.get()
    finally:
        server.stop()


def test_every_known_queue_and_host_has_its_series_at_zero(backend, monkeypatch):
    """Series that come and go break rate() and alerts (`sum(queuectl_workers) == 0` has no
    value at all when no worker is alive)."""
    monkeypatch.setenv("QUEUECTL_HOST_ID", "exporter-host")
    assert run_cli("init").exit_code == 0
    fresh = scrape(exposition())
    for state in STATES:
        assert sample(fresh, "queuectl_jobs", queue="default", state=state) == 0
    for outcome in ("completed", "failed", "dead", "cancelled"):
        assert sample(fresh, "queuectl_runs", "queuectl_runs_total", queue="default", outcome=outcome) == 0
    for state in ("idle", "busy", "stopping", "lost"):
        assert sample(fresh, "queuectl_workers", host="exporter-host", state=state) == 0
    # a queue with controls and no job yet; a host whose workers have all stopped
    assert run_cli("queue", "pause", "reports").exit_code == 0
    drained = qctl("worker", "start", "--burst", "--quiet")
    assert drained.returncode == 0, drained.stderr
    monkeypatch.setenv("QUEUECTL_HOST_ID", "another-exporter")
    after = scrape(exposition())
    for state in STATES:
        assert sample(after, "queuectl_jobs", queue="reports", state=state) == 0
    for host in ("exporter-host", "another-exporter"):
        for state in ("idle", "busy", "stopping", "lost"):
            assert sample(after, "queuectl_workers", host=host, state=state) == 0
        for state in ("busy", "idle"):
            assert sample(after, "queuectl_worker_slots", host=host, state=state) == 0


@needs_promtool
def test_promtool_accepts_the_scrape_of_an_empty_store(backend):
    assert run_cli("init").exit_code == 0
    promtool_check(exposition())


@needs_promtool
def test_promtool_accepts_a_drained_store_and_each_run_is_counted_by_outcome(backend):
    """A retry rate is rate(queuectl_runs_total{outcome="failed"}) / rate(queuectl_runs_total)."""
    for i in range(3):
        enqueue(id=f"ok-{i}", command="true")
    enqueue(id="big", command="python3 -c 'import time; b = bytearray(40 << 20); time.sleep(0.8)'")
    enqueue(id="flaky", command="exit 3", max_retries=2, queue="reports")
    enqueue(id="doomed", command="exit 1", max_retries=0, queue="reports")
    assert run_cli("config", "set", "backoff_base", "1").exit_code == 0
    drained = qctl("worker", "start", "--burst", "--quiet", "--count", "2")
    assert drained.returncode == 0, drained.stderr
    text = exposition()
    promtool_check(text)
    figures = scrape(text)
    assert figures["queuectl_runs"][("type", ())] == "counter"
    runs = {
        (queue, outcome): sample(figures, "queuectl_runs", "queuectl_runs_total", queue=queue, outcome=outcome)
        for queue in ("default", "reports")
        for outcome in ("completed", "failed", "dead", "cancelled")
    }
    assert runs == {
        ("default", "completed"): 4,
        ("default", "failed"): 0,
        ("default", "dead"): 0,
        ("default", "cancelled"): 0,
        ("reports", "completed"): 0,
        ("reports", "failed"): 2,
        ("reports", "dead"): 2,
        ("reports", "cancelled"): 0,
    }
    duration = "queuectl_job_duration_seconds"
    assert sample(figures, duration, f"{duration}_count", queue="reports") == 4  # every run has one outcome
    assert "job_id" not in text and "flaky" not in text
    # issue 26: CPU seconds per queue and mode, and a histogram of peak memory: of the runs whose
    # peak was measured (a run that ends before its first sample, as `true` may, has none)
    cpu = sum(
        sample(figures, "queuectl_cpu_seconds", "queuectl_cpu_seconds_total", queue="default", mode=mode)
        for mode in ("user", "system")
    )
    assert cpu > 0
    memory = "queuectl_peak_memory_bytes"
    assert figures[memory][("type", ())] == "histogram"
    assert sample(figures, memory, f"{memory}_count", queue="reports") <= 4
    assert 1 <= sample(figures, memory, f"{memory}_count", queue="default") <= 4
    assert sample(figures, memory, f"{memory}_sum", queue="default") > 40 << 20  # big's, at least


def test_a_scrape_during_a_drain_is_one_moment_of_the_store(backend):
    """Each scrape's gauges and counters agree with each other while workers change the store
    (one transaction, one snapshot on PostgreSQL too), and the last agrees with `status --json`."""
    n = 40
    lines = "\n".join(
        json.dumps({"id": f"j{i}", "command": "true" if i % 4 else "exit 1", "max_retries": 0}) for i in range(n)
    )
    assert run_cli("enqueue", "-", input=lines).exit_code == 0, "enqueue from stdin"
    workers = start_workers("--count", "4", "--procs", "2")
    server = Exporter()
    seen = []
    try:

        def check() -> bool:
            figures = scrape(server.get())
            jobs = {state: sample(figures, "queuectl_jobs", queue="default", state=state) for state in STATES}
            finished = sample(
                figures, "queuectl_jobs_finished", "queuectl_jobs_finished_total", queue="default", outcome="completed"
            )
            ran = sample(figures, "queuectl_runs", "queuectl_runs_total", queue="default", outcome="completed")
            assert sum(jobs.values()) == n, jobs
            assert jobs["completed"] == finished == ran, (jobs, finished, ran)
            assert jobs["dead"] == sample(
                figures, "queuectl_runs", "queuectl_runs_total", queue="default", outcome="dead"
            )
            seen.append(jobs)
            return jobs["completed"] + jobs["dead"] == n

        wait_for(check, timeout=60, interval=0.02)
    finally:
        server.stop()
        stop(workers)
    status = json.loads(qctl("status", "--json").stdout)
    assert status["jobs"] == seen[-1] == {**dict.fromkeys(STATES, 0), "completed": 30, "dead": 10}
