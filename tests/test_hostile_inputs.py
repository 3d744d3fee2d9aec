"""Input that hostile testing found accepted, through the real `queuectl` process (issue 22):
each is refused with one `Error:` line and exit 2, the store unchanged, or handled safely."""

import json
import sys
import unicodedata
from datetime import datetime, timezone

import click
import pytest
from conftest import drain, enqueue, job, qctl, run_cli, snapshot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from queuectl.spec import MAX_COMMAND_BYTES, MAX_ENV_BYTES


def refused(result, *words: str) -> None:
    """Exit 2 with one `Error:` line that names what was wrong."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _editor(tmp_path, monkeypatch, line: str) -> None:
    """$EDITOR becomes a Python script that runs `line` on the file it is given (sys imported)."""
    editor = tmp_path / "editor.py"
    editor.write_text(f"import sys\n{line}\n")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")


# -- the editor's file -------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_an_edited_file_that_is_not_utf8_is_refused_and_the_job_kept(tmp_path, monkeypatch, fmt):
    enqueue(id="a", command="echo hi")
    _editor(tmp_path, monkeypatch, "open(sys.argv[1], 'ab').write(b'\\n\\xff\\xfe\\n')")
    before = snapshot()
    refused(qctl("edit", "a", "--format", fmt), "not UTF-8", "0xff")
    assert snapshot() == before


# -- duplicate keys in JSON ----------------------------------------------------------------------
def test_a_key_twice_in_enqueue_json_is_refused_naming_it():
    before = snapshot()
    refused(qctl("enqueue", '{"command": "echo safe", "command": "rm -rf ~/x"}'), "'command' appears twice")
    refused(qctl("enqueue", '{"command": "true", "env": {"A": "1", "A": "2"}}'), "'A' appears twice")
    lines = '{"command": "true"}\n{"id": "x", "command": "true", "id": "y"}\n'
    refused(qctl("enqueue", "-", input=lines), "line 2:", "'id' appears twice")
    refused(
        qctl("schedule", "add", "s", '{"command": "a", "queue": "q", "queue": "r"}', "--cron", "* * * * *"),
        "'queue' appears twice",
    )
    assert snapshot() == before


def test_a_key_twice_in_an_edit_is_refused(tmp_path, monkeypatch):
    enqueue(id="a", command="echo hi")
    _editor(tmp_path, monkeypatch, "open(sys.argv[1], 'w').write('{\"priority\": 1, \"priority\": 2}')")
    before = snapshot()
    refused(qctl("edit", "a", "--format", "json"), "'priority' appears twice")
    refused(qctl("edit", "a", "--set", 'env={"K": "1", "K": "2"}'), "'K' appears twice")
    assert snapshot() == before


# -- env, bounded as exec bounds it ----------------------------------------------------------------
def _env_of_size(total: int) -> dict:
    """Variables that take exactly `total` bytes as spec counts them (NAME=VALUE, NUL, pointer)."""
    env, i = {}, 0
    while total:
        entry = min(MAX_COMMAND_BYTES, total - 9)
        name = f"V{i}"
        env[name] = "x" * (entry - len(name) - 1)
        total -= entry + 9
        i += 1
    return env


def test_env_too_big_to_exec_is_refused_at_enqueue(db_path, tmp_path):
    cases = {
        "one value of 10 MB": ({"BIG": "x" * 10_000_000}, "longer than 131,071 bytes"),
        "one byte over the total": (_env_of_size(MAX_ENV_BYTES - 12) | {"A": "xx"}, "more than 1,048,576 bytes"),
        "a long name": ({"N" * 257: "x"}, "not a valid environment variable name"),
        "a lone surrogate": ({"A": "\ud800"}, "not valid Unicode"),
    }
    before = snapshot()
    for case, (env, message) in cases.items():
        path = tmp_path / "job.json"
        path.write_text(json.dumps({"command": "true", "env": env}))
        result = qctl("enqueue", "--file", str(path))
        assert result.returncode == 2, case
        refused(result, message)
    assert snapshot() == before


def test_env_at_the_bound_runs(db_path, tmp_path):
    """The bound is one a job can live with: exactly MAX_ENV_BYTES of env starts and sees it."""
    env = _env_of_size(MAX_ENV_BYTES)
    assert max(len(k) + 1 + len(v) for k, v in env.items()) == MAX_COMMAND_BYTES
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"id": "full", "command": 'printf %s "$V0" | wc -c', "env": env, "max_retries": 0}))
    assert qctl("enqueue", "--file", str(path)).returncode == 0
    drain()
    assert job("full")["state"] == "completed", job("full")["last_error"]
    assert str(len(env["V0"])) in run_cli("logs", "full").stdout.split()


# -- --at ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "when, message",
    [
        ("tomorrow 25:00", "25:00 is not a time of day"),
        ("today 23:60", "23:60 is not a time of day"),
        ("33 18:07 tomorrow", "its time of day is not one I can read"),  # dateparser dropped the 18:07
        ("nan", "is not a time"),
        ("inf", "is not a time"),
        ("-1", "is not a time"),
        ("-5m", "is not a time"),
        ("1e400s", "is not a time"),
        ("9999999999999s", "out of range"),
        ("9999-12-31T23:59:59+00:00", "out of range"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_at_refuses_what_it_cannot_honour(db_path, when, message):
    before = snapshot()
    refused(qctl("add", "--at", when, "--", "true"), message)
    assert snapshot() == before


def test_at_honours_a_time_zone_typed_with_the_time(db_path, monkeypatch):
    """ "tomorrow 09:00 UTC" is 09:00 UTC, not 09:00 on this machine's clock."""
    monkeypatch.setenv("TZ", "America/New_York")
    result = qctl("add", "--print-id", "--at", "tomorrow 09:00 UTC", "--", "true")
    assert result.returncode == 0, result.stderr
    assert job(result.stdout.strip())["run_at"].endswith("T09:00:00.000Z")


def test_at_reads_english_and_the_locales_language_only(db_path, monkeypatch):
    """Among every language dateparser knows, "heute" and "nan" are dates; in English they are not."""
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_TIME", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    refused(qctl("add", "--at", "heute 10:00", "--", "true"), "not a time I can read")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    result = qctl("add", "--print-id", "--at", "heute 10:00", "--", "true")
    assert result.returncode == 0, result.stderr
    assert datetime.fromtimestamp(_epoch(job(result.stdout.strip())["run_at"])).strftime("%H:%M") == "10:00"


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


_WORDS = [
    "tomorrow",
    "today",
    "in",
    "hours",
    "minutes",
    "days",
    "years",
    "ago",
    "next",
    "friday",
    "at",
    "UTC",
    "am",
    "pm",
    "nan",
    "inf",
    "-",
    "+",
    "e",
    ":",
    "T",
    "Z",
    "noon",
    "midnight",
    "week",
]
_at_text = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(_WORDS),
            st.integers(-(10**16), 10**16).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
        ),
        min_size=1,
        max_size=4,
    ).map(" ".join),
    st.builds(
        "{}{}".format, st.one_of(st.integers(0, 10**20), st.floats()), st.sampled_from(["s", "m", "h", "d", "w", ""])
    ),
    st.builds("{:02}:{:02}".format, st.integers(0, 120), st.integers(0, 120)).map("tomorrow {}".format),
    st.builds(
        "{:04}-{:02}-{:02}T{:02}:00{}".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.sampled_from(["", "Z", "+14:00", "-12:00"]),
    ),
    st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=20),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=_at_text)
@example(when="tomorrow 25:00")
@example(when="nan")
@example(when="9999999999999s")
@example(when="9999-12-30T23:00:00-12:00")
@example(when="in 99999 years")
@example(when="January 1, 0001")
def test_at_never_fails_inside(db_path, when):
    """Whatever --at says: exit 2 in one line, or a job whose time shows and lies in the calendar."""
    result = run_cli("add", "--print-id", "--at", when, "--", "true")
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        return
    job_id = result.stdout.strip()
    shown = run_cli("show", job_id, "--json")
    assert shown.exit_code == 0 and run_cli("show", job_id).exit_code == 0
    run_at = datetime.strptime(json.loads(shown.stdout)["run_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert 1 <= run_at.replace(tzinfo=timezone.utc).year <= 9999


# -- seconds ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e999"])
def test_wait_refuses_a_timeout_that_never_comes(db_path, value):
    enqueue(id="a", command="true")  # pending: no worker runs, so a wait for ever would hang
    refused(qctl("wait", "a", "--timeout", value, timeout=20), "--timeout", "not a number of seconds")


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_add_refuses_a_timeout_that_is_no_number_of_seconds(db_path, value):
    refused(qctl("add", "--timeout", value, "--", "true"), "--timeout")


def _commands(group: click.Group, ctx: click.Context):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield command
        if isinstance(command, click.Group):
            yield from _commands(command, ctx)


def test_every_option_that_takes_seconds_is_finite(db_path):
    """No option of any command is a bare FLOAT: click reads "nan" and "inf" as floats."""
    from queuectl.cli import cli
    from queuectl.commands.common import SECONDS

    ctx = click.Context(cli)
    floats = [
        (command.name, param.name)
        for command in _commands(cli, ctx)
        for param in command.params
        if isinstance(param.type, click.types.FloatParamType)
    ]
    assert floats == []
    seconds = {
        (command.name, param.name)
        for command in _commands(cli, ctx)
        for param in command.params
        if param.type is SECONDS
    }
    assert {("wait", "timeout"), ("add", "timeout")} <= seconds


# -- cwd ----------------------------------------------------------------------------------------
def test_a_relative_cwd_is_kept_absolute_and_the_job_runs_there(db_path, tmp_path, monkeypatch):
    (tmp_path / "here" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert qctl("add", "--id", "a", "--cwd", "sub", "--", "pwd").returncode == 0
    assert qctl("enqueue", json.dumps({"id": "b", "command": "pwd", "cwd": "./sub/../sub"})).returncode == 0
    assert qctl("schedule", "add", "s", '{"command": "pwd", "cwd": "sub"}', "--cron", "0 0 1 1 *").returncode == 0
    assert job("a")["cwd"] == str(tmp_path / "here" / "sub")
    assert job("b")["cwd"] == str(tmp_path / "here" / "sub" / ".." / "sub")
    assert json.loads(qctl("schedule", "list", "--json").stdout)[0]["job"]["cwd"] == str(tmp_path / "here" / "sub")
    monkeypatch.chdir(tmp_path / "elsewhere")  # the worker runs from another folder
    drain()
    assert run_cli("logs", "a").stdout.count(str(tmp_path / "here" / "sub")) == 1


# -- text that reorders or hides itself ----------------------------------------------------------
HIDDEN = "\u202e\u2066\u200b\u2060\ufeff\U000e0041"


def test_list_and_show_escape_bidi_and_invisible_characters_also_in_json(db_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the whole command in the listing
    enqueue(id="a", command=f"echo {HIDDEN}txt.exe")
    for args in (["list"], ["show", "a"]):
        result = qctl(*args)
        assert result.returncode == 0, result.stderr
        assert not any(unicodedata.category(c) == "Cf" for c in result.stdout), (args, result.stdout)
        assert "\\u202e\\u2066\\u200b\\u2060\\ufeff\\U000e0041" in result.stdout
    for args, command in (
        (["list", "--json"], lambda out: out[0]["command"]),
        (["show", "a", "--json"], lambda out: out["command"]),
    ):
        result = qctl(*args)
        assert not any(unicodedata.category(c) == "Cf" for c in result.stdout), (args, result.stdout)
        assert command(json.loads(result.stdout)) == f"echo {HIDDEN}txt.exe"  # the same JSON, escaped


def test_every_format_character_is_escaped_in_a_line(db_path):
    from queuectl.render import clean

    text = "".join(
        chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cf", "Cc", "Zl", "Zp")
    )
    assert not any(unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp") for c in clean(text))


def test_a_jobs_output_keeps_its_format_characters(db_path):
    """A job's output is text in a writing system: a right-to-left mark in Hebrew, the joiner
    of an emoji pass; control characters never do."""
    from queuectl.terminal import inert

    assert (
        inert("\u05e9\u05dc\u05d5\u05dd\u200f 👩\u200d💻\x1b]0;t\x07")
        == "\u05e9\u05dc\u05d5\u05dd\u200f 👩\u200d💻\\x1b]0;t\\x07"
    )
