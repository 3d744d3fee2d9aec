"""Settings in the store, so that every worker on every host reads the same values."""
from __future__ import annotations

import json

from ..models import Setting, db
from ..settings import SETTINGS, defaults, setting
from .connection import guarded, wake_workers


def current_config() -> dict:
    """Defaults overlaid with what was set (inside the caller's transaction, if any)."""
    values = defaults()
    for key, value in db.execute_sql("SELECT key, value FROM setting").fetchall():
        if key in SETTINGS:
            values[key] = SETTINGS[key].kind(json.loads(value))
    return values


get_config = guarded(current_config)


@guarded
def set_config(key: str, text: str) -> int | float:
    """Validate and store one setting; returns the stored value."""
    value = setting(key).parse(text)
    with db.atomic():
        Setting.insert(key=key, value=json.dumps(value)).on_conflict_replace().execute()
    wake_workers()  # idle workers pick up the new values
    return value
