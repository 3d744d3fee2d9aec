"""What every command module shares: opening the store named by --db, JSON output, the common
options and argument checks.  Commands import these; the root group (queuectl/cli.py) does not
import this module, so a command's start-up pays only for what it uses."""

from __future__ import annotations

import json

import click

from ..cli import one_line
from ..paths import Location
from ..states import JobState

STATES = [state.value for state in JobState]


def open_named_store(
    ctx: click.Context, readonly: bool = False, verify: bool = False, live: bool = False, quick: bool = False
) -> Location:
    """Open the store named by --db / QUEUECTL_DB / the default, creating it on first use
    unless the command only reads (see store.open_store).  A command that reads once answers
    as an empty store does where there is none yet; a `live` reader (one that keeps serving)
    needs the store itself, since an empty stand-in would never show the jobs that come.
    `quick`: the commands people run in loops (add, enqueue, status, list) may take the store's
    quick path (store/quick.py), which hands over to the full store for anything it does not serve."""
    location: Location = ctx.find_root().obj
    from .. import store

    store.open_store(location, readonly=readonly, verify=verify, empty_if_missing=readonly and not live, quick=quick)
    return location


#: characters JSON leaves raw that a terminal may obey (DEL, C1 controls such as CSI) or that
#: break lines; they only ever occur inside strings, where \\uXXXX is the same text
UNSAFE_IN_JSON = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


def echo_json(data) -> None:
    """JSON, with the characters a terminal may obey and the format characters that reorder or
    hide text (render.FORMAT_CHARACTERS) written as escapes: the same JSON, shown as it is."""
    from ..render import FORMAT_CHARACTERS

    unsafe = UNSAFE_IN_JSON | {
        c: json.dumps(chr(c))[1:-1] for first, last in FORMAT_CHARACTERS for c in range(first, last + 1)
    }
    click.echo(json.dumps(data, indent=2, ensure_ascii=False).translate(unsafe))


#: the most rows a listing returns (SQLite's LIMIT is a 64-bit integer)
MAX_LIMIT = 1_000_000_000


def checked_job_id(value: str) -> str:
    """A job id typed by the user: one that can never exist is bad input (exit 2), not 'not found'."""
    from ..spec import validate_job_ref

    return validate_job_ref(value)


def name_command(group: click.Group, verb: str, doc: str, act, done: str) -> None:
    """A `GROUP VERB NAME` command that calls one store function and says what it did."""

    from ..complete import names_of

    @group.command(verb, help=doc)
    @click.argument("name", shell_complete=names_of(group.name))
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        from ..spec import validate_queue_name

        validate_queue_name(name, group.name)  # a name that can never exist is bad input, not "not found"
        open_named_store(ctx)
        from .. import ops

        act(ops, name)
        click.echo(done.format(name=name))


with_dependents_option = click.option(
    "--with-dependents",
    is_flag=True,
    help="Also retry the cancelled jobs downstream (transitively); they wait for their dependencies again.",
)


def report_retried(retried: list[str], named: list[str], with_dependents: bool) -> None:
    """Say which dependents a retry brought back, or which stay cancelled without
    --with-dependents (a fixed build step does not run its later steps by itself)."""
    from .. import ops

    if with_dependents:
        named_ = set(named)
        for job_id in retried:
            if job_id not in named_:
                click.echo(f"retrying job '{job_id}' (a dependent)")
        return
    left = ops.cancelled_dependents(retried) if retried else []
    if left:
        shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        click.echo(f"still cancelled downstream: {shown} (--with-dependents retries them too)", err=True)


json_option = click.option("json_", "--json", is_flag=True, help="Print one JSON document instead of a table.")


class Seconds(click.ParamType):
    """A duration: seconds, or 30s, 15m, 2h, 7d; finite and not negative ("nan" and "inf" are
    floats to Python and to click's FLOAT, and a wait for them never ends).  Every option that
    takes seconds uses it."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, (int, float)):
            value = str(value)
        from ..errors import InputError
        from ..settings import parse_duration

        try:
            return parse_duration(value)
        except InputError:
            self.fail(
                f"{one_line(value)!r} is not a number of seconds (or 30s, 15m, 2h), finite and from 0 up", param, ctx
            )


SECONDS = Seconds()
