"""How an idle worker learns at once that work arrived, without polling the store.

Each worker binds a Unix datagram socket `<run_dir>/<worker id>.sock` (a long id shortened with a
hash) for its whole life.  Every
commit that makes work runnable (or asks workers to stop) sends one byte to each socket in the
folder, never blocking and dropping sockets whose owner is gone.  A worker drains its socket
before looking for work, then blocks on it with a timeout (the next scheduled job, capped by a
slow safety poll): a byte sent in between is already queued, so no wake-up is lost.

Socket paths are limited to ~107 bytes; the folder is reached through /proc/self/fd where the
real path would be too long (pytest's temporary folders often are).
"""

from __future__ import annotations

import os
from pathlib import Path

from .paths import private_dir

SUFFIX = ".sock"
#: sockets of processes that wait for jobs to end, not for work
WATCHER_PREFIX = "watch-"
_MAX_SUN_PATH = 100
#: the longest socket name (with its suffix) used as it is: _Dir keeps the folder's part within
#: _MAX_SUN_PATH - 40
_MAX_NAME = 38


def _socket_name(name: str) -> str:
    """The socket's file name for a worker (or watcher) `name`: a long one (a long host id
    makes a long worker id) becomes its start and a hash, so that the path fits in a
    sockaddr_un, and a '/' never makes it a path."""
    if len(name.encode()) + len(SUFFIX) <= _MAX_NAME and "/" not in name:
        return f"{name}{SUFFIX}"
    import hashlib

    start = "".join(c if c.isascii() and c != "/" else "_" for c in name[:12])
    return f"{start}-{hashlib.sha256(name.encode()).hexdigest()[:20]}{SUFFIX}"


class _Dir:
    """A folder addressed by a short path, for socket names."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> str:
        if len(str(self.path)) + 40 < _MAX_SUN_PATH or not os.path.isdir("/proc/self/fd"):
            return str(self.path)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        return f"/proc/self/fd/{self._fd}"

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class WakeChannel:
    """The receiving end, owned by one worker.

    With a run_dir, other processes on this host find it there by name; without one it is a
    private socket pair that only this process pokes (a PostgreSQL LISTEN thread, signals).
    """

    def __init__(self, run_dir: Path | None, name: str):
        import socket

        self._on_close: list = []
        self.path = None
        if run_dir is None:
            self.sock, self._to_self = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
            self._to_self.setblocking(False)
            return
        private_dir(run_dir, "the run folder")
        self.path = run_dir / _socket_name(name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with _Dir(run_dir) as short:
            address = f"{short}/{self.path.name}"
            try:
                os.unlink(address)
            except FileNotFoundError:
                pass
            self.sock.bind(address)
            # a socket connected to our own: signal.set_wakeup_fd writes through it, so a signal
            # interrupts a wait exactly like a wake-up from another process
            self._to_self = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._to_self.connect(address)
        os.chmod(self.path, 0o600)
        self.sock.setblocking(False)
        self._to_self.setblocking(False)

    @property
    def signal_fd(self) -> int:
        return self._to_self.fileno()

    def poke(self) -> None:
        """Wake this channel's own waiter (from another thread)."""
        try:
            self._to_self.send(b"!")
        except OSError:
            pass  # full: it is due to wake anyway

    def on_close(self, callback) -> None:
        self._on_close.append(callback)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> bool:
        """Empty the queue; True if anything was waiting."""
        woke = False
        while True:
            try:
                self.sock.recv(64)
                woke = True
            except (BlockingIOError, InterruptedError):
                return woke

    def wait(self, timeout: float) -> bool:
        """Block until a wake-up arrives or `timeout` seconds pass; True if woken."""
        import select

        if timeout > 0:
            try:
                ready, _, _ = select.select([self.sock], [], [], timeout)
            except InterruptedError:
                return True
            if not ready:
                return False
        return self.drain()

    def close(self) -> None:
        for callback in self._on_close:
            callback()
        self._to_self.close()
        self.sock.close()
        if self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def notify(run_dir: Path, watchers: bool = False) -> None:
    """Wake every worker (or every watcher) that listens in run_dir; never blocks, never fails
    the caller."""
    try:
        names = [n for n in os.listdir(run_dir) if n.endswith(SUFFIX) and n.startswith(WATCHER_PREFIX) == watchers]
    except OSError:
        return
    if not names:
        return
    import socket  # (here: `add` and `enqueue` import this module, and most often find no worker)

    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.setblocking(False)
    try:
        with _Dir(run_dir) as short:
            for name in names:
                try:
                    sender.sendto(b"!", f"{short}/{name}")
                except ConnectionRefusedError:  # its worker is gone
                    _remove_stale(run_dir / name)
                except OSError:
                    pass  # a full queue: that worker is due to wake anyway
    except OSError:
        pass
    finally:
        sender.close()


def _remove_stale(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
