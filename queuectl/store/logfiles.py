"""Where each attempt's output lives, and reading it back (the tail of a large file)."""
from __future__ import annotations

import shutil
from pathlib import Path


def job_log_dir(logs_dir: Path, job_id: str) -> Path:
    # job ids are validated to be plain file names (never "." or ".."), so this stays inside logs_dir
    return logs_dir / job_id


def attempt_prefix(logs_dir: Path, job_id: str) -> str:
    """What every log path of the job starts with (the claim completes it in SQL)."""
    return str(job_log_dir(logs_dir, job_id) / "attempt-")


def attempt_paths(logs_dir: Path, job_id: str, number: int) -> tuple[Path, Path]:
    prefix = attempt_prefix(logs_dir, job_id)
    return Path(f"{prefix}{number}.stdout"), Path(f"{prefix}{number}.stderr")


def read_tail(path: str | Path | None, max_bytes: int = 1024 * 1024) -> tuple[str, bool]:
    """The last max_bytes of a log as text, and whether anything before it was left out."""
    if not path:
        return "", False
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return "", False
    return data.decode("utf-8", "replace"), size > max_bytes


def remove_job_logs(logs_dir: Path, job_id: str) -> None:
    shutil.rmtree(job_log_dir(logs_dir, job_id), ignore_errors=True)
