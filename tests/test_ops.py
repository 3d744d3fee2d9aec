"""The operations layer: the compound operations the commands and the dashboard share."""

import time

import pytest
from conftest import claim_one, finish_one, run_cli

from queuectl import ops, store
from queuectl.errors import InputError, InvalidState, NotFound
from queuectl.spec import MAX_PRIORITY, JobSpec, parse_queue_limit
from queuectl.store.logfiles import read_log


def test_priority_bound_is_enforced_by_the_store(opened):
    """The bound lives in the store, not only in the dashboard's form."""
    store.enqueue([JobSpec("true", id="a")])
    with pytest.raises(InputError, match="priority must be between"):
        store.set_priority("a", MAX_PRIORITY + 1)
    assert store.get_job("a").priority == 0
    assert ops.set_priority(["a"], -5) == ["a"]
    assert store.get_job("a").priority == -5


def test_each_tries_every_job_and_reports_the_first_failure(opened):
    store.enqueue([JobSpec("true", id="a"), JobSpec("true", id="b")])
    with pytest.raises(NotFound, match=r"no job 'missing' \(and 1 more\)"):
        ops.set_priority(["missing", "a", "gone", "b"], 7)
    assert [store.get_job(i).priority for i in ("a", "b")] == [7, 7]


def test_job_detail_has_dependencies_and_dependents(opened):
    store.enqueue([JobSpec("true", id="first"), JobSpec("true", id="second")])
    store.enqueue([JobSpec("true", id="after", depends_on=("first", "second"))])
    store.enqueue([JobSpec("true", id="last", depends_on=("after",))])
    detail = ops.job_detail("after")
    assert [j.id for j in detail.depends_on] == ["first", "second"]
    assert [(j.id, j.state) for j in detail.dependents] == [("last", "blocked")]
    assert [j.id for j in ops.job_detail("after", max_links=1).depends_on] == ["first"]
    with pytest.raises(NotFound):
        ops.job_detail("nope")


def test_retry_dead_by_ids_text_or_all(opened):
    store.enqueue([JobSpec(f"false {i}", id=f"d{i}", max_retries=0) for i in range(3)])
    while (claim := claim_one("w", "h")) is not None:
        finish_one(claim, "w", "boom" if claim.id != "d2" else "bang", 1)
    assert ops.retry_dead(["d0"]) == ["d0"]
    assert ops.retry_dead(contains="bang") == ["d2"]
    assert ops.retry_dead() == ["d1"]
    assert ops.retry_dead(contains="nothing") == []
    with pytest.raises(InvalidState):
        ops.retry_dead(["d0"])  # pending now


def test_read_log_reads_what_was_appended(tmp_path):
    """One incremental reader: the tail first, then only what came since."""
    log = tmp_path / "out.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    first = read_log(log, None, max_bytes=30)
    assert first.skipped and first.text.startswith("line 9")  # the cut line is dropped
    with open(log, "ab") as f:
        f.write(b"more\n")
    second = read_log(log, first.offset, max_bytes=30)
    assert (second.data, second.skipped) == (b"more\n", False)
    assert read_log(log, second.offset).data == b""
    assert read_log(tmp_path / "missing", 5).offset == 5
    assert read_log(log, None, max_bytes=None).data.count(b"\n") == 101


def test_read_output_of_an_unknown_attempt_is_not_found(opened):
    store.enqueue([JobSpec("true", id="a")])
    assert ops.read_output("a").run is None
    with pytest.raises(NotFound, match="has no attempt 2"):
        ops.read_output("a", attempt=2)


@pytest.mark.parametrize("text, value", [("none", None), ("", None), (" 5 ", 5), ("100000", 100000)])
def test_one_queue_limit_parser(text, value):
    assert parse_queue_limit(text) == value


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "lots", "100001"])
def test_bad_queue_limits_are_refused_everywhere(text):
    with pytest.raises(InputError, match="a queue's limit must be a whole number from 1 to 100,000 or none"):
        parse_queue_limit(text)
    result = run_cli("queue", "limit", "email", "--", text)
    assert result.exit_code == 2 and "a queue's limit must be" in result.stderr


def test_listing_terms_and_their_capped_count(opened):
    """The dashboard's filter terms, as the store answers them on either backend."""
    from queuectl.store import JobFilter

    store.enqueue([JobSpec(f"echo {i}", id=f"j{i}", priority=i, queue="odd" if i % 2 else "even") for i in range(6)])
    claim = claim_one("host-b.1.abc", "host-b")
    finish_one(claim, "host-b.1.abc", "exited with code 3", 3)
    ran = claim.id  # the highest priority: j5
    terms = JobFilter(queue="odd", min_priority=0, max_priority=5)  # 0 < priority < 5
    assert [j.id for j in store.list_jobs(where=terms)] == ["j3", "j1"]
    assert [j.id for j in store.list_jobs(where=JobFilter(host="host-b"))] == [ran]
    assert [j.id for j in store.list_jobs(where=JobFilter(worker="1.ab", error="code 3"))] == [ran]
    assert store.list_jobs(where=JobFilter(host="elsewhere")) == []
    assert store.count_matching(None, None, JobFilter(queue="even"), cap=100) == 3
    assert store.count_matching(None, "echo", JobFilter(), cap=4) == 4
    assert store.paused_queues() == set()
    store.pause_queue("odd")
    assert store.paused_queues() == {"odd"}


def test_the_doors_for_new_jobs_settings_and_pruning(opened):
    """The writes the commands used to make themselves: one job, a batch (all or none), batches
    streamed in one transaction, a setting, and what a prune would delete (deleting nothing)."""
    assert ops.enqueue_one(JobSpec("true", id="one", unique_key="k")).id == "one"
    again = ops.enqueue_one(JobSpec("true", unique_key="k"))
    assert (again.id, again.duplicate) == ("one", True)
    with pytest.raises(InputError, match="'one' already exists"):
        ops.enqueue_batch([JobSpec("true", id="two"), JobSpec("true", id="one")])
    assert store.states_of(["two"]) == {}
    assert [e.id for e in ops.enqueue_batch([JobSpec("true", id="two"), JobSpec("true", id="three")])] == [
        "two",
        "three",
    ]
    seen = []
    ops.enqueue_batches(iter([[JobSpec("true", id="four")], [JobSpec("true", id="five")]]), seen.extend)
    assert [e.id for e in seen] == ["four", "five"]
    assert ops.set_setting("max_retries", "5") == 5 and store.get_config()["max_retries"] == 5
    ops.cancel("two")
    time.sleep(0.05)
    assert ops.prunable(0.01) == ["two"] == ops.prunable(0.01, ["cancelled"])
    assert ops.prunable(0.01, ["dead"]) == [] and store.get_job("two").state == "cancelled"
    assert ops.prune(0.01) == ["two"] and store.states_of(["two"]) == {}
