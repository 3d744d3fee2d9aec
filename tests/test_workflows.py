"""Dependencies, unique jobs, per-job environment, fatal exit codes, wait, retry and show."""

import json
import subprocess
import sys
import time

import pytest
from conftest import drain, enqueue, job, qctl, run_cli, start_workers, stop


@pytest.fixture(autouse=True)
def fast_retries():
    run_cli("config", "set", "max_backoff", "0")


def _timeline(path):
    """{name: (start, end)} from lines "name start end" that jobs append."""
    spans = {}
    for line in path.read_text().split("\n"):
        if line:
            name, start, end = line.split()
            spans[name] = (float(start), float(end))
    return spans


def _step(log, name, seconds=0.2):
    return f"s=$(date +%s.%N); sleep {seconds}; echo {name} $s $(date +%s.%N) >> {log}"


@pytest.mark.parametrize("pipeline", [["extract", "transform", "load"], ["build", "test", "deploy"]])
def test_seed_pipelines_run_in_order_with_four_workers(tmp_path, pipeline):
    log = tmp_path / "timeline"
    lines = []
    for i, name in enumerate(pipeline):
        fields = {"id": name, "command": _step(log, name), "priority": 10 - i}
        if i:
            fields["depends_on"] = [pipeline[i - 1]]
        lines.append(json.dumps(fields))
    # noise that would race ahead without dependencies
    lines += [json.dumps({"command": "sleep 0.1"}) for _ in range(6)]
    assert run_cli("enqueue", "-", input="\n".join(lines)).exit_code == 0
    assert job(pipeline[1])["state"] == "blocked"
    drain("--count", "4")
    spans = _timeline(log)
    for before, after in zip(pipeline, pipeline[1:]):
        assert spans[before][1] <= spans[after][0], (before, after, spans)
    assert all(job(name)["state"] == "completed" for name in pipeline)


def test_blocked_jobs_show_in_list_and_status():
    enqueue(id="a", command="true")
    enqueue(id="b", command="true", depends_on=["a"])
    assert json.loads(run_cli("status", "--json").stdout)["jobs"]["blocked"] == 1
    assert "Blocked:" in run_cli("status").stdout
    assert [j["id"] for j in json.loads(run_cli("list", "--state", "blocked", "--json").stdout)] == ["b"]


def test_failure_cancels_the_chain_below_it():
    enqueue(id="a", command="exit 1", max_retries=0)
    enqueue(id="b", command="true", depends_on=["a"])
    enqueue(id="c", command="true", depends_on=["b"])
    enqueue(id="unrelated", command="true")
    drain()
    assert job("a")["state"] == "dead"
    assert (job("b")["state"], job("b")["last_error"]) == ("cancelled", "dependency 'a' ended dead")
    assert (job("c")["state"], job("c")["last_error"]) == ("cancelled", "dependency 'b' ended cancelled")
    assert job("unrelated")["state"] == "completed"


def test_finish_policy_runs_whatever_the_outcome():
    enqueue(id="a", command="exit 1", max_retries=0)
    enqueue(id="cleanup", command="true", depends_on=["a"], dependency_policy="finish")
    drain()
    assert job("cleanup")["state"] == "completed"


def test_cancelling_a_dependency_cancels_its_dependents():
    enqueue(id="a", command="true", run_at="2999-01-01T00:00:00Z")
    enqueue(id="b", command="true", depends_on=["a"])
    assert run_cli("cancel", "a").exit_code == 0
    assert job("b")["state"] == "cancelled"


def test_depending_on_a_dead_job_is_cancelled_at_once():
    enqueue(id="a", command="exit 1", max_retries=0)
    drain()
    enqueue(id="b", command="true", depends_on=["a"])
    assert job("b")["state"] == "cancelled"


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"id": "b", "command": "true", "depends_on": ["nope"]}'], "'nope', which does not exist"),
        (
            ['{"id": "b", "command": "true", "depends_on": ["a"]}', '{"id": "a", "command": "true"}'],
            "'a', which comes later in the batch",
        ),
        (['{"id": "a", "command": "true", "depends_on": ["a"]}'], "cannot depend on itself"),
        (['{"command": "true", "depends_on": "a"}'], "depends_on must be a list"),
        (['{"command": "true", "dependency_policy": "maybe"}'], "dependency_policy must be"),
        (['{"command": "true", "env": {"1X": "a"}}'], "not a valid environment variable name"),
        (['{"command": "true", "env": {"X": 1}}'], "must be a string"),
        (['{"command": "true", "fatal_exit_codes": [0]}'], "between 1 and 255"),
    ],
)
def test_bad_workflow_fields_are_refused_and_nothing_is_written(lines, message):
    from conftest import snapshot

    enqueue(id="existing", command="true")
    before = snapshot()
    result = run_cli("enqueue", "-", input="\n".join(lines))
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_unique_key_returns_the_unfinished_job():
    first = run_cli("enqueue", "--json", '{"id": "a", "command": "true", "unique_key": "nightly"}')
    assert json.loads(first.stdout) == {"id": "a", "duplicate": False}
    again = run_cli("enqueue", "--json", '{"id": "b", "command": "true", "unique_key": "nightly"}')
    assert again.exit_code == 0 and json.loads(again.stdout) == {"id": "a", "duplicate": True}
    assert "unique_key" in again.stderr
    assert run_cli("enqueue", '{"command": "true", "unique_key": "nightly"}').stdout == "a\n"
    drain()
    assert run_cli("enqueue", '{"id": "c", "command": "true", "unique_key": "nightly"}').stdout == "c\n"


def test_unique_key_is_atomic_under_eight_concurrent_enqueuers():
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "queuectl",
                "enqueue",
                "--json",
                json.dumps({"id": f"e{i}", "command": "true", "unique_key": "once"}),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    winners = {r["id"] for r in results}
    assert len(winners) == 1 and sum(not r["duplicate"] for r in results) == 1
    assert len(json.loads(run_cli("list", "--json").stdout)) == 1


def test_env_and_cwd(tmp_path):
    enqueue(id="e", command='echo "$GREETING from $(pwd)"', env={"GREETING": "hello"}, cwd=str(tmp_path))
    enqueue(id="nowhere", command="true", cwd=str(tmp_path / "missing"), max_retries=0)
    drain()
    assert f"hello from {tmp_path}" in run_cli("logs", "e").stdout
    assert job("nowhere")["state"] == "dead"
    assert job("nowhere")["last_error"] == f"working directory {tmp_path / 'missing'} does not exist"


def test_fatal_exit_codes_skip_the_remaining_retries(tmp_path):
    runs = tmp_path / "runs"
    enqueue(id="usage", command=f"echo x >> {runs}; exit 2", max_retries=5, fatal_exit_codes=[2])
    enqueue(id="flaky", command=f"echo y >> {runs}; exit 3", max_retries=1, fatal_exit_codes=[2])
    drain()
    assert job("usage")["state"] == "dead" and job("usage")["attempts"] == 1
    assert job("usage")["last_error"] == "exited with code 2 (fatal exit code: not retried)"
    assert job("flaky")["attempts"] == 2
    assert sorted(runs.read_text().split()) == ["x", "y", "y"]


def test_wait_exit_codes_and_timeout():
    enqueue(id="ok", command="true")
    enqueue(id="bad", command="exit 1", max_retries=0)
    enqueue(id="later", command="true", run_at="2999-01-01T00:00:00Z")
    workers = start_workers("--count", "2")
    try:
        done = qctl("wait", "ok", timeout=30)
        assert done.returncode == 0 and done.stdout == "ok: completed\n"
        mixed = qctl("wait", "ok", "bad", "--json", timeout=30)
        assert mixed.returncode == 1 and json.loads(mixed.stdout) == {"ok": "completed", "bad": "dead"}
        started = time.monotonic()
        pending = qctl("wait", "later", "--timeout", "0.5", timeout=30)
        assert pending.returncode == 124 and time.monotonic() - started < 10
        assert qctl("wait", "nope").returncode == 1
    finally:
        assert stop(workers) == 0


def test_wait_wakes_when_the_job_ends(tmp_path):
    """No polling delay: wait returns as soon as the job ends."""
    enqueue(id="slow", command="sleep 0.5")
    workers = start_workers()
    try:
        waited = subprocess.Popen([sys.executable, "-m", "queuectl", "wait", "slow"], stdout=subprocess.PIPE, text=True)
        assert waited.wait(30) == 0
        assert job("slow")["state"] == "completed"
    finally:
        assert stop(workers) == 0


def test_retry_runs_a_finished_job_again_and_keeps_history():
    enqueue(id="a", command="echo run")
    drain()
    result = run_cli("retry", "a")
    assert result.exit_code == 0 and "retrying job 'a'" in result.stdout
    drain()
    shown = json.loads(run_cli("show", "a", "--json").stdout)
    assert shown["state"] == "completed" and [a["number"] for a in shown["attempts"]] == [1, 2]
    enqueue(id="waiting", command="true", run_at="2999-01-01T00:00:00Z")
    refused = run_cli("retry", "waiting")
    assert refused.exit_code == 1 and "not completed, dead or cancelled" in refused.stderr


def test_show_lists_dependencies_and_dependents():
    enqueue(id="a", command="true")
    enqueue(id="b", command="true", depends_on=["a"])
    enqueue(id="c", command="true", depends_on=["a", "b"])
    shown = json.loads(run_cli("show", "b", "--json").stdout)
    assert (shown["depends_on"], shown["dependents"], shown["attempts"]) == (["a"], ["c"], [])
    text = run_cli("show", "c").stdout
    assert "depends_on:        a, b" in text and "state:             blocked" in text
