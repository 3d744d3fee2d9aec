"""Hostile input: property-based tests over everything a user can type.

Whatever the input: never a traceback; a refusal is exit 2 (bad input) or 1 (a well-formed
request that failed) with exactly one `Error: ` line free of control characters; a refused
command leaves the store byte-for-byte unchanged (SQLite's own dump); nothing escapes the logs
folder; no control sequence reaches `list`, `status`, `dlq list` or `worker list`.
"""

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from conftest import enqueue, run_cli
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from . import storecheck

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: control characters (C0 but newline, DEL, C1) and the line/paragraph separators
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
KNOWN = ("id", "command", "priority", "timeout", "max_retries", "run_at")

# every code point, surrogates and controls included
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
nasty_text = st.one_of(
    any_text,
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\x1b[2J",
            "\x1b]0;pwned\x07",
            "\x9b31m",
            "\r",
            "\u202e",
            "\ud800",
            "..",
            ".",
            "../../etc/passwd",
            "a/b",
            "-",
            "--help",
            "%s",
            "{}",
            "\\",
            "\u2028",
            "🦀" * 40,
        ]
    ),
)
huge_numbers = st.sampled_from(
    [
        "1" * 5000,
        "-" + "9" * 4301,
        "1e999",
        "-1e999",
        "1e-999",
        "1" * 400 + ".5",
        "123456789012345678901234567890",
        "0.000000000000000000001",
        "-0",
        "1E400",
    ]
)
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**31 - 3, max_value=2**70), st.floats(), nasty_text
)
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3), max_leaves=8
)


def _dates():
    moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
    offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
    aware = st.builds(lambda m, o: m.replace(tzinfo=timezone(o)).isoformat(), moments, offsets)
    edges = st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:59:59",
            "0001-01-01",
            "now",
            "NOW ",
            "2026-02-30",
            "2026-13-01",
            "T",
            "2026-01-01T25:00",
            "2026-01-01 10:00:00Z",
            "+002026-01-01",
        ]
    )
    return st.one_of(aware, moments.map(datetime.isoformat), edges, nasty_text, json_leaf)


def _job_objects():
    fields = {
        "id": st.one_of(nasty_text, st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,130}", fullmatch=True), json_leaf),
        "command": st.one_of(st.just("true"), nasty_text, json_leaf, st.just("x" * (128 * 1024 + 1))),
        "priority": json_leaf,
        "timeout": json_leaf,
        "max_retries": json_leaf,
        "run_at": _dates(),
        # later fields: workflows and queues
        "depends_on": st.one_of(json_leaf, st.lists(st.one_of(nasty_text, st.just("existing")), max_size=3)),
        "dependency_policy": json_leaf,
        "unique_key": json_leaf,
        "cwd": json_leaf,
        "queue": json_leaf,
        "env": st.one_of(json_leaf, st.dictionaries(nasty_text, json_leaf, max_size=2)),
        "fatal_exit_codes": st.one_of(json_leaf, st.lists(json_leaf, max_size=3)),
    }
    known = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(nasty_text, json_value, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def _raw_json():
    """JSON text as a user might type it, valid or not."""
    as_text = st.builds(lambda obj, ascii_: json.dumps(obj, ensure_ascii=ascii_), _job_objects(), st.booleans())
    with_number = st.builds(
        lambda field, n: f'{{"command": "true", "{field}": {n}}}',
        st.sampled_from(["priority", "timeout", "max_retries", "id", "run_at"]),
        huge_numbers,
    )
    nested = st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n)
    nested_obj = st.integers(1, 50_000).map(lambda n: '{"command": ' + '{"a": ' * n + "1" + "}" * n + "}")
    return st.one_of(as_text, with_number, nested, nested_obj, any_text, st.builds(json.dumps, json_value))


class Store:
    """The store's dump, taken again only after a command that succeeded."""

    def __init__(self, path):
        self.path = path
        self.before = storecheck.dump(path)

    def check(self, result, allowed=(0, 2)):
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        out = result.stdout + result.stderr
        assert "Traceback" not in out and "internal error" not in out, out
        assert result.exit_code in allowed, (result.exit_code, result.stderr)
        if result.exit_code == 0:
            self.before = storecheck.dump(self.path)
            return
        assert result.stderr.startswith("Error: ") and result.stderr.endswith("\n"), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert not CONTROL.search(result.stderr), result.stderr
        assert storecheck.dump(self.path) == self.before


@pytest.fixture
def store(db_path):
    enqueue(id="existing", command="true")
    return Store(db_path)


@SETTINGS
@given(text=_raw_json())
@example(text='{"command": "true", "priority": ' + "1" * 5000 + "}")
@example(text='{"command": "true", "run_at": "9999-12-31T23:59:59-01:00"}')
@example(text='{"command": "true", "run_at": "0001-01-01T00:00:00+01:00"}')
@example(text='{"id": "existing", "command": "true"}')
def test_enqueue_json(store, text):
    store.check(run_cli("enqueue", text))


@SETTINGS
@given(lines=st.lists(_raw_json(), min_size=1, max_size=5), position=st.integers(0, 5))
@example(lines=['{"command": "echo \udcff"}'], position=0)
def test_enqueue_batches_are_all_or_nothing(store, lines, position):
    """A bad line anywhere refuses the whole batch; the error names a line."""
    lines = [json.dumps({"command": "true"})] * 2 + lines
    # bytes as a pipe may carry them: lone surrogates become invalid UTF-8
    result = run_cli("enqueue", "-", input=("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    store.check(result)
    if result.exit_code == 2 and result.stderr != "Error: no jobs in the input\n":
        assert re.match(r"Error: line \d+: ", result.stderr), result.stderr


@SETTINGS
@given(
    key=st.one_of(
        st.sampled_from(
            [
                "max_retries",
                "backoff_base",
                "max_backoff",
                "default_timeout",
                "default_priority",
                "max_log_bytes",
                "lease_seconds",
            ]
        ),
        nasty_text,
    ),
    value=st.one_of(
        nasty_text,
        huge_numbers,
        st.from_regex(r"-?[0-9_]{0,12}(\.[0-9]*)?(e-?[0-9]{1,4})?", fullmatch=True),
        st.sampled_from(["nan", "inf", "-inf", "1e308", "1_0", "٣", "0x10", " 5 ", "+1"]),
    ),
)
def test_config_set(store, key, value):
    store.check(run_cli("config", "set", key, value))


@SETTINGS
@given(job_id=nasty_text, attempt=st.one_of(st.none(), st.integers(), st.sampled_from(["1" * 30, "-1", "x"])))
@example(job_id="../../etc", attempt=None)
@example(job_id="a\x1b[2Jb", attempt=None)
@example(job_id="\ud800", attempt=None)
def test_ids_in_every_command(store, job_id, attempt):
    """Unknown ids fail (1), malformed ones are bad input (2); neither touches the store."""
    assume(job_id != "existing")
    for args in (
        ["logs", "--", job_id],
        ["cancel", "--", job_id],
        ["dlq", "retry", "--", job_id],
        ["retry", "--", job_id],
        ["show", "--", job_id],
        ["wait", "--timeout", "0", "--", job_id],
    ):
        store.check(run_cli(*args), allowed=(1, 2))
    if attempt is not None:
        store.check(run_cli("logs", "existing", "--attempt", str(attempt)), allowed=(0, 1, 2))


SAFE_COMMANDS = [
    ["list"],
    ["status"],
    ["metrics"],
    ["dlq", "list"],
    ["config", "show"],
    ["worker", "list"],
    ["logs"],
    ["cancel"],
    ["dlq", "retry"],
    ["config", "set"],
    ["enqueue"],
]
VOCABULARY = [
    "--json",
    "--limit",
    "--state",
    "--attempt",
    "--all",
    "--db",
    "-",
    "--file",
    "--help",
    "-h",
    "pending",
    "dead",
    "0",
    "-1",
    "1",
    "99999999999999999999",
    "existing",
    "--count",
    "--",
]


@SETTINGS
@given(
    command=st.sampled_from(SAFE_COMMANDS),
    tail=st.lists(st.one_of(st.sampled_from(VOCABULARY), nasty_text), max_size=5),
)
@example(command=["list"], tail=["--limit", "99999999999999999999"])
@example(command=["dlq", "list"], tail=["--limit", "99999999999999999999"])
@example(command=["list"], tail=["--\x1b[31mred\nline2"])
@example(command=["list"], tail=["\n"])
def test_cli_arguments(store, command, tail, tmp_path):
    assume("--follow" not in tail and "-f" not in tail)
    if "--db" in tail:  # point --db somewhere harmless
        i = tail.index("--db")
        tail = tail[: i + 1] + [str(tmp_path / "other.db")] + tail[i + 2 :]
    store.check(run_cli(*command, *tail), allowed=(0, 1, 2))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(SETTINGS, max_examples=25)
@given(
    command=nasty_text.filter(lambda c: c.strip() and "\x00" not in c and _encodable(c)),
    host=nasty_text.filter(lambda h: h and "\x00" not in h and _encodable(h)),
)
@example(command="echo \x1b[2J\x1b]0;title\x07\x9b31m\u202e\r\x08", host="h\x1b[31m")
def test_no_control_sequence_reaches_listings(store, command, host, monkeypatch):
    result = run_cli("enqueue", json.dumps({"command": command}))
    assert result.exit_code == 0, result.stderr
    job_id = result.stdout.strip()
    assert run_cli("cancel", job_id).exit_code == 0  # its last_error and state show in dlq/list
    from queuectl import store as engine
    from queuectl.paths import resolve

    engine.open_store(resolve(None))
    engine.register_worker("w1", host, 1, None)
    for args in (
        ["list", "--limit", "3"],
        ["list", "--json", "--limit", "3"],
        ["status"],
        ["dlq", "list"],
        ["dlq", "list", "--json"],
        ["worker", "list"],
        ["worker", "list", "--json"],
        ["metrics"],
    ):
        out = run_cli(*args)
        assert out.exit_code == 0, out.stderr
        assert not CONTROL.search(out.stdout), (args, out.stdout)
    engine.unregister_worker("w1")


@given(job_id=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,127}", fullmatch=True), number=st.integers(1, 10**6))
@settings(SETTINGS, max_examples=300)
def test_valid_ids_stay_inside_the_logs_folder(db_path, tmp_path_factory, job_id, number):
    from queuectl.spec import validate_job_id
    from queuectl.store import attempt_paths

    try:
        validate_job_id(job_id)
    except Exception:
        return
    logs = tmp_path_factory.getbasetemp() / "logs"
    for path in attempt_paths(logs, job_id, number):
        assert path.resolve().parent.parent == logs.resolve()


def test_job_logs_never_leave_the_logs_folder(db_path, tmp_path):
    """Ids at the edge of the rules run and log in their own folder under logs/."""
    from conftest import drain

    ids = ["_", "a..", "a:b", "A-1.2", "x" * 128, "0", "_.-:"]
    for job_id in ids:
        enqueue(id=job_id, command="echo out; echo err >&2")
    for bad in ["..", ".", "../x", "a/b", ".hidden", "-x", ":x", "x" * 129, "a\x00b", "a\nb", "é"]:
        assert run_cli("enqueue", json.dumps({"id": bad, "command": "true"})).exit_code == 2
    drain()
    logs = (db_path.parent / "logs").resolve()
    written = [p for p in db_path.parent.rglob("*") if p.is_file() and "attempt-" in p.name]
    assert len(written) == 2 * len(ids)
    assert all(p.resolve().parent.parent == logs for p in written)
    assert sorted(p.resolve().parent.name for p in written) == sorted(ids * 2)
