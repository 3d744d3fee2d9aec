"""Each command's happy path and its refusal of bad input (in-process, real SQLite files)."""

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import enqueue, job, qctl, run_cli, snapshot


def test_init_is_idempotent_and_prints_paths(db_path):
    first = run_cli("init")
    second = run_cli("init")
    assert first.exit_code == second.exit_code == 0
    assert str(db_path) in first.stdout and str(db_path.parent / "logs") in first.stdout
    assert db_path.exists() and (db_path.parent / "logs").is_dir()


def test_store_and_logs_are_owner_only(db_path):
    run_cli("init")
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db_path.parent / "logs").st_mode) == 0o700


def test_db_option_beats_environment(tmp_path, db_path):
    other = tmp_path / "other.db"
    assert run_cli("--db", str(other), "enqueue", '{"id": "x", "command": "true"}').exit_code == 0
    assert other.exists()
    assert json.loads(run_cli("status", "--json").stdout)["jobs"]["pending"] == 0  # QUEUECTL_DB's, which --db overrode
    assert not db_path.exists()
    assert json.loads(run_cli("--db", f"sqlite:///{other}", "status", "--json").stdout)["jobs"]["pending"] == 1


def test_enqueue_prints_id_and_uses_defaults():
    result = run_cli("enqueue", '{"id":"job1","command":"echo Hello World"}')
    assert result.exit_code == 0 and result.stdout == "job1\n"
    j = job("job1")
    assert (j["state"], j["priority"], j["max_retries"], j["timeout"], j["attempts"]) == ("pending", 0, 3, 300, 0)


def test_enqueue_generates_an_id():
    job_id = enqueue(command="true")
    assert job_id and job(job_id)["command"] == "true"


def test_defaults_come_from_config():
    assert run_cli("config", "set", "default_priority", "-1").exit_code == 0
    assert run_cli("config", "set", "max_retries", "5").exit_code == 0
    enqueue(id="a", command="true")
    assert (job("a")["priority"], job("a")["max_retries"]) == (-1, 5)


@pytest.mark.parametrize(
    "payload",
    [
        "{",
        '{"command": ""}',
        '{"id": "x/../../etc", "command": "true"}',
        '{"command": "true", "timeout": 0}',
        '{"command": "true", "max_retries": -1}',
        '{"command": "true", "extra": 1}',
        '{"command": "true", "run_at": "soon"}',
    ],
)
def test_bad_enqueue_exits_2_with_one_line_and_writes_nothing(payload):
    enqueue(id="existing", command="true")
    before = snapshot()
    result = run_cli("enqueue", payload)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_duplicate_id_is_refused():
    enqueue(id="job1", command="true")
    before = snapshot()
    result = run_cli("enqueue", '{"id": "job1", "command": "false"}')
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert snapshot() == before


def test_batch_enqueue_is_all_or_nothing():
    enqueue(id="taken", command="true")
    before = snapshot()
    lines = "\n".join(json.dumps({"id": f"b{i}", "command": "true"}) for i in range(50))
    bad = run_cli("enqueue", "-", input=lines + '\n{"id": "taken", "command": "true"}\n')
    assert bad.exit_code == 2 and "'taken' already exists" in bad.stderr
    assert snapshot() == before
    worse = run_cli("enqueue", "-", input=lines + "\n{oops\n")
    assert worse.exit_code == 2 and "line 51" in worse.stderr
    good = run_cli("enqueue", "-", input=lines)
    assert good.exit_code == 0 and good.stdout.split() == [f"b{i}" for i in range(50)]


def test_batch_from_file(tmp_path):
    f = tmp_path / "jobs.jsonl"
    f.write_text('{"command": "true"}\n{"command": "false"}\n')
    result = run_cli("enqueue", "-", "--file", str(f))
    assert result.exit_code == 0 and len(result.stdout.split()) == 2


def test_list_is_newest_first_with_state_and_limit():
    for i in range(5):
        enqueue(id=f"j{i}", command="true")
    jobs = json.loads(run_cli("list", "--json").stdout)
    assert [j["id"] for j in jobs] == ["j4", "j3", "j2", "j1", "j0"]
    assert len(json.loads(run_cli("list", "--json", "--limit", "2").stdout)) == 2
    assert json.loads(run_cli("list", "--json", "--state", "dead").stdout) == []
    table = run_cli("list").stdout
    assert "j4" in table and "0/4" in table and "pending" in table


def test_list_json_has_every_contract_field_in_utc():
    enqueue(id="a", command="true", run_at="2030-01-01T00:00:00+02:00")
    j = json.loads(run_cli("list", "--json").stdout)[0]
    for key in (
        "id",
        "seq",
        "command",
        "state",
        "priority",
        "attempts",
        "max_retries",
        "timeout",
        "run_at",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
        "exit_code",
        "last_error",
        "worker_id",
        "lease_expires_at",
    ):
        assert key in j
    assert j["run_at"] == "2029-12-31T22:00:00.000Z"


def test_bad_usage_exits_2_in_one_line():
    for args in (
        ["list", "--state", "nope"],
        ["list", "--limit", "0"],
        ["frobnicate"],
        ["worker", "start", "--count", "0"],
    ):
        result = qctl(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr


def test_status_json_contract():
    enqueue(command="true")
    assert json.loads(run_cli("status", "--json").stdout) == {
        "jobs": {"pending": 1, "processing": 0, "completed": 0, "failed": 0, "dead": 0, "cancelled": 0, "blocked": 0},
        "workers": 0,
    }
    assert "Pending:     1" in run_cli("status").stdout


def test_cancel_pending_then_refuse_again():
    enqueue(id="a", command="true")
    assert run_cli("cancel", "a").exit_code == 0
    assert job("a")["state"] == "cancelled"
    again = run_cli("cancel", "a")
    assert again.exit_code == 1 and "cancelled" in again.stderr
    missing = run_cli("cancel", "nope")
    assert missing.exit_code == 1 and missing.stderr == "Error: no job 'nope'\n"


def test_config_show_and_set():
    run_cli("init")
    shown = json.loads(run_cli("config", "show", "--json").stdout)
    assert shown["max_retries"] == 3 and shown["backoff_base"] == 2 and shown["default_timeout"] == 300
    assert shown["default_priority"] == 0 and shown["max_log_bytes"] == 10 * 1024 * 1024 and "max_backoff" in shown
    assert run_cli("config", "set", "backoff_base", "3").exit_code == 0
    assert json.loads(run_cli("config", "show", "--json").stdout)["backoff_base"] == 3
    assert "backoff_base" in run_cli("config", "show").stdout
    assert run_cli("config", "get", "backoff_base").stdout == "3\n"
    assert run_cli("config", "get", "retention_completed").stdout == "forever\n"
    assert run_cli("config", "set", "retention_completed", "7d").exit_code == 0
    assert run_cli("config", "get", "retention_completed").stdout == "7d\n"  # what `set` takes
    unknown = run_cli("config", "get", "nope")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("Error: unknown setting 'nope'")


@pytest.mark.parametrize(
    "key, value",
    [
        ("nope", "1"),
        ("max_retries", "-1"),
        ("max_retries", "two"),
        ("backoff_base", "0.5"),
        ("default_timeout", "0"),
        ("default_priority", "1.5"),
        ("max_log_bytes", "nan"),
    ],
)
def test_config_set_refuses_bad_keys_and_values(key, value):
    run_cli("init")
    before = snapshot()
    result = run_cli("config", "set", key, value)
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")
    assert snapshot() == before


def test_dlq_retry_needs_a_dead_job():
    enqueue(id="a", command="true")
    result = run_cli("dlq", "retry", "a")
    assert result.exit_code == 1 and "not dead" in result.stderr
    assert run_cli("dlq", "retry").exit_code == 2
    assert run_cli("dlq", "retry", "--all").stdout == "retrying 0 job(s) from the DLQ\n"


def test_logs_of_a_job_that_has_not_run():
    enqueue(id="a", command="true")
    result = run_cli("logs", "a")
    assert result.exit_code == 0 and result.stderr == "job 'a' is pending: no attempt recorded\n"
    assert run_cli("show", "a").stdout.endswith("Attempts: no attempt recorded\n")
    assert run_cli("logs", "nope").exit_code == 1


def test_newer_schema_is_refused(opened):
    from queuectl.models import Setting

    Setting.update(value="99").where(Setting.key == "schema_version").execute()
    result = qctl("status")
    assert result.returncode == 1 and "schema version 99" in result.stderr and "upgrade queuectl" in result.stderr


def test_control_characters_never_reach_the_terminal():
    enqueue(id="evil", command="printf '\x1b[2J\x1b]0;pwned\x07'")
    out = run_cli("list").stdout
    assert "\x1b" not in out and "\x07" not in out and "\\x1b" in out


@pytest.mark.empty_database
def test_a_store_made_by_schema_1_is_migrated_in_place(store_url, backend):
    """A store written by the first release (fixtures dumped from it) is upgraded when opened."""
    dump = (Path(__file__).parent / "fixtures" / f"store_v1.{backend}.sql").read_text()
    if backend == "sqlite":
        with sqlite3.connect(store_url) as conn:
            conn.executescript(dump)
    else:
        import psycopg2
        from playhouse.db_url import parse

        with psycopg2.connect(**parse(store_url)) as conn, conn.cursor() as cursor:
            cursor.execute(dump)
    status = json.loads(run_cli("status", "--json").stdout)  # opening migrates
    assert status["jobs"] == {
        "pending": 1,
        "processing": 0,
        "completed": 1,
        "failed": 0,
        "dead": 1,
        "cancelled": 0,
        "blocked": 0,
    }
    old = job("old-waiting")
    assert (old["queue"], old["dependency_policy"], old["priority"]) == ("default", "success", 5)
    assert job("old-dead")["last_error"] == "exited with code 1"
    enqueue(id="after-done", command="true", depends_on=["old-done"], unique_key="k", queue="q2")
    enqueue(id="after-waiting", command="true", depends_on=["old-waiting"])
    assert (job("after-done")["state"], job("after-waiting")["state"]) == ("pending", "blocked")
    assert json.loads(run_cli("queue", "list", "--json").stdout)[1]["name"] == "q2"
    from queuectl.models import SCHEMA_VERSION, Setting

    assert Setting.get(Setting.key == "schema_version").value == str(SCHEMA_VERSION)


@pytest.mark.parametrize(
    "typed, says",
    [
        ("log", "Error: No such command 'log'; queuectl's is: queuectl logs ID"),
        ("follow", "Error: No such command 'follow'; queuectl's is: queuectl logs --follow ID"),
        ("kill", "Error: No such command 'kill'; queuectl's is: queuectl cancel ID"),
        ("lst", "Error: No such command 'lst'. Did you mean 'list'?"),
    ],
)
def test_an_unknown_command_names_ours(typed, says):
    """pueue's and task-spooler's verbs name queuectl's; a typo gets click's suggestion, among
    every command (they load lazily)."""
    result = qctl(typed)
    assert result.returncode == 2 and result.stderr.startswith(says) and len(result.stderr.splitlines()) == 1
