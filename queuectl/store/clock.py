"""The clock of a SQLite store: UTC time that a step of the wall clock cannot move.

Every process on the host computes the store's time from one anchor kept in the store (the
`clock` setting): `t0 + (boottime - b0) * rate`.  CLOCK_BOOTTIME is one clock for every process
of a boot, counts suspended time, and is never stepped when the wall clock is (`date -s`, an NTP
step, a VM restored), so all processes agree, and due times, backoffs and schedules neither wait
out a backward step nor come early after a forward one.

The store's clock still follows the wall clock, the way NTP slews: when the two disagree by more
than TOLERANCE, the anchor is moved (continuously: the store's time never jumps) to a rate of
1 ± SLEW until they meet.  So a step of one hour is absorbed in ten, during which the store's
seconds are up to SLEW (10%) longer or shorter than real ones; that is all a step can do to a
due time.  Leases are not judged on this clock at all (see workers.recover_expired).  After a
reboot (a new boot id) the anchor restarts from the wall clock: no worker outlives a reboot, so
no lease spans the jump.  Where there is no boot id (not Linux) the store's clock is the wall
clock.

One process's clock never moves the store's time for the others.  A Linux time namespace
(`unshare --time --boottime N`) shifts CLOCK_BOOTTIME for the processes in it but shares the
boot id; read as it is, it re-anchored the store a year ahead for everyone.  So the boot time
here is the host's: the namespace's offset (/proc/self/timens_offsets, relative to the host's
clock) taken off.  A process that still reads a boot time before the anchor's (the host's
boot time never goes back; an offset it could not read) takes the wall clock and writes no
anchor.
"""

from __future__ import annotations

import json
import time
from typing import NamedTuple

#: the most the store's clock runs faster or slower than real time while it follows a step
SLEW = 0.1
#: a wall clock at most this far from the store's is left alone
TOLERANCE = 0.5
#: how long a process goes on with the anchor it read (another process may have moved it)
ANCHOR_SECONDS = 1.0
KEY = "clock"


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() if hasattr(time, "CLOCK_BOOTTIME") else None
    except OSError:
        return None


_BOOT = _boot_id()


def _boottime_offset() -> float:
    """How far this process's CLOCK_BOOTTIME is ahead of the host's (its time namespace's
    offset; 0 outside one, or where the kernel has no time namespaces)."""
    try:
        with open("/proc/self/timens_offsets") as f:
            for line in f:
                clock_id, secs, nanosecs = line.split()
                if clock_id == "boottime":
                    return int(secs) + int(nanosecs) / 1e9
    except (OSError, ValueError):
        pass
    return 0.0


_OFFSET = _boottime_offset()


def host_boottime() -> float:
    """CLOCK_BOOTTIME as the host's initial time namespace reads it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME) - _OFFSET


class Anchor(NamedTuple):
    boot: str
    b0: float  # CLOCK_BOOTTIME at the anchor
    t0: float  # the store's time at the anchor
    rate: float

    def at(self, boottime: float) -> float:
        return self.t0 + (boottime - self.b0) * self.rate

    def text(self) -> str:
        return json.dumps(list(self))


_cached: tuple[float, Anchor | None] = (0.0, None)  # (monotonic expiry, anchor)
#: runs a statement on the store when the quick path (store/quick.py) has it open; else the models' db
execute = None


def _busy_or_read_only(exc: Exception) -> bool:
    """An OperationalError: peewee's, or sqlite3's on the quick path (which has no peewee)."""
    import sqlite3
    import sys

    peewee = sys.modules.get("peewee")
    return isinstance(exc, sqlite3.OperationalError) or (
        peewee is not None and isinstance(exc, peewee.OperationalError)
    )


def _execute(statement: str, params: tuple):
    if execute is not None:
        return execute(statement, params)
    from ..models import db

    return db.execute_sql(statement, params)


def forget() -> None:
    global _cached
    _cached = (0.0, None)


def store_time(wall: float, writable: bool) -> float:
    """Now, on the store's clock, for this host's wall clock reading `wall`; a writable
    process also steers the anchor."""
    if _BOOT is None:
        return wall
    anchor = _read()
    boottime = host_boottime()  # read after the anchor, whose writer read its own before writing it
    if anchor is None or anchor.boot != _BOOT:
        if writable:
            _write(Anchor(_BOOT, boottime, wall, 1.0), anchor)
        return wall
    if boottime < anchor.b0:  # not the host's boot time (see the module's docstring)
        return wall
    t = anchor.at(boottime)
    rate = _steer(anchor.rate, wall - t)
    if rate != anchor.rate and writable:
        _write(Anchor(_BOOT, boottime, t, rate), anchor)
    return t


def _steer(rate: float, ahead: float) -> float:
    """The rate for a wall clock `ahead` seconds ahead of the store's (negative: behind)."""
    if rate > 1.0 and ahead <= 0 or rate < 1.0 and ahead >= 0:
        return 1.0  # caught up
    if rate == 1.0 and abs(ahead) > TOLERANCE:
        return 1.0 + SLEW if ahead > 0 else 1.0 - SLEW
    return rate


def _read() -> Anchor | None:
    global _cached
    expires, anchor = _cached
    if time.monotonic() < expires:
        return anchor
    row = _execute("SELECT value FROM setting WHERE key = ?", (KEY,)).fetchone()
    anchor = Anchor(*json.loads(row[0])) if row else None
    _cached = (time.monotonic() + ANCHOR_SECONDS, anchor)
    return anchor


def _write(new: Anchor, old: Anchor | None) -> None:
    """Replace `old` with `new` unless another process moved it first (then its anchor is
    read next time).  Best effort: a busy store leaves the anchor for the next call to move."""
    global _cached
    try:
        if old is None:
            _execute("INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (KEY, new.text()))
        else:
            _execute("UPDATE setting SET value = ? WHERE key = ? AND value = ?", (new.text(), KEY, old.text()))
    except Exception as exc:
        if not _busy_or_read_only(exc):
            raise
        return
    _cached = (0.0, None)
