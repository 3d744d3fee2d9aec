"""Labels (schema 4): given by add/enqueue/edit, matched by list/status/retry/cancel --label, and
`list --state A --state B` (on both backends)."""

import json

import pytest
from conftest import drain, enqueue, job, run_cli, snapshot

from queuectl import ops, store
from queuectl.store import JobFilter


def labelled() -> None:
    enqueue(id="a", command="true", labels=["nightly", "team:x"])
    enqueue(id="b", command="exit 1", labels=["nightly"], max_retries=0)
    enqueue(id="c", command="true", labels=["other"])
    enqueue(id="d", command="true")


def test_labels_are_stored_and_listed():
    labelled()
    assert job("a")["labels"] == ["nightly", "team:x"] and job("d")["labels"] == []
    result = run_cli("list", "--label", "nightly", "--json")
    assert [j["id"] for j in json.loads(result.stdout)] == ["b", "a"]
    assert "Jobs (1, label team:x)" in run_cli("list", "-l", "team:x").stdout
    assert run_cli("add", "-l", "x", "-l", "y", "-l", "x", "--id", "e", "--", "true").exit_code == 0
    assert job("e")["labels"] == ["x", "y"]


def test_a_label_is_matched_whole():
    """'night' is not 'nightly', and LIKE's wildcards in a label match only themselves."""
    enqueue(id="a", command="true", labels=["nightly"])
    enqueue(id="b", command="true", labels=["a_b"])
    enqueue(id="c", command="true", labels=["axb"])
    ids = lambda label: [j["id"] for j in json.loads(run_cli("list", "--label", label, "--json").stdout)]  # noqa: E731
    assert ids("night") == [] and ids("nightly") == ["a"] and ids("a_b") == ["b"]


def test_status_counts_a_label():
    labelled()
    drain()
    counts = json.loads(run_cli("status", "--label", "nightly", "--json").stdout)
    assert counts["jobs"]["completed"] == 1 and counts["jobs"]["dead"] == 1 and sum(counts["jobs"].values()) == 2
    everything = json.loads(run_cli("status", "--json").stdout)
    assert sum(everything["jobs"].values()) == 4
    assert "Paused:      0" in run_cli("status").stdout


def test_retry_and_cancel_by_label():
    """retry --label takes the finished ones, cancel --label the unfinished ones."""
    labelled()
    drain()
    result = run_cli("retry", "--label", "nightly")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "retrying job 'a'\nretrying job 'b'\n"
    assert (job("a")["state"], job("b")["state"], job("c")["state"]) == ("pending", "pending", "completed")
    result = run_cli("cancel", "--label", "nightly")
    assert result.stdout == "cancelled job 'a'\ncancelled job 'b'\n"
    assert run_cli("cancel", "--label", "nightly").stderr.startswith("no job with label 'nightly'")
    assert ops.jobs_with_label("other", ["completed"]) == ["c"]


def test_list_takes_several_states():
    """--state A --state B lists both (before, only the last counted)."""
    labelled()
    enqueue(id="blocked", command="true", depends_on=["d"])
    drain()
    enqueue(id="new", command="true")
    result = run_cli("list", "--state", "dead", "--state", "pending", "--json")
    assert sorted(j["id"] for j in json.loads(result.stdout)) == ["b", "new"]


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--label", "bad label"],
        ["status", "--label", ""],
        ["cancel", "--label", 'q"uote'],
        ["retry", "--label", "x,y"],
        ["cancel"],
        ["cancel", "a", "--label", "x"],
        ["retry"],
        ["add", "-l", "no spaces", "--", "true"],
        ["enqueue", '{"command": "true", "labels": "x"}'],
        ["enqueue", '{"command": "true", "labels": [1]}'],
        ["edit", "a", "--set", "labels=ok,not ok"],
        ["list", "--state", "sleeping"],
    ],
)
def test_bad_labels_exit_2_and_change_nothing(args):
    labelled()
    before = snapshot()
    result = run_cli(*args)
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_edit_labels(opened):
    """labels are editable: a list, or cleared."""
    from queuectl.spec import JobSpec

    store.enqueue([JobSpec("true", id="a", labels=("x",))])
    assert ops.edit_job("a", {"labels": ["y", "z"]}).labels == ["y", "z"]
    assert store.ids_matching(None, JobFilter(label="z")) == ["a"]
    assert ops.edit_job("a", {"labels": []}).labels == []


def test_the_dashboard_filter_takes_label(opened):
    """`/label=nightly state=completed` in the dashboard: the store's label filter."""
    from queuectl.tui.panes.jobs import filter_text, parse_filter

    state, search, terms, error = parse_filter("label=nightly state=completed")
    assert (state, search, terms, error) == ("completed", None, JobFilter(label="nightly"), None)
    assert filter_text(state, search, terms) == "state=completed label=nightly"
    labelled()
    assert [j.id for j in store.list_jobs(state=state, where=terms)] == []  # pending, not completed
    assert [j.id for j in store.list_jobs(where=JobFilter(label="nightly"))] == ["b", "a"]
