"""`add --at WHEN`: when a job may start, as people type it.

Three forms, tried in order: a duration from now (`10m`, `2h`, `1.5d`, as `prune --older-than`
reads them), ISO 8601 (as a job's run_at), and anything else read by dateparser ("tomorrow
09:00", "friday 17:30", "in 3 hours"), a well-kept parser of human dates that is imported only
for that last form (it costs a few hundred milliseconds to load).

dateparser reads generously: it skips what it does not understand ("tomorrow 25:00" came back
as tomorrow at the current time of day) and finds a date in a lone number ("nan" came back as
2027-08-06, "-1" as a day of next month).  So a number that is not a plain duration is refused
before it, and a clock time typed must be a time of day that the answer keeps.  And it reads
English and the language of the user's locale only: among all the languages it knows, "nan" is
a date, and a typo took 7 s to refuse (every language's data loaded) where a time takes 1 s.
"""

from __future__ import annotations

import os
import re

from .errors import InputError

_DURATION = re.compile(r"\d+(\.\d+)?\s*[smhdw]", re.IGNORECASE)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
#: a clock time in the words: H:MM or H:MM:SS
_CLOCK = re.compile(r"(?<![\d:])(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?![\d:])")
EXAMPLES = "10m, 2h, tomorrow 09:00, 2026-12-24T18:00"


def parse_when(text: str, now: float) -> float | None:
    """UTC epoch seconds (None: now); a time in the past stays in the past (the job runs at once)."""
    from .spec import parse_time, validate_run_at

    value = text.strip()
    if not value:
        raise InputError(f"--at needs a time, e.g. {EXAMPLES}")
    if value.lower() == "now":
        return None
    if _DURATION.fullmatch(value):
        from .settings import parse_duration

        return validate_run_at(now + parse_duration(value.replace(" ", ""), "--at"), f"--at {value[:40]!r}")
    if _ISO.match(value):
        return parse_time(value)
    if _is_number(value) or _is_number(value[:-1]) and value[-1:].lower() in "smhdw":
        raise InputError(f"--at {value[:40]!r} is not a time: a duration is digits and a unit (90s, 10m, 2h, 1.5d, 1w)")
    return validate_run_at(_human(value, now), f"--at {value[:40]!r}")


def _is_number(text: str) -> bool:
    """What float() reads, "nan", "inf" and "-1e400" included."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _human(value: str, now: float) -> float:
    from datetime import datetime

    import dateparser

    from .spec import RUN_AT_RANGE

    clocks = []
    for match in _CLOCK.finditer(value):
        hour, minute, second = (int(part or 0) for part in match.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise InputError(f"--at {value[:40]!r}: {match.group()} is not a time of day")
        clocks.append((hour, minute))
    # naive local times in and out, "09:00" being the clock on this machine's wall; a time
    # zone typed ("09:00 UTC") comes back with the answer
    base = datetime.fromtimestamp(now)
    moment = dateparser.parse(
        value, languages=_languages(), settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base}
    )
    if moment is None:
        raise InputError(f"--at {value[:40]!r} is not a time I can read (e.g. {EXAMPLES})")
    if clocks and not any(moment.hour % 12 == hour % 12 and moment.minute == minute for hour, minute in clocks):
        raise InputError(f"--at {value[:40]!r}: its time of day is not one I can read (e.g. {EXAMPLES})")
    try:
        return (moment if moment.tzinfo else moment.astimezone()).timestamp()
    except (OverflowError, ValueError, OSError):  # "January 1, 0001" west of UTC is before the calendar
        raise InputError(f"--at {value[:40]!r} is out of range ({RUN_AT_RANGE})") from None


def _languages() -> list[str]:
    """English, and the language of the locale that dates are read in (LC_ALL, LC_TIME, LANG,
    in POSIX's order) where dateparser knows it: "de_DE.UTF-8" adds German ("morgen 09:00")."""
    from dateparser.data import language_locale_dict

    locale = next((os.environ[name] for name in ("LC_ALL", "LC_TIME", "LANG") if os.environ.get(name)), "")
    language = re.split(r"[_.@]", locale)[0].lower()
    return ["en", language] if language != "en" and language in language_locale_dict else ["en"]
