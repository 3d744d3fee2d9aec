"""Where the store, the job logs and the wake-up sockets live.

Precedence for the store: `--db`, then `QUEUECTL_DB`, then the user data dir.  Logs go in
`logs/` beside a SQLite file (or `QUEUECTL_LOGS`); for a server database, in the user data dir,
since every host keeps the logs of the jobs it ran.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DB_ENV = "QUEUECTL_DB"
LOGS_ENV = "QUEUECTL_LOGS"


def user_data_dir() -> Path:
    from platformdirs import user_data_dir as _user_data_dir

    return Path(_user_data_dir("queuectl", appauthor=False))


@dataclass(frozen=True)
class Location:
    """A resolved store: its URL for peewee, and the local folders that belong to it."""

    url: str
    sqlite_path: Path | None  # None for a server database
    logs_dir: Path
    run_dir: Path  # wake-up sockets of the workers on this host

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgres://", "postgresql://"))

    @property
    def display(self) -> str:
        """The store as a person should see it (no password)."""
        if self.sqlite_path is not None:
            return str(self.sqlite_path)
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" if parts.username else host
        if parts.port:
            netloc += f":{parts.port}"
        return f"{parts.scheme}://{netloc}{parts.path}"


def resolve(db: str | None = None) -> Location:
    """Turn `--db`, the environment and the defaults into a Location."""
    raw = db or os.environ.get(DB_ENV) or str(user_data_dir() / "queuectl.db")
    logs_override = os.environ.get(LOGS_ENV)
    if "://" in raw and not raw.startswith("sqlite:"):
        base = user_data_dir()
        return Location(
            url=raw,
            sqlite_path=None,
            logs_dir=Path(logs_override) if logs_override else base / "logs",
            run_dir=base / "run",
        )
    # sqlite:///relative.db and sqlite:////absolute.db, as playhouse.db_url reads them
    path_text = raw.removeprefix("sqlite:///") if raw.startswith("sqlite:///") else raw
    path = Path(path_text).expanduser().absolute()
    return Location(
        url=f"sqlite:///{path}",
        sqlite_path=path,
        logs_dir=Path(logs_override).absolute() if logs_override else path.parent / "logs",
        run_dir=path.parent / "run",
    )
