"""A seeded store with fixed times, and helpers to drive the app with a pilot."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest
from conftest import claim_one, finish_one

from queuectl import store
from queuectl.paths import resolve
from queuectl.spec import JobSpec

#: the seeded store's "now": 2026-01-15 10:00:00 UTC
T0 = datetime(2026, 1, 15, 10, 0, 0, tzinfo=timezone.utc).timestamp()
LABEL = "/srv/queuectl/queuectl.db"  # shown in the header instead of the tmp path (snapshots)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times are shown in local time: pin it, so snapshots match on any machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _write_logs(claim, out: str = "", err: str = "") -> None:
    stdout, stderr = store.attempt_paths(store.location().logs_dir, claim.id, claim.attempt)
    stdout.parent.mkdir(parents=True, exist_ok=True)
    stdout.write_text(out)
    stderr.write_text(err)


def _run(
    clock: Clock,
    spec: JobSpec,
    seconds: float,
    error: str | None = None,
    code: int = 0,
    out: str = "",
    err: str = "",
    finish: bool = True,
):
    store.enqueue([spec])
    claim = claim_one("host-a.100.aaaaaa", "host-a")
    assert claim is not None and claim.id == spec.id
    _write_logs(claim, out, err)
    clock.t += seconds
    if finish:
        finish_one(claim, "host-a.100.aaaaaa", error, code if error else 0)
    return claim


def seed(db_path) -> Clock:
    """Every state, attempts with output, a worker; all at fixed times (ends with clock = T0)."""
    clock = Clock(T0 - 3600)
    store.set_clock(clock)
    store.open_store(resolve(str(db_path)))
    store.register_worker("host-a.100.aaaaaa", "host-a", 100, None)
    store.set_config("backoff_base", "30")  # the failed job waits a visible while
    for i in range(12):
        clock.t = T0 - 3500 + i * 280
        _run(
            clock,
            JobSpec(f"build-{i:02}", id=f"build-{i:02}", priority=i % 3),
            2 + i % 5,
            out=f"compiling unit {i}\n\x1b[32mok\x1b[0m build-{i:02}\n",
        )
    clock.t = T0 - 300
    _run(
        clock,
        JobSpec("./report.sh --weekly", id="report", max_retries=0),
        1.5,
        "exited with code 2",
        2,
        out="collecting rows\n",
        err="report.sh: cannot open 'rows.csv'\n",
    )
    clock.t = T0 - 250
    _run(clock, JobSpec("rsync -a /data backup:/data", id="sync-db", max_retries=0), 3, "timed out after 3s", None)
    clock.t = T0 - 200
    _run(clock, JobSpec("rsync -a /data backup:/data", id="sync-db-2", max_retries=0), 3, "exited with code 1", 1)
    clock.t = T0 - 60
    _run(
        clock,
        JobSpec("curl -fsS https://example.com/hook", id="flaky", max_retries=3),
        0.5,
        "exited with code 22",
        22,
        err="curl: (22) The requested URL returned error: 503\n",
    )
    clock.t = T0 - 41
    etl = _run(
        clock,
        JobSpec("python etl.py --full", id="nightly-etl", priority=10),
        0,
        finish=False,
        out="loading 1,204,331 rows …\n",
        err="warning: column 'x' is deprecated\n",
    )
    clock.t = T0 - 30
    store.enqueue(
        [
            JobSpec("make -j4", id="build-42", priority=5),
            JobSpec("echo later", id="cleanup"),
            JobSpec("backup.sh", id="backup", run_at=T0 + 3600),
            JobSpec("sleep 100", id="stale"),
        ]
    )
    store.cancel("stale")
    clock.t = T0 - 1
    store.heartbeat("host-a.100.aaaaaa", [etl])
    clock.t = T0
    return clock


@pytest.fixture
def seeded(db_path) -> Clock:
    return seed(db_path)


@pytest.fixture
def make_app(db_path):
    from queuectl.tui.app import QueuectlApp

    def make(**kwargs) -> QueuectlApp:
        kwargs.setdefault("store_label", LABEL)
        return QueuectlApp(resolve(str(db_path)), **kwargs)

    return make


async def settle(pilot, rounds: int = 3) -> None:
    """Let the thread workers finish and their results reach the screen."""
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        for _ in range(10):
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:  # an exclusive worker replaced by a newer one
                continue
        await pilot.pause()


def keys_of(table) -> list[str]:
    return [row.key.value for row in table.ordered_rows]


def quiet_env() -> None:
    os.environ.pop("QUEUECTL_HOST_ID", None)


# -- snapshot names that do not depend on how the suite parametrizes the store backend ----------
import re  # noqa: E402

from pytest_textual_snapshot import SVGImageExtension  # noqa: E402
from syrupy.assertion import SnapshotAssertion  # noqa: E402

_BACKEND_ID = re.compile(r"(?<=\[)(sqlite|postgres)-?|\[(sqlite|postgres)\]")


class _StableSVG(SVGImageExtension):
    @classmethod
    def get_snapshot_name(cls, *, test_location, index=0) -> str:
        return _BACKEND_ID.sub("", super().get_snapshot_name(test_location=test_location, index=index))


class _StableSnapshot(SnapshotAssertion):
    def use_extension(self, extension_class=None):
        return super().use_extension(_StableSVG)


@pytest.fixture
def snapshot(snapshot):
    """TUI snapshots are SQLite-only; their file names leave the backend id out."""
    return _StableSnapshot(
        update_snapshots=snapshot.update_snapshots,
        extension_class=_StableSVG,
        test_location=snapshot.test_location,
        session=snapshot.session,
    )


def seed_ops(db_path) -> Clock:
    """The seeded store plus what issues 7 and 8 added: blocked jobs, named queues (one paused,
    one limited), schedules (one paused, one that skipped a tick) and a DLQ group of three."""
    clock = seed(db_path)
    worker = "host-a.100.aaaaaa"
    for i, name in enumerate(("report-daily", "report-monthly")):
        clock.t = T0 - 20 + i * 5
        store.enqueue([JobSpec(f"./report.sh --{name[7:]}", id=name, max_retries=0, queue="reports")])
        claim = claim_one(worker, "host-a", ("reports",))
        assert claim is not None and claim.id == name
        clock.t += 1
        finish_one(claim, worker, "exited with code 2", 2)
    clock.t = T0 - 10
    store.enqueue(
        [
            JobSpec("python load.py", id="load", depends_on=("build-42",)),
            JobSpec("./deploy.sh", id="deploy", depends_on=("build-42", "load"), queue="deploys"),
            JobSpec("send-mail.sh", id="mail-1", queue="email"),
        ]
    )
    clock.t = T0 - 7200 - 60
    store.add_schedule(
        "hourly-report", "0 * * * *", {"command": "./report.sh --hourly", "queue": "reports"}, overlap="skip"
    )
    store.add_schedule("nightly-backup", "30 2 * * *", {"command": "backup.sh --full"}, tz="Europe/Berlin")
    store.add_schedule("cleanup-tmp", "*/15 * * * *", {"command": "find /tmp -mtime +7 -delete"})
    clock.t = T0 - 7200 + 1  # 08:00 tick: enqueued; 09:00 tick: skipped (the 08:00 job has not run)
    store.run_due_schedules()
    clock.t = T0 - 3600 + 1
    store.run_due_schedules()
    store.pause_schedule("cleanup-tmp")
    store.pause_queue("reports")
    store.limit_queue("default", 4)
    store.limit_queue("deploys", 1)
    clock.t = T0
    return clock


@pytest.fixture
def ops_seeded(db_path) -> Clock:
    return seed_ops(db_path)
