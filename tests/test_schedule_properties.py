"""The worker's heartbeat under hostile schedules (issue 22): whatever the schedules hold (cron
expressions with no next date or none at all, unknown zones, a job that cannot be made, a
dependency deleted since) and however the clock steps, run_due_schedules never raises, every
schedule left active has moved past now, and a schedule that failed is paused and says why."""

import json
from datetime import datetime, timezone

from conftest import enqueue, run_cli
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
START = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()

#: expressions that always have a next run (minutes, hours, seconds, a year-long one)
RECURRING = ["*/5 * * * *", "0 9 * * *", "30 2 * * *", "* * * * * */10", "0 0 1 * *", "0 12 * * 1-5", "0 0 29 2 *"]
#: valid for croniter, but with no run after START (or none ever)
NO_NEXT = ["0 0 31 2 *", "0 0 30 2 *", "0 0 1 1 * 0 2020", "5 10 1 1 * 0 2026", "0 12 15 6 * 30 2027"]
#: what an older version or a hand-made row may have put in the store
INVALID = ["", "nope", "61 * * * *", "* * * *", "0 0 1 1 * 2027", "\x01", "*/0 * * * *", "1-2-3 * * * *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham"]
BAD_ZONES = ["Mars/Olympus", "", "../../etc/passwd", "UTC\x01", "Europe/"]

field = st.sampled_from(["*", "*/7", "0", "5", "59", "1-10", "3,17", "61", "0-0", "L", "*/100", "?"])
generated_cron = st.builds(lambda parts: " ".join(parts), st.lists(field, min_size=4, max_size=7))
crons = st.one_of(
    st.sampled_from(RECURRING),
    st.sampled_from(NO_NEXT),
    st.sampled_from(INVALID),
    generated_cron,
    st.text(st.characters(exclude_characters="\x00"), max_size=30),
)  # (no store keeps a NUL)
#: each job's JSON, and what is wrong with it when something is (the start of its error)
JOBS = {
    '{"command": "true"}': None,
    '{"command": "true", "depends_on": ["present"]}': None,
    '{"command": "true", "depends_on": ["gone"]}': "job ",  # deleted after the schedule was made
    '{"command": ""}': "command must not be empty",
    "[1]": "a job must be a JSON object",
    "not json": "JSONDecodeError: ",
    '{"command": "true", "priority": "high"}': "priority must be an integer",
}
schedules = st.lists(
    st.fixed_dictionaries(
        {
            "cron": crons,
            "tz": st.one_of(st.sampled_from(ZONES), st.sampled_from(BAD_ZONES)),
            "overlap": st.sampled_from(["allow", "skip"]),
            "job": st.sampled_from(list(JOBS)),
            "due": st.integers(-(10**6), 10**6),
        }
    ),
    min_size=1,
    max_size=4,
)
#: the clock's steps between heartbeats: seconds on, a DST night on, back an hour, years on
steps = st.lists(
    st.one_of(st.integers(0, 3600), st.sampled_from([-3600, -86400, 86400 * 200, 86400 * 365 * 3])),
    min_size=1,
    max_size=4,
)


def _reasons(s: dict) -> list[str]:
    """How each error this schedule may end with starts: nothing, for one that should run."""
    reasons = [
        "invalid cron expression" if not croniter.is_valid(s["cron"]) else f"cron expression {s['cron']!r} has no run"
    ]
    if s["cron"] in RECURRING:
        reasons.pop()
    if s["tz"] not in ZONES:
        reasons.append("unknown time zone")
    if JOBS[s["job"]]:
        reasons.append(JOBS[s["job"]])
    return reasons


@settings(SETTINGS)
@given(made=schedules, clock_steps=steps)
def test_the_heartbeat_survives_any_schedule(opened, made, clock_steps):
    from queuectl import store
    from queuectl.models import Schedule

    if not json.loads(run_cli("list", "--json").stdout):  # once per store: one job kept, one deleted
        enqueue(id="present", command="true")
        enqueue(id="gone", command="true")
        assert run_cli("cancel", "gone").exit_code == 0 and run_cli("delete", "gone").exit_code == 0
    Schedule.delete().execute()
    for i, s in enumerate(made):  # written as they are, as a hand-made row or an older version would
        Schedule.create(
            name=f"s{i}", cron=s["cron"], tz=s["tz"], overlap=s["overlap"], job=s["job"], next_run_at=START + s["due"]
        )
    t = START
    for step in clock_steps:
        t += step
        store.set_clock(lambda t=t: t)
        due = store.run_due_schedules()  # never raises
        rows = {row.name: row for row in Schedule.select()}
        for name, error in due.failed.items():
            assert rows[name].paused and rows[name].last_error == error
        listed = run_cli("schedule", "list", "--json")  # whatever the rows hold, they are listed
        assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == len(made), listed.stderr
        for i, s in enumerate(made):
            row = rows[f"s{i}"]
            if row.last_error is None:
                assert row.paused or row.next_run_at > t, (s, t)  # none left behind, due for ever
            else:
                assert row.paused and row.last_error.startswith(tuple(_reasons(s)) or "-"), (s, row.last_error)


@settings(SETTINGS, max_examples=100)
@given(cron=crons, tz=st.one_of(st.sampled_from(ZONES), st.sampled_from(BAD_ZONES), st.text(max_size=20)))
def test_add_refuses_what_a_tick_could_not_run(opened, cron, tz):
    """What schedule add accepts has a next run, and its first tick runs without an error."""
    from queuectl import ops, store
    from queuectl.errors import InputError

    store.set_clock(lambda: START)
    for s in store.list_schedules():
        ops.remove_schedule(s.name)
    try:
        added = ops.add_schedule("s", cron, {"command": "true"}, tz=tz)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert added.next_run_at > START
    store.set_clock(lambda: added.next_run_at)
    due = store.run_due_schedules()
    assert due.failed == {} or "no run after" in due.failed["s"], due  # a one-shot's only tick
    assert due.enqueued == [f"s@{datetime.fromtimestamp(added.next_run_at, timezone.utc):%Y-%m-%dT%H:%M:%SZ}"]
