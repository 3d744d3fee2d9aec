"""`enqueue -` streams a large batch in chunks within one transaction (issue 24): every line in
order, or none of them when a line anywhere is bad, from a file or a pipe, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuectl import store
from queuectl.errors import InputError
from queuectl.paths import resolve
from queuectl.spec import iter_specs, spec_from_json

LINES = 20_000


def _enqueue(lines: list[str], tmp_path, pipe: bool) -> subprocess.CompletedProcess:
    """`queuectl enqueue -` with the lines on stdin: a regular file, or a pipe."""
    data = ("\n".join(lines) + "\n").encode()
    argv = [sys.executable, "-m", "queuectl", "enqueue", "-"]
    if pipe:
        return subprocess.run(argv, input=data, capture_output=True, timeout=300)
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as stdin:
        return subprocess.run(argv, stdin=stdin, capture_output=True, timeout=300)


def _jobs() -> list:
    store.open_store(resolve(os.environ["QUEUECTL_DB"]))
    try:
        return store.list_jobs(limit=None, oldest_first=True)
    finally:
        store.close_store()


def test_a_large_batch_is_added_whole_and_in_line_order(tmp_path):
    lines = [json.dumps({"command": f"echo {i}"}) for i in range(LINES)]
    lines[7_000] = json.dumps({"id": "named", "command": "echo named", "priority": 2})
    awkward = "printf 'a\\tb'\nx\ty\\.z\r\\N \u00e9"  # what COPY's text format must escape
    lines[9_000] = json.dumps({"command": awkward, "env": {"A": "\\N"}, "cwd": "/tmp/a\tb"})
    lines[11_000] = json.dumps({"command": "echo keyed", "unique_key": "k"})
    lines[16_000] = json.dumps({"command": "echo keyed again", "unique_key": "k"})  # a later chunk: a duplicate
    result = _enqueue(lines, tmp_path, pipe=False)
    assert result.returncode == 0, result.stderr
    ids = result.stdout.decode().split()
    assert len(ids) == LINES and ids[7_000] == "named" and ids[16_000] == ids[11_000]
    assert b"note: an unfinished job with that unique_key exists" in result.stderr
    jobs = _jobs()
    assert len(jobs) == LINES - 1  # the duplicate added nothing
    assert [job.id for job in jobs] == ids[:16_000] + ids[16_001:]
    assert [job.command for job in jobs][:3] == ["echo 0", "echo 1", "echo 2"]
    assert jobs[7_000].priority == 2 and jobs[-1].command == f"echo {LINES - 1}"
    assert (jobs[9_000].command, jobs[9_000].env, jobs[9_000].cwd) == (awkward, {"A": "\\N"}, "/tmp/a\tb")
    store.open_store(resolve(os.environ["QUEUECTL_DB"]))
    try:
        assert store.counts()["pending"] == LINES - 1
    finally:
        store.close_store()


def test_a_bad_line_anywhere_adds_nothing(tmp_path):
    """A bad line after chunks were inserted (from a pipe), a duplicate id and a dependency on a
    later line across chunks (from a file): the error names the line, and the store is as it was."""
    assert _enqueue(['{"command": "true", "id": "before"}'], tmp_path, pipe=False).returncode == 0
    lines = [json.dumps({"command": f"echo {i}"}) for i in range(LINES)]
    bad = [*lines[:12_345], '{"command": "x", "priority": "high"}', *lines[12_345:]]
    result = _enqueue(bad, tmp_path, pipe=True)
    assert result.returncode == 2
    assert result.stderr.decode() == "Error: line 12346: priority must be an integer, not 'high'\n"
    twice = [json.dumps({"id": "a", "command": "x"}), *lines[:15_000], json.dumps({"id": "a", "command": "y"})]
    result = _enqueue(twice, tmp_path, pipe=False)
    assert (
        result.returncode == 2 and result.stderr.decode() == "Error: line 15002: duplicate job id 'a' in this batch\n"
    )
    later = [
        json.dumps({"id": "b", "command": "x", "depends_on": ["c"]}),
        *lines,
        json.dumps({"id": "c", "command": "y"}),
    ]
    result = _enqueue(later, tmp_path, pipe=False)
    assert result.returncode == 2
    assert result.stderr.decode() == "Error: job 'b' depends on 'c', which comes later in the batch\n"
    assert [job.id for job in _jobs()] == ["before"]


_line_parts = st.sampled_from(["", " ", "\t", "\r", "\n", "  "])
_command = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('"\\\x00\x1f\t\udcff'), max_size=12
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(_line_parts, min_size=6, max_size=6),
    command=_command,
    raw=st.booleans(),
    tail=st.sampled_from(["", ",", "x", "}", ', "id": "a"']),
)
def test_the_plain_line_reads_as_json_does(db_path, parts, command, raw, tail):
    """A batch line taken without the JSON decoder ({"command": "…"}) gives what the decoder
    gives: the same job, or the same error.  (db_path: pure, run once.)"""
    text = command if raw else json.dumps(command)[1:-1]
    a, b, c, d, e, f = parts
    line = f'{a}{{{b}"command"{c}:{d}"{text}"{e}{tail}}}{f}'

    def read(fn):
        try:
            return fn()
        except InputError as exc:
            return str(exc)

    expected = read(lambda: [spec_from_json(line)] if line.strip() else [])
    got = read(lambda: list(iter_specs([line])))
    assert got == (f"line 1: {expected}" if isinstance(expected, str) else expected)
