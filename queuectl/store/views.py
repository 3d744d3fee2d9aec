"""What the store returns: plain dataclasses, detached from the database."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone

from ..states import FINISHED


def iso(ts: float | None) -> str | None:
    """UTC epoch seconds as ISO 8601 with a Z, to the millisecond."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_TIME_FIELDS = {
    "run_at",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "lease_expires_at",
    "heartbeat_at",
}


_JSON_FIELDS = {"env", "fatal_exit_codes", "labels"}


class _Record:
    @classmethod
    def from_row(cls, row: dict):
        return cls(**{f.name: _decoded(f.name, row[f.name]) for f in fields(cls)})

    def as_dict(self) -> dict:
        """JSON-ready: times as ISO 8601 UTC."""
        return {k: iso(v) if k in _TIME_FIELDS else v for k, v in asdict(self).items()}


def _decoded(name: str, value):
    if name in ("resources", "granted"):  # (schema 8) JSON objects, None for none
        return json.loads(value) if value else None
    if name in _JSON_FIELDS:
        return json.loads(value) if value else ({} if name == "env" else [])
    if name == "paused":
        return bool(value)  # SQLite answers 0 or 1 to a raw query
    return value


@dataclass(frozen=True)
class JobView(_Record):
    id: str
    seq: int
    command: str
    state: str
    priority: int
    attempts: int
    max_retries: int
    timeout: float
    run_at: float
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    last_error: str | None
    worker_id: str | None
    lease_expires_at: float | None
    dependency_policy: str
    unique_key: str | None
    env: dict
    cwd: str | None
    fatal_exit_codes: list
    queue: str
    labels: list
    #: waiting: not claimed until resumed; processing: its process group is stopped (SIGSTOP)
    paused: bool
    on_finish: str | None
    #: what it asks of its host (resources.py): cpus, mem (bytes), gpus, NAME: count; None: a slot
    resources: dict | None = None

    @property
    def shown_state(self) -> str:
        """The state as people read it: "paused" for a paused job that has not finished."""
        return "paused" if self.paused and self.state not in FINISHED else self.state

    @property
    def runtime(self) -> float | None:
        if self.started_at is None or self.finished_at is None or self.finished_at < self.started_at:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True)
class AttemptView(_Record):
    number: int
    worker_id: str | None
    host: str | None
    pgid: int | None
    started_at: float
    finished_at: float | None
    exit_code: int | None
    error: str | None
    stdout_path: str | None
    stderr_path: str | None
    # schema 8: what the run used and was granted (None where not recorded: runs before it)
    wall: float | None = None
    cpu_user: float | None = None
    cpu_system: float | None = None
    max_rss: int | None = None
    signal: int | None = None
    granted: dict | None = None
    note: str | None = None

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        import signal

        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return str(self.signal)

    def as_dict(self) -> dict:
        return dict(super().as_dict(), signal=self.signal_name)

    def usage(self) -> dict | None:
        """What it used, JSON-ready (None: not recorded)."""
        if self.wall is None and self.cpu_user is None:
            return None
        return {
            "wall": self.wall,
            "cpu_user": self.cpu_user,
            "cpu_system": self.cpu_system,
            "max_rss": self.max_rss,
            "signal": self.signal_name,
        }


@dataclass(frozen=True)
class WorkerView(_Record):
    id: str
    host: str
    pid: int
    state: str
    current_job: str | None  # the newest job it started that still runs
    heartbeat_at: float
    started_at: float
    slots: int  # jobs it runs at once
    busy: int | None  # of them running now (None: not counted)


@dataclass(frozen=True)
class JobFilter:
    """Conditions of a job listing beyond its state and free text (None: no condition)."""

    queue: str | None = None
    min_priority: int | None = None  # priority > this
    max_priority: int | None = None  # priority < this
    error: str | None = None  # the last error contains this
    worker: str | None = None  # an attempt ran on a worker whose id contains this
    host: str | None = None  # an attempt ran on this host
    label: str | None = None  # the job has this label (matched regardless of case)

    def __bool__(self) -> bool:
        return any(value is not None for value in asdict(self).values())


@dataclass(frozen=True)
class Claim:
    """A job a worker now owns, with what it needs to run it."""

    seq: int
    id: str
    command: str
    timeout: float
    attempt: int
    attempt_id: int
    max_log_bytes: int
    lease_seconds: float  # as granted by the claim: its worker's fence deadline counts from it
    env: dict | None = None
    cwd: str | None = None
    on_finish: str | None = None  # the job's own hook (hooks.py)
    #: what the claim granted it of its host (resources.py; None: asked for nothing)
    granted: dict | None = None


@dataclass(frozen=True)
class Metrics:
    total: int
    jobs: dict
    success_rate: float | None
    avg_runtime_s: float | None
    p95_runtime_s: float | None
    completed_last_minute: int
    workers: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LogRead:
    """One read of a log: the bytes, where the next read starts, and whether bytes before these
    were left out (the partial first line is dropped then)."""

    data: bytes
    offset: int | None
    skipped: bool

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")
