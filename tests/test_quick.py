"""The quick path of the commands people run in loops (issue 24): `add`, `enqueue`, `status` and
`list` through store/quick.py (sqlite3 or psycopg2 alone), held to the full store's answers and
errors on both backends, and render.plain_table held to rich's drawing.  No timing here (bench/
measures it)."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuectl import render
from queuectl.store import sqltext

#: a process that takes the full store whatever it runs: peewee is loaded first (store/quick.py)
FULL = [sys.executable, "-c", "import sys, peewee; from queuectl.cli import main; sys.argv[0] = 'queuectl'; main()"]
QUICK = [sys.executable, "-m", "queuectl"]
#: the commands run on both paths, in turn, on the same kind of store: successes, a taken id,
#: bad JSON, a bad priority, a unique key twice, dependencies and filters (handed to the full
#: store), listings of every kind
STEPS = [
    ["status"],  # no store yet: the full store answers as an empty one
    ["add", "--", "echo", "hi there"],  # no store yet: the full store makes it
    ["add", "--id", "a1", "--priority", "3", "--", "true"],
    ["enqueue", '{"id": "a1", "command": "x"}'],
    ["enqueue", "not json"],
    ["enqueue", '{"command": "x", "priority": "high"}'],
    ["add", "--unique", "k", "--json", "--", "sleep", "1"],
    ["add", "--unique", "k", "--json", "--", "sleep", "2"],
    ["enqueue", '{"command": "y", "queue": "q2", "env": {"A": "1"}, "labels": ["l1"], "timeout": 5, "paused": true}'],
    ["enqueue", '{"command": "z", "depends_on": ["a1"]}'],
    ["add", "--after", "a1", "--print-id", "--", "make"],
    ["add", "--label", "l1", "-q", "q2", "--", "echo \u00e9\u4e2d"],
    ["status"],
    ["status", "--label", "l1"],
    ["list"],
    ["list", "--json", "--limit", "3"],
    ["list", "--state", "pending", "--state", "paused", "--limit", "2"],
    ["list", "--label", "l1"],
]


def _normal(text: str) -> str:
    """Output with what differs between any two runs made the same: generated ids, times."""
    text = re.sub(r"j-[0-9a-f]{16}", "j-ID", text)
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?", "TIME", text)
    return text


def _run(prefix: list[str], url: str, argv: list[str]) -> tuple[int, str, str]:
    env = dict(os.environ, QUEUECTL_DB=url)
    proc = subprocess.run([*prefix, *argv], capture_output=True, text=True, env=env, timeout=60)
    return proc.returncode, _normal(proc.stdout), _normal(proc.stderr)


@pytest.fixture
def second_store(backend, request, tmp_path) -> str:
    """Another empty store of the same backend as store_url."""
    if backend == "sqlite":
        yield str(tmp_path / "second" / "queuectl.db")
        return
    admin = request.getfixturevalue("pg_admin")
    name = f"queuectl_quick_{os.getpid()}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
    yield store_url_for(name)
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def store_url_for(name: str) -> str:
    from conftest import _pg_url

    return _pg_url(name)


def test_the_quick_path_answers_as_the_full_store(store_url, second_store, backend):
    """Every step's exit code, stdout and stderr are the same on both paths (the quick path serves
    what it can, on either backend), and so is the store after them."""
    for argv in STEPS:
        quick, full = _run(QUICK, store_url, argv), _run(FULL, second_store, argv)
        assert quick == full, argv
    final = ["list", "--json", "--limit", "100"]
    assert json.loads(_run(FULL, store_url, final)[1]) == json.loads(_run(FULL, second_store, final)[1])
    assert _run(FULL, store_url, ["metrics"]) == _run(FULL, second_store, ["metrics"])


def test_the_quick_path_skips_peewee_and_rich(store_url, backend):
    """On a store in use, status, list (in a pipe), add and enqueue import neither peewee nor
    rich, nor Python's ssl (psycopg2 leaves OpenSSL to libpq: store.drivers); a missing store
    still goes the full way."""
    env = dict(os.environ, QUEUECTL_DB=store_url)

    def loaded(*argv: str) -> str:
        return _loaded(env, *argv)

    if backend == "sqlite":
        assert loaded("status") == "peewee queuectl.models"  # no store yet: the full store
    assert subprocess.run([*QUICK, "init"], env=env, capture_output=True).returncode == 0
    for argv in (["status"], ["list"], ["add", "--", "true"], ["enqueue", '{"command": "true"}']):
        assert loaded(*argv) == "", argv


#: runs queuectl in-process with argv, then prints which of the full store's modules it loaded
_PROBE = (
    "import sys, runpy\nsys.argv = ['queuectl', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('queuectl', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "print(' '.join(sorted(m for m in sys.modules if m in ('peewee', 'rich', 'queuectl.models', 'ssl'))), file=sys.stderr)"
)


def _loaded(env: dict, *argv: str) -> str:
    """Which of peewee, rich, the models and ssl a `queuectl ARGV` process imported."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env)
    return proc.stderr.splitlines()[-1]


@pytest.mark.postgres_only
@pytest.mark.empty_database
def test_an_empty_database_goes_the_full_way(store_url):
    """No tables yet: the quick path hands over, and the full store answers as an empty store."""
    quick, full = _run(QUICK, store_url, ["status", "--json"]), _run(FULL, store_url, ["status", "--json"])
    assert quick == full and quick[0] == 0


@pytest.mark.postgres_only
@pytest.mark.parametrize("argv", [["status"], ["list"], ["add", "--", "true"], ["enqueue", '{"command": "true"}']])
def test_a_server_that_cannot_be_reached_is_said_once_as_the_full_store_says_it(backend, argv):
    """The quick path says a refused connection itself, in the full store's words and exit code,
    rather than handing over to a second connect."""
    url = "postgresql://postgres@127.0.0.1:9/queuectl_nowhere"  # (port 9: discard, nobody listens)
    quick, full = _run(QUICK, url, argv), _run(FULL, url, argv)
    assert quick == full
    assert quick[0] == 1 and quick[1] == "" and quick[2].startswith("Error: connection to server at")
    assert len(quick[2].splitlines()) == 1
    assert _loaded(dict(os.environ, QUEUECTL_DB=url), *argv) == ""  # said once: no full store tried after it


@pytest.mark.postgres_only
def test_a_connection_that_requires_tls_is_libpqs_to_make(store_url):
    """psycopg2 imported without Python's ssl (store.drivers: the quick path, and the full store
    before peewee) leaves OpenSSL's set-up to libpq: sslmode=require reaches the server's answer
    (this test server has no TLS) in the same words as a process that imported ssl first (FULL
    imports peewee, and so psycopg2 with ssl, before anything else); a run after it imports ssl
    as usual."""
    url = store_url + ("&" if "?" in store_url else "?") + "sslmode=require"
    quick, full = _run(QUICK, url, ["status"]), _run(FULL, url, ["status"])
    assert quick == full and quick[0] == 1
    assert quick[2].strip().endswith("server does not support SSL, but SSL was required")
    assert subprocess.run([*QUICK, "init"], env=dict(os.environ, QUEUECTL_DB=store_url)).returncode == 0
    full_store = _loaded(dict(os.environ, QUEUECTL_DB=store_url), "metrics").split()
    assert "queuectl.models" in full_store and "ssl" not in full_store
    after = (
        "from queuectl.store.drivers import import_psycopg2; import_psycopg2(); import ssl; print(ssl.OPENSSL_VERSION)"
    )
    assert subprocess.run([sys.executable, "-c", after], capture_output=True, text=True).stdout.startswith("OpenSSL")


def test_a_store_of_a_newer_schema_is_refused_alike(store_url, backend):
    """A store another host upgraded is refused in the same words on both paths, and unchanged."""
    assert subprocess.run([*QUICK, "init"], env=dict(os.environ, QUEUECTL_DB=store_url)).returncode == 0
    newer = str(sqltext.SCHEMA_VERSION + 1)
    statement = f"UPDATE setting SET value = '{newer}' WHERE key = 'schema_version'"
    if backend == "sqlite":
        with sqlite3.connect(store_url) as conn:
            conn.execute(statement)
    else:
        import psycopg2

        with psycopg2.connect(store_url) as conn, conn.cursor() as cursor:
            cursor.execute(statement)
    for argv in (["status"], ["add", "--", "true"], ["list"]):
        quick, full = _run(QUICK, store_url, argv), _run(FULL, store_url, argv)
        assert quick == full and quick[0] != 0 and "schema" in quick[2], argv
    assert _run(FULL, store_url, ["status", "--json"])[0] != 0


def test_a_store_to_migrate_goes_the_full_way(db_path, tmp_path):
    """A store of an older schema is migrated by `status` on the quick path as on the full one."""
    dump = gzip.decompress((Path(__file__).parent / "fixtures" / "schema_v6.sqlite.sql.gz").read_bytes()).decode()
    answers = []
    for name in ("quick", "full"):
        path = tmp_path / name / "queuectl.db"
        path.parent.mkdir(mode=0o700)
        with sqlite3.connect(path) as conn:
            conn.executescript(dump)
        path.chmod(0o600)
        answers.append(_run(QUICK if name == "quick" else FULL, str(path), ["status", "--json"]))
        with sqlite3.connect(path) as conn:
            version = conn.execute(sqltext.SCHEMA_VERSION_SQL).fetchone()[0]
        assert int(version) == sqltext.SCHEMA_VERSION
    assert answers[0] == answers[1] and answers[0][0] == 0


def test_the_shared_constants_are_the_models(db_path):
    from queuectl import models
    from queuectl.store import workers

    assert sqltext.SCHEMA_VERSION == models.SCHEMA_VERSION
    assert sqltext.TABLES == {model._meta.table_name for model in models.MODELS}
    assert workers.LIVENESS_SECONDS == sqltext.LIVENESS_SECONDS
    from queuectl import ops
    from queuectl.store import logfiles

    assert ops.TAIL_BYTES == logfiles.TAIL_BYTES


_ascii = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30),
    columns=st.lists(
        st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=9), min_size=1, max_size=6
    ),
    data=st.data(),
    width=st.integers(10, 140),
)
def test_the_plain_table_is_what_rich_draws(db_path, title, columns, data, width):
    """Wherever plain_table draws a table, it draws rich's, byte for byte.  (db_path: a pure
    function, run once rather than once per backend.)"""
    from rich.console import Console

    rows = data.draw(st.lists(st.lists(_ascii, min_size=len(columns), max_size=len(columns)), min_size=1, max_size=5))
    cells = [[render.clean(cell) for cell in row] for row in rows]
    plain = render.plain_table(title, columns, cells, width)
    if plain is None:
        return
    out = io.StringIO()
    render.rich_table(Console(file=out, width=width, highlight=False, force_terminal=False), title, columns, cells)
    assert plain == out.getvalue()


def test_the_plain_table_serves_a_usual_listing(db_path):
    cells = [["j-0123456789abcdef", "pending", "0", "0/4", "2026-12-06 21:11:54", "echo " + "x" * 80]]
    columns = ["ID", "State", "Priority", "Attempts", "Created", "Command"]
    assert render.plain_table("Jobs (1)", columns, cells, 80) is not None
