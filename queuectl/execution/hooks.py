"""Hooks: shell commands a worker runs when a job it ran ended for good (completed, dead or
cancelled): `config set on_finish CMD`, a job's own `on_finish`, and `config set
on_queue_drained CMD` when that job's queue has no unfinished job left.

The job's facts reach a hook only in its environment (QUEUECTL_JOB_ID, QUEUECTL_STATE,
QUEUECTL_EXIT_CODE, QUEUECTL_COMMAND, QUEUECTL_QUEUE, QUEUECTL_LABELS, QUEUECTL_HOOK, and what its
last run used: QUEUECTL_WALL_SECONDS, QUEUECTL_CPU_USER_SECONDS, QUEUECTL_CPU_SYSTEM_SECONDS,
QUEUECTL_MAX_RSS_BYTES, QUEUECTL_SIGNAL), never in its text, so no job id or command can put shell code into it.  A hook runs in a thread of its
own (the worker's loop never waits for it), in a process group of its own, killed after
`hook_timeout` seconds; what it prints goes to the worker's log; its outcome never changes the
job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable


def usage_facts(outcome) -> dict:
    """What a run used (runner.Outcome), as the hooks' QUEUECTL_* variables ('' where unknown)."""
    used = outcome.usage
    signal_name = ""
    if outcome.signal is not None:
        try:
            signal_name = signal.Signals(outcome.signal).name
        except ValueError:
            signal_name = str(outcome.signal)
    return {
        "QUEUECTL_WALL_SECONDS": f"{outcome.duration:.3f}",
        "QUEUECTL_CPU_USER_SECONDS": "" if used is None else f"{used.cpu_user:.3f}",
        "QUEUECTL_CPU_SYSTEM_SECONDS": "" if used is None else f"{used.cpu_system:.3f}",
        "QUEUECTL_MAX_RSS_BYTES": "" if used is None or not used.max_rss else str(used.max_rss),
        "QUEUECTL_SIGNAL": signal_name,
    }


class Hooks:
    """The hooks of one worker process; `say` writes a line to the worker's log."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self._threads: list[threading.Thread] = []

    def job_ended(
        self, job_id: str, state: str, own_hook: str | None, used: dict | None = None, drained: set | None = None
    ) -> None:
        """A job this worker ran ended for good: start its hooks (reads the store only when a
        hook is set).  `used`: what its last run used, as more QUEUECTL_* facts (usage_facts).
        `drained`: the queues whose on_queue_drained a later job of the same batch ran already."""
        from .. import store
        from ..errors import StoreError
        from ..store.cached import current_config

        try:
            cfg = current_config()
            hooks = [("on_finish", cmd) for cmd in (cfg.get("on_finish"), own_hook) if cmd]
            if not hooks and not cfg.get("on_queue_drained"):
                return
            job = store.get_job(job_id)
            seen = drained if drained is not None else set()
            if cfg.get("on_queue_drained") and job.queue not in seen and store.unfinished_in_queue(job.queue) == 0:
                hooks.append(("on_queue_drained", cfg["on_queue_drained"]))
                seen.add(job.queue)
        except StoreError as exc:
            self.say(f"hooks of job '{job_id}' not run: {exc}")
            return
        facts = {
            "QUEUECTL_JOB_ID": job.id,
            "QUEUECTL_STATE": state,
            "QUEUECTL_EXIT_CODE": "" if job.exit_code is None else str(job.exit_code),
            "QUEUECTL_COMMAND": job.command,
            "QUEUECTL_QUEUE": job.queue,
            "QUEUECTL_LABELS": ",".join(job.labels),
            **(used or {}),
        }
        for name, command in hooks:
            self._start(
                name, command, dict(os.environ, **facts, QUEUECTL_HOOK=name), float(cfg["hook_timeout"]), job.id
            )

    def _start(self, name: str, command: str, env: dict, timeout: float, job_id: str) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(
            target=self._run, args=(name, command, env, timeout, job_id), name=f"hook-{name}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _run(self, name: str, command: str, env: dict, timeout: float, job_id: str) -> None:
        label = f"{name} hook (job '{job_id}')"
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.say(f"{label} could not start: {exc.strerror}")
            return
        try:
            output, _ = proc.communicate(timeout=timeout)
            outcome = "ok" if proc.returncode == 0 else f"exited with code {proc.returncode}"
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            output, _ = proc.communicate()
            outcome = f"killed after {timeout:g}s (hook_timeout)"
        for line in output.decode("utf-8", "replace").splitlines():
            self.say(f"{label}: {line}")
        self.say(f"{label} {outcome}")

    def wait(self) -> None:
        """Let running hooks finish (each ends within its timeout): a worker that exits does
        not cut them short."""
        for thread in self._threads:
            thread.join()
