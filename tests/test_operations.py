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


def test_prune_deletes_old_finished_jobs_with_attempts_and_logs():
    enqueue(id="done", command="echo output")
    enqueue(id="broken", command="echo oops; exit 1", max_retries=0)
    enqueue(id="waiting", command="true", run_at="2999-01-01T00:00:00Z")
    drain()
    assert (_logs_dir() / "done").is_dir()
    assert run_cli("prune", "--older-than", "1d").stdout == "deleted 0 job(s)\n"  # not old enough
    before = snapshot()
    dry = run_cli("prune", "--older-than", "0s", "--dry-run")
    assert dry.stdout.split() == ["done", "broken"] and snapshot() == before
    assert run_cli("prune", "--older-than", "0s", "--state", "completed").stdout == "deleted 1 job(s)\n"
    assert _ids() == ["broken", "waiting"]
    assert not (_logs_dir() / "done").exists()
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
        wait_for(lambda: _ids() == ["kept"])
        assert not (_logs_dir() / "old").exists()
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
        (3, 7, "exited with code 7"), (1, 9, "exited with code 9")]  # fmt: skip
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
