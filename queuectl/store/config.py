"""Settings in the store, so that every worker on every host reads the same values."""

from __future__ import annotations

import json

from ..models import Setting, db
from ..settings import setting
from .cached import current_config, forget_cached_config
from .connection import guarded, wake_workers

get_config = guarded(current_config)


@guarded
def set_config(key: str, text: str) -> int | float:
    """Validate and store one setting; returns the stored value."""
    value = setting(key).parse(text)
    forget_cached_config()
    with db.atomic():
        Setting.insert(key=key, value=json.dumps(value)).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: json.dumps(value)}
        ).execute()
    wake_workers()  # idle workers pick up the new values
    return value
