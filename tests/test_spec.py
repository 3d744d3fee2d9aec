"""Validation of untrusted job input, before anything touches the store."""

import pytest

from queuectl.errors import InputError
from queuectl.spec import parse_time, spec_from_json, specs_from_lines


def test_minimal_job_takes_defaults_later():
    spec = spec_from_json('{"command": "echo hi"}')
    assert spec.command == "echo hi" and spec.id is None and spec.priority is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "invalid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"id": "a"}', 'missing field "command"'),
        ('{"command": ""}', "must not be empty"),
        ('{"command": "   "}', "must not be empty"),
        ('{"command": "a\\u0000b"}', "NUL"),
        ('{"command": 5}', "command must be a string"),
        ('{"command": "x", "colour": 1}', "unknown field"),
        ('{"command": "x", "id": "."}', "invalid job id"),
        ('{"command": "x", "id": ".."}', "invalid job id"),
        ('{"command": "x", "id": "a/b"}', "invalid job id"),
        ('{"command": "x", "id": "-a"}', "invalid job id"),
        ('{"command": "x", "id": ""}', "invalid job id"),
        ('{"command": "x", "id": "' + "a" * 129 + '"}', "invalid job id"),
        ('{"command": "x", "priority": "high"}', "priority must be an integer"),
        ('{"command": "x", "priority": true}', "priority must be an integer"),
        ('{"command": "x", "priority": 1.5}', "priority must be an integer"),
        ('{"command": "x", "priority": 99999999999999999999}', "between"),
        ('{"command": "x", "timeout": 0}', "more than 0"),
        ('{"command": "x", "timeout": -3}', "more than 0"),
        ('{"command": "x", "timeout": NaN}', "not a number"),
        ('{"command": "x", "max_retries": -1}', "between 0"),
        ('{"command": "x", "run_at": "tomorrow"}', "ISO 8601"),
        ('{"command": "x", "run_at": 5}', "ISO 8601"),
    ],
)
def test_bad_input_is_refused_with_one_line(text, message):
    with pytest.raises(InputError) as info:
        spec_from_json(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_run_at_with_offset_and_naive_local_time():
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_time("2026-01-01T01:00:00+01:00") == 1767225600.0
    assert parse_time("now") is None


def test_naive_run_at_is_local_time(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert parse_time("2026-01-01T01:00:00") == 1767225600.0
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_batch_names_the_first_bad_line():
    with pytest.raises(InputError, match="line 3: "):
        specs_from_lines(['{"command": "a"}', "", '{"command": ""}', "garbage"])


def test_batch_refuses_an_id_twice():
    with pytest.raises(InputError, match="line 2: duplicate job id 'a'"):
        specs_from_lines(['{"id": "a", "command": "x"}', '{"id": "a", "command": "y"}'])
