"""Importing peewee for a SQLite store without the database drivers it looks for.

peewee imports every driver it finds (psycopg2 alone costs ~100 ms); a process that will only
open a SQLite store imports peewee first through here (store.open_store does, for every process).
"""

from __future__ import annotations

import sys

#: drivers peewee imports if it finds them; a SQLite command needs none of them
_UNUSED_DRIVERS = ("psycopg2", "psycopg", "psycopg2cffi", "pymysql", "MySQLdb", "cysqlite")


def import_peewee_without_drivers() -> None:
    """Import peewee as if those drivers were absent (~100 ms less start-up per command).

    Only the first import decides: a process that imported peewee already keeps its drivers.
    """
    if "peewee" in sys.modules:
        return
    hidden = [m for m in _UNUSED_DRIVERS if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import" fails at once: not installed
    try:
        import peewee  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]
