"""The `queuectl` command line: the root group and the one-line error reporting (the helpers
the command modules share are in queuectl/commands/common.py).

Every command is a new process, so start-up is latency a user feels: this module imports click
alone, and each command's module (queuectl/commands/, the dashboard's in tui_commands) is
imported only when that command runs (click's lazy group pattern), with the store (peewee), rich
and Textual loaded inside the commands that use them.  stdout carries data; notes and errors go
to stderr; every error is one `Error: …` line (exit 2 for bad input, 1 for a failed operation).
"""

from __future__ import annotations

import os
import sys

import click

from .errors import ExitCode, QueuectlError
from .paths import resolve

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
    "usage": "queuectl.commands.usage:usage",
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
    "log": "logs ID",
    "follow": "logs --follow ID",
    "start": "resume ID (or: worker start)",
    "kill": "cancel ID",
    "remove": "cancel ID (waiting) or delete ID (finished)",
    "restart": "retry ID",
    "clean": "prune --older-than 0s",
    "stash": "pause ID",
    "parallel": "worker start --count N",
    "group": "queue list",
    "shutdown": "worker stop",
    "switch": "priority ID N",
}


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
                raise click.UsageError(
                    f"No such command {name!r}; queuectl's is: queuectl {OTHER_TOOLS_WORDS[name]}", ctx
                ) from None
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
            click.echo(f"Error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except QueuectlError as exc:
            click.echo(f"Error: {one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except (BrokenPipeError, KeyboardInterrupt):
            sys.exit(130)
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(
                f"Error: internal error: {type(exc).__name__}: {one_line(exc)} (set {DEBUG_ENV}=1 for details)",
                err=True,
            )
            sys.exit(ExitCode.FAILED)
        sys.exit(code if isinstance(code, int) else 0)


def one_line(message: object) -> str:
    """An error message that stays one line and cannot drive the terminal, whatever the user
    typed into it (click quotes unknown arguments as given)."""
    from .render import clean

    return clean(message)


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
