"""Where each attempt's output lives, and reading it back (the tail of a large file)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .views import LogRead


def job_log_dir(logs_dir: Path, job_id: str) -> Path:
    # job ids are validated to be plain file names (never "." or ".."), so this stays inside logs_dir
    return logs_dir / job_id


def attempt_prefix(logs_dir: Path, job_id: str) -> str:
    """What every log path of the job starts with (the claim completes it in SQL)."""
    return str(job_log_dir(logs_dir, job_id) / "attempt-")


def attempt_paths(logs_dir: Path, job_id: str, number: int) -> tuple[Path, Path]:
    prefix = attempt_prefix(logs_dir, job_id)
    return Path(f"{prefix}{number}.stdout"), Path(f"{prefix}{number}.stderr")


#: what a reader loads of a log it has not read yet: the tail of a huge log, never all of it
TAIL_BYTES = 1024 * 1024


def read_log(path: str | Path | None, offset: int | None = None, max_bytes: int | None = TAIL_BYTES) -> LogRead:
    """What a log holds after `offset` (None: from its start), at most its last `max_bytes`
    (None: everything); the one reader behind `logs`, `logs --follow` and the dashboard.

    Where the store keeps the output (PostgreSQL: store/output.py), it is read from there, on
    any host; the local file only when the store holds none of it (an attempt run before the
    store kept output, or output not shipped yet, read on the host that runs it)."""
    if not path:
        return LogRead(b"", offset, False)
    from . import dialect

    chosen = dialect.opened()
    if chosen is not None and chosen.output_in_store:
        from .output import read

        stored = read(path, offset, max_bytes)
        if stored is not None:
            return stored
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = offset if offset is not None and offset <= size else 0
            skipped = max_bytes is not None and size - start > max_bytes
            if skipped:  # more than a reader would ever show: only the end
                start = size - max_bytes
            f.seek(start)
            data = f.read(size - start)
    except FileNotFoundError:
        return LogRead(b"", offset, False)
    if skipped:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return LogRead(data, size if skipped else start + len(data), skipped)


def remove_job_logs(logs_dir: Path, job_id: str) -> None:
    shutil.rmtree(job_log_dir(logs_dir, job_id), ignore_errors=True)
