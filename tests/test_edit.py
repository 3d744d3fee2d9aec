"""`queuectl edit` and `retry --edit`: a waiting job changed with --set or in a scripted $EDITOR,
saved whole only while the job still waits (on both backends)."""

import json
import sys
import textwrap

import pytest
from conftest import drain, enqueue, job, run_cli, snapshot

from queuectl import ops, store
from queuectl.errors import InputError, InvalidState


def editor(tmp_path, monkeypatch, body: str) -> None:
    """$EDITOR is a Python script given the file's path as argv[1]; $VISUAL stays unset."""
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\npath = pathlib.Path(sys.argv[1])\n" + textwrap.dedent(body))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")


def test_set_changes_fields_of_a_pending_job():
    """--set edits without an editor; every editable kind of value arrives as typed."""
    enqueue(id="a", command="echo hi")
    result = run_cli(
        "edit",
        "a",
        "--set",
        "command=echo \"$(whoami)\" 'x y'",
        "--set",
        "priority=7",
        "--set",
        "timeout=2.5",
        "--set",
        "max_retries=0",
        "--set",
        "queue=batch",
        "--set",
        'env={"K": "v w"}',
        "--set",
        "cwd=/tmp",
        "--set",
        "run_at=2030-01-01T00:00:00Z",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("job 'a' edited: command, priority, timeout")
    got = job("a")
    assert got["command"] == "echo \"$(whoami)\" 'x y'"
    assert (got["priority"], got["timeout"], got["max_retries"], got["queue"]) == (7, 2.5, 0, "batch")
    assert (got["env"], got["cwd"]) == ({"K": "v w"}, "/tmp")
    assert got["run_at"] == got["next_attempt_at"] == "2030-01-01T00:00:00.000Z"
    assert run_cli("edit", "a", "--set", "env=", "--set", "cwd=").exit_code == 0
    assert (job("a")["env"], job("a")["cwd"]) == ({}, None)


@pytest.mark.parametrize(
    "assignment",
    [
        "priority=x",
        "priority=99999999999",
        "timeout=-1",
        "max_retries=1001",
        "queue=no spaces",
        "command=",
        "command= ",
        "env=[1]",
        'env={"1A": "x"}',
        "run_at=yesterday-ish",
        "id=b",
        "depends_on=[]",
        "nothing",
        "=1",
        "priority=",
    ],
)
def test_bad_edits_exit_2_in_one_line_and_change_nothing(assignment):
    """The same rules as enqueue: a bad value is refused before anything is written."""
    enqueue(id="a", command="echo hi")
    before = snapshot()
    result = run_cli("edit", "a", "--set", "priority=3", "--set", assignment)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_a_job_that_is_not_waiting_is_refused(tmp_path, monkeypatch):
    """A finished job cannot be edited, with or without the editor (exit 1, unchanged)."""
    enqueue(id="a", command="true")
    drain()
    editor(tmp_path, monkeypatch, "raise SystemExit('the editor must not open')")
    before = snapshot()
    for args in (["edit", "a"], ["edit", "a", "--set", "priority=1"]):
        result = run_cli(*args)
        assert result.exit_code == 1
        assert "is completed; only pending, blocked or failed jobs can be edited" in result.stderr
    assert snapshot() == before
    assert run_cli("edit", "nope", "--set", "priority=1").exit_code == 1
    assert run_cli("edit", "../x").exit_code == 2


def test_editor_rewrites_the_toml_document(tmp_path, monkeypatch):
    """The scripted editor sees every field and its rewrite is saved; untouched fields stay."""
    enqueue(id="a", command="echo hi", priority=1, env={"A": "1"})
    editor(
        tmp_path,
        monkeypatch,
        """
        text = path.read_text()
        assert 'command = "echo hi"' in text and 'A = "1"' in text and "# cwd" in text, text
        text = text.replace('command = "echo hi"', 'command = "echo \\\\"quoted\\\\" $HOME"')
        path.write_text(text.replace('A = "1"', 'A = "2", B = "3"'))
    """,
    )
    result = run_cli("edit", "a")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "job 'a' edited: command, env (pending)\n"
    got = job("a")
    assert (got["command"], got["env"], got["priority"]) == ('echo "quoted" $HOME', {"A": "2", "B": "3"}, 1)


def test_editor_json_document(tmp_path, monkeypatch):
    """--format json shows and reads JSON."""
    enqueue(id="a", command="echo hi")
    editor(
        tmp_path,
        monkeypatch,
        """
        import json
        data = json.loads(path.read_text())
        assert data["command"] == "echo hi" and data["cwd"] is None, data
        data["priority"] = 4
        path.write_text(json.dumps(data))
    """,
    )
    result = run_cli("edit", "a", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert job("a")["priority"] == 4


def test_quitting_without_saving_changes_nothing(tmp_path, monkeypatch):
    """An editor that leaves the file as it was (not saved) keeps the job."""
    enqueue(id="a", command="echo hi")
    editor(tmp_path, monkeypatch, "pass\n")
    before = snapshot()
    result = run_cli("edit", "a")
    assert result.exit_code == 0
    assert "unchanged" in result.stderr
    assert snapshot() == before


def test_a_broken_document_exits_2_and_changes_nothing(tmp_path, monkeypatch):
    """TOML that does not parse, or a field that cannot be edited, is one line and exit 2."""
    enqueue(id="a", command="echo hi")
    before = snapshot()
    for body in (
        "path.write_text('command = [unclosed')\n",
        "path.write_text(path.read_text() + 'id = \"b\"\\n')\n",
        "path.write_text(path.read_text().replace('priority', '#'))\n",
    ):
        editor(tmp_path, monkeypatch, body)
        result = run_cli("edit", "a")
        assert result.exit_code == 2, (body, result.stdout)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_a_job_that_started_while_the_editor_was_open_is_not_changed(tmp_path, monkeypatch):
    """The editor claims the job (as a worker would) before saving: the edit is refused whole."""
    enqueue(id="a", command="echo hi")
    editor(
        tmp_path,
        monkeypatch,
        """
        from queuectl import store
        from queuectl.paths import resolve
        store.open_store(resolve(None))
        assert store.claim_batch("w-elsewhere", "elsewhere", 1)[0].id == "a"
        path.write_text(path.read_text().replace('echo hi', 'echo changed').replace('priority = 0', 'priority = 5'))
    """,
    )
    result = run_cli("edit", "a")
    assert result.exit_code == 1
    assert result.stderr == "Error: job 'a' is processing; only pending, blocked or failed jobs can be edited\n"
    got = job("a")
    assert (got["state"], got["command"], got["priority"]) == ("processing", "echo hi", 0)


def test_retry_edit_changes_a_finished_job_and_runs_it_again(tmp_path, monkeypatch):
    """retry --edit: the fixed command runs; the history keeps the failed attempt."""
    enqueue(id="a", command="exit 3", max_retries=0)
    drain()
    assert job("a")["state"] == "dead"
    editor(tmp_path, monkeypatch, "path.write_text(path.read_text().replace('exit 3', 'echo fixed'))\n")
    result = run_cli("retry", "a", "--edit")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "retrying job 'a': command (pending)\n"
    drain()
    assert job("a")["state"] == "completed"
    assert json.loads(run_cli("show", "a", "--json").stdout)["attempts"][0]["exit_code"] == 3
    # a waiting job is not a finished one; several ids with --edit is bad usage
    enqueue(id="b", command="true")
    before = snapshot()
    assert run_cli("retry", "b", "--set", "priority=2").exit_code == 1
    assert run_cli("retry", "a", "b", "--edit").exit_code == 2
    assert snapshot() == before


def test_ops_edit_job_for_the_dashboard(opened):
    """The operation the dashboard's `e` calls: checked, saved whole, the job returned."""
    store.enqueue([store_spec("a")])
    saved = ops.edit_job("a", {"priority": 3, "queue": "other", "run_at": "now"})
    assert (saved.priority, saved.queue, saved.state) == (3, "other", "pending")
    assert ops.editable(saved)["queue"] == "other"
    assert store.counts()["pending"] == 1
    with pytest.raises(InputError):
        ops.edit_job("a", {"priority": "3"})
    with pytest.raises(InputError):
        ops.edit_job("a", {"command": None})
    store.cancel("a")
    with pytest.raises(InvalidState):
        ops.edit_job("a", {"priority": 1})
    assert store.get_job("a").priority == 3


def store_spec(job_id: str):
    from queuectl.spec import JobSpec

    return JobSpec(command="echo hi", id=job_id)
