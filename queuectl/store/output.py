"""Attempts' output in the store (PostgreSQL), so that any host reads and follows any job's output.

Workers send chunks (queuectl/logship.py): rows of one stream at a byte offset, each at most
CHUNK_BYTES, many in one transaction, with a NOTIFY that wakes followers on every host.  A
reader asks for a log by the attempt's path, as on SQLite (the path names the job and attempt:
logfiles.attempt_paths), and gets the store's copy, the same bytes at the same offsets as the
worker's spool file.  Rows go with their attempt (a foreign key ON DELETE CASCADE), so prune,
dlq purge, retention and delete remove them from every host at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..models import db
from .connection import guarded
from .views import LogRead

#: the NOTIFY channel on which followers hear that output arrived
OUTPUT_CHANNEL = "queuectl_output"
#: the largest row: a stream's output is cut into chunks of at most this many bytes
CHUNK_BYTES = 65536

_NAME = re.compile(r"attempt-(\d+)\.(stdout|stderr)")


@guarded
def ship(chunks: list[tuple[int, str, int, bytes]]) -> None:
    """Store chunks (attempt id, stream, offset, bytes) in one transaction and wake followers.

    A chunk stored already (a commit whose answer was lost, sent again) is left as it is, and a
    chunk of an attempt that was deleted meanwhile is dropped."""
    if not chunks:
        return
    from .statements import sql

    rows = ", ".join(["({p}, {p}, {p}, {p})"] * len(chunks))
    params = [
        value
        for attempt_id, stream, pos, data in chunks
        for value in (attempt_id, stream, pos, db.get_binary_type()(data))
    ]
    with db.atomic():
        sql(
            "INSERT INTO attempt_output (attempt_id, stream, pos, data) SELECT v.a, v.s, v.p, v.d "
            f"FROM (VALUES {rows}) AS v (a, s, p, d) JOIN attempt ON attempt.id = v.a "
            "ON CONFLICT (attempt_id, stream, pos) DO NOTHING",
            *params,
        )
        sql(f"NOTIFY {OUTPUT_CHANNEL}")


def attempt_of(path: str | Path) -> tuple[str, int, str] | None:
    """(job id, attempt number, stream) named by an attempt's log path, or None."""
    path = Path(path)
    match = _NAME.fullmatch(path.name)
    return (path.parent.name, int(match.group(1)), match.group(2)) if match else None


@guarded
def read(path: str | Path, offset: int | None, max_bytes: int | None) -> LogRead | None:
    """What the store holds of the log at `path` after `offset`, at most its last `max_bytes`
    (as logfiles.read_log reads a file); None when the store holds none of it."""
    from .statements import sql

    named = attempt_of(path)
    if named is None:
        return None
    job_id, number, stream = named
    with db.atomic():
        found = sql(
            "SELECT a.id, (SELECT MAX(o.pos + octet_length(o.data)) FROM attempt_output o "
            "WHERE o.attempt_id = a.id AND o.stream = {p}) FROM attempt a JOIN job j ON j.seq = a.job_seq "
            "WHERE j.id = {p} AND a.number = {p}",
            stream,
            job_id,
            number,
        ).fetchone()
        if found is None or found[1] is None:
            return None
        attempt_id, size = found[0], int(found[1])
        start = offset if offset is not None and offset <= size else 0
        skipped = max_bytes is not None and size - start > max_bytes
        if skipped:
            start = size - max_bytes
        rows = sql(
            "SELECT pos, data FROM attempt_output WHERE attempt_id = {p} AND stream = {p} "
            "AND pos + octet_length(data) > {p} ORDER BY pos",
            attempt_id,
            stream,
            start,
        ).fetchall()
    data = b"".join(bytes(chunk) for _, chunk in rows)
    data = data[start - rows[0][0] :] if rows else b""
    if skipped:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return LogRead(data, size if skipped else start + len(data), skipped)


class _Pause:
    """A follower's wait on SQLite: the files are on this host; a short sleep."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def wait(self, timeout: float) -> bool:
        import time

        time.sleep(min(timeout, self.seconds))
        return False

    def close(self) -> None:
        pass


def follower_channel(name: str, poll_seconds: float):
    """What a follower waits on between reads: on PostgreSQL a channel woken by every chunk
    stored and every job that ends (LISTEN, any host), else a pause of `poll_seconds`."""
    from . import dialect
    from .connection import location
    from .dialect import ENDED_CHANNEL

    if not dialect.current().output_in_store:
        return _Pause(poll_seconds)
    from .listen import wake_channel

    return wake_channel(location().url, name, (OUTPUT_CHANNEL, ENDED_CHANNEL))
