"""`queuectl add`: a job from a command line (pueue's and task-spooler's way), `--each` for one
job per input line, and `enqueue --file` / the not-JSON hint (on both backends)."""

import json
import shlex
import sys
import time

import pytest
from conftest import drain, enqueue, job, qctl, run_cli, snapshot


def added_id(result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_one_argument_is_the_shell_command_as_typed():
    """A single argument keeps its shell syntax; the job runs it through /bin/sh."""
    job_id = added_id(run_cli("add", "--print-id", "--", "echo one && echo two"))
    assert job(job_id)["command"] == "echo one && echo two"


def test_several_arguments_are_shell_quoted(tmp_path):
    """Each argument reaches the program as one argument, whatever it contains."""
    out = tmp_path / "argv.json"
    args = ["a b", "it's", "$(touch pwned)", "`id`", "*", "--x"]
    code = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    job_id = added_id(run_cli("add", "--print-id", "--", sys.executable, "-c", code, str(out), *args))
    assert job(job_id)["command"] == shlex.join([sys.executable, "-c", code, str(out), *args])
    drain()
    assert json.loads(out.read_text()) == args
    assert not (tmp_path / "pwned").exists()


def test_every_option_reaches_the_job(tmp_path, monkeypatch):
    """The options map onto the job's fields; --cwd defaults to the current folder."""
    monkeypatch.chdir(tmp_path)
    first = enqueue(id="first", command="true")
    result = run_cli(
        "add",
        "--id",
        "j1",
        "-o",
        "-5",
        "-q",
        "batch",
        "--after",
        first,
        "--timeout",
        "9.5",
        "--retries",
        "0",
        "--at",
        "2h",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
        "--unique",
        "k1",
        "--",
        "echo",
        "hi",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "added job 'j1', after first\n"
    got = job("j1")
    assert (got["priority"], got["queue"], got["timeout"], got["max_retries"]) == (-5, "batch", 9.5, 0)
    assert (got["env"], got["cwd"], got["unique_key"], got["state"]) == (
        {"A": "1", "B": "x=y"},
        str(tmp_path),
        "k1",
        "blocked",
    )
    shown = json.loads(run_cli("show", "j1", "--json").stdout)
    assert shown["depends_on"] == ["first"] and shown["dependency_policy"] == "success"
    assert added_id(run_cli("add", "--print-id", "--after-any", first, "--", "true")) != ""
    # a second job with the same unique key is not added: the holder's id is printed
    again = run_cli("add", "--json", "--unique", "k1", "--", "true")
    assert json.loads(again.stdout) == {"id": "j1", "duplicate": True}


def test_at_reads_durations_iso_and_human_times():
    """--at: 10m from now, an ISO 8601 time, and 'tomorrow 09:00' (dateparser)."""
    before = time.time()
    ids = [
        added_id(run_cli("add", "--print-id", "--at", when, "--", "true"))
        for when in ("10m", "2030-01-02T03:04:05Z", "tomorrow 09:00", "now")
    ]
    run_at = [job(i)["run_at"] for i in ids]
    from datetime import datetime

    stamp = [datetime.fromisoformat(r.replace("Z", "+00:00")).timestamp() for r in run_at]
    assert 600 - 5 < stamp[0] - before < 600 + 60
    assert run_at[1] == "2030-01-02T03:04:05.000Z"
    local = datetime.fromtimestamp(stamp[2])
    assert (local.hour, local.minute) == (9, 0) and 0 < stamp[2] - before <= 2 * 86400
    assert abs(stamp[3] - before) < 60


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "whenever-ish"],
        ["--at", ""],
        ["--priority", "x"],
        ["--priority", str(2**40)],
        ["--timeout", "0"],
        ["--retries", "-1"],
        ["--queue", "no spaces"],
        ["--env", "NOEQUALS"],
        ["--env", "1A=x"],
        ["--id", "../x"],
        ["--after", "missing"],
        ["--after", "a", "--after-any", "b"],
        ["--id", "me", "--after", "me"],
        ["--cwd", ""],
        ["--each", "--id", "x"],
    ],
)
def test_bad_options_exit_2_in_one_line_and_change_nothing(args):
    """Bad input: one Error line, exit 2, the store as it was."""
    enqueue(id="a", command="true")
    enqueue(id="b", command="true")
    before = snapshot()
    result = run_cli("add", *args, "--", "echo", "hi", input="x\n")
    assert result.exit_code == 2, (args, result.stdout)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_a_missing_command_is_bad_usage():
    before = snapshot()
    for args in (["add"], ["add", "--"], ["add", "--", "   "]):
        result = run_cli(*args)
        assert result.exit_code == 2 and result.stderr.startswith("Error: ")
    assert snapshot() == before


def test_a_command_as_long_as_one_argument_can_be_runs_and_one_byte_more_is_refused(tmp_path):
    """The limit is Linux's MAX_ARG_STRLEN (128 KiB with the ending NUL): the longest command
    accepted still starts, one byte more is refused before anything is written."""
    from queuectl.spec import MAX_COMMAND_BYTES

    prefix = "true #"
    longest = prefix + "x" * (MAX_COMMAND_BYTES - len(prefix))
    result = qctl("enqueue", "-", input=json.dumps({"id": "long", "command": longest}) + "\n")
    assert result.returncode == 0, result.stderr
    drain()
    assert job("long")["state"] == "completed"
    before = snapshot()
    result = qctl("enqueue", "-", input=json.dumps({"command": longest + "x"}) + "\n")
    assert result.returncode == 2 and "longer than 131,071 bytes" in result.stderr
    assert snapshot() == before


NASTY = [
    "plain.png",
    "with space.png",
    "it's.png",
    'say "hi".png',
    "$(touch pwned).png",
    "`id`.png",
    "semi;colon.png",
    "glob*.png",
    "-dash.png",
    "back\\slash.png",
    "tab\there.png",
    "ümlaut.png",
    "no_ext",
]


def test_each_adds_ten_thousand_jobs_in_one_transaction_with_lines_reaching_literally():
    """10,000 lines, names with spaces, quotes and $(…) among them: every command, read by a
    shell, gives back the line exactly; the ids print in line order."""
    lines = [
        NASTY[i % len(NASTY)].replace(".", f"-{i}.", 1)
        if "." in NASTY[i % len(NASTY)]
        else f"{NASTY[i % len(NASTY)]}{i}"
        for i in range(10_000)
    ]
    result = qctl("add", "--each", "-q", "thumbs", "--", "convert", "{}", "{.}.jpg", input="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 10_000
    jobs = {j["id"]: j for j in json.loads(run_cli("list", "--json", "--limit", "20000").stdout)}
    for job_id, line in zip(ids, lines):
        stem = line.rsplit(".", 1)[0] if "." in line else line
        assert shlex.split(jobs[job_id]["command"]) == ["convert", line, stem + ".jpg"]
        assert jobs[job_id]["queue"] == "thumbs"


def test_each_is_all_or_nothing():
    """One bad line (here the 10,000th, too long to run) and no job is added; the line is named."""
    before = snapshot()
    lines = [f"f{i}" for i in range(9_999)] + ["x" * 140_000]
    result = qctl("add", "--each", "--", "echo", input="\n".join(lines) + "\n")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: line 10000: command is longer than")
    assert snapshot() == before
    assert qctl("add", "--each", "--", "echo", input="").returncode == 2
    assert snapshot() == before


def test_each_jobs_get_the_line_as_the_program_argument(tmp_path):
    """Run the jobs: each program sees its line as one argument; nothing in a name executes."""
    out = tmp_path / "seen.jsonl"
    code = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"
    shell_text = f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} {shlex.quote(str(out))} {{}} {{.}}"
    assert run_cli("add", "--each", "--", shell_text, input="\n".join(NASTY) + "\n").exit_code == 0
    # no placeholder: the line becomes the last argument
    assert run_cli("add", "--each", "--", sys.executable, "-c", code, str(out), input="last one\n").exit_code == 0
    drain()
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    stems = [name.rsplit(".", 1)[0] if "." in name else name for name in NASTY]
    assert sorted(map(tuple, seen)) == sorted([(n, s) for n, s in zip(NASTY, stems)] + [("last one",)])
    assert not (tmp_path / "pwned.png").exists() and not (tmp_path / "pwned").exists()


def test_enqueue_file_without_dash(tmp_path):
    """enqueue --file F reads JSON Lines from F."""
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"id": "f1", "command": "true"}\n{"id": "f2", "command": "true"}\n')
    result = run_cli("enqueue", "--file", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["f1", "f2"]


def test_enqueue_of_a_shell_command_hints_at_add():
    before = snapshot()
    result = run_cli("enqueue", "echo hi")
    assert result.exit_code == 2
    assert result.stderr == "Error: not JSON; to run a shell command use: queuectl add -- echo hi\n"
    result = run_cli("enqueue", '{"command": ')  # broken JSON keeps the JSON error
    assert result.exit_code == 2 and result.stderr.startswith("Error: invalid JSON")
    assert run_cli("enqueue").exit_code == 2
    assert snapshot() == before
