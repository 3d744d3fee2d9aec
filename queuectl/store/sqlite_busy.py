"""SQLite's lock waits, ours rather than SQLite's: the connection class the SQLite dialect opens.

Its own module so that the dialect (which opens connections) and the connection module (which
uses the dialect) do not import each other.
"""

from __future__ import annotations

import functools
import time

#: seconds a connection waits for another process's write lock before reporting the store busy
BUSY_TIMEOUT = 10.0


def wait_while_busy(attempt):
    """Call attempt() until the database stops answering "locked", for up to BUSY_TIMEOUT.

    SQLite's own busy handler first sleeps 1 ms and then longer; workers that finish a job
    every millisecond would spend most of their time asleep.  Retrying after tens of
    microseconds, doubling to 2 ms, keeps contention cheap and a long-held lock harmless.
    """
    from peewee import OperationalError

    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.00005
    while True:
        try:
            return attempt()
        except OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.002)


@functools.cache
def sqlite_class():
    from peewee import SqliteDatabase

    class SqliteStore(SqliteDatabase):
        """SQLite whose lock waits go through wait_while_busy."""

        def begin(self, lock_type=None):
            wait_while_busy(lambda: SqliteDatabase.begin(self, lock_type))

        def execute_sql(self, sql, params=None):
            if self.in_transaction():  # the write lock is ours already; readers never wait in WAL
                return SqliteDatabase.execute_sql(self, sql, params)
            return wait_while_busy(lambda: SqliteDatabase.execute_sql(self, sql, params))

        def rollback(self):
            """SQLite ends the transaction itself on some errors (SQLITE_FULL): the ROLLBACK that
            follows must not replace that error with "no transaction is active"."""
            if self.is_closed() or self.connection().in_transaction:
                SqliteDatabase.rollback(self)

    return SqliteStore
