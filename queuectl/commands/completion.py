"""`completion`: the shell script that makes tab complete queuectl's commands, options and
values (click's own machinery; the values come from queuectl.complete)."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash: eval "$(queuectl completion bash)"     (in ~/.bashrc)
    zsh:  eval "$(queuectl completion zsh)"      (in ~/.zshrc)
    fish: queuectl completion fish > ~/.config/fish/completions/queuectl.fish
    """
    from click.shell_completion import get_completion_class

    script = get_completion_class(shell)(ctx.find_root().command, {}, "queuectl", "_QUEUECTL_COMPLETE").source()
    click.echo(script)
