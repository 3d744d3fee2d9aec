"""Retrying a step whose dependents were cancelled (issue 22): a real build's shape, where one
compile died and ar, link and test were cancelled with it.  Without --with-dependents a retry
says what stays cancelled; with it, they wait for their dependencies again.  --state keeps a
label's completed jobs from running again."""

from __future__ import annotations

import pytest
from conftest import drain, enqueue, job, run_cli


def _broken_build(tmp_path) -> None:
    """c1 completes, c2 dies (until `fixed` exists); ar <- c1, c2; link <- ar; test <- link;
    `other` depends on c1 only and completes."""
    enqueue(id="c1", command="true", labels=["build"])
    enqueue(id="c2", command=f"test -e {tmp_path / 'fixed'}", max_retries=0, labels=["build"])
    enqueue(id="ar", command="true", depends_on=["c1", "c2"], labels=["build"])
    enqueue(id="link", command="true", depends_on=["ar"])
    enqueue(id="test", command="true", depends_on=["link"])
    enqueue(id="other", command="true", depends_on=["c1"])
    drain()
    assert [job(j)["state"] for j in ("c1", "c2", "ar", "link", "test")] == [
        "completed",
        "dead",
        "cancelled",
        "cancelled",
        "cancelled",
    ]
    (tmp_path / "fixed").touch()


def test_a_retry_names_the_dependents_that_stay_cancelled(tmp_path):
    _broken_build(tmp_path)
    result = run_cli("retry", "c2")
    assert result.exit_code == 0 and result.stdout == "retrying job 'c2'\n"
    assert result.stderr == "still cancelled downstream: ar, link, test (--with-dependents retries them too)\n"
    drain()
    assert [job(j)["state"] for j in ("c2", "ar", "link", "test")] == [
        "completed",
        "cancelled",
        "cancelled",
        "cancelled",
    ]


def test_with_dependents_runs_the_later_steps_again_and_not_the_completed_ones(tmp_path):
    _broken_build(tmp_path)
    result = run_cli("retry", "c2", "--with-dependents")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == [
        "retrying job 'c2'",
        "retrying job 'ar' (a dependent)",
        "retrying job 'link' (a dependent)",
        "retrying job 'test' (a dependent)",
    ]
    assert [job(j)["state"] for j in ("c2", "ar", "link", "test")] == ["pending", "blocked", "blocked", "blocked"]
    drain()
    assert {j: job(j)["state"] for j in ("c1", "c2", "ar", "link", "test", "other")} == dict.fromkeys(
        ("c1", "c2", "ar", "link", "test", "other"), "completed"
    )
    assert job("c1")["attempts"] == 1 and job("other")["attempts"] == 1  # not run again


def test_a_dependent_whose_other_dependency_is_still_dead_is_cancelled_again(tmp_path):
    _broken_build(tmp_path)
    enqueue(id="d", command="false", max_retries=0)
    enqueue(id="both", command="true", depends_on=["ar", "d"])
    drain()
    assert job("both")["state"] == "cancelled"
    assert run_cli("retry", "c2", "--with-dependents").exit_code == 0
    drain()
    assert job("test")["state"] == "completed"
    assert job("both")["state"] == "cancelled" and "dependency 'd' ended dead" in job("both")["last_error"]


def test_retry_label_state_dead_leaves_the_completed_ones(tmp_path):
    _broken_build(tmp_path)
    result = run_cli("retry", "--label", "build", "--state", "dead", "--with-dependents")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "retrying job 'c2'" and "'c1'" not in result.stdout
    drain()
    assert job("c1")["attempts"] == 1 and job("test")["state"] == "completed"


@pytest.mark.parametrize("args", [["retry", "c2", "--state", "dead"], ["retry", "--state", "bogus", "--label", "b"]])
def test_retry_state_is_bad_input_without_label_or_with_an_unknown_state(args):
    result = run_cli(*args)
    assert result.exit_code == 2 and result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


def test_dlq_retry_and_retry_edit_take_with_dependents(tmp_path):
    _broken_build(tmp_path)
    plain = run_cli("dlq", "retry", "--all")
    assert (
        plain.stdout == "retrying 1 job(s) from the DLQ\n"
        and "still cancelled downstream: ar, link, test" in plain.stderr
    )
    drain()
    assert job("ar")["state"] == "cancelled"
    enqueue(id="c3", command="false", max_retries=0)
    enqueue(id="ar3", command="true", depends_on=["c3"])
    drain()
    result = run_cli("retry", "c3", "--set", "command=true", "--with-dependents")
    assert result.exit_code == 0 and result.stdout.splitlines() == [
        "retrying job 'c3': command (pending)",
        "retrying job 'ar3' (a dependent)",
    ]
    enqueue(id="c4", command="false", max_retries=0)
    enqueue(id="ar4", command="true", depends_on=["c4"])
    drain()
    assert job("ar4")["state"] == "cancelled"
    assert run_cli("dlq", "retry", "c4", "--with-dependents").stdout.splitlines() == [
        "retrying job 'c4' from the DLQ",
        "retrying job 'ar4' (a dependent)",
    ]
    assert job("ar4")["state"] == "blocked" and job("ar3")["state"] == "completed"  # (the drain for c4 ran it)


def test_retry_edit_names_what_stays_cancelled(tmp_path):
    _broken_build(tmp_path)
    result = run_cli("retry", "c2", "--set", "command=true")
    assert result.exit_code == 0 and result.stdout == "retrying job 'c2': command (pending)\n"
    assert result.stderr == "still cancelled downstream: ar, link, test (--with-dependents retries them too)\n"
