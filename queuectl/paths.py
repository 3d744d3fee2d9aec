"""Where the store, the job logs and the wake-up sockets live.

Every place we write (the store and its folder, `logs/`, `run/`, a job's log folder) is made
owner-only, or checked when it exists already, as ssh checks its keys: it must belong to the
current user and not be writable by others, and no symbolic link is followed on the way.
Otherwise another local user could plant a store whose jobs we would run, or a link that points
our log writes at a file of their choosing.

Precedence for the store: `--db`, then `QUEUECTL_DB`, then the user data dir.  Logs go in
`logs/` beside a SQLite file (or `QUEUECTL_LOGS`); for a server database, in the user data dir,
since every host keeps the logs of the jobs it ran.
"""

from __future__ import annotations

import errno
import functools
import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, StoreError, StoreUnusable

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
    logs_override: Path | None = None  # QUEUECTL_LOGS

    # The folders are found when first asked for: a server database's are in the user data dir,
    # whose look-up (platformdirs) costs a command like `status` more than its query does.
    @functools.cached_property
    def logs_dir(self) -> Path:
        if self.logs_override is not None:
            return self.logs_override
        return self._home / "logs"

    @functools.cached_property
    def run_dir(self) -> Path:
        """Wake-up sockets of the workers on this host."""
        return self._home / "run"

    @property
    def _home(self) -> Path:
        return self.sqlite_path.parent if self.sqlite_path is not None else user_data_dir()

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


def _check_url(url: str) -> None:
    """A server URL that cannot be read is bad input, named without its password."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port, parts.hostname  # noqa: B018  (each raises ValueError for a bad one)
    except ValueError as exc:
        raise InputError(f"the store URL is not valid: {exc}") from None


def resolve(db: str | None = None) -> Location:
    """Turn `--db`, the environment and the defaults into a Location."""
    if db is not None and not db.strip():
        raise InputError("--db is empty: give a SQLite file path, sqlite:///PATH or postgresql://…")
    raw = db or os.environ.get(DB_ENV) or str(user_data_dir() / "queuectl.db")
    logs_override = os.environ.get(LOGS_ENV)
    if raw.startswith("sqlite:") and (not raw.startswith("sqlite:///") or not raw[len("sqlite:///") :].strip()):
        raise InputError(
            "a SQLite URL needs a path after three slashes: sqlite:///relative.db or sqlite:////absolute.db"
        )
    if "://" in raw and not raw.startswith("sqlite:"):
        _check_url(raw)
        return Location(url=raw, sqlite_path=None, logs_override=Path(logs_override) if logs_override else None)
    # sqlite:///relative.db and sqlite:////absolute.db, as playhouse.db_url reads them
    path_text = raw.removeprefix("sqlite:///") if raw.startswith("sqlite:///") else raw
    path = Path(path_text).expanduser().absolute()
    return Location(
        url=f"sqlite:///{path}",
        sqlite_path=path,
        logs_override=Path(logs_override).absolute() if logs_override else None,
    )


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_owned(path: Path, st: os.stat_result, what: str, shared_folder: bool = False) -> None:
    """Refuse a place that another user owns or may write to.  A shared folder (the one the
    store file sits in) may also be root's, and world-writable if sticky, like /tmp: there
    nobody can replace our files, and each of them is checked on its own."""
    uid = os.geteuid()
    if st.st_uid != uid and not (shared_folder and st.st_uid == 0):
        raise StoreUnusable(f"refusing {what} {path}: it belongs to {_user(st.st_uid)}, not to {_user(uid)}")
    if st.st_mode & 0o022 and not (shared_folder and st.st_mode & stat.S_ISVTX):
        raise StoreUnusable(f"refusing {what} {path}: other users may write to it (mode {stat.S_IMODE(st.st_mode):o})")


def check_private(path: Path, what: str, folder: bool) -> bool:
    """Whether `path` exists (False: it does not); refused if it is a symbolic link, the
    wrong kind of file, or not private to this user."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreUnusable(f"cannot use {what} {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise StoreUnusable(f"refusing {what} {path}: it is a symbolic link")
    if folder != stat.S_ISDIR(st.st_mode):
        raise StoreUnusable(f"cannot use {what} {path}: it is {'not a folder' if folder else 'a folder'}")
    check_owned(path, st, what)
    return True


def open_private(path: Path | str, what: str, flags: int = os.O_RDONLY, secret: bool = False) -> int:
    """Open a file that queuectl takes authority from (the store, the dashboard's token file):
    never through a symbolic link, a regular file only (a planted FIFO would hang the open), and
    refused unless it belongs to this user and nobody else may write to it, or, for a `secret`,
    read it.  The owner is what counts, not the mode: any user can make a 0600 file of their own
    and name it where we look.  Returns the descriptor; a new file (O_CREAT) is made 0600."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreUnusable(f"refusing {what} {path}: it is a symbolic link") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StoreUnusable(f"refusing {what} {path}: it is not a regular file")
        check_owned(Path(path), st, what)
        if secret and st.st_mode & 0o077:
            raise StoreUnusable(f"refusing {what} {path}: other users can read it (chmod 600 {shlex.quote(str(path))})")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_dir(path: Path, what: str) -> Path:
    """The owner-only folder at `path`: made if missing, checked if there."""
    if check_private(path, what, folder=True):
        return path
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:  # made by another process just now: check it
        check_private(path, what, folder=True)
    except OSError as exc:
        raise StoreUnusable(f"cannot create {what} {path}: {exc.strerror}") from None
    return path


def check_store_folder(path: Path) -> None:
    """The folder that holds a SQLite store, when it exists."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreUnusable(f"cannot use the store's folder {path}: {exc.strerror}") from None
    check_owned(path, st, "the store's folder", shared_folder=True)


def open_log(path: Path) -> int:
    """Open an attempt's log `logs/<job>/<file>` for writing, owner-only.  The job's folder is
    reached through the logs folder's descriptor without following links, so a link planted
    inside logs/ cannot turn our writes elsewhere."""
    logs = private_dir(path.parent.parent, "the logs folder")
    logs_fd = os.open(logs, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
    try:
        try:
            os.mkdir(path.parent.name, 0o700, dir_fd=logs_fd)
        except FileExistsError:
            pass
        try:
            job_fd = os.open(path.parent.name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=logs_fd)
        except OSError:
            if stat.S_ISLNK(os.lstat(path.parent.name, dir_fd=logs_fd).st_mode):
                raise StoreUnusable(f"refusing the job's log folder {path.parent}: it is a symbolic link") from None
            raise
        try:
            check_owned(path.parent, os.fstat(job_fd), "the job's log folder")
            return os.open(path.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o600, dir_fd=job_fd)
        finally:
            os.close(job_fd)
    finally:
        os.close(logs_fd)


def refuse_read_only_mount(path) -> None:
    """SQLite writes beside the store even to read it (its -shm file, in WAL mode): on a
    read-only file system every command would fail with "unable to open database file", or a
    "cannot create the store" for a store that exists."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return  # the connection says what is wrong
    if read_only:
        raise StoreError(
            f"the store at {path} is on a read-only file system: queuectl writes beside it even to "
            "read it; remount it read-write, or copy the store somewhere writable"
        )
