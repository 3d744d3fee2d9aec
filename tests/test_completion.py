"""`queuectl completion bash|zsh|fish`: click's scripts, and what tab offers (commands, options,
states, config keys, queue and schedule names, job ids), asked as bash asks."""

import os
import subprocess
import sys

from conftest import enqueue, run_cli


def offered(line: str) -> list[str]:
    """What bash's completion function gets for the words of `line` (a trailing space: a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    env = dict(os.environ, COMP_WORDS=line, COMP_CWORD=str(cword), _QUEUECTL_COMPLETE="bash_complete")
    out = subprocess.run([sys.executable, "-m", "queuectl"], env=env, capture_output=True, text=True, timeout=60).stdout
    return [item.split(",", 1)[1] for item in out.splitlines() if item]


def test_bash_script_is_clicks():
    result = run_cli("completion", "bash")
    assert result.exit_code == 0
    assert "_queuectl_completion()" in result.stdout and "_QUEUECTL_COMPLETE=bash_complete" in result.stdout
    assert "complete -o nosort -F _queuectl_completion queuectl" in result.stdout
    assert "#compdef queuectl" in run_cli("completion", "zsh").stdout
    assert "complete --no-files --command queuectl" in run_cli("completion", "fish").stdout


def test_an_unknown_shell_is_bad_usage():
    result = run_cli("completion", "tcsh")
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")


def test_tab_completes_commands_options_states_and_keys():
    assert {"add", "edit", "pause", "resume", "completion", "status"} <= set(offered("queuectl "))
    assert offered("queuectl pa") == ["pause"]
    assert "--each" in offered("queuectl add --")
    assert offered("queuectl list --state p") == ["pending", "processing"]
    assert offered("queuectl config set on_") == ["on_finish", "on_queue_drained"]


def test_tab_completes_job_ids_queues_and_schedules():
    """From the store: newest jobs first, queue names, schedule names."""
    for i in range(3):
        enqueue(id=f"build-{i}", command="true", queue="reports")
    enqueue(id="other", command="true")
    assert run_cli("schedule", "add", "nightly", '{"command": "true"}', "--cron", "0 3 * * *").exit_code == 0
    assert offered("queuectl show ") == ["other", "build-2", "build-1", "build-0"]
    assert offered("queuectl logs bu") == ["build-2", "build-1", "build-0"]
    assert offered("queuectl add -q r") == ["reports"]
    assert offered("queuectl queue pause ") == ["default", "reports"]
    assert offered("queuectl schedule run n") == ["nightly"]
    assert offered("queuectl schedule pause ") == ["nightly"]


def test_tab_completes_labels_most_used_first():
    """Labels the recent jobs carry, most used first, for every --label option."""
    for labels in (["nightly", "etl"], ["etl"], ["etl", "backfill"]):
        assert run_cli("add", *[a for label in labels for a in ("-l", label)], "--", "true").exit_code == 0
    assert offered("queuectl list --label ") == ["etl", "backfill", "nightly"]
    assert offered("queuectl retry -l n") == ["nightly"]
    assert offered("queuectl add -l b") == ["backfill"]
    assert offered("queuectl status --label e") == ["etl"]


def test_without_a_store_nothing_is_offered_and_nothing_is_made(tmp_path, monkeypatch):
    missing = tmp_path / "none" / "q.db"
    monkeypatch.setenv("QUEUECTL_DB", str(missing))
    assert offered("queuectl show ") == []
    assert not missing.exists()
