"""The only module that starts job processes.

A command runs as `/bin/sh -c COMMAND` in a new session (its own process group), with stdout and
stderr read through pipes into per-attempt files, each capped at max_log_bytes.  Reading through
pipes (rather than handing the files to the child) is what makes the cap, the truncation note and
a clean failure on a full disk possible.  The whole group is killed when the command ends, times
out, is cancelled, or its worker dies (the worker's JobGuard), so no job process outlives its run.
"""
from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from . import guard, reaper
from .childproc import python_module
from .errors import StoreUnusable
from .paths import open_log

#: each worker's id, in its environment and so in that of every job it runs (see
#: supervisor.kill_leftovers)
WORKER_ENV = "QUEUECTL_WORKER_ID"
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


class StartError(Exception):
    """The command could not be started; the message says why, for the attempt's error."""


class WakeSource(Protocol):
    def fileno(self) -> int: ...
    def drain(self) -> bool: ...


class JobGuard:
    """The worker's side of queuectl.guard: a helper process that kills the running job's
    process group when this process dies, however it dies."""

    def __init__(self) -> None:
        import tempfile

        self._slot = tempfile.TemporaryFile()  # the running job's process group, for the guard
        self._job, self.deadline = "0 -", float("inf")
        self._start()

    def _start(self) -> None:
        fd = self._slot.fileno()
        # (without the worker's id, by which the supervisor kills what a dead worker left: the
        # guard must live on to do its own killing)
        env = {k: v for k, v in os.environ.items() if k != WORKER_ENV}
        self.proc = subprocess.Popen(python_module("queuectl.guard", str(fd)),
                                     stdin=subprocess.PIPE, pass_fds=(fd,), env=env)  # fmt: skip

    def watch(self, pgid: int, marker: str) -> None:
        if self.proc.poll() is not None:  # the guard was killed: start another
            self._start()
        self._job = f"{pgid} {marker}"
        self._write()

    def renew(self, deadline: float) -> None:
        """The running (or next) job's fence deadline, on CLOCK_MONOTONIC (fence.py)."""
        self.deadline = deadline
        self._write()

    def release(self) -> None:
        self._job = "0 -"
        self._write()

    def _write(self) -> None:
        os.pwrite(self._slot.fileno(), f"{self._job} {self.deadline!r}".ljust(guard.SLOT_BYTES).encode(), 0)

    def close(self) -> None:
        self.release()
        self.proc.stdin.close()
        self.proc.wait()
        self._slot.close()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class _CappedLog:
    """One output stream: written up to `limit` bytes, the rest counted and dropped.

    The file (and its folder) is created on the first byte, so a silent job costs no file
    system work at all.
    """

    def __init__(self, path: Path, limit: int):
        self.path = path
        self.limit = limit
        self.written = 0
        self.dropped = 0
        self.error: OSError | None = None
        self.fd: int | None = None

    def _open(self) -> None:
        try:
            self.fd = open_log(self.path)
        except StoreUnusable as exc:  # a planted folder or link: the attempt fails, nothing is written
            raise OSError(errno.EPERM, str(exc)) from None

    def write(self, data: bytes) -> None:
        keep = max(0, min(len(data), self.limit - self.written)) if self.error is None else 0
        self.dropped += len(data) - keep
        view = memoryview(data)[:keep]
        try:
            if view and self.fd is None:
                self._open()
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
                if self.fd is None:
                    self._open()
                os.write(self.fd, note.encode())
            except OSError as exc:
                self.error = exc
        if self.fd is not None:
            os.close(self.fd)


class Running:
    """A started command; `wait` supervises it to the end."""

    def __init__(self, command: str, stdout_path: Path, stderr_path: Path, max_log_bytes: int,
                 env: dict | None = None, guard: JobGuard | None = None, cwd: str | None = None):  # fmt: skip
        if cwd is not None and not os.path.isdir(cwd):
            raise StartError(f"working directory {cwd} does not exist")
        self._logs = {"stdout": _CappedLog(stdout_path, max_log_bytes), "stderr": _CappedLog(stderr_path, max_log_bytes)}
        self.started = time.monotonic()
        self.marker = reaper.Marker()  # every process of the job inherits it: see reaper.py
        try:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
                cwd=cwd,
                pass_fds=(self.marker.fd,),
            )
        except OSError as exc:  # no shell, no processes left, an unusable directory
            self.marker.close()
            raise StartError(f"could not start the command: {exc.strerror}") from None
        self.marker.handed_over()
        self.pgid = self.proc.pid
        self._guard = guard
        if guard is not None:
            guard.watch(self.pgid, self.marker.name)
        self._kill_reason: str | None = None
        self._kill_at: float | None = None

    def kill(self, reason: str, grace: float = KILL_GRACE) -> None:
        """Terminate the whole process group now, and SIGKILL it after `grace` seconds."""
        if self._kill_reason is None:
            self._kill_reason = reason
            self._kill_at = time.monotonic() + grace
            self._signal_group(signal.SIGTERM)

    def _kill_leftovers(self) -> None:
        """The job's process group, and whatever left it, SIGKILLed."""
        self._signal_group(signal.SIGKILL)
        reaper.kill_job_leftovers(self.marker, spare={self._guard.proc.pid} if self._guard else set())

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
        exit_fd = _exit_fd(self.proc.pid)
        if exit_fd is not None:  # the exit is an event too, so nothing is polled for it
            selector.register(exit_fd, selectors.EVENT_READ, data="exit")
        deadline = self.started + timeout
        next_tick = time.monotonic() + tick_every
        exit_status: int | None = None
        exited_at = 0.0
        try:
            while streams or exit_status is None:
                now = time.monotonic()
                wakeups = [next_tick, deadline] + ([self._kill_at] if self._kill_at else [])
                pause = max(0.0, min(wakeups) - now)
                if exit_fd is None and exit_status is None:
                    pause = min(pause, 0.005 if not streams else 0.05)
                woke = False
                for key, _ in selector.select(pause):
                    if key.data == "wake":
                        woke = wake.drain() or woke
                    elif key.data == "exit":
                        selector.unregister(exit_fd)
                    else:
                        self._pump(key.fileobj, streams, selector)
                if exit_status is None:
                    exit_status = self.proc.poll()
                    if exit_status is not None:
                        # anything it left in the background is part of the job and ends with it
                        self._kill_leftovers()
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
            if exit_fd is not None:
                os.close(exit_fd)
            self._kill_leftovers()
            self.marker.close()
            if self._guard is not None:
                self._guard.release()
            for stream in (self.proc.stdout, self.proc.stderr):
                stream.close()
            for log in self._logs.values():
                log.close()
        return Outcome(exit_status if exit_status >= 0 else 128 - exit_status,
                       time.monotonic() - self.started, self._error(exit_status))  # fmt: skip

    @staticmethod
    def _pump(stream, streams: dict, selector) -> None:
        try:
            data = os.read(stream.fileno(), _CHUNK)
        except BlockingIOError:
            return
        if data:
            streams[stream].write(data)
        else:
            selector.unregister(stream)
            del streams[stream]

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


def _exit_fd(pid: int) -> int | None:
    """A file descriptor that becomes readable when the process exits (Linux pidfd), if any."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def kill_group(pgid: int) -> None:
    """SIGKILL a job's process group from outside its worker (cancel, dead worker)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
