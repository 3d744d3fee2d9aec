"""Starts the worker processes that give this host N job slots, restarts the ones that crash,
and stops them on request.

Workers run in their own process group, so a Ctrl+C in the terminal reaches only the supervisor,
which passes each signal on exactly once: the first lets running jobs finish, the second kills
them.  A worker that dies is recovered at once: its job's attempt fails (and will be retried)
and the job's process group is killed.  Used by `queuectl worker start` and by the TUI.

The slots are spread over P processes (--procs): one process runs all its slots from one event
loop, so P is only worth raising where Python's own CPU is the limit.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import store
from ..errors import ExitCode, InputError, StoreError
from ..paths import Location
from . import runner
from .childproc import python_module, store_env
from .runner import WORKER_ENV
from .worker import StoreTrouble, host_id, retry_pauses, say

#: a worker that crashes sooner than this after its start is restarted only after a pause
_MIN_UPTIME = 1.0
_RESTART_PAUSE = 1.0
#: open files a worker process needs besides its jobs (interpreter, store, sockets, guard)
_BASE_FILES = 64
#: open files per running job: its two pipes, its pidfd and its marker (reaper.py)
FILES_PER_SLOT = 4


@dataclass
class Child:
    name: str
    id: str
    proc: subprocess.Popen
    slots: int
    started: float = field(default_factory=time.monotonic)
    #: stop signals passed on to it so far
    signalled: int = 0


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


_worker_death_hook = _set_parent_death_signal(signal.SIGTERM)


def _own_group_and_die_with_parent() -> None:
    """Workers: out of the terminal's process group (Ctrl+C reaches only the supervisor), and
    told to finish up (SIGTERM) if the supervisor dies."""
    os.setpgid(0, 0)
    if _worker_death_hook:
        _worker_death_hook()


#: worker processes per host unless --procs says otherwise: with the supervisor's LISTEN, a
#: PostgreSQL host then holds at most 3 connections
DEFAULT_MAX_PROCS = 2


def default_procs(slots: int) -> int:
    """One worker process per CPU, at most DEFAULT_MAX_PROCS: starting a job blocks its process
    until the command's exec (vfork), so one process starts jobs no faster than one CPU can
    (see README, Performance)."""
    return max(1, min(slots, os.cpu_count() or 1, DEFAULT_MAX_PROCS))


def split(slots: int, procs: int) -> list[int]:
    """N slots over P processes, as evenly as they go (never a process without a slot)."""
    procs = max(1, min(procs, slots))
    return [slots // procs + (i < slots % procs) for i in range(procs)]


def raise_open_file_limit(slots: int) -> None:
    """Raise this process's soft limit on open files to the hard limit (the workers inherit
    it), and refuse a slot count per process that the limit cannot carry."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    needed = _BASE_FILES + FILES_PER_SLOT * slots
    if soft != resource.RLIM_INFINITY and needed > soft:
        raise InputError(
            f"{slots} slots in one worker process need about {needed} open files, more than the "
            f"limit of {soft} (ulimit -n); use fewer slots or more --procs"
        )


class Supervisor:
    def __init__(
        self,
        location: Location,
        count: int,
        burst: bool = False,
        quiet: bool = False,
        queues: tuple[str, ...] = (),
        procs: int = 1,
        offer: dict | None = None,
    ):
        self.location = location
        self.offer = offer  # what this host offers jobs (resources.py); None: detected at the first spawn
        self.count = count  # slots on this host
        self.procs = procs
        self.queues = queues
        self.burst = burst
        self.quiet = quiet
        self.host = host_id()
        self.children: list[Child] = []
        self.signals = 0
        self._next_index = 1
        self._forwarder = None  # PostgreSQL: the host's one LISTEN connection, for all its workers
        self.failed = False  # a worker found the store unusable, or died once a stop was asked
        self.unusable = False  # a worker found the store unusable (too new, damaged)

    def say(self, text: str) -> None:
        if not self.quiet:
            self.quiet = not say(text)

    def warn(self, text: str) -> None:
        """Trouble with the store: said even with --quiet."""
        say(text)

    def recover_local_orphans(self) -> int:
        """Workers of this host whose process is gone: recover their jobs now, not at lease expiry."""
        recovered = 0
        for worker in store.workers_of_host(self.host):
            if not _alive(worker.pid):
                recover_dead_worker(worker.id, "lost: its worker process is gone")
                recovered += 1
        # (expired leases of other hosts are left to workers, which judge them only after a
        # whole lease of heartbeats of their own: see Worker._may_recover)
        return recovered

    def spawn(self, slots: int = 1) -> Child:
        """Start one worker process with this many slots."""
        name = f"worker-{self._next_index}"
        self._next_index += 1
        worker_id = f"{self.host}.{os.getpid()}.{secrets.token_hex(3)}"
        argv = python_module("queuectl.execution.worker", "--id", worker_id, "--name", name, "--slots", str(slots))
        argv += ["--burst"] * self.burst + ["--quiet"] * self.quiet + ["--forwarded-wake-ups"] * bool(self._forwarder)
        argv += [arg for queue in self.queues for arg in ("--queue", queue)]
        if self.offer is None:
            from ..resources import host_offer

            self.offer = host_offer()
        argv += ["--offer", json.dumps(self.offer)]
        env = store_env(self.location, **{WORKER_ENV: worker_id})  # inherited by its jobs: see kill_leftovers
        proc = subprocess.Popen(argv, preexec_fn=_own_group_and_die_with_parent, env=env)
        child = Child(name, worker_id, proc, slots)
        self.children.append(child)
        # a stop signal that came while it was being started must reach it too
        while child.signalled < self.signals:
            self._pass_on(child)
        return child

    def _pass_on(self, child: Child, sig: int = signal.SIGTERM) -> None:
        child.signalled += 1
        try:
            child.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def _recover(self, worker_id: str, reason: str) -> None:
        """recover_dead_worker, waiting out a busy or full store as workers do: a
        lock held past the busy timeout must not end the supervisor (and with it every worker).
        Once a stop is asked it gives up after one more try: the job is then recovered by the
        next worker of this host, or when its lease runs out."""
        trouble, pauses = StoreTrouble(self.warn), retry_pauses()
        while True:
            try:
                recover_dead_worker(worker_id, reason)
                store.close_store()  # idle again until the next death
                trouble.recovered()
                return None
            except StoreError as exc:
                if self.signals:
                    self.warn(f"could not record that a worker died ({exc}); the next worker started here will")
                    return None
                trouble.failed("store error", exc)
                end = time.monotonic() + next(pauses)
                while not self.signals and time.monotonic() < end:  # (a signal does not cut a sleep short)
                    time.sleep(0.05)

    def signal_children(self, sig: int = signal.SIGTERM) -> None:
        for child in self.children:
            self._pass_on(child, sig)

    def stop(self, child: Child) -> None:
        """Ask one worker to stop: the first signal lets its job finish, a second kills the job."""
        self._pass_on(child)

    def running(self) -> list[Child]:
        return [child for child in self.children if child.proc.poll() is None]

    def reap(self) -> list[tuple[Child, int]]:
        """Forget the workers that exited; returns those that died (non-zero status) with it."""
        died = []
        for child in list(self.children):
            code = child.proc.poll()
            if code is None:
                continue
            self.children.remove(child)
            if code != 0:  # 0: it was asked to stop, or its burst is done
                died.append((child, code))
        return died

    def _on_signal(self, signum, frame) -> None:
        self.signals += 1
        self.signal_children(signal.SIGTERM)

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.recover_local_orphans()
        self._forwarder = store.forward_wake_ups()
        store.close_store()  # its connection would sit idle (it reconnects when a worker dies)
        mode = "until the queue is empty" if self.burst else "press Ctrl+C to stop"
        shares = split(self.count, self.procs)
        self.say(
            f"Starting {self.count} slot(s) in {len(shares)} worker process(es) on {self.location.display} ({mode})"
        )
        for slots in shares:
            self.spawn(slots)
        while self.children:
            time.sleep(0.05)
            for child, code in self.reap():
                if code == ExitCode.UNUSABLE:  # a damaged store: restarting it would only loop
                    self.say(f"[{child.name}] stopped: the store cannot be used; stopping every worker")
                    self.unusable = self.failed = True
                    self._on_signal(signal.SIGTERM, None)
                    continue
                reason = death_reason(code)
                if self.unusable:  # nothing is written into a store found unusable (too new, damaged):
                    # a worker that died meanwhile (one that was still exiting when the stop came
                    # dies of it: Python's signal handlers are gone once it is finalizing) has its
                    # jobs recovered by a host that can use the store, when their leases run out
                    self.say(f"[{child.name}] stopped ({reason.removeprefix('lost: its worker ')})")
                    continue
                # one that gave up on a failing store when asked to stop left jobs unrecorded (one
                # that the stop signal killed before it could handle it had none)
                self.failed = self.failed or bool(self.signals) and code > 0
                self._recover(child.id, reason)
                self.say(f"[{child.name}] died ({reason.removeprefix('lost: its worker ')})")
                if not self.signals and time.monotonic() - child.started < _MIN_UPTIME:
                    time.sleep(_RESTART_PAUSE)
                if not self.signals:  # (checked again: a stop may have come during the pause)
                    self.say(f"[{self.spawn(child.slots).name}] replaces {child.name}")
        if self._forwarder is not None:
            self._forwarder.stop()
        self.say("All workers stopped")
        return ExitCode.FAILED if self.failed else ExitCode.OK


def death_reason(exit_status: int) -> str:
    """A dead worker's exit status (Popen's: negative for a signal), as its job's last error."""
    if exit_status > 0:
        return f"lost: its worker exited with code {exit_status}"
    try:
        return f"lost: its worker was killed by {signal.Signals(-exit_status).name}"
    except ValueError:
        return f"lost: its worker was killed by signal {-exit_status}"


def recover_dead_worker(worker_id: str, reason: str) -> None:
    """A worker of this host died (the supervisor or the dashboard saw it): kill what it left,
    then fail its running attempt (the job is retried) and kill that job's process group.  The
    kill comes first, so the job cannot still run when another worker takes it."""
    kill_leftovers(worker_id)
    for pgid in store.recover_worker(worker_id, reason):
        runner.kill_group(pgid)


def kill_leftovers(worker_id: str) -> int:
    """SIGKILL every process a dead worker left: its job's process group (and anything that
    escaped it), found through the worker id each job inherits in its environment.

    The worker's guard does this too, but asynchronously: on a busy machine the job could still
    run when the recovered job starts again elsewhere, and a worker killed just after starting a
    job may not have registered it with the guard yet.  Linux (/proc); returns how many it found.
    """
    if not os.path.isdir("/proc/self"):
        return 0
    marker = f"{WORKER_ENV}={worker_id}".encode()
    own = os.getpgrp()
    found = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            pgid = os.getpgid(int(name))
        except OSError:  # gone already, or not ours to read
            continue
        found += 1
        try:
            if pgid != own:
                os.killpg(pgid, signal.SIGKILL)
            os.kill(int(name), signal.SIGKILL)  # it may have left the group
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    """Is that process still running?  A zombie is not: a worker killed together with its
    supervisor stays one until init reaps it, which some containers' init does late or never."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")  # gone, unless there is no /proc (macOS)
    except OSError:
        return True
