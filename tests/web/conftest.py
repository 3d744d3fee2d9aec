"""A real `queuectl dashboard start` per test module, on a free port, with its own store."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

pytest.importorskip("textual_serve", reason="the web extra is not installed: pip install '.[web]'")

ROOT = Path(__file__).resolve().parents[2]
QUEUECTL = str(Path(sys.executable).with_name("queuectl"))
URL_LINE = re.compile(rb"(https?://\S+/\?token=(\S+))")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dashboard:
    """`queuectl dashboard start ARGS` as a user starts it (from the checkout's root); its
    printed URL, token and everything it wrote to stderr."""

    def __init__(self, *args: str, env: dict | None = None, cwd: Path = ROOT, command: str = QUEUECTL):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [command, "dashboard", "start", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(os.environ, **(env or {})),
            start_new_session=True,
        )
        self.stderr = b""
        found = self._read_until(URL_LINE, 30)
        self.url, self.token = found.group(1).decode(), found.group(2).decode()
        self.base = f"http://127.0.0.1:{self.port}"

    def _read_until(self, pattern: re.Pattern, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while not (found := pattern.search(self.stderr)):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"dashboard did not print its URL: {self.stderr.decode(errors='replace')}")
            if select.select([self.proc.stderr], [], [], 0.2)[0]:
                self.stderr += os.read(self.proc.stderr.fileno(), 65536)
        return found

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def store_cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUEUECTL, "--db", str(db), *args], capture_output=True, text=True, timeout=60)


async def http_get(url: str, cookies: dict | None = None, **headers: str) -> tuple[int, str, aiohttp.ClientResponse]:
    async with aiohttp.ClientSession(cookies=cookies) as session:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            return response.status, await response.text(), response


async def cookie_of(dashboard: Dashboard) -> dict:
    _, _, response = await http_get(dashboard.url)
    morsel = response.cookies[f"queuectl-dashboard-{dashboard.port}"]
    return {morsel.key: morsel.value}


async def app_output(url: str, cookies: dict | None = None, until: bytes = b"hello-web", **headers: str) -> bytes | int:
    """What the app drew over the WebSocket until `until` showed (or it closed), or the HTTP
    status that refused the handshake."""
    async with aiohttp.ClientSession(cookies=cookies) as session:
        try:
            async with session.ws_connect(url, headers=headers, timeout=aiohttp.ClientWSTimeout(ws_receive=30)) as ws:
                await ws.send_json(["resize", {"width": 100, "height": 30}])
                received = b""
                while until not in received:
                    message = await ws.receive(timeout=30)
                    if message.type != aiohttp.WSMsgType.BINARY:
                        break
                    received += message.data
                return received
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


@pytest.fixture(scope="module")
def web_store(tmp_path_factory) -> Path:
    """A store with a pending job and a dead one (in the DLQ)."""
    db = tmp_path_factory.mktemp("web") / "queuectl.db"
    assert store_cli(db, "enqueue", '{"id": "hello-web", "command": "echo hi"}').returncode == 0
    assert (
        store_cli(
            db, "enqueue", '{"id": "doomed", "command": "exit 3", "max_retries": 0, "queue": "dlqtest"}'
        ).returncode
        == 0
    )
    assert store_cli(db, "worker", "start", "--burst", "--quiet", "--queue", "dlqtest").returncode == 0
    return db


@pytest.fixture(scope="module")
def dashboard(web_store):
    server = Dashboard("--allow-host", "dash.test", env={"QUEUECTL_DB": str(web_store)})
    yield server
    server.stop()
