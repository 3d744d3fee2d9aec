"""Another local user (issue 22): a throwaway account, made with useradd and removed after, tries
what a hostile neighbour on the same machine would.  queuectl runs as root (the tests' user, as in
CI), the neighbour through `runuser`: a token file they plant, a store and logs they try to read,
and links they plant where queuectl will write.  Run as root only."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import drain, enqueue

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"),
    reason="needs root, useradd and runuser (another local user is made for the test)",
)
NEIGHBOUR = f"qctl-neighbour-{os.getpid()}"


@pytest.fixture(autouse=True)
def _files_on_this_host(db_path):
    """(SQLite only: the store's folder and the logs beside it are what is tried here.)"""


@pytest.fixture(scope="module")
def neighbour():
    """The other user's name; the account is removed after the module."""
    made = subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/bin/sh", NEIGHBOUR], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"useradd failed: {made.stderr.strip()}")
    try:
        yield NEIGHBOUR
    finally:
        subprocess.run(["userdel", NEIGHBOUR], capture_output=True)


def as_neighbour(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", NEIGHBOUR, "--", "/bin/sh", "-c", script], capture_output=True, text=True, timeout=30, cwd="/"
    )


@pytest.fixture
def shared():
    """A folder both users reach and may write to, sticky like /tmp (tmp_path is root's own)."""
    folder = Path(tempfile.mkdtemp(prefix="qctl-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def queuectl(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "queuectl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **env),
    )


def refused(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1 and lines[0].startswith("Error: "), result
    assert all(word in lines[0] for word in words), lines[0]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def dashboard_with(token_file: Path, store: Path) -> subprocess.CompletedProcess:
    """`dashboard start --token-file F`: what it says if it refuses; one that starts (it took
    the token) is stopped and fails the test."""
    pytest.importorskip("textual_serve", reason="the web extra is not installed")
    from web.conftest import free_port

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "queuectl",
            "--db",
            str(store),
            "dashboard",
            "start",
            "--port",
            str(free_port()),
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        pytest.fail(f"the dashboard started with a token file it should have refused: {err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_token_file_planted_by_another_user_is_refused(neighbour, shared, tmp_path):
    """A 0600 file of theirs passed the old mode check: root's dashboard took their token."""
    planted = as_neighbour(f"umask 077; printf %s planted-token-of-the-neighbour > {shared}/token")
    assert planted.returncode == 0, planted.stderr
    assert stat.S_IMODE((shared / "token").stat().st_mode) == 0o600
    refused(
        dashboard_with(shared / "token", tmp_path / "q.db"), 2, "--token-file", f"user {neighbour}", "not to user root"
    )
    # a link of theirs to a token file of root's, and a FIFO (which would hang a plain open)
    mine = tmp_path / "my-token"
    mine.write_text("a-token-root-keeps-for-itself")
    mine.chmod(0o600)
    assert as_neighbour(f"ln -s {mine} {shared}/link && mkfifo -m 600 {shared}/fifo").returncode == 0
    refused(dashboard_with(shared / "link", tmp_path / "q.db"), 2, "symbolic link")
    refused(dashboard_with(shared / "fifo", tmp_path / "q.db"), 2, "not a regular file")


def test_the_store_and_its_folder_are_private_to_their_owner(neighbour, shared):
    store = shared / "queue" / "q.db"
    enqueue_result = queuectl("enqueue", '{"id": "secret-job", "command": "echo s3cret"}', QUEUECTL_DB=str(store))
    assert enqueue_result.returncode == 0, enqueue_result.stderr
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    for path in store.parent.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for attempt in (f"cat {store}", f"ls {store.parent}", f"echo x >> {store}", f"touch {store.parent}/planted"):
        assert as_neighbour(attempt).returncode != 0, attempt
    # nor does the neighbour's own queuectl get in (as a user would try)
    tried = subprocess.run(
        [
            "runuser",
            "-u",
            neighbour,
            "--",
            "/usr/bin/env",
            f"QUEUECTL_DB={store}",
            "HOME=/tmp",
            "/bin/sh",
            "-c",
            f"cat {store} >/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert tried.returncode != 0


def test_the_logs_of_jobs_are_private_to_their_owner(neighbour, shared, monkeypatch):
    store = shared / "q.db"  # beside the store, in a folder everyone may write to
    monkeypatch.setenv("QUEUECTL_DB", str(store))
    enqueue(id="talks", command="echo the-output; echo the-error >&2")
    drain()
    logs = shared / "logs"
    files = sorted((logs / "talks").iterdir())
    assert [f.name for f in files] == ["attempt-1.stderr", "attempt-1.stdout"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in (logs, logs / "talks")} == {0o700}
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    for path in (logs, logs / "talks", *files):
        assert as_neighbour(f"cat {path} || ls {path}").returncode != 0, path
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert as_neighbour(f"cat {store}").returncode != 0


@pytest.mark.parametrize(
    "planted",
    [
        "ln -s {victim} {d}/logs",  # job logs written into root's folder
        "mkdir -m 777 {d}/logs",  # a logs folder the neighbour reads
        "ln -s {victim} {d}/run",  # the wake-up sockets
        "ln -s {victim}/precious {d}/q.db",  # the store opened through a link
        "umask 0; touch {d}/q.db",  # a store of theirs, whose jobs root would run
        "ln -s {victim}/precious {d}/q.db-wal",  # SQLite's journal
    ],
)
def test_what_the_neighbour_plants_beside_the_store_is_refused_never_followed(neighbour, shared, tmp_path, planted):
    """The store's folder is one everyone may write to (sticky, like /tmp): the neighbour makes
    the store's companions before root's first command does."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("root's file\n")
    assert as_neighbour(planted.format(victim=victim, d=shared)).returncode == 0
    db = str(shared / "q.db")
    result = queuectl("enqueue", '{"id": "j", "command": "echo owned"}', QUEUECTL_DB=db)
    if result.returncode == 0:  # the store is fine: the worker must refuse the rest
        result = queuectl("worker", "start", "--burst", "--quiet", QUEUECTL_DB=db)
    refused(result, result.returncode, "refusing")
    assert result.returncode != 0
    assert [p.name for p in victim.iterdir()] == ["precious"]
    assert (victim / "precious").read_text() == "root's file\n"


def test_a_job_log_folder_cannot_be_planted_once_queuectl_made_the_logs_folder(neighbour, shared, tmp_path):
    assert queuectl("init", QUEUECTL_DB=str(shared / "q.db")).returncode == 0
    assert as_neighbour(f"ln -s {tmp_path} {shared}/logs/j").returncode != 0
