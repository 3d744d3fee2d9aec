"""The only module that starts job processes.

A command runs as `/bin/sh -c COMMAND` in a new session (its own process group), with stdout and
stderr read through pipes into per-attempt files, each capped at max_log_bytes.  Reading through
pipes (rather than handing the files to the child) is what makes the cap, the truncation note and
a clean failure on a full disk possible.  The whole group is killed when the command ends, times
out, is cancelled, or its worker dies (parent-death signal), so no job process outlives its run.
"""
from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

#: seconds between SIGTERM and SIGKILL when a job times out or is cancelled
KILL_GRACE = 5.0
_CHUNK = 65536
#: seconds to keep reading after the command exited while an escaped process holds its pipes
_ORPHAN_PIPE_GRACE = 2.0


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    duration: float
    #: None for success; otherwise why the attempt failed, as the user will read it
    error: str | None


class LogError(Exception):
    """The attempt's log files could not be created or written."""


class WakeSource(Protocol):
    def fileno(self) -> int: ...
    def drain(self) -> bool: ...


def _set_parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A preexec hook so the child gets `sig` when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    PR_SET_PDEATHSIG = 1

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return hook


_die_with_parent = _set_parent_death_signal(signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class _CappedLog:
    """One output stream: written up to `limit` bytes, the rest counted and dropped."""

    def __init__(self, path: Path, limit: int):
        self.limit = limit
        self.written = 0
        self.dropped = 0
        self.error: OSError | None = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        self.fd = os.open(path, flags, 0o600)

    def write(self, data: bytes) -> None:
        keep = max(0, min(len(data), self.limit - self.written)) if self.error is None else 0
        self.dropped += len(data) - keep
        view = memoryview(data)[:keep]
        try:
            while view:
                n = os.write(self.fd, view)
                self.written += n
                view = view[n:]
        except OSError as exc:
            self.error = exc
            self.dropped += len(view)

    def close(self) -> None:
        if self.dropped and self.error is None:
            note = f"\n[queuectl: output truncated at {self.limit} bytes; {self.dropped} more bytes dropped]\n"
            try:
                os.write(self.fd, note.encode())
            except OSError as exc:
                self.error = exc
        os.close(self.fd)


class Running:
    """A started command; `wait` supervises it to the end."""

    def __init__(self, command: str, stdout_path: Path, stderr_path: Path, max_log_bytes: int, env: dict | None = None):
        try:
            stdout_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._logs = {"stdout": _CappedLog(stdout_path, max_log_bytes)}
            self._logs["stderr"] = _CappedLog(stderr_path, max_log_bytes)
        except OSError as exc:
            for log in getattr(self, "_logs", {}).values():
                log.close()
            raise LogError(f"could not create the job's log files: {exc.strerror}") from None
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=env,
        )
        self.pgid = self.proc.pid
        self._kill_reason: str | None = None
        self._kill_at: float | None = None

    def kill(self, reason: str, grace: float = KILL_GRACE) -> None:
        """Terminate the whole process group now, and SIGKILL it after `grace` seconds."""
        if self._kill_reason is None:
            self._kill_reason = reason
            self._kill_at = time.monotonic() + grace
            self._signal_group(signal.SIGTERM)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(
        self,
        timeout: float,
        on_tick: Callable[[], None],
        tick_every: float,
        wake: WakeSource | None = None,
    ) -> Outcome:
        """Copy output to the logs until the command ends; call on_tick every tick_every
        seconds and whenever `wake` fires (that is where the caller may call kill())."""
        selector = selectors.DefaultSelector()
        streams = {self.proc.stdout: self._logs["stdout"], self.proc.stderr: self._logs["stderr"]}
        for stream in streams:
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        if wake is not None:
            selector.register(wake.fileno(), selectors.EVENT_READ, data="wake")
        deadline = self.started + timeout
        next_tick = time.monotonic() + tick_every
        exit_status: int | None = None
        exited_at = 0.0
        try:
            while streams or exit_status is None:
                now = time.monotonic()
                wakeups = [next_tick, deadline] + ([self._kill_at] if self._kill_at else [])
                pause = max(0.0, min(wakeups) - now)
                if not streams:
                    pause = min(pause, 0.01)  # only the exit status is missing: poll briefly
                woke = False
                for key, _ in selector.select(pause):
                    if key.data == "wake":
                        woke = wake.drain() or woke
                        continue
                    stream = key.fileobj
                    try:
                        data = os.read(stream.fileno(), _CHUNK)
                    except BlockingIOError:
                        continue
                    if data:
                        streams[stream].write(data)
                    else:
                        selector.unregister(stream)
                        del streams[stream]
                if exit_status is None:
                    exit_status = self.proc.poll()
                    if exit_status is not None:
                        # anything it left in the background is part of the job and ends with it
                        self._signal_group(signal.SIGKILL)
                        exited_at = time.monotonic()
                elif streams and time.monotonic() - exited_at > _ORPHAN_PIPE_GRACE:
                    break  # a process that left the group (setsid) still holds the pipes
                now = time.monotonic()
                if exit_status is None and now >= deadline and self._kill_reason is None:
                    self.kill(f"timed out after {timeout:g}s")
                if self._kill_at is not None and now >= self._kill_at:
                    self._signal_group(signal.SIGKILL)
                    self._kill_at = None
                if woke or now >= next_tick:
                    next_tick = now + tick_every
                    on_tick()
        finally:
            selector.close()
            for stream in (self.proc.stdout, self.proc.stderr):
                stream.close()
            for log in self._logs.values():
                log.close()
        return Outcome(exit_status if exit_status >= 0 else 128 - exit_status,
                       time.monotonic() - self.started, self._error(exit_status))  # fmt: skip

    def _error(self, status: int) -> str | None:
        if self._kill_reason is not None:
            return self._kill_reason
        broken = next((log.error for log in self._logs.values() if log.error), None)
        if broken is not None:
            return f"could not write the job's log: {broken.strerror}"
        if status > 0:
            return f"exited with code {status}"
        if status < 0:
            return f"killed by signal {_signal_name(-status)}"
        return None


def kill_group(pgid: int) -> None:
    """SIGKILL a job's process group from outside its worker (cancel, dead worker)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
