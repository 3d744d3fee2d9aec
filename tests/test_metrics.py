"""Prometheus metrics: `metrics --format prometheus`, `metrics serve`, counters kept in the store
(durable across restarts and deletes), on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conftest import claim_one, drain, enqueue, qctl, run_cli
from prometheus_client.parser import text_string_to_metric_families
from test_store import Clock

from queuectl import store
from queuectl.paths import resolve
from queuectl.spec import JobSpec


def scrape(text: str | None = None) -> dict:
    """{metric family name: {(sample name, sorted labels): value}} of one exposition."""
    if text is None:
        result = qctl("metrics", "--format", "prometheus")
        assert result.returncode == 0, result.stderr
        text = result.stdout
    out: dict = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        out[family.name][("type", ())] = family.type
    return out


def sample(figures: dict, family: str, name: str | None = None, **labels) -> float:
    return figures[family][(name or family, tuple(sorted(labels.items())))]


def test_a_drain_is_counted_per_queue_and_outcome_and_deleting_jobs_does_not_lower_it(backend):
    """The counters come from the store, so a fresh process reports them; prune keeps them."""
    for i in range(3):
        enqueue(id=f"ok-{i}", command="true")
    enqueue(id="bad", command="exit 3", max_retries=1, queue="reports")
    enqueue(id="never", command="true", run_at="2999-01-01T00:00:00Z")
    assert run_cli("config", "set", "backoff_base", "1").exit_code == 0
    drain()
    assert run_cli("cancel", "never").exit_code == 0
    before = scrape()
    assert before["queuectl_jobs_finished"][("type", ())] == "counter"
    assert (
        sample(before, "queuectl_jobs_finished", "queuectl_jobs_finished_total", queue="default", outcome="completed")
        == 3
    )
    assert (
        sample(before, "queuectl_jobs_finished", "queuectl_jobs_finished_total", queue="default", outcome="cancelled")
        == 1
    )
    assert (
        sample(before, "queuectl_jobs_finished", "queuectl_jobs_finished_total", queue="reports", outcome="dead") == 1
    )
    assert (
        sample(before, "queuectl_jobs_finished", "queuectl_jobs_finished_total", queue="reports", outcome="completed")
        == 0
    )
    assert sample(before, "queuectl_jobs", queue="default", state="completed") == 3
    assert sample(before, "queuectl_jobs", queue="reports", state="dead") == 1
    # every run is a duration (bad ran twice); every first run a wait
    duration = "queuectl_job_duration_seconds"
    assert before[duration][("type", ())] == "histogram"
    assert sample(before, duration, f"{duration}_count", queue="reports") == 2
    assert sample(before, duration, f"{duration}_bucket", queue="reports", le="+Inf") == 2
    assert sample(before, duration, f"{duration}_count", queue="default") == 3
    assert sample(before, "queuectl_job_wait_seconds", "queuectl_job_wait_seconds_count", queue="default") == 3
    assert sample(before, "queuectl_job_wait_seconds", "queuectl_job_wait_seconds_count", queue="reports") == 1
    buckets = [
        v
        for (name, labels), v in before[duration].items()
        if name == f"{duration}_bucket" and ("queue", "default") in labels
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert sample(before, "queuectl_leases_expired", "queuectl_leases_expired_total") == 0
    assert sample(before, "queuectl_build_info", version=store.queuectl_version()) == 1

    assert run_cli("prune", "--older-than", "0s").exit_code == 0
    after = scrape()
    assert sample(after, "queuectl_jobs", queue="default", state="completed") == 0
    assert (
        sample(after, "queuectl_jobs_finished", "queuectl_jobs_finished_total", queue="default", outcome="completed")
        == 3
    )
    assert sample(after, duration, f"{duration}_count", queue="reports") == 2


def test_the_oldest_ready_job_ages_and_scheduled_jobs_do_not_count(clock_opened):
    clock = clock_opened
    store.enqueue([JobSpec("true", id="later", run_at=clock.t + 600)])
    text = _exposition()
    assert sample(scrape(text), "queuectl_queue_oldest_ready_age_seconds", queue="default") == 0
    store.enqueue([JobSpec("true", id="now", queue="default")])
    clock.t += 42
    assert sample(scrape(_exposition()), "queuectl_queue_oldest_ready_age_seconds", queue="default") == pytest.approx(
        42
    )


def test_an_expired_lease_is_counted_and_workers_and_slots_are_reported_per_host(clock_opened):
    clock = clock_opened
    store.enqueue([JobSpec("sleep 9", id="s"), JobSpec("sleep 9", id="t")])
    # (worker ids of this test's own: the store's lease watch is per process, see workers._Silence)
    store.register_worker("w-metrics", "alpha", 1, None, slots=4)
    store.register_worker("other", "beta", 2, None, slots=2)
    claim = claim_one("w-metrics", "alpha")
    figures = scrape(_exposition())
    assert sample(figures, "queuectl_workers", host="alpha", state="busy") == 1
    assert sample(figures, "queuectl_workers", host="beta", state="idle") == 1
    assert sample(figures, "queuectl_worker_slots", host="alpha", state="busy") == 1
    assert sample(figures, "queuectl_worker_slots", host="alpha", state="idle") == 3
    assert sample(figures, "queuectl_worker_slots", host="beta", state="idle") == 2
    assert claim is not None
    store.recover_expired()  # starts watching
    for _ in range(4):
        clock.t += 10
        store.heartbeat("other")  # beta is alive; alpha is silent
    clock.t += 31
    store.heartbeat("other")
    assert store.recover_expired() == 1
    figures = scrape(_exposition())
    assert sample(figures, "queuectl_leases_expired", "queuectl_leases_expired_total") == 1
    assert sample(figures, "queuectl_workers", host="alpha", state="busy") == 0  # (listed: issue 22)


def test_metrics_serve_answers_prometheus_at_slash_metrics_only(backend):
    enqueue(id="a", command="true")
    drain()
    proc = subprocess.Popen(
        [sys.executable, "-m", "queuectl", "metrics", "serve", "--port", "0"], stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()
        assert line.startswith("Serving metrics at http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = response.read().decode()
        assert (
            sample(
                scrape(body),
                "queuectl_jobs_finished",
                "queuectl_jobs_finished_total",
                queue="default",
                outcome="completed",
            )
            == 1
        )
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=10)
        assert missing.value.code == 404
        missing.value.close()
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


def test_metrics_json_and_the_table_are_unchanged_and_a_bad_format_is_a_usage_error(backend):
    enqueue(id="a", command="true")
    drain()
    assert json.loads(run_cli("metrics", "--json").stdout)["jobs"]["completed"] == 1
    assert json.loads(run_cli("metrics", "--format", "json").stdout)["jobs"]["completed"] == 1
    bad = qctl("metrics", "--format", "xml")
    assert bad.returncode == 2 and bad.stderr.startswith("Error:") and len(bad.stderr.splitlines()) == 1


def test_a_scrape_reads_no_table_in_full(db_path):
    """What keeps a scrape flat at a million jobs: every statement it runs is served by an index
    or reads a small table (SQLite's query plans, on a store with jobs in every state)."""
    import sqlite3

    from queuectl.metrics import exposition
    from queuectl.models import db

    enqueue(id="a", command="true")
    enqueue(id="b", command="exit 1", max_retries=0)
    enqueue(id="c", command="true", queue="q2")
    drain()
    enqueue(id="d", command="true")
    store.open_store(resolve(str(db_path)))
    statements: list[str] = []
    db.connection().set_trace_callback(statements.append)
    exposition()
    db.connection().set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects
    con = sqlite3.connect(db_path)
    for statement in selects:
        plan = [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {statement}")]
        assert not {"SCAN job", "SCAN attempt", "SCAN attempt_output"} & set(plan), (statement, plan)
    con.close()


def _exposition() -> str:
    from queuectl.metrics import exposition

    return exposition().decode()


@pytest.fixture
def clock_opened(opened):
    clock = Clock()
    store.set_clock(clock)
    return clock
