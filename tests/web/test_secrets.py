"""No secret in a process list, and nothing for another user: the PostgreSQL password never
reaches a child's command line or our output; another user (nobody) can read neither the store
nor the dashboard's token, and gets no dashboard without it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess

import pytest
from conftest import enqueue, wait_for

from .conftest import QUEUECTL, Dashboard, app_output

PASSWORD = "s3cret-dummy-pw"  # the test server trusts 127.0.0.1, so any password connects


def _descendants(*roots: int) -> list[int]:
    parents = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            pass
    found, frontier = [], list(roots)
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += children
        frontier = children
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@pytest.mark.postgres_only
async def test_no_child_process_shows_the_postgresql_password(store_url):
    url = store_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    assert PASSWORD in url
    env = dict(os.environ, QUEUECTL_DB=url)
    enqueue(id="hello-web", command="sleep 30")
    workers = subprocess.Popen(
        [QUEUECTL, "worker", "start", "--count", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    server = Dashboard(env={"QUEUECTL_DB": url})
    try:
        drawn = await app_output(f"{server.base}/ws?token={server.token}", Origin=server.base)
        assert b"hello-web" in drawn  # the dashboard's app process connected with that URL
        wait_for(lambda: len(_descendants(workers.pid)) >= 5)  # 2 workers, their guards, the job
        children = _descendants(workers.pid, server.proc.pid)
        assert [pid for pid in children if PASSWORD.encode() in _cmdline(pid)] == []
        assert any(b"queuectl.execution.worker" in _cmdline(pid) for pid in children)
    finally:
        for pid in [workers.pid, *_descendants(workers.pid)]:  # the sleeping job too: no need to wait
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        out, err = workers.communicate(timeout=30)
        server.stop()
    assert PASSWORD.encode() not in out + err + server.stderr
    assert b"postgresql://postgres@127.0.0.1" in server.stderr  # the store is named, without it


SYSTEM_PYTHON = "/usr/bin/python3"  # one that nobody may run (this one may live in root's home)
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser") or not os.path.exists(SYSTEM_PYTHON),
    reason="needs root, runuser and /usr/bin/python3",
)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *argv], capture_output=True, text=True, timeout=30, cwd="/")


@needs_root
def test_another_user_can_read_neither_the_store_nor_the_token_nor_the_dashboard(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    for folder in (tmp_path, shared):
        folder.chmod(0o755)  # so that only the files' own modes stand in the way
    db = shared / "q.db"
    token = "a-token-only-root-knows-0123456789"
    server = Dashboard(env={"QUEUECTL_DB": str(db), "QUEUECTL_DASHBOARD_TOKEN": token})
    try:
        assert server.token == token
        assert _as_nobody("cat", str(db)).returncode != 0
        assert _as_nobody("cat", f"/proc/{server.proc.pid}/environ").returncode != 0
        cmdline = _as_nobody("cat", f"/proc/{server.proc.pid}/cmdline")
        assert cmdline.returncode == 0 and token not in cmdline.stdout
        probe = (
            "import sys, urllib.request, urllib.error\n"
            "for path in sys.argv[1:]:\n"
            "    try: print(urllib.request.urlopen(path).status)\n"
            "    except urllib.error.HTTPError as e: print(e.code)\n"
        )
        seen = _as_nobody(
            SYSTEM_PYTHON,
            "-c",
            probe,
            f"{server.base}/",
            f"{server.base}/ws",
            f"{server.base}/?token=guess-guess-guess",
        )
        assert seen.stdout.split() == ["401", "401", "403"], seen.stderr
    finally:
        server.stop()
