"""The only module that starts job processes.

A command runs as `/bin/sh -c COMMAND` in a new session (its own process group), with stdout and
stderr read through pipes into per-attempt files, each capped at max_log_bytes.  Reading through
pipes (rather than handing the files to the child) is what makes the cap, the truncation note and
a clean failure on a full disk possible.  The whole group is killed when the command ends, times
out, is cancelled, or its worker dies (the worker's JobGuard), so no job process outlives its run.
One worker process runs many commands at once: `Jobs` supervises them all from one selector.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import select
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import StoreUnusable
from ..paths import open_log
from . import guard, reaper
from .childproc import python_module
from .usage import SAMPLE_SECONDS, Usage, marker_of, over_limit, stat_of

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
    #: what the run used (usage.py): None when it never started
    usage: Usage | None = None
    #: the signal that ended its shell, if one did
    signal: int | None = None
    #: a remark that is not an error (a memory limit passed, with mem_limit = warn)
    note: str | None = None


class StartError(Exception):
    """The command could not be started; the message says why, for the attempt's error."""


class WakeSource(Protocol):
    def fileno(self) -> int: ...
    def drain(self) -> bool: ...


class JobGuard:
    """The worker's side of queuectl.guard: a helper process that kills every job this process
    runs when this process dies, however it dies, or when its fence deadline passes (fence.py).

    The file both share holds the deadline in its first record and each running job (its
    process group and marker) in one record of its own: starting and ending a job costs one
    pwrite, a renewal one more."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile()  # RECORD-byte records, for the guard
        self._free: list[int] = []
        self._records = 1  # record 0: the deadline
        self.deadline = float("inf")
        self._start()
        self.renew(self.deadline)

    def _start(self) -> None:
        fd = self._file.fileno()
        # without the worker id its jobs inherit: the supervisor's sweep of a dead worker's
        # processes (supervisor.kill_leftovers) must not kill the guard in the middle of its own
        env = {k: v for k, v in os.environ.items() if k != WORKER_ENV}
        self.proc = subprocess.Popen(
            python_module("queuectl.execution.guard", str(fd)), stdin=subprocess.PIPE, pass_fds=(fd,), env=env
        )

    def watch(self, pgid: int, marker: str) -> int:
        """Guard this job (its process group and marker) from now on; returns its record, for
        release()."""
        if self.proc.poll() is not None:  # the guard was killed: start another
            self._start()
        if self._free:
            record = self._free.pop()
        else:
            record, self._records = self._records, self._records + 1
        os.pwrite(self._file.fileno(), guard.record(f"{pgid} {marker}"), record * guard.RECORD)
        return record

    def renew(self, deadline: float) -> None:
        """This process's fence deadline, on CLOCK_MONOTONIC (fence.py): every job it runs is
        killed once it passes."""
        self.deadline = deadline
        os.pwrite(self._file.fileno(), guard.record(repr(deadline)), 0)

    def release(self, record: int) -> None:
        os.pwrite(self._file.fileno(), guard.record("0 -"), record * guard.RECORD)
        self._free.append(record)

    def close(self) -> None:
        """Stop guarding; a job still running then (its worker is failing) is killed."""
        self.proc.stdin.close()
        self.proc.wait()
        self._file.close()


@functools.cache
def _devnull() -> int:
    """/dev/null, open for reading for the life of this process: every job's stdin."""
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


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
    """A started command, supervised by a Jobs loop until it ends.

    Its events are its two pipes and its pidfd (readable when it exits); its timers are its
    timeout, the SIGKILL that follows a SIGTERM, and the grace for pipes still held by a
    process that left its group.  `claim` is whatever the caller ran it for."""

    def __init__(
        self,
        command: str,
        stdout_path: Path,
        stderr_path: Path,
        max_log_bytes: int,
        env: dict | None = None,
        guard: JobGuard | None = None,
        cwd: str | None = None,
        timeout: float = math.inf,
        claim=None,
        mem_limit: int | None = None,
        mem_mode: str = "kill",
    ):
        if cwd is not None and not os.path.isdir(cwd):
            raise StartError(f"working directory {cwd} does not exist")
        self.claim = claim
        self.usage = Usage()
        self.mem_limit = mem_limit if mem_mode != "off" else None
        self.mem_mode = mem_mode
        self.note: str | None = None
        self.started = time.monotonic()
        self.marker = reaper.Marker()  # every process of the job inherits it: see reaper.py
        # the pipes are made here and /dev/null opened once per process, not by Popen: its file
        # objects and its open() per job were a fifth of the spawn's CPU (bench/README.md)
        (out_read, out_write), (err_read, err_write) = os.pipe2(os.O_CLOEXEC), os.pipe2(os.O_CLOEXEC)
        try:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=_devnull(),
                stdout=out_write,
                stderr=err_write,
                start_new_session=True,
                env=env,
                cwd=cwd,
                pass_fds=(self.marker.fd,),
            )
        except BaseException as exc:
            self.marker.close()
            for fd in (out_read, err_read):
                os.close(fd)
            if isinstance(exc, OSError):  # no shell, no processes left, an unusable directory
                raise StartError(f"could not start the command: {exc.strerror}") from None
            raise
        finally:
            for fd in (out_write, err_write):
                os.close(fd)
        self.marker.handed_over()
        self.pgid = self.proc.pid
        # a first sample at once (its shell, just exec'd): a run too short for the sampler has
        # a peak all the same, its shell's, where rusage would give the worker's (usage.py)
        first = stat_of(self.pgid)
        self.usage.max_rss = first[1] if first is not None else 0
        self._guard = guard
        self._record = guard.watch(self.pgid, self.marker.name) if guard is not None else None
        self._pipes = (out_read, err_read)
        self._streams = {
            out_read: _CappedLog(stdout_path, max_log_bytes),
            err_read: _CappedLog(stderr_path, max_log_bytes),
        }
        self._logs = list(self._streams.values())
        for fd in self._pipes:
            os.set_blocking(fd, False)
        self.exit_fd = _exit_fd(self.pgid)  # the exit is an event too, so nothing is polled for it
        self.timeout = timeout
        self._deadline = self.started + timeout
        self._kill_reason: str | None = None
        self._kill_at: float | None = None
        self._status: int | None = None
        self._exited_at = 0.0
        self._stopped_at: float | None = None  # paused (SIGSTOP) since then

    @property
    def logs(self) -> list[_CappedLog]:
        """Its stdout and stderr logs (path, bytes written so far): what logship.py sends on."""
        return self._logs

    def fds(self) -> list[int]:
        return [*self._streams, *([self.exit_fd] if self.exit_fd is not None else [])]

    def kill(self, reason: str, grace: float = KILL_GRACE) -> None:
        """Terminate the whole process group now, and SIGKILL it after `grace` seconds."""
        if self._kill_reason is None:
            self._kill_reason = reason
            self._kill_at = time.monotonic() + grace
            self._signal_group(signal.SIGTERM)
            if self._stopped_at is not None:  # a paused job: continued, so that it can act on the SIGTERM
                self._stopped_at = None
                self._signal_group(signal.SIGCONT)

    def hold(self, paused: bool) -> None:
        """Stop (SIGSTOP) or continue (SIGCONT) the whole process group, as `queuectl pause` and
        `resume` asked through the store.  Its timeout clock stops meanwhile: on continuing,
        the deadline moves on by the time it spent stopped (this process's monotonic clock)."""
        if paused == (self._stopped_at is not None) or self._status is not None or self._kill_reason is not None:
            return
        if paused:
            self._stopped_at = time.monotonic()
            self._signal_group(signal.SIGSTOP)
        else:
            self._deadline += time.monotonic() - self._stopped_at
            self._stopped_at = None
            self._signal_group(signal.SIGCONT)

    @property
    def paused(self) -> bool:
        return self._stopped_at is not None

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def readable(self, fd: int) -> bool:
        """One of its descriptors is readable; True when that was a pipe's end of file (the
        caller stops watching it)."""
        if fd not in self._streams:
            return True  # the pidfd: the exit itself is read by check()
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return False
        if data:
            self._streams[fd].write(data)
            return False
        del self._streams[fd]
        return True

    def next_check(self) -> float:
        """The latest monotonic time by which check() must run again."""
        if self._status is None:
            moments = [self._deadline if self._stopped_at is None else math.inf, self._kill_at or math.inf]
            if self.exit_fd is None:  # no pidfd (not Linux): poll for the exit
                moments.append(time.monotonic() + (0.005 if not self._streams else 0.05))
            return min(moments)
        return self._exited_at + _ORPHAN_PIPE_GRACE if self._streams else 0.0

    def check(self, now: float) -> bool:
        """Act on what happened by `now` (exit, timeout, kill grace); True when it has ended."""
        if self._status is None:
            self._status = self._wait4()
            if self._status is not None:
                # anything it left in the background is part of the job and ends with it
                self._signal_group(signal.SIGKILL)
                self._exited_at = now
        if self._status is None:
            if now >= self._deadline and self._kill_reason is None and self._stopped_at is None:
                self.kill(f"timed out after {self.timeout:g}s")
            if self._kill_at is not None and now >= self._kill_at:
                self._signal_group(signal.SIGKILL)
                self._kill_at = None
            return False
        # a process that left the group (setsid) may still hold the pipes: not for long
        return not self._streams or now - self._exited_at > _ORPHAN_PIPE_GRACE

    def _wait4(self) -> int | None:
        """The shell's exit status (as Popen's returncode) if it has ended, reaped with its
        rusage: its own CPU and that of every descendant it waited for."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
        except ChildProcessError:  # (reaped elsewhere: no rusage to be had)
            return self.proc.poll()
        if pid == 0:
            return None
        self.usage.add_rusage(rusage)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.proc.returncode

    def sampled(self, rss: int) -> None:
        """Its processes together are `rss` bytes now: its peak, and its memory limit."""
        self.usage.max_rss = max(self.usage.max_rss, rss)
        if self.mem_limit is None or rss <= self.mem_limit or self._status is not None:
            return
        said = over_limit(rss, self.mem_limit)
        if self.mem_mode == "kill":
            self.kill(f"killed: {said} (its --mem)", grace=1.0)
        elif self.note is None:
            self.note = f"{said} (mem_limit = warn: not stopped)"

    def close(self) -> Outcome:
        """Release everything it holds (after Jobs killed what holds its marker); its outcome."""
        self._signal_group(signal.SIGKILL)
        self.marker.close()
        if self.exit_fd is not None:
            os.close(self.exit_fd)
        if self._guard is not None:
            self._guard.release(self._record)
        for fd in self._pipes:
            os.close(fd)
        for log in self._logs:
            log.close()
        status = self._status
        return Outcome(
            status if status >= 0 else 128 - status,
            time.monotonic() - self.started,
            self._error(status),
            self.usage,
            -status if status < 0 else None,
            self.note,
        )

    def _error(self, status: int) -> str | None:
        if self._kill_reason is not None:
            return self._kill_reason
        broken = next((log.error for log in self._logs if log.error), None)
        if broken is not None:
            return f"could not write the job's log: {broken.strerror}"
        if status > 0:
            return f"exited with code {status}"
        if status < 0:
            return f"killed by signal {_signal_name(-status)}"
        return None


class Jobs:
    """Many Running commands (and a wake-up source) supervised from one selector.

    Commands that end in one round are swept together: one look through this process's
    descendants kills whatever still holds one of their markers (reaper.py), and the orphans
    that came back to this process (a subreaper) are reaped, never a running job's shell.  An
    orphan still dying at the sweep is watched by its pidfd and reaped when it has ended: left
    as a zombie, it would keep its job's process group in existence until the next job ends."""

    def __init__(self, wake: WakeSource | None = None, guard: JobGuard | None = None):
        self._selector = selectors.DefaultSelector()
        self._wake = wake
        self._guard = guard
        if wake is not None:
            self._selector.register(wake.fileno(), selectors.EVENT_READ, data=None)
        self.running: list[Running] = []
        self._dying: dict[int, int] = {}  # pid -> pidfd of the orphans that had not ended at their sweep
        self._next_sample = 0.0
        #: the processes that left their job's session, by pid, as the latest sample found them
        #: (their marker): a zombie holds no file, but its CPU is still its job's
        self._left: dict[int, Running] = {}

    def __len__(self) -> int:
        return len(self.running)

    def add(self, running: Running) -> None:
        self.running.append(running)
        for fd in running.fds():
            self._selector.register(fd, selectors.EVENT_READ, data=running)

    def wait(self, timeout: float) -> tuple[list[tuple[Running, Outcome]], bool, bool]:
        """Wait up to `timeout` seconds for events; returns the commands that ended (with
        their outcomes, which release them), whether the wake-up source fired, and whether
        the wait timed out (no event at all: output that arrived is an event)."""
        now = time.monotonic()
        due = min((r.next_check() for r in self.running), default=math.inf)
        if self.running:
            due = min(due, self._next_sample)
        woke = False
        touched: set[int] = set()
        events = self._selector.select(max(0.0, min(timeout, due - now)))
        for key, _ in events:
            if key.data is None:
                woke = self._wake.drain() or woke
                continue
            if isinstance(key.data, int):  # an orphan's pidfd: it has ended
                self._reap(key.data)
                continue
            touched.add(id(key.data))
            if key.data.readable(key.fd):
                self._selector.unregister(key.fd)
        now = time.monotonic()
        if self.running and now >= self._next_sample:
            self.sample()
            self._next_sample = now + SAMPLE_SECONDS
        done = [r for r in self.running if (id(r) in touched or r.next_check() <= now) and r.check(now)]
        if not done:
            return [], woke, not events
        for running in done:
            for fd in running.fds():
                if fd in self._selector.get_map():
                    self._selector.unregister(fd)
            self.running.remove(running)
        self._sweep(done)
        return [(running, running.close()) for running in done], woke, not events

    def sample(self) -> None:
        """One sample of the running jobs' memory: every descendant of this process, summed
        per job (its session, else its marker), for each job's peak and memory limit."""
        sessions = {r.pgid: r for r in self.running}
        markers = {r.marker.name: r for r in self.running}
        spare = self._guard.proc.pid if self._guard is not None else None
        totals: dict[int, int] = {}
        left: dict[int, Running] = {}
        for pid in reaper.descendants(os.getpid()):
            if pid == spare:
                continue
            stat = stat_of(pid)
            if stat is None:
                continue
            owner = sessions.get(stat[0])
            if owner is None:
                owner = marker_of(pid, markers)
                if owner is None:
                    continue
                left[pid] = owner
            totals[id(owner)] = totals.get(id(owner), 0) + stat[1]
        self._left = left
        for running in self.running:
            if id(running) in totals:
                running.sampled(totals[id(running)])

    def _sweep(self, done: list[Running]) -> None:
        spare = {r.pgid for r in self.running} | ({self._guard.proc.pid} if self._guard is not None else set())
        for running in done:
            running._signal_group(signal.SIGKILL)
        me = os.getpid()
        # the look through the descendants only for a job whose marker something still holds
        # (one poll each): most jobs leave nothing behind, and with many slots the look reads
        # the open files of every running job's processes
        left = {r.marker.name for r in done if r.marker.held()}
        if left:
            reaper.kill_marked(left, lambda: reaper.descendants(me), spare=frozenset(spare))
        owners = {r.pgid: r for r in [*self.running, *done]}
        for pid in reaper.children(me):
            if pid not in spare and all(pid != r.pgid for r in done):
                # (Popen reaps its own shells; an orphan already watched is looked at again:
                # it may be one of these jobs', killed just now, whose CPU is theirs)
                self._reap(pid, owners, done)

    def _reap(self, pid: int, owners: dict[int, Running] | None = None, done: list[Running] = ()) -> None:
        """Reap an orphan that has ended, its CPU added to its job's; one that has not is
        watched until it has."""
        stat = stat_of(pid)
        owner = (owners or {r.pgid: r for r in self.running}).get(stat[0]) if stat else None
        owner = owner or self._left.get(pid)
        if owner is not None and any(owner is r for r in done):
            # killed by the sweep a moment ago, its job's outcome is due: let it die (briefly)
            _ended_within(pid, 0.2)
        try:
            reaped, _, rusage = os.wait4(pid, os.WNOHANG)
            ended = reaped == pid
            if ended and owner is not None:
                owner.usage.add_rusage(rusage)
        except ChildProcessError:
            ended = True
        if ended and pid in self._dying:
            fd = self._dying.pop(pid)
            self._selector.unregister(fd)
            os.close(fd)
        elif not ended and pid not in self._dying:
            fd = _exit_fd(pid)
            if fd is not None:  # (without pidfds the next sweep reaps it)
                self._dying[pid] = fd
                self._selector.register(fd, selectors.EVENT_READ, data=pid)

    def close(self) -> None:
        for fd in self._dying.values():
            os.close(fd)
        self._selector.close()


def _ended_within(pid: int, seconds: float) -> None:
    """Wait up to `seconds` for a process to end (its pidfd readable)."""
    fd = _exit_fd(pid)
    if fd is not None:
        try:
            select.select([fd], [], [], seconds)
        finally:
            os.close(fd)


def _exit_fd(pid: int) -> int | None:
    """A file descriptor that becomes readable when the process exits (Linux pidfd), if any."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _no_op(signum, frame) -> None:
    pass


def start_jobs_with_default_signals() -> None:
    """Jobs start with every signal at its default action and none blocked, whatever this
    process inherited (nohup ignores SIGHUP, `queuectl worker start &` in a script SIGINT and
    SIGQUIT, a parent may block some).  exec keeps what is ignored and the signal mask, and
    resets what has a handler, so this process unblocks everything and handles with a no-op
    what it would ignore: no preexec_fn in each Popen, which would cost the vfork (see README,
    Performance).  SIGPIPE and SIGXFSZ, which Python ignores, are reset by Popen itself;
    SIGCHLD ignored would reap our children behind our back: it gets its default."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ}:
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL if sig == signal.SIGCHLD else _no_op)
        except (OSError, ValueError):  # one the C library keeps for itself
            pass


def kill_group(pgid: int) -> None:
    """SIGKILL a job's process group from outside its worker (cancel, dead worker)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
