"""Settings and queue limits as this process last read them (at most CACHE_SECONDS ago): a
worker claims every millisecond and must not read the settings table each time."""

from __future__ import annotations

import json
import time

from ..settings import SETTINGS, defaults
from .sqltext import SETTINGS_SQL

#: a process re-reads the settings at most this often (a worker claims every millisecond)
CACHE_SECONDS = 1.0
_cache: tuple[float, dict] = (0.0, {})


def current_config() -> dict:
    """Defaults overlaid with what was set, as of at most CACHE_SECONDS ago."""
    global _cache
    expires, values = _cache
    if time.monotonic() < expires:
        return dict(values)
    from ..models import db

    values = config_from(db.execute_sql(SETTINGS_SQL).fetchall())
    _cache = (time.monotonic() + CACHE_SECONDS, values)
    return dict(values)


def config_from(rows) -> dict:
    """Defaults overlaid with the setting table's (key, value) rows (the quick path's too)."""
    values = defaults()
    for key, value in rows:
        if key in SETTINGS:
            stored = json.loads(value)
            values[key] = None if stored is None else SETTINGS[key].kind(stored)
    return values


def forget_cached_config() -> None:
    global _cache, _limited_cache
    _cache = (0.0, {})
    _limited_cache = (0.0, ())


_limited_cache: tuple[float, tuple] = (0.0, ())


def limited_queues() -> tuple[str, ...]:
    """Queues with a limit on running jobs, as of at most CACHE_SECONDS ago."""
    global _limited_cache
    expires, names = _limited_cache
    if time.monotonic() >= expires:
        from ..models import db

        names = tuple(n for (n,) in db.execute_sql("SELECT name FROM queue WHERE max_running IS NOT NULL").fetchall())
        _limited_cache = (time.monotonic() + CACHE_SECONDS, names)
    return names
