"""`add --each` as issue 22 found it: a placeholder's value scanned again (shell code from a file
name ran), GNU parallel's other placeholders, a carriage return that split a line, a line that is
not UTF-8, the memory a long input took; and `add --fatal-exit-code` and `--after-label`.
The argv jobs receive is compared with GNU parallel's in test_each_parallel.py."""

import json
import shlex
import subprocess
import sys

import pytest
from conftest import drain, enqueue, job, qctl, run_cli, snapshot

#: writes its arguments as one JSON line to the file named by its first argument
ARGV = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


def seen(path) -> list[list[str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def printer(out) -> str:
    """The shell text that runs ARGV, writing to out."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(ARGV)} {shlex.quote(str(out))}"


def test_no_placeholder_value_is_read_again_so_no_name_runs_code(tmp_path):
    """The repro: the value of {.} held '{}', which the next replace filled with the quoted line
    again, ending its quotes and letting $(touch …) run when the job ran.  Through the real
    processes, for every placeholder, in one shell text and in several arguments."""
    out = tmp_path / "seen.jsonl"
    planted = tmp_path / "INJECTED"
    names = [
        f"x{{}}$(touch {planted}).txt",
        f"d{{}}`touch {planted}`/b{{.}}$(touch {planted}).c",
        "x{}$(touch INJECTED).txt",
        "{#}{.}'$(touch INJECTED)'.{}",
    ]
    placeholders = ["{}", "{.}", "{/}", "{//}", "{/.}", "{#}"]
    one_text = printer(out) + " " + " ".join(placeholders)
    for args in ([one_text], [sys.executable, "-c", ARGV, str(out), *placeholders]):
        result = qctl("add", "--each", "--cwd", str(tmp_path), "--", *args, input="\n".join(names) + "\n")
        assert result.returncode == 0, result.stderr
    drain()
    assert not planted.exists()
    expected = [
        [
            name,
            name.rsplit(".", 1)[0],
            name.rpartition("/")[2],
            name.rpartition("/")[0] or ".",
            name.rpartition("/")[2].rsplit(".", 1)[0],
            str(number),
        ]
        for number, name in enumerate(names, start=1)
    ]
    assert sorted(seen(out)) == sorted(expected * 2)


@pytest.mark.parametrize(
    "name, values",
    [
        # name: {} {.} {/} {//} {/.}, as /usr/bin/parallel gives them (20221122)
        (".bashrc", [".bashrc", "", ".bashrc", ".", ""]),
        ("..double-dot", ["..double-dot", ".", "..double-dot", ".", "."]),
        ("dir.d/file", ["dir.d/file", "dir.d/file", "file", "dir.d", "file"]),
        ("/x/.y", ["/x/.y", "/x/", ".y", "/x", ""]),
        ("a/b/", ["a/b/", "a/b/", "", "a", ""]),
        ("a/", ["a/", "a/", "", ".", ""]),
        ("/", ["/", "/", "", "/", ""]),
        ("a.", ["a.", "a", "a.", ".", "a"]),
        ("a.b.c", ["a.b.c", "a.b", "a.b.c", ".", "a.b"]),
    ],
)
def test_path_placeholders_follow_parallel_on_dots_and_slashes(db_path, name, values):
    from queuectl.placeholders import expand

    assert [expand(p, name, 1) for p in ("{}", "{.}", "{/}", "{//}", "{/.}")] == values


def test_the_line_is_appended_only_when_no_placeholder_is_given(db_path, tmp_path):
    """Parallel's rule: {#} alone is a placeholder (nothing appended); text that only looks
    like one ({foo}, { }) stays literal and the line is appended; {1} is the one column."""
    commands = {
        ("echo", "{#}"): "echo 1",
        ("echo", "{foo}", "{ }", "{{}}"): "echo '{foo}' '{ }' '{a.b}'",
        ("echo {foo}",): "echo {foo} a.b",
        ("echo", "{1}", "{1.}", "{-1/}"): "echo a.b a a.b",
    }
    for command, expected in commands.items():
        result = run_cli("add", "--each", "--json", "--", *command, input="a.b\n")
        assert result.exit_code == 0, result.stderr
        assert job(json.loads(result.stdout)[0]["id"])["command"] == expected


@pytest.mark.parametrize(
    "template, message",
    [
        ("echo {%}", "Error: {%} (parallel's job slot) is not known when a job is added; {#} numbers the lines\n"),
        ("echo {2}", "Error: {2}: the input has one column (use {} or {1})\n"),
        ("echo {= s/a/b/ =}", "Error: perl expressions such as {= s/a/b/ =} are not supported\n"),
    ],
)
def test_placeholders_that_cannot_be_filled_are_refused(template, message):
    before = snapshot()
    result = qctl("add", "--each", "--", template, input="a\n")
    assert (result.returncode, result.stderr) == (2, message)
    assert qctl("add", "--each", "--unique", "k{%}", "--", "echo", input="a\n").returncode == 2
    assert snapshot() == before


@pytest.mark.parametrize("template", ["echo '{}'", 'echo "{.}"', "sh -c 'cat {/}'", "echo \\{}", 'echo "$(date) {//}"'])
def test_a_placeholder_quoted_by_hand_is_refused(tmp_path, template):
    """Quotes around a placeholder in the shell text are closed by the value's own, and the
    rest of the name ran as code (parallel's manual: never quote {} yourself)."""
    before = snapshot()
    result = qctl("add", "--each", "--cwd", str(tmp_path), "--", template, input="x'; touch PWNED; '\n")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: {") and ("inside quotes" in result.stderr or "backslash" in result.stderr)
    assert snapshot() == before


def test_a_placeholder_in_a_fresh_shell_context_or_quoted_number_is_kept(tmp_path):
    out = tmp_path / "seen.jsonl"
    text = printer(out) + ' "$(basename {})" "{#}" `printf %s {/.}` # it\'s {}'
    work = tmp_path / "work"
    work.mkdir()
    result = qctl("add", "--each", "--cwd", str(work), "--", text, input="d/$(touch PWNED).c\n")
    assert result.returncode == 0, result.stderr
    drain()
    assert seen(out) == [["$(touch PWNED).c", "1", "$(touch", "PWNED)"]]
    assert list(work.iterdir()) == []


def test_only_a_newline_ends_a_line(tmp_path):
    """A lone carriage return is part of its line (it split it in two); so is the \\r of a
    CRLF line end, as in parallel.  Empty lines are skipped but counted by {#}."""
    out = tmp_path / "seen.jsonl"
    result = qctl("add", "--each", "--", printer(out) + " {} {#}", input="a\rb\n\nc\r\n")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 2
    drain()
    assert sorted(seen(out)) == [["a\rb", "1"], ["c\r", "3"]]


def test_a_line_that_is_not_utf8_is_named_and_nothing_is_added():
    before = snapshot()
    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "add", "--each", "--", "echo"], input=b"fine\nal\xe9\n", capture_output=True
    )
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "Error: line 2 is not UTF-8 text (byte 0xe9 at byte 3: unexpected end of data); "
        "a job's command is stored as text\n"
    )
    assert snapshot() == before


def test_each_fills_the_unique_key_with_the_raw_values():
    result = run_cli("add", "--each", "--json", "--unique", "thumb:{/.}", "--", "echo", input="a/x.png\nb/x.png\n")
    assert result.exit_code == 0, result.stderr
    first, second = json.loads(result.stdout)
    assert second == {"id": first["id"], "duplicate": True}
    assert job(first["id"])["unique_key"] == "thumb:x"


#: runs queuectl and, as it exits, writes its peak memory (kB) to stderr: the peak of this
#: program only (a child's ru_maxrss starts at its parent's, here pytest's, which is larger)
PEAK = (
    "import atexit, runpy, sys; sys.argv[0] = 'queuectl'; atexit.register(lambda: sys.stderr.write("
    "next(line for line in open('/proc/self/status') if line.startswith('VmHWM:')).split()[1]))\n"
    "runpy.run_module('queuectl', run_name='__main__')"
)


def test_a_unique_key_typed_with_bytes_that_are_not_utf8_is_refused():
    """It was an internal error (UnicodeEncodeError) with or without --each."""
    before = snapshot()
    for each in ([], ["--each"]):
        result = subprocess.run(
            [sys.executable, "-m", "queuectl", "add", *each, "--unique", b"k\xff{}", "--", "echo"],
            input=b"a\n",
            capture_output=True,
        )
        assert (result.returncode, result.stderr) == (2, b"Error: unique_key is not valid Unicode text\n")
    assert snapshot() == before


def test_each_reads_in_bounded_memory(db_path):
    """The peak memory of `add --each` does not grow with the input (it held about 0.7 KB per
    line: 20,000 lines took 16 MB more than one; now some 3 MB more, the store's cache)."""

    def peak_kb(lines: int) -> int:
        text = "".join(f"dir/photo {i}.png\n" for i in range(lines))
        result = subprocess.run(
            [sys.executable, "-c", PEAK, "add", "--each", "--", "convert", "{}", "{.}.jpg"],
            input=text,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and len(result.stdout.split()) == lines, result.stderr
        return int(result.stderr)

    assert peak_kb(20_000) - peak_kb(1) < 8_000


def test_a_failing_batch_rolls_back_the_batches_before_it(opened):
    """--each inserts batch by batch in one transaction: an error in a later batch leaves the
    store as it was."""
    from queuectl import store
    from queuectl.errors import InputError
    from queuectl.spec import JobSpec

    def batches():
        yield [JobSpec(command="true") for _ in range(3)]
        yield [JobSpec(command="true", depends_on=("missing",))]

    with pytest.raises(InputError, match="depends on 'missing', which does not exist"):
        store.enqueue_batches(batches(), lambda added: None)
    assert store.ids_matching(["pending"], store.JobFilter()) == []


def test_fatal_exit_code_sends_the_job_to_the_dlq_without_retries():
    job_id = run_cli(
        "add", "--print-id", "--retries", "5", "--fatal-exit-code", "3", "--fatal-exit-code", "7", "--", "exit 3"
    ).stdout.strip()
    assert job(job_id)["fatal_exit_codes"] == [3, 7]
    drain()
    assert (job(job_id)["state"], job(job_id)["attempts"]) == ("dead", 1)
    before = snapshot()
    for bad in ("0", "256", "x"):
        result = qctl("add", "--fatal-exit-code", bad, "--", "true")
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert snapshot() == before


def test_after_label_waits_for_every_job_with_the_label():
    builds = [enqueue(command="true", labels=["build"]), enqueue(command="false", labels=["build", "x"], max_retries=0)]
    other = enqueue(command="true", labels=["test"])
    link = run_cli("add", "--print-id", "--after-label", "build", "--after", other, "--", "true").stdout.strip()
    shown = json.loads(run_cli("show", link, "--json").stdout)
    assert sorted(shown["depends_on"]) == sorted([*builds, other]) and shown["state"] == "blocked"
    drain()
    assert job(link)["state"] == "cancelled"  # a build failed
    before = snapshot()
    for args in (
        ["--after-label", "nothing"],
        ["--after-label", "bad label"],
        ["--after-label", "build", "--after-any", other],
    ):
        result = qctl("add", *args, "--", "true")
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert qctl("add", "--after-label", "nothing", "--", "true").stderr == "Error: no job has the label 'nothing'\n"
    assert snapshot() == before


def test_bad_input_creates_no_store(db_path):
    """Refused before the store is opened, so a first command with a typo leaves nothing."""
    for args, stdin in (
        (["--fatal-exit-code", "0"], ""),
        (["--after-label", "x", "--timeout", "0"], ""),
        (["--each"], "ok\n" + "x" * 140_000 + "\n"),
        (["--each"], ""),
    ):
        result = qctl("add", *args, "--", "echo", input=stdin)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert not db_path.exists()
