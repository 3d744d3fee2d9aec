"""A job's output cannot drive the operator's terminal: `logs` and `logs --follow` captured
through a real pseudo-terminal show control sequences escaped (colours kept); `--raw` and pipes
get the bytes as the job printed them."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from conftest import drain, enqueue, qctl, run_cli, start_workers, stop, wait_for

from queuectl.terminal import InertStream, inert

#: the clipboard (OSC 52), the window title (OSC 0), a cleared screen, and a colour
HOSTILE = b"\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;owned\x07\x1b[2Jplain \x1b[31mred\x1b[0m\n"
PRINTF = "printf '\\033]52;c;cm0gLXJmIH4=\\007\\033]0;owned\\007\\033[2Jplain \\033[31mred\\033[0m\\n'"


def _through_a_terminal(*args: str, timeout: float = 30) -> bytes:
    """What `queuectl ARGS` writes to a terminal (stdout and stderr both on it)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "queuectl", *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(5) == 0, out
    return out.replace(b"\r\n", b"\n")  # the terminal's own newline translation


def _assert_inert(out: bytes) -> None:
    assert b"\x1b]" not in out and b"\x07" not in out and b"\x1b[2J" not in out
    assert b"\\x1b]52;c;cm0gLXJmIH4=\\x07" in out and b"\\x1b]0;owned\\x07" in out and b"\\x1b[2J" in out
    assert b"plain \x1b[31mred\x1b[0m" in out  # colours pass


def test_logs_on_a_terminal_show_escape_sequences_inert():
    enqueue(id="hostile", command=PRINTF + " >&2; " + PRINTF)
    drain()
    out = _through_a_terminal("logs", "hostile")
    _assert_inert(out)
    assert out.count(b"\\x1b]52") == 2  # stdout and stderr


def test_logs_raw_and_logs_into_a_pipe_give_the_bytes_as_printed():
    enqueue(id="hostile", command=PRINTF)
    drain()
    assert HOSTILE in _through_a_terminal("logs", "hostile", "--raw")
    piped = subprocess.run([sys.executable, "-m", "queuectl", "logs", "hostile"], capture_output=True)
    assert HOSTILE in piped.stdout


def test_logs_follow_on_a_terminal_is_inert_and_raw_on_request():
    enqueue(id="slow-hostile", command="sleep 1; " + PRINTF + "; sleep 0.5; " + PRINTF + " >&2")
    enqueue(id="slow-raw", command="sleep 1; " + PRINTF)
    workers = start_workers()
    try:
        out = _through_a_terminal("logs", "slow-hostile", "--follow")
        _assert_inert(out)
        assert b"ended: exit code 0" in out
        assert HOSTILE in _through_a_terminal("logs", "slow-raw", "--follow", "--raw")
    finally:
        assert stop(workers) == 0


def test_an_error_naming_a_hostile_cwd_is_inert_in_logs_and_in_the_workers_output():
    enqueue(id="bad-cwd", command="true", cwd="/nonexistent/\x1b]0;owned\x07\x1b[2J", max_retries=0)
    result = qctl("worker", "start", "--burst")
    assert result.returncode == 0 and "bad-cwd" in result.stdout
    assert "\x1b" not in result.stdout and "\\x1b]0;owned\\x07" in result.stdout
    out = _through_a_terminal("logs", "bad-cwd")
    assert b"=== ERROR ===" in out and b"\x1b]" not in out and b"\\x1b]0;owned" in out


def test_inert_stream_holds_back_a_sequence_cut_between_chunks():
    text = "\x1b[1;32mok\x1b[0m é \x1b]0;t\x07\n"
    data = text.encode()
    stream = InertStream()
    pieces = "".join(stream.feed(data[i : i + 1]) for i in range(len(data))) + stream.end()
    assert pieces == inert(text) == "\x1b[1;32mok\x1b[0m é \\x1b]0;t\\x07\n"
    assert stream.feed(b"\xff\x9b") + stream.end() == "\\xff\\x9b"  # not UTF-8: shown, not obeyed


def test_add_on_a_terminal_says_how_to_start_a_worker_when_none_runs():
    """A pueue user's first job: nothing runs it until a worker starts, and add says so (on a
    terminal only: scripts read the id alone)."""
    out = _through_a_terminal("add", "--", "echo", "hi")
    assert b"added job 'j-" in out and b"note: no worker is running; start one with: queuectl worker start" in out
    piped = qctl("add", "--", "echo", "hi")
    assert piped.returncode == 0 and "note" not in piped.stderr
    workers = start_workers("--count", "1")
    try:
        wait_for(lambda: json.loads(run_cli("status", "--json").stdout)["workers"])
        assert b"no worker" not in _through_a_terminal("add", "--", "echo", "hi")
    finally:
        stop(workers)
