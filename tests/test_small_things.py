"""Issue 15's "small things that were wrong": each as it was tried (on both backends where the
store is involved)."""

import pytest
from conftest import drain, enqueue, run_cli, snapshot


def test_a_scheduled_jobs_id_is_accepted_everywhere():
    """NAME@TICK, as `schedule run` prints it, names the job in logs, show, wait, cancel, retry."""
    assert run_cli("schedule", "add", "nightly", '{"command": "true"}', "--cron", "0 3 * * *").exit_code == 0
    job_id = run_cli("schedule", "run", "nightly").stdout.strip()
    assert "@" in job_id
    assert run_cli("show", job_id).exit_code == 0
    assert run_cli("logs", job_id).exit_code == 0
    assert run_cli("cancel", job_id).exit_code == 0
    assert run_cli("retry", job_id).exit_code == 0
    drain()
    assert run_cli("wait", job_id, "--timeout", "5").exit_code == 0
    assert run_cli("add", "--after", job_id, "--", "true").exit_code == 0
    assert run_cli("show", "nightly@yesterday").exit_code == 2  # not an id at all


def test_list_keeps_its_id_column_at_80_columns():
    """Short ids, a long command, output piped (80 columns): every id shows whole."""
    for i in range(3):
        enqueue(id=f"a{i}", command="x" * 300)
    out = run_cli("list").stdout.splitlines()
    assert out[1].startswith("ID ")
    assert [line.split()[0] for line in out[2:]] == ["a2", "a1", "a0"]
    assert all(len(line) <= 80 for line in out)


@pytest.mark.parametrize(
    "db, says",
    [
        ("", "--db is empty"),
        ("sqlite://", "needs a path"),
        ("sqlite:", "needs a path"),
        ("postgresql://x:99999/db", "Port out of range"),
        ("postgresql://[::1/db", "Invalid IPv6 URL"),
        ("mysql://x/y", "unsupported store URL scheme"),
    ],
)
def test_bad_store_names_exit_2_in_one_line(db, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("--db", db, "status")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and says in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing made (no file named "sqlite:")


def test_a_non_numeric_schema_version_is_one_line(db_path):
    import sqlite3

    assert run_cli("init").exit_code == 0
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE setting SET value = 'abc' WHERE key = 'schema_version'")
    result = run_cli("status")
    assert result.exit_code == 2 and "schema version 'abc', not a number" in result.stderr


def test_a_bad_schedule_name_is_called_a_schedule_name():
    before = snapshot()
    result = run_cli("schedule", "add", "bad name", '{"command": "true"}', "--cron", "* * * * *")
    assert result.exit_code == 2 and "invalid schedule name 'bad name'" in result.stderr
    assert snapshot() == before


def test_dlq_list_says_how_many_of_all():
    for i in range(5):
        enqueue(id=f"d{i}", command="exit 1", max_retries=0)
    drain()
    assert "Dead Letter Queue (3 of 5)" in run_cli("dlq", "list", "--limit", "3").stdout
    assert "Dead Letter Queue (5)" in run_cli("dlq", "list").stdout


def test_help_texts_name_what_they_accept():
    assert "queue" in run_cli("enqueue", "--help").stdout.split("Fields:")[1]
    cancel = " ".join(run_cli("cancel", "--help").stdout.split())
    assert all(state in cancel for state in ("pending", "blocked", "failed", "paused", "processing"))
    assert "PostgreSQL" in run_cli("--help").stdout


def test_127_1_is_loopback():
    from queuectl.tui.web import is_loopback

    assert is_loopback("127.1") and is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1")
