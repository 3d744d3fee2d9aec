"""Worker subprocesses started from the dashboard, through the engine's Supervisor.

They are spawned from the UI (main) thread on purpose: on Linux each worker gets a parent-death
SIGTERM, which the kernel sends when the thread that forked it ends, so a worker forked from a
short-lived thread would be stopped as soon as that thread finished.  The pool does what the
Supervisor's own loop does for the CLI, minus the restarts: it reaps exited workers and reports the
ones that died, so their job can be recovered at once (see app.QueuectlApp._reaped).
"""
from __future__ import annotations

import signal

from queuectl.paths import Location
from queuectl.supervisor import Child, Supervisor


class WorkerPool:
    def __init__(self, location: Location) -> None:
        self.supervisor = Supervisor(location, 0, quiet=True)
        self.stopping: set[str] = set()

    @property
    def children(self) -> list[Child]:
        return self.supervisor.children

    def start(self) -> Child:
        return self.supervisor.spawn()

    def running(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is None]

    def stop(self, child: Child, sig: int = signal.SIGTERM) -> None:
        """First SIGTERM: finish the current job, then exit.  A second one kills the job (it is
        recorded as a failed attempt and retried)."""
        try:
            child.proc.send_signal(sig)
        except ProcessLookupError:
            pass
        self.stopping.add(child.id)

    def stop_all(self) -> None:
        for child in self.running():
            self.stop(child)

    def reap(self) -> list[tuple[Child, int]]:
        """Forget workers that exited; returns those that died (non-zero exit) with their code."""
        died = []
        for child in list(self.children):
            code = child.proc.poll()
            if code is None:
                continue
            self.children.remove(child)
            self.stopping.discard(child.id)
            if code != 0:
                died.append((child, code))
        return died
