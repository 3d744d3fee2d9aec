"""The dashboard as a person runs it: the real `queuectl tui` and `queuectl demo` processes in a
pseudo-terminal of 80x24, keys typed, the screen read back, and how the process ended.

Tests through the app's pilot (tests/tui/) stop at App.run(); what the command does after it
(the exit status, what it prints) is only seen here.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from conftest import enqueue, qctl, start_workers, stop, until, wait_for

QUEUECTL = str(Path(sys.executable).with_name("queuectl"))
#: escape sequences (colours, cursor moves): what is left is the text drawn
ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")
CTRL_Q = b"\x11"
#: what no exit of the dashboard may print
BROKEN = ("internal error", "Traceback", "Error:")


class Terminal:
    """`queuectl ARGS` in a new pseudo-terminal (its controlling terminal, as in a shell)."""

    def __init__(self, *args: str, cols: int = 80, rows: int = 24) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [QUEUECTL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)
        self.master = master
        self.raw = b""
        self.mark = 0  # where the output since the latest press() starts

    @property
    def text(self) -> str:
        """Everything drawn so far, without escape sequences."""
        return ESCAPES.sub(b"", self.raw).decode(errors="replace")

    @property
    def since_press(self) -> str:
        return ESCAPES.sub(b"", self.raw[self.mark :]).decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        """Take what the program wrote within timeout; False once it closed the terminal."""
        if not select.select([self.master], [], [], timeout)[0]:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every process that had the terminal open has closed it
            return False
        self.raw += chunk
        return bool(chunk)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        """Until the program has drawn `text` since the latest key."""
        deadline = time.monotonic() + timeout
        squeezed = text.replace(" ", "")
        while squeezed not in self.since_press.replace(" ", ""):  # (a redraw may skip blank cells)
            if time.monotonic() > deadline or not self._read(0.1) and self.proc.poll() is not None:
                self.kill()
                pytest.fail(f"never drew {text!r}; the screen had:\n{self.text[-3000:]}")

    def press(self, *keys: bytes) -> None:
        self.mark = len(self.raw)
        for key in keys:
            os.write(self.master, key)
            time.sleep(0.2)  # one key at a time, as typed (a burst may read as one escape sequence)

    def exit_status(self, timeout: float = 30) -> int:
        """Wait for the program to end, reading all it writes meanwhile."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"still running {timeout}s later; the screen had:\n{self.text[-3000:]}")
            self._read(0.1)
        while self._read(0.2):  # the rest of what it wrote (its workers keep the terminal open)
            pass
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        os.close(self.master)


def _controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def terminals():
    opened: list[Terminal] = []

    def open_(*args: str, **size: int) -> Terminal:
        opened.append(Terminal(*args, **size))
        return opened[-1]

    yield open_
    for terminal in opened:
        terminal.close()


def _after_exit(terminal: Terminal) -> str:
    """What the command printed once the dashboard was gone (after it left the alternate screen)."""
    return ESCAPES.sub(b"", terminal.raw.rsplit(b"\x1b[?1049l", 1)[-1]).decode(errors="replace")


def _state(job_id: str) -> str:
    return json.loads(qctl("show", job_id, "--json").stdout)["state"]


def _workers(key: str = "id") -> dict[str, dict]:
    """`worker list --json`, by id (or by the job each runs)."""
    return {w[key]: w for w in json.loads(qctl("worker", "list", "--json").stdout)}


def _start_a_worker(terminal: Terminal) -> None:
    """5 then +, read in one go as from a fast typist or a paste (the + must reach the Workers
    pane, not the pane that was left): a worker of the dashboard's own, busy with the job waiting."""
    terminal.press(b"5+")
    terminal.wait_for("1 running")  # its host's row: one job runs


def test_q_quits_the_dashboard_on_a_fresh_store(terminals):
    terminal = terminals("tui")
    terminal.wait_for("no jobs yet")
    terminal.press(b"q")
    assert terminal.exit_status() == 0
    assert not [word for word in BROKEN if word in terminal.text], _after_exit(terminal)
    assert _after_exit(terminal).strip() == ""


def test_q_quits_the_demo_and_says_where_its_store_stays(terminals, tmp_path, db_path):
    """(It makes a SQLite store of its own: once is enough, hence db_path.)"""
    terminal = terminals("demo", "--workers", "0", "--dir", str(tmp_path / "demo"))
    terminal.wait_for("not-needed")  # (the newest demo job: the top row at 80x24)
    terminal.press(b"q")
    assert terminal.exit_status() == 0
    after = _after_exit(terminal)
    assert not [word for word in BROKEN if word in terminal.text], after
    assert f"The demo store stays at {tmp_path / 'demo' / 'demo.db'}" in after


def test_the_demo_shows_every_state_and_q_stops_its_workers_at_once(terminals, tmp_path, db_path):
    """`queuectl demo` with its two workers: every state is in its store within seconds (the
    slots are not held by a long job), and q asks, then y ends the demo without waiting for the
    20-second job its worker runs (killed: failed, not completed)."""
    demo_db = tmp_path / "demo" / "demo.db"
    terminal = terminals("demo", "--dir", str(tmp_path / "demo"))
    terminal.wait_for("not-needed")  # (the newest demo job: the top row at 80x24)
    everything = {"pending", "blocked", "processing", "completed", "failed", "dead", "cancelled"}
    seen: set[str] = set()

    def states() -> set[str]:
        jobs = json.loads(qctl("--db", str(demo_db), "list", "--json", "--limit", "100").stdout)
        seen.update(job["state"] for job in jobs)
        return seen

    assert until(lambda: states() >= everything, 30), f"only {sorted(seen)}"
    terminal.press(b"q")
    terminal.wait_for("Quit the demo")
    terminal.press(b"y")
    assert terminal.exit_status() == 0
    assert not [word for word in BROKEN if word in terminal.text], _after_exit(terminal)
    slow = json.loads(qctl("--db", str(demo_db), "show", "slow-output", "--json").stdout)
    assert slow["state"] == "failed", slow


def test_q_y_with_a_busy_worker_started_here_waits_for_its_job_then_exits(terminals):
    """+ in Workers, a job running on that worker: q asks, y says it waits, the job completes
    (not killed) and the dashboard closes by itself."""
    assert qctl("add", "--id", "nap", "--", "sleep", "2").returncode == 0
    terminal = terminals("tui")
    terminal.wait_for("nap")
    _start_a_worker(terminal)
    terminal.press(b"q")
    terminal.wait_for("Stop them and quit")
    terminal.press(b"y")
    terminal.wait_for("waiting for 1 worker(s) to finish")
    assert terminal.exit_status() == 0
    assert not [word for word in BROKEN if word in terminal.text], _after_exit(terminal)
    assert _state("nap") == "completed"


def test_ctrl_q_leaves_a_busy_worker_finishing_and_says_so(terminals):
    """Textual's ctrl+q ends the dashboard at once: the worker it started finishes its job (it
    gets the parent-death stop signal) and the command says so."""
    assert qctl("add", "--id", "nap", "--", "sleep", "2").returncode == 0
    terminal = terminals("tui")
    terminal.wait_for("nap")
    _start_a_worker(terminal)
    terminal.press(CTRL_Q)
    assert terminal.exit_status() == 0
    after = _after_exit(terminal)
    assert "1 worker(s) started by the dashboard are finishing their current job and will then exit." in after
    assert not [word for word in BROKEN if word in terminal.text], after
    wait_for(lambda: _state("nap") == "completed", 30)


class WebTab:
    """`queuectl tui` as textual-serve runs it for one browser tab: Textual's web driver, with
    the tab's keys and meta packets on stdin and the screen on stdout (each packet: a type byte,
    a 4-byte length, the payload)."""

    def __init__(self) -> None:
        env = dict(
            os.environ,
            TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver",
            TEXTUAL_FPS="60",
            TEXTUAL_COLOR_SYSTEM="truecolor",
            COLUMNS="80",
            ROWS="24",
        )
        self.proc = subprocess.Popen(
            [QUEUECTL, "tui"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.drawn = b""
        self.reader = threading.Thread(target=self._read, daemon=True)  # (a full pipe would stall the app)
        self.reader.start()

    def _read(self) -> None:
        out = self.proc.stdout
        out.readline()  # __GANGLION__
        while (head := out.read(5)) and len(head) == 5:
            payload = out.read(int.from_bytes(head[1:], "big"))
            if head[:1] == b"D":
                self.drawn += payload

    def send(self, kind: bytes, payload: bytes) -> None:
        self.proc.stdin.write(kind + len(payload).to_bytes(4, "big") + payload)
        self.proc.stdin.flush()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        assert until(lambda: text in ESCAPES.sub(b"", self.drawn).decode(errors="replace"), timeout), (
            f"never drew {text!r}"
        )


def test_a_web_tab_that_closes_ends_its_dashboard_cleanly():
    """What a closing browser tab does to its dashboard process (textual-serve's quit packet), with
    a worker started in it: exit 0, and what it prints (which the server logs) is the
    workers-finishing line, not an error.  (tests/web/test_tab_close.py closes a real tab.)"""
    tab = WebTab()
    try:
        tab.wait_for("no jobs yet")
        tab.send(b"D", b"5")
        tab.wait_for("No workers")
        tab.send(b"D", b"+")
        tab.wait_for("started worker-1")
        tab.send(b"M", json.dumps({"type": "quit"}).encode())
        assert tab.proc.wait(30) == 0
    finally:
        if tab.proc.poll() is None:
            os.killpg(tab.proc.pid, signal.SIGKILL)
    said = tab.proc.stderr.read().decode()
    assert said == "1 worker(s) started by the dashboard are finishing their current job and will then exit.\n"


# -- the stopping state that the Workers pane's - sets, as every other process sees it ---------
def test_worker_stop_id_reads_stopping_and_lets_the_job_finish_and_now_kills_it(tmp_path):
    """Two real worker processes, each running a job: the one asked with --id reads stopping
    (text and JSON) and finishes its job; the one asked with --id --now kills its job (failed,
    retried); both exit, and so does their supervisor."""
    go = tmp_path / "go"
    enqueue(id="finishes", command=f"while [ ! -e {go} ]; do sleep 0.1; done")
    enqueue(id="sleeper", command="sleep 600")
    supervisor = start_workers("--count", "2", "--procs", "2")
    try:
        workers = wait_for(lambda: (found := _workers("current_job")).keys() >= {"finishes", "sleeper"} and found)
        gentle, hard = workers["finishes"]["id"], workers["sleeper"]["id"]
        asked = qctl("worker", "stop", "--id", gentle)
        assert (asked.returncode, asked.stdout) == (0, f"asked worker {gentle} to stop after its current job\n")
        listed = qctl("worker", "list").stdout
        assert next(line for line in listed.splitlines() if gentle in line).split()[3] == "stopping"
        beat = _workers()[gentle]
        assert beat["state"] == "stopping"
        wait_for(lambda: _workers()[gentle]["heartbeat_at"] != beat["heartbeat_at"])
        assert _workers()[gentle]["state"] == "stopping"  # its heartbeats keep it so
        assert _workers()[hard]["state"] == "busy"  # the other one is left alone
        assert qctl("worker", "stop", "--id", hard, "--now").returncode == 0
        go.touch()
        assert supervisor.wait(30) == 0
        assert _state("finishes") == "completed"
        killed = json.loads(qctl("show", "sleeper", "--json").stdout)
        assert (killed["state"], killed["last_error"]) == ("failed", "killed: its worker was stopped")
    finally:
        if supervisor.poll() is None:
            stop(supervisor)


def test_worker_stop_refuses_bad_input_in_one_line():
    for args, code, message in (
        (("--id", "no-such-worker"), 1, "Error: no worker 'no-such-worker' is registered"),
        (("--now",), 2, "Error: --now needs --id"),
        (("--id", "w", "--host", "h"), 2, "Error: give --id or --host, not both"),
    ):
        result = qctl("worker", "stop", *args)
        assert result.returncode == code and result.stderr.startswith(message), result.stderr
        assert result.stderr.count("\n") == 1


# -- data is plain text on screen ------------------------------------------------------------
def test_commands_and_host_names_show_as_typed_in_the_tables_and_the_palette(terminals, tmp_path, db_path):
    """Rich markup in data (`[i]`, `[/var/log]`) is shown as typed: it made text vanish, or broke
    the drawing of the Workers pane and of the palette's job search."""
    from queuectl import store
    from queuectl.paths import resolve

    host = "[i]" + "x" * 30 + "[/var/log]"  # longer than the host row shows: whole only in HOST
    odd = tmp_path / "[i]dir"
    odd.mkdir()
    enqueue(id="brackets", command="echo [i] [/var/log]", cwd=str(odd))
    store.open_store(resolve(str(db_path)))
    store.register_worker("w-1.1.abcdef", host, 1, None)
    store.close_store()
    terminal = terminals("tui", cols=120, rows=40)
    terminal.wait_for("echo [i] [/var/log]")
    terminal.press(b"5")
    terminal.wait_for(host)
    terminal.press(b"1", b"\r")  # the job's own view
    terminal.wait_for(f"cwd {odd}")
    terminal.press(b"\x1b", b"\x10")  # esc, ctrl+p
    terminal.wait_for("Search")
    terminal.press(*[bytes([c]) for c in b"brackets"])
    terminal.wait_for("jobs: open brackets (pending) — echo [i] [/var/log]")
    terminal.press(b"\x1b", b"q")
    assert terminal.exit_status() == 0
    assert not [word for word in BROKEN if word in terminal.text], _after_exit(terminal)


def test_a_worker_stopped_by_a_signal_reads_stopping_until_it_exits(tmp_path):
    """SIGTERM (Ctrl+C, the dashboard's q y) tells a worker to finish its job and exit: it reads
    `stopping` meanwhile, as one asked through the store does, not `busy`."""
    go = tmp_path / "go"
    enqueue(id="finishes", command=f"while [ ! -e {go} ]; do sleep 0.1; done")
    supervisor = start_workers("--count", "1", "--procs", "1")
    try:
        worker = wait_for(lambda: (found := _workers("current_job")).get("finishes") and found["finishes"])
        supervisor.send_signal(signal.SIGTERM)
        wait_for(lambda: _workers()[worker["id"]]["state"] == "stopping")
        go.touch()
        assert supervisor.wait(30) == 0
        assert _state("finishes") == "completed"
    finally:
        if supervisor.poll() is None:
            stop(supervisor)
