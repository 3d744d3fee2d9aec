"""Importing database drivers without what a short process does not need.

- peewee imports every driver it finds (psycopg2 alone costs ~100 ms); a process that will only
  open a SQLite store imports peewee first through here (store.open_store does, for every process).
- psycopg2 imports `ssl` only so that Python, not libpq, sets up OpenSSL's thread-locking
  callbacks (psycopgmodule.c, libcrypto_threads_init).  OpenSSL 1.1 and later lock for
  themselves, and psycopg2 falls back to libpq's own set-up when `ssl` cannot be imported (its
  path for a Python built without OpenSSL): ~8 ms of every PostgreSQL command, spent for nothing.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

#: drivers peewee imports if it finds them; a SQLite command needs none of them
_UNUSED_DRIVERS = ("psycopg2", "psycopg", "psycopg2cffi", "pymysql", "MySQLdb", "cysqlite")


@contextmanager
def _absent(names: tuple[str, ...]):
    """Inside, importing any of `names` that is not imported yet fails at once, as if it were
    not installed; afterwards they import as usual."""
    hidden = [m for m in names if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            del sys.modules[name]


def import_peewee_without_drivers() -> None:
    """Import peewee as if those drivers were absent (~100 ms less start-up per command).

    Only the first import decides: a process that imported peewee already keeps its drivers.
    """
    if "peewee" not in sys.modules:
        with _absent(_UNUSED_DRIVERS):
            import peewee  # noqa: F401


def import_psycopg2():
    """psycopg2, imported (the first time) without `ssl`; ImportError when it is not installed."""
    if "psycopg2" not in sys.modules:
        with _absent(("ssl",)):
            import psycopg2  # noqa: F401
    return sys.modules["psycopg2"]
