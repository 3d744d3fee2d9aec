"""The `queuectl` command line: the root group, the one-line error reporting, and the helpers
the command modules share.

Every command is a new process, so start-up is latency a user feels: this module imports click
alone, and each command's module (queuectl/commands/, the dashboard's in tui_commands) is
imported only when that command runs (click's lazy group pattern), with the store (peewee), rich
and Textual loaded inside the commands that use them.  stdout carries data; notes and errors go
to stderr; every error is one `Error: …` line (exit 2 for bad input, 1 for a failed operation).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .errors import ExitCode, QueuectlError
from .paths import Location, resolve
from .states import JobState

STATES = [state.value for state in JobState]
DEBUG_ENV = "QUEUECTL_DEBUG"


#: command name -> "module:attribute" of its click command, imported on first use
COMMANDS = {
    "init": "queuectl.commands.setup:init",
    "config": "queuectl.commands.setup:config",
    "enqueue": "queuectl.commands.enqueue:enqueue",
    "add": "queuectl.commands.add:add",
    "list": "queuectl.commands.view:list_jobs",
    "status": "queuectl.commands.view:status",
    "show": "queuectl.commands.view:show",
    "logs": "queuectl.commands.view:logs",
    "wait": "queuectl.commands.view:wait",
    "metrics": "queuectl.commands.metrics:metrics",
    "cancel": "queuectl.commands.change:cancel",
    "retry": "queuectl.commands.change:retry",
    "edit": "queuectl.commands.change:edit",
    "pause": "queuectl.commands.change:pause",
    "resume": "queuectl.commands.change:resume",
    "priority": "queuectl.commands.change:priority",
    "delete": "queuectl.commands.change:delete",
    "worker": "queuectl.commands.worker:worker",
    "host": "queuectl.commands.host:host",
    "queue": "queuectl.commands.queue:queue",
    "schedule": "queuectl.commands.schedule:schedule",
    "dlq": "queuectl.commands.dlq:dlq",
    "prune": "queuectl.commands.dlq:prune",
    "completion": "queuectl.commands.completion:completion",
    "tui": "queuectl.tui_commands:register",  # register(group) adds tui, demo and dashboard
    "demo": "queuectl.tui_commands:register",
    "dashboard": "queuectl.tui_commands:register",
}


#: commands of pueue and task-spooler that queuectl calls otherwise: an unknown command says
#: which of ours does it (README: Coming from pueue or task-spooler)
OTHER_TOOLS_WORDS = {
    "log": "logs ID", "follow": "logs --follow ID", "start": "resume ID (or: worker start)",
    "kill": "cancel ID", "remove": "cancel ID (waiting) or delete ID (finished)", "restart": "retry ID",
    "clean": "prune --older-than 0s", "stash": "pause ID", "parallel": "worker start --count N",
    "group": "queue list", "shutdown": "worker stop", "switch": "priority ID N",
}  # fmt: skip


class QueuectlGroup(click.Group):
    """Loads each command's module when it is first asked for (COMMANDS), and reports every
    error as one line, including click's own usage errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            import importlib

            module, attribute = COMMANDS[name].split(":")
            target = getattr(importlib.import_module(module), attribute)
            if isinstance(target, click.Command):
                self.add_command(target, name)
            else:
                target(self)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            name = exc.command_name
            if name in OTHER_TOOLS_WORDS:
                raise click.UsageError(f"No such command {name!r}; queuectl's is: queuectl {OTHER_TOOLS_WORDS[name]}",
                                       ctx) from None  # fmt: skip
            # click suggests among the commands loaded so far: here, among all of them
            raise click.exceptions.NoSuchCommand(name, possibilities=self.list_commands(ctx), ctx=ctx) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(ExitCode.USAGE)
        except click.ClickException as exc:
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except QueuectlError as exc:
            click.echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except (BrokenPipeError, KeyboardInterrupt):
            sys.exit(130)
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(f"Error: internal error: {type(exc).__name__}: {_one_line(exc)} (set {DEBUG_ENV}=1 for details)",
                       err=True)  # fmt: skip
            sys.exit(ExitCode.FAILED)
        sys.exit(code if isinstance(code, int) else 0)


def _one_line(message: object) -> str:
    """An error message that stays one line and cannot drive the terminal, whatever the user
    typed into it (click quotes unknown arguments as given)."""
    from .render import clean

    return clean(message)


def _open(ctx: click.Context, readonly: bool = False, verify: bool = False, live: bool = False) -> Location:
    """Open the store named by --db / QUEUECTL_DB / the default, creating it on first use
    unless the command only reads (see store.open_store).  A command that reads once answers
    as an empty store does where there is none yet; a `live` reader (one that keeps serving)
    needs the store itself, since an empty stand-in would never show the jobs that come."""
    location: Location = ctx.find_root().obj
    from . import store

    store.open_store(location, readonly=readonly, verify=verify, empty_if_missing=readonly and not live)
    return location


#: characters JSON leaves raw that a terminal may obey (DEL, C1 controls such as CSI) or that
#: break lines; they only ever occur inside strings, where \\uXXXX is the same text
_UNSAFE_IN_JSON = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


def _echo_json(data) -> None:
    """JSON, with the characters a terminal may obey and the format characters that reorder or
    hide text (render.FORMAT_CHARACTERS) written as escapes: the same JSON, shown as it is."""
    from .render import FORMAT_CHARACTERS

    unsafe = _UNSAFE_IN_JSON | {c: json.dumps(chr(c))[1:-1] for first, last in FORMAT_CHARACTERS
                                for c in range(first, last + 1)}  # fmt: skip
    click.echo(json.dumps(data, indent=2, ensure_ascii=False).translate(unsafe))


#: the most rows a listing returns (SQLite's LIMIT is a 64-bit integer)
MAX_LIMIT = 1_000_000_000


def _job_id(value: str) -> str:
    """A job id typed by the user: one that can never exist is bad input (exit 2), not 'not found'."""
    from .spec import validate_job_ref

    return validate_job_ref(value)


def _name_command(group: click.Group, verb: str, doc: str, act, done: str) -> None:
    """A `GROUP VERB NAME` command that calls one store function and says what it did."""

    from .complete import names_of

    @group.command(verb, help=doc)
    @click.argument("name", shell_complete=names_of(group.name))
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        from .spec import validate_queue_name

        validate_queue_name(name, group.name)  # a name that can never exist is bad input, not "not found"
        _open(ctx)
        from . import ops

        act(ops, name)
        click.echo(done.format(name=name))


with_dependents_option = click.option(
    "--with-dependents", is_flag=True,
    help="Also retry the cancelled jobs downstream (transitively); they wait for their dependencies again.")


def _retried(retried: list[str], named: list[str], with_dependents: bool) -> None:
    """Say which dependents a retry brought back, or which stay cancelled without
    --with-dependents (a fixed build step does not run its later steps by itself)."""
    from . import ops

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
        from .errors import InputError
        from .settings import parse_duration

        try:
            return parse_duration(value)
        except InputError:
            self.fail(f"{_one_line(value)!r} is not a number of seconds (or 30s, 15m, 2h), finite and from 0 up",
                      param, ctx)  # fmt: skip


SECONDS = Seconds()


@click.group(cls=QueuectlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="PATH_OR_URL",
    help="The store: a SQLite file path, a sqlite:///PATH URL, or a PostgreSQL URL "
    "(postgresql://USER@HOST[:PORT]/DB) for workers on several machines. [env: QUEUECTL_DB]",
)
@click.version_option(package_name="queuectl", message="queuectl %(version)s")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """queuectl: a durable background job queue for shell commands."""
    ctx.obj = resolve(db)


def main() -> None:
    cli(prog_name="queuectl")

