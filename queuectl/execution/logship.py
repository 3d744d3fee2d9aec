"""A worker's output shipping (PostgreSQL): each running attempt's stdout and stderr go to the
store in chunks, so that `logs`, `logs --follow` and the dashboard show them on every host.

The runner still writes each stream to its capped spool file (max_log_bytes and the truncation
note are the runner's, so the store gets exactly the same bytes); this module sends what was
appended since the last shipment, for all running attempts in one transaction, once the oldest
unsent byte is SHIP_SECONDS old or an attempt has CHUNK_BYTES waiting (never a write per
line), and the rest before the attempt's end is recorded.  A silent job costs nothing (no byte
written, nothing to look at), and a chatty one at most one transaction per SHIP_SECONDS or per
MAX_BATCH_BYTES, whatever it prints: past its cap the runner drops the bytes.

Spool files instead of memory: while the database is away nothing piles up in the worker, the
files keep it, and shipping resumes from the offsets when it is back.  Once an attempt's output
is all in the store its spool files are removed, so a PostgreSQL host keeps no second copy:
prune, dlq purge and retention, run on any host, delete the one copy there is.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from .. import store
from ..store.output import CHUNK_BYTES

#: the longest output waits before it is sent
SHIP_SECONDS = 0.2
#: the most one shipment reads from one stream (the next shipment takes the rest at once)
MAX_BATCH_BYTES = 16 * CHUNK_BYTES
STREAMS = ("stdout", "stderr")


class Shipper:
    """Offsets sent so far, per attempt and stream; the worker calls due_in/ship each round and
    ship_ended before it records runs that ended."""

    def __init__(self, logs_dir: Path):
        self.logs_dir = logs_dir
        self._sent: dict[int, list[int]] = {}  # attempt id -> [stdout bytes sent, stderr bytes sent]
        self._since: float | None = None  # when unsent output was first seen
        self._spooled: set[int] = set()  # attempts that ended with a spool file to send and remove

    def due_in(self, running) -> float:
        """Seconds until output of these running commands is due to be shipped (inf: none waits)."""
        most = max((self._unsent(r) for r in running), default=0)
        if not most:
            self._since = None
            return math.inf
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return 0.0 if most >= CHUNK_BYTES else max(0.0, self._since + SHIP_SECONDS - now)

    def ship(self, running) -> None:
        """Send what the running commands wrote since the last shipment (a StoreError leaves the
        offsets as they were: the next shipment sends it)."""
        self._send([(r.claim, [log.written for log in r.logs]) for r in running if self._unsent(r)])
        self._since = None

    def ended(self, running) -> None:
        """A command ended (its logs closed): note whether it left a spool file, so that
        ship_ended does no file system work for a silent run (most jobs of a busy queue)."""
        if any(log.fd is not None for log in running.logs):
            self._spooled.add(running.claim.attempt_id)

    def ship_ended(self, finished: list[store.Finished]) -> None:
        """Send the rest of these runs' output (to the end of their files, truncation note
        included) and remove their spool files."""
        finished = [f for f in finished if f.claim.attempt_id in self._spooled]
        self._send([(f.claim, None) for f in finished])
        for f in finished:
            self._spooled.discard(f.claim.attempt_id)
            self._sent.pop(f.claim.attempt_id, None)
            for path in store.attempt_paths(self.logs_dir, f.claim.id, f.claim.attempt):
                try:
                    path.unlink()
                except OSError:  # never written, or no folder could be made for it
                    pass
            try:
                path.parent.rmdir()  # the job's folder, once no attempt's spool is left in it
            except OSError:
                pass

    def _unsent(self, running) -> int:
        sent = self._sent.get(running.claim.attempt_id, (0, 0))
        return max(log.written - done for log, done in zip(running.logs, sent))

    def _send(self, wanted: list) -> None:
        """wanted: (claim, bytes written per stream, or None: to the end of the files)."""
        chunks, advanced = [], []
        for claim, written in wanted:
            sent = self._sent.get(claim.attempt_id, [0, 0])
            ends = list(sent)
            for i, path in enumerate(store.attempt_paths(self.logs_dir, claim.id, claim.attempt)):
                limit = None if written is None else min(written[i] - sent[i], MAX_BATCH_BYTES)
                data = _read(path, sent[i], limit)
                for start in range(0, len(data), CHUNK_BYTES):
                    chunks.append((claim.attempt_id, STREAMS[i], sent[i] + start, data[start : start + CHUNK_BYTES]))
                ends[i] = sent[i] + len(data)
            advanced.append((claim.attempt_id, ends))
        store.ship_output(chunks)
        for attempt_id, ends in advanced:
            self._sent[attempt_id] = ends


def _read(path: Path, offset: int, limit: int | None) -> bytes:
    if limit is not None and limit <= 0:
        return b""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # nothing written (a silent stream), or its folder could not be made
        return b""
    try:
        if limit is None:
            limit = max(0, os.fstat(fd).st_size - offset)
        return os.pread(fd, limit, offset) if limit else b""
    finally:
        os.close(fd)


class NoShipper:
    """SQLite: the output stays in this host's files, which every reader on it can open."""

    def due_in(self, running) -> float:
        return math.inf

    def ship(self, running) -> None:
        pass

    def ended(self, running) -> None:
        pass

    def ship_ended(self, finished) -> None:
        pass


def for_store(logs_dir: Path):
    """The shipper for the open store (see store.dialect's output_in_store)."""
    from ..store import dialect

    return Shipper(logs_dir) if dialect.current().output_in_store else NoShipper()
