"""Hooks: on_finish (config and per job) and on_queue_drained, run by the worker with the job's
facts in the environment only; their failures and timeouts never change the job (both backends)."""

import json
import shlex

import pytest
from conftest import drain, enqueue, job, qctl, run_cli, snapshot, start_workers, stop, wait_for

FACTS = (
    "QUEUECTL_JOB_ID",
    "QUEUECTL_STATE",
    "QUEUECTL_EXIT_CODE",
    "QUEUECTL_COMMAND",
    "QUEUECTL_QUEUE",
    "QUEUECTL_LABELS",
    "QUEUECTL_HOOK",
)
#: the job runs this harmlessly (the dangerous parts are quoted for its shell); pasted into a
#: hook's text, it would run `touch`
EVIL = "true '$(touch {d}/pwned1)' '`touch {d}/pwned2`' \"';touch {d}/pwned3;'\" '\"; touch {d}/pwned4; \"' #"


def recorder(out_dir) -> str:
    """A hook that writes its facts, one per line, to OUT/<job id>.<hook>, using only $VARS."""
    fields = " ".join(f'"${name}"' for name in FACTS)
    return f"printf '%s\\n' {fields} > {shlex.quote(str(out_dir))}/\"$QUEUECTL_JOB_ID.$QUEUECTL_HOOK\""


def facts(out_dir, job_id: str, hook: str = "on_finish") -> dict:
    lines = (out_dir / f"{job_id}.{hook}").read_text().split("\n")
    return dict(zip(FACTS, lines))


def test_on_finish_gets_the_facts_in_its_environment_and_runs_nothing_of_them(tmp_path):
    """A command and labels full of shell metacharacters reach the hook as values only."""
    out = tmp_path / "out"
    out.mkdir()
    assert run_cli("config", "set", "on_finish", recorder(out)).exit_code == 0
    command = EVIL.format(d=tmp_path)
    enqueue(id="evil:job-1.x", command=command, labels=["a=b", "c/d"], queue="q1")
    enqueue(id="dies", command="exit 3", max_retries=0)
    drain()
    got = facts(out, "evil:job-1.x")
    assert got == {
        "QUEUECTL_JOB_ID": "evil:job-1.x",
        "QUEUECTL_STATE": "completed",
        "QUEUECTL_EXIT_CODE": "0",
        "QUEUECTL_COMMAND": command,
        "QUEUECTL_QUEUE": "q1",
        "QUEUECTL_LABELS": "a=b,c/d",
        "QUEUECTL_HOOK": "on_finish",
    }
    assert (facts(out, "dies")["QUEUECTL_STATE"], facts(out, "dies")["QUEUECTL_EXIT_CODE"]) == ("dead", "3")
    assert not list(tmp_path.glob("pwned*"))


def test_a_jobs_own_on_finish_and_the_queue_drained_hook(tmp_path):
    """add --on-finish runs for that job only; on_queue_drained once the queue's last job ended."""
    out = tmp_path / "out"
    out.mkdir()
    assert run_cli("config", "set", "on_queue_drained", recorder(out)).exit_code == 0
    assert run_cli("add", "--id", "own", "-q", "batch", "--on-finish", recorder(out), "--", "true").exit_code == 0
    for i in range(3):
        enqueue(id=f"b{i}", command="true", queue="batch")
    drain("--count", "1")
    assert facts(out, "own")["QUEUECTL_STATE"] == "completed"
    assert not (out / "b0.on_finish").exists()
    drained = list(out.glob("*.on_queue_drained"))
    assert [p.name for p in drained] == ["b2.on_queue_drained"]
    assert facts(out, "b2", "on_queue_drained")["QUEUECTL_QUEUE"] == "batch"


def test_a_failing_or_hanging_hook_never_changes_the_job_and_speaks_in_the_workers_log(tmp_path):
    """Its output and outcome go to the worker's log; a hook past hook_timeout is killed."""
    assert run_cli("config", "set", "on_finish", "echo hook says $QUEUECTL_JOB_ID; exit 9").exit_code == 0
    assert run_cli("config", "set", "hook_timeout", "0.5").exit_code == 0
    assert run_cli("add", "--id", "slow-hook", "--on-finish", "sleep 30", "--", "true").exit_code == 0
    result = qctl("worker", "start", "--burst")
    assert result.returncode == 0, result.stderr
    assert "on_finish hook (job 'slow-hook'): hook says slow-hook" in result.stdout
    assert "on_finish hook (job 'slow-hook') exited with code 9" in result.stdout
    assert "on_finish hook (job 'slow-hook') killed after 0.5s (hook_timeout)" in result.stdout
    got = job("slow-hook")
    assert (got["state"], got["exit_code"], got["last_error"]) == ("completed", 0, None)


def test_a_cancelled_running_job_runs_its_hook(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert run_cli("config", "set", "on_finish", recorder(out)).exit_code == 0
    proc = start_workers("--count", "1")
    try:
        enqueue(id="long", command="sleep 60")
        wait_for(lambda: job("long")["state"] == "processing")
        assert run_cli("cancel", "long").exit_code == 0
        wait_for(lambda: (out / "long.on_finish").exists())
        assert facts(out, "long")["QUEUECTL_STATE"] == "cancelled"
    finally:
        assert stop(proc) == 0


def test_hook_settings_show_and_unset():
    assert run_cli("config", "set", "on_finish", "notify-send done").stdout == "on_finish = notify-send done\n"
    assert json.loads(run_cli("config", "show", "--json").stdout)["on_finish"] == "notify-send done"
    assert run_cli("config", "set", "on_finish", "none").stdout == "on_finish = none\n"
    assert json.loads(run_cli("config", "show", "--json").stdout)["on_finish"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["config", "set", "hook_timeout", "0"],
        ["config", "set", "hook_timeout", "x"],
        ["config", "set", "on_finish", "x" * 140_000],
        ["add", "--on-finish", "", "--", "true"],
        ["enqueue", '{"command": "true", "on_finish": 5}'],
    ],
)
def test_bad_hook_settings_exit_2_and_change_nothing(args):
    enqueue(id="a", command="true")
    before = snapshot()
    result = run_cli(*args)
    assert result.exit_code == 2, (args[:3], result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before
