"""The commands that open the dashboard; Textual is imported only when one of them runs."""
from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command()
    @click.pass_context
    def tui(ctx: click.Context) -> None:
        """Open the full-screen dashboard."""
        raise click.ClickException("the dashboard is not built yet")
