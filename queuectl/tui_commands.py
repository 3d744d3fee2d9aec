"""The commands that open the dashboard; Textual is imported only when one of them runs."""
from __future__ import annotations

import click


def _open(ctx: click.Context):
    from . import store

    location = ctx.find_root().obj
    store.open_store(location)
    return location


def _after(app) -> None:
    """Say what became of the workers this dashboard started."""
    left = app.pool.running()
    if left:
        click.echo(
            f"{len(left)} worker(s) started by the dashboard are finishing their current job and will then exit.",
            err=True,
        )


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--readonly", is_flag=True, help="Look only: every action is disabled (safe on a shared screen).")
    @click.pass_context
    def tui(ctx: click.Context, readonly: bool) -> None:
        """Open the full-screen dashboard (q quits, ? lists the keys)."""
        location = _open(ctx)
        from .tui.app import QueuectlApp  # keeps the other commands free of Textual

        app = QueuectlApp(location, readonly=readonly)
        app.run()
        _after(app)
