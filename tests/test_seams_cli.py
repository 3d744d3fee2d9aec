"""Every command and subcommand as a real `queuectl` process (issue 22, part 2), on both
backends, in three situations: a machine with no store yet, an empty store, and bad input.

Each command's exit code is asserted, an error is one `Error: …` line on stderr, and no
`internal error` or traceback ever shows.  The commands are read from the click group itself:
one that is added without a line in CASES fails test_every_command_has_a_case, and every one
(groups too) meets an unknown option.  A command that only reads must, where there is no store,
print what it prints on an empty store and create nothing (no file, no folder, no table).

The situations run their commands a few at a time (each is a process of its own); the
long-running ones (the dashboards, `metrics serve`) are run only where they end at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import click
import pytest
from conftest import drain, enqueue, run_cli

from queuectl.cli import cli


@dataclass(frozen=True)
class Case:
    #: the command's arguments on a fresh machine and on an empty store, and its exit code there
    args: tuple[str, ...]
    code: int
    #: it writes (so it creates the store where there is none)
    writes: bool = False
    #: arguments it refuses, and how (2: bad input; 1: a failed operation)
    bad: tuple[str, ...] = ("--json", "no-such-argument")
    bad_code: int = 2
    #: it runs until stopped where a store exists: only its fresh-machine and bad-input forms run
    serves: bool = False
    #: it opens a terminal dashboard: only bad input runs here (tests/tui/ drive it in a pty)
    dashboard: bool = False


JOB = '{"command": "true"}'
CASES = {
    "add": Case(("--", "true"), 0, writes=True, bad=("--priority", "high", "--", "true")),
    "cancel": Case(("nope",), 1, writes=True, bad=()),
    "completion": Case(("bash",), 0, bad=("tcsh",)),
    "config get": Case(("max_retries",), 0, bad=("no_such_key",)),
    "config set": Case(("max_retries", "2"), 0, writes=True, bad=("max_retries", "lots")),
    "config show": Case((), 0),
    "dashboard start": Case((), 0, dashboard=True, bad=("--port", "99999")),
    "delete": Case(("nope",), 1, writes=True, bad=("",)),
    "demo": Case((), 0, dashboard=True, bad=("--workers", "-1")),
    "dlq list": Case((), 0, bad=("--limit", "0")),
    "dlq purge": Case((), 0, writes=True, bad=("--older-than", "soon")),
    "dlq retry": Case(("nope",), 1, writes=True, bad=()),
    "edit": Case(("nope", "--set", "priority=1"), 1, writes=True, bad=("nope", "--set", "priority")),
    "enqueue": Case((JOB,), 0, writes=True, bad=('{"command": 1}',)),
    "host list": Case((), 0),
    "init": Case((), 0, writes=True, bad=("extra",)),
    "list": Case(("--json",), 0, bad=("--state", "bogus")),
    "logs": Case(("nope",), 1, bad=("nope", "--attempt", "0")),
    "metrics": Case((), 0, bad=("--format", "xml")),
    "metrics serve": Case(("--port", "0"), 1, serves=True, bad=("--port", "70000")),
    "pause": Case(("nope",), 1, writes=True, bad=("",)),
    "priority": Case(("nope", "5"), 1, writes=True, bad=("nope", "high")),
    "prune": Case(("--older-than", "1d"), 0, writes=True, bad=("--older-than", "x")),
    "queue limit": Case(("q1", "3"), 0, writes=True, bad=("q1", "-3")),
    "queue list": Case((), 0),
    "queue pause": Case(("q2",), 0, writes=True, bad=("bad name",)),
    "queue resume": Case(("q3",), 0, writes=True, bad=("bad name",)),
    "resume": Case(("nope",), 1, writes=True, bad=("",)),
    "retry": Case(("nope",), 1, writes=True, bad=("nope", "--state", "dead")),
    "schedule add": Case(("s1", JOB, "--cron", "* * * * *"), 0, writes=True, bad=("s1", JOB, "--cron", "0 0 30 2 *")),
    "schedule list": Case((), 0),
    "schedule pause": Case(("nope",), 1, writes=True, bad=("",)),
    "schedule remove": Case(("nope",), 1, writes=True, bad=("",)),
    "schedule resume": Case(("nope",), 1, writes=True, bad=("",)),
    "schedule run": Case(("nope",), 1, writes=True, bad=("",)),
    "show": Case(("nope",), 1, bad=("",)),
    "status": Case(("--json",), 0, bad=("--label", "")),
    "tui": Case((), 0, dashboard=True),
    "usage": Case(("--json", "--since", "2026-01-01", "--until", "2026-01-02"), 0, bad=("--by", "colour")),
    "wait": Case(("nope", "--timeout", "1"), 1, bad=("nope", "--timeout", "nan")),
    "worker list": Case(("--json",), 0),
    "worker start": Case(("--burst", "--quiet"), 0, writes=True, bad=("--count", "0")),
    "worker stop": Case((), 0, writes=True, bad=("--host", "")),
}

#: at most this many commands run at once (the machine may have two CPUs)
AT_ONCE = 4


def _commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, groups included (they meet the unknown option only)."""
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


def _leaves() -> list[str]:
    """The commands that do something themselves (a group only if it runs without a subcommand)."""
    leaves = []
    for path in _commands():
        command = cli
        for name in path:
            command = command.get_command(click.Context(command), name)
        if not isinstance(command, click.Group) or command.invoke_without_command:
            leaves.append(" ".join(path))
    return leaves


def test_every_command_has_a_case(db_path):
    assert sorted(_leaves()) == sorted(CASES), "add the new command to CASES (its arguments and exit codes)"


def _env(db: str, home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    return dict(env, QUEUECTL_DB=db, HOME=str(home), COLUMNS="100")


def _run(path: str, args: tuple[str, ...], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "queuectl", *path.split(), *args],
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def _problems(name: str, result, code: int) -> list[str]:
    """What is wrong with one run (a process, or click's Result): its exit code, an error that
    is not one line, a traceback."""
    code_now = getattr(result, "returncode", getattr(result, "exit_code", None))
    found = []
    if code_now != code:
        found.append(f"exit {code_now}, not {code}")
    if code_now != 0 and not (result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1):
        found.append("the error is not one 'Error: ' line")
    if "internal error" in result.stderr + result.stdout or "Traceback" in result.stderr + result.stdout:
        found.append("an internal error")
    return [f"{name}: {p}\n  stdout: {result.stdout[-300:]!r}\n  stderr: {result.stderr[-600:]!r}" for p in found]


def _all(runs: list[tuple[str, tuple[str, ...], dict]]) -> dict[str, subprocess.CompletedProcess]:
    """Each (command, arguments, environment) run, a few at a time; by command."""
    with ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(zip([name for name, _, _ in runs], pool.map(lambda run: _run(*run), runs)))


def _tables(url: str) -> list:
    import psycopg2
    from playhouse.db_url import parse

    with psycopg2.connect(**parse(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return cursor.fetchall()


@pytest.mark.empty_database
def test_a_fresh_machine_then_an_empty_store(backend, store_url, tmp_path):
    """No store yet: every reader gives the empty store's answer (the same bytes it prints
    once the store is made) and creates nothing, not even in the user's data folder; a writer
    creates the store and does its work.  Then, on the empty store, every writer runs.

    On PostgreSQL the readers share the test's empty database, and `init` is the writer that
    meets it (every writer makes the schema through the same open_store as init)."""
    readers_home, writers_home = tmp_path / "home-r", tmp_path / "home-w"
    readers_home.mkdir()
    writers_home.mkdir()
    cases = {name: case for name, case in CASES.items() if not case.dashboard}
    readers = {name: case for name, case in cases.items() if not case.writes}
    writers = {name: case for name, case in cases.items() if case.writes and (backend == "sqlite" or name == "init")}

    def fresh(name: str) -> str:
        return store_url if backend == "postgres" else str(tmp_path / "fresh" / name.replace(" ", "-") / "q.db")

    first = _all([(name, case.args, _env(fresh(name), readers_home)) for name, case in readers.items()])
    if backend == "sqlite":
        assert [name for name in readers if os.path.exists(os.path.dirname(fresh(name)))] == [], "a reader made a store"
    else:
        assert _tables(store_url) == [], "a reader made tables"
    assert os.listdir(readers_home) == [], "a reader wrote into the user's data folder"
    first.update(_all([(name, case.args, _env(fresh(name), writers_home)) for name, case in writers.items()]))
    problems = [p for name, case in {**readers, **writers}.items() for p in _problems(name, first[name], case.code)]
    assert problems == [], "\n".join(problems)

    assert run_cli("init").exit_code == 0
    env = _env(store_url, writers_home)
    again = _all([(name, case.args, env) for name, case in readers.items() if not case.serves])
    assert {name: (r.returncode, r.stdout) for name, r in again.items()} == {
        name: (first[name].returncode, first[name].stdout) for name in again
    }
    writes = _all([(name, case.args, env) for name, case in cases.items() if case.writes])
    problems = [p for name, result in writes.items() for p in _problems(name, result, cases[name].code)]
    assert problems == [], "\n".join(problems)


def test_bad_input(backend, store_url, tmp_path):
    """Each command's bad input: refused in one line, with nothing written by the refusal."""
    assert run_cli("init").exit_code == 0
    enqueue(id="a", command="true")
    results = _all([(name, case.bad, _env(store_url, tmp_path)) for name, case in CASES.items()])
    problems = [p for name, case in CASES.items() for p in _problems(name, results[name], case.bad_code)]
    assert problems == [], "\n".join(problems)
    assert [j["id"] for j in json.loads(run_cli("list", "--json").stdout)] == ["a"]


def test_an_unknown_option_is_one_line_for_every_command_and_group(db_path):
    """(In-process: click parses before any command runs, as it does in a process.)"""
    problems = [p for path in _commands() for p in _problems(" ".join(path), run_cli(*path, "--no-such-option"), 2)]
    assert problems == [], "\n".join(problems)
    assert not db_path.exists()


# -- logs --stdout / --stderr, and a job with no attempt -------------------------------------------
#: bytes no text layer may touch: NUL, invalid UTF-8, CR LF, an escape sequence, no final newline
ODD = b"a\x00b\xff\xfe\r\nline\x1b[31m red\nlast"


def _logs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "queuectl", "logs", *args], capture_output=True, timeout=60)


def test_logs_stdout_and_stderr_are_the_streams_byte_for_byte(backend, tmp_path):
    (tmp_path / "out").write_bytes(ODD)
    (tmp_path / "err").write_bytes(ODD[::-1])
    enqueue(id="odd", command=f"cat {tmp_path / 'out'}; cat {tmp_path / 'err'} >&2")
    drain()
    out, err = _logs("odd", "--stdout"), _logs("odd", "--stderr")
    assert (out.returncode, out.stdout, out.stderr) == (0, ODD, b"")
    assert (err.returncode, err.stdout, err.stderr) == (0, ODD[::-1], b"")
    followed = _logs("odd", "--follow", "--stdout")
    assert followed.stdout == ODD and followed.stderr == b"=== attempt 1 ended: exit code 0 ===\n"
    both = _logs("odd", "--stdout", "--stderr")
    assert both.returncode == 2 and both.stderr.count(b"\n") == 1


def test_logs_stdout_gives_the_attempt_asked_for_and_all_of_it(backend, tmp_path):
    """The whole output (the headed form shows its last 1 MiB), of the latest or --attempt N."""
    marker = tmp_path / "ran-once"
    enqueue(
        id="twice",
        command=f"if [ -e {marker} ]; then printf second; else touch {marker}; "
        f"head -c 1500000 /dev/zero | tr '\\0' x; fi",
    )
    drain()
    assert run_cli("retry", "twice").exit_code == 0
    drain()
    assert _logs("twice", "--stdout").stdout == b"second"
    assert _logs("twice", "--stdout", "--attempt", "1").stdout == b"x" * 1_500_000
    assert _logs("twice", "--stderr", "--attempt", "1").stdout == b""
    assert _logs("twice", "--stdout", "--attempt", "3").returncode == 1


def test_a_job_without_an_attempt_says_so_in_logs_and_show(backend, opened):
    """Finished with no attempt recorded (cancelled while waiting, or history lost by an
    upgrade): never "has not run yet"."""
    from queuectl.models import Attempt

    enqueue(id="ran", command="true")
    enqueue(id="waited", command="true", run_at="2099-01-01T00:00:00Z")
    drain()
    Attempt.delete().execute()  # what an upgrade that lost the history left (issue 27)
    assert run_cli("cancel", "waited").exit_code == 0
    for job_id, state in (("ran", "completed"), ("waited", "cancelled")):
        logs = _logs(job_id)
        assert logs.returncode == 0 and logs.stderr.decode() == f"job '{job_id}' is {state}: no attempt recorded\n"
        assert _logs(job_id, "--stdout").stdout == b""
        follow = _logs(job_id, "--follow")
        assert (
            follow.returncode == 1
            and follow.stderr.decode() == f"Error: job '{job_id}' is {state}: no attempt recorded\n"
        )
        show = subprocess.run([sys.executable, "-m", "queuectl", "show", job_id], capture_output=True, text=True)
        assert show.stdout.endswith("Attempts: no attempt recorded\n") and "not run" not in show.stdout
