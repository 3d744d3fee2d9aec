"""Retention (prune, dlq purge, retention settings) and DLQ triage."""

import json
import time

import pytest
from conftest import drain, enqueue, job, run_cli, snapshot, start_workers, stop, wait_for


@pytest.fixture(autouse=True)
def fast_retries():
    run_cli("config", "set", "max_backoff", "0")


def _ids(state=None):
    args = ["list", "--json", "--limit", "1000"] + (["--state", state] if state else [])
    return sorted(j["id"] for j in json.loads(run_cli(*args).stdout))


def _logs_dir():
    from queuectl.paths import resolve

    return resolve(None).logs_dir


def _with_output(backend) -> set[str]:
    """The jobs whose output is kept: log folders on SQLite, rows in the store on PostgreSQL
    (where workers ship it and keep no local copy)."""
    if backend == "sqlite":
        return {p.name for p in _logs_dir().iterdir()} if _logs_dir().exists() else set()
    from queuectl.models import db

    return {
        job_id
        for (job_id,) in db.execute_sql(
            "SELECT DISTINCT j.id FROM attempt_output o JOIN attempt a ON a.id = o.attempt_id "
            "JOIN job j ON j.seq = a.job_seq"
        ).fetchall()
    }


def test_prune_deletes_old_finished_jobs_with_attempts_and_logs(backend):
    enqueue(id="done", command="echo output")
    enqueue(id="broken", command="echo oops; exit 1", max_retries=0)
    enqueue(id="waiting", command="true", run_at="2999-01-01T00:00:00Z")
    drain()
    assert {"done", "broken"} <= _with_output(backend)
    assert run_cli("prune", "--older-than", "1d").stdout == "deleted 0 job(s)\n"  # not old enough
    before = snapshot()
    dry = run_cli("prune", "--older-than", "0s", "--dry-run")
    assert dry.stdout.split() == ["done", "broken"] and snapshot() == before
    assert run_cli("prune", "--older-than", "0s", "--state", "completed").stdout == "deleted 1 job(s)\n"
    assert _ids() == ["broken", "waiting"]
    assert "done" not in _with_output(backend) and "broken" in _with_output(backend)
    assert json.loads(run_cli("status", "--json").stdout)["jobs"]["completed"] == 0
    assert run_cli("prune", "--older-than", "0s").stdout == "deleted 1 job(s)\n"
    assert _ids() == ["waiting"]  # unfinished jobs are never pruned


def test_prune_refuses_a_bad_duration():
    result = run_cli("prune", "--older-than", "a while")
    assert result.exit_code == 2 and "--older-than must be a duration" in result.stderr


def test_workers_apply_the_retention_settings():
    assert run_cli("config", "set", "retention_completed", "1s").stdout == "retention_completed = 1s\n"
    enqueue(id="old", command="echo hi")
    enqueue(id="kept", command="exit 1", max_retries=0)  # dead jobs are kept: retention_dead is forever
    drain()
    time.sleep(1.2)
    workers = start_workers()
    try:
        # the rows go in one transaction, the log folders just after it
        wait_for(lambda: _ids() == ["kept"] and not (_logs_dir() / "old").exists())
    finally:
        assert stop(workers) == 0
    assert json.loads(run_cli("config", "show", "--json").stdout)["retention_dead"] is None


def test_dlq_grouped_by_error_and_bulk_retry_with_dry_run():
    for i in range(3):
        enqueue(id=f"net{i}", command="exit 7", max_retries=0)
    enqueue(id="disk", command="exit 9", max_retries=0)
    drain()
    groups = json.loads(run_cli("dlq", "list", "--group-by", "error", "--json").stdout)
    assert [(g["count"], g["exit_code"], g["error"]) for g in groups] == [
        (3, 7, "exited with code 7"),
        (1, 9, "exited with code 9"),
    ]
    assert groups[0]["examples"] == ["net2", "net1", "net0"] and groups[0]["latest"].endswith("Z")
    before = snapshot()
    assert run_cli("dlq", "retry", "--filter", "code 7", "--dry-run").stdout.split() == ["net0", "net1", "net2"]
    assert snapshot() == before
    assert run_cli("dlq", "retry", "--filter", "code 7").stdout == "retrying 3 job(s) from the DLQ\n"
    assert _ids("pending") == ["net0", "net1", "net2"] and _ids("dead") == ["disk"]
    assert run_cli("dlq", "retry", "--filter", "nothing like it").stdout == "retrying 0 job(s) from the DLQ\n"
    assert run_cli("dlq", "retry", "disk", "--all").exit_code == 2


def test_dlq_purge():
    enqueue(id="d", command="exit 1", max_retries=0)
    enqueue(id="ok", command="true")
    drain()
    assert run_cli("dlq", "purge", "--older-than", "1h").stdout == "deleted 0 job(s)\n"
    assert run_cli("dlq", "purge", "--dry-run").stdout == "d\n"
    assert run_cli("dlq", "purge").stdout == "deleted 1 job(s)\n"
    assert _ids() == ["ok"] and job("ok")["state"] == "completed"


def _max_overlap(spans):
    """The most intervals open at one moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_queue_limit_is_never_exceeded_by_eight_workers(tmp_path):
    log = tmp_path / "spans"
    lines = [
        json.dumps({"command": f"s=$(date +%s.%N); sleep 0.2; echo $s $(date +%s.%N) >> {log}", "queue": "lim"})
        for _ in range(16)
    ]
    lines += [json.dumps({"command": f"sleep 0.2; echo x >> {tmp_path / 'free'}"}) for _ in range(8)]
    assert run_cli("queue", "limit", "lim", "2").exit_code == 0
    assert run_cli("enqueue", "-", input="\n".join(lines)).exit_code == 0
    drain("--count", "8")
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(spans) == 16 and _max_overlap(spans) == 2
    assert len((tmp_path / "free").read_text().split()) == 8
    listed = {q["name"]: q for q in json.loads(run_cli("queue", "list", "--json").stdout)}
    assert listed["lim"]["max_running"] == 2 and listed["lim"]["jobs"]["completed"] == 16


def test_paused_queue_waits_and_resumes():
    assert run_cli("queue", "pause", "reports").stdout == "queue 'reports' paused\n"
    enqueue(id="r", command="true", queue="reports")
    enqueue(id="d", command="true")
    drain()  # a burst does not wait for a paused queue
    assert (job("r")["state"], job("d")["state"]) == ("pending", "completed")
    listed = {q["name"]: q for q in json.loads(run_cli("queue", "list", "--json").stdout)}
    assert listed["reports"]["paused"] and listed["reports"]["jobs"]["pending"] == 1
    run_cli("queue", "resume", "reports")
    drain()
    assert job("r")["state"] == "completed"


def test_workers_serve_only_their_queues():
    enqueue(id="a", command="true", queue="alpha")
    enqueue(id="b", command="true", queue="beta")
    drain("--queue", "alpha")
    assert (job("a")["state"], job("b")["state"]) == ("completed", "pending")
    assert job("b")["queue"] == "beta"


def test_queue_commands_refuse_bad_input():
    for args in (
        ["queue", "limit", "q", "0"],
        ["queue", "limit", "q", "many"],
        ["queue", "pause", "../x"],
        ["worker", "start", "--queue", "a b"],
        ["enqueue", '{"command": "true", "queue": ""}'],
    ):
        result = run_cli(*args)
        assert result.exit_code == 2 and result.stderr.startswith("Error: "), args
