"""`add --at WHEN`: when a job may start, as people type it.

Three forms, tried in order: a duration from now (`10m`, `2h`, `1.5d`, as `prune --older-than`
reads them), ISO 8601 (as a job's run_at), and anything else read by dateparser ("tomorrow
09:00", "friday 17:30", "in 3 hours"), a well-kept parser of human dates that is imported only
for that last form (it costs a few hundred milliseconds to load).
"""
from __future__ import annotations

import re

from .errors import InputError

_DURATION = re.compile(r"\d+(\.\d+)?\s*[smhdw]", re.IGNORECASE)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
EXAMPLES = "10m, 2h, tomorrow 09:00, 2026-12-24T18:00"


def parse_when(text: str, now: float) -> float | None:
    """UTC epoch seconds (None: now); a time in the past stays in the past (the job runs at once)."""
    value = text.strip()
    if not value:
        raise InputError(f"--at needs a time, e.g. {EXAMPLES}")
    if value.lower() == "now":
        return None
    if _DURATION.fullmatch(value):
        from .settings import parse_duration

        return now + parse_duration(value.replace(" ", ""), "--at")
    if _ISO.match(value):
        from .spec import parse_time

        return parse_time(value)
    return _human(value, now)


def _human(value: str, now: float) -> float:
    from datetime import datetime

    import dateparser

    # naive local times in and out: "09:00" is the clock on this machine's wall
    base = datetime.fromtimestamp(now)
    moment = dateparser.parse(value, settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base,
                                               "RETURN_AS_TIMEZONE_AWARE": False})  # fmt: skip
    if moment is None:
        raise InputError(f"--at {value[:40]!r} is not a time I can read (e.g. {EXAMPLES})")
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()
