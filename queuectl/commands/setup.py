"""Setting up: `init`, and the `config` group: `config show`, `config get`, `config set`."""

from __future__ import annotations

import click

from .. import complete
from ..paths import private_dir
from .common import echo_json, json_option, open_named_store


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the store and the logs folder (optional: every command does this on first use)."""
    location = open_named_store(ctx, verify=True)
    private_dir(location.logs_dir, "the logs folder")
    click.echo(f"Store: {location.display}")
    click.echo(f"Logs:  {location.logs_dir}")


@click.group()
def config() -> None:
    """Show and change settings (kept in the store, so every worker sees them)."""


@config.command("show")
@json_option
@click.pass_context
def config_show(ctx: click.Context, json_: bool) -> None:
    """Every setting with its current value."""
    open_named_store(ctx, readonly=True)
    from .. import store
    from ..settings import SETTINGS

    values = store.get_config()
    if json_:
        echo_json(values)
        return
    for key, value in values.items():
        click.echo(f"{key:<20} = {SETTINGS[key].show(value):<12}  # {SETTINGS[key].help}")


@config.command("get")
@click.argument("key", shell_complete=complete.config_keys)
@click.pass_context
def config_get(ctx: click.Context, key: str) -> None:
    """Print one setting's value, as `config set` takes it (for scripts)."""
    from ..settings import setting

    spec = setting(key)  # an unknown key is bad input, before the store is opened
    open_named_store(ctx, readonly=True)
    from .. import store

    click.echo(spec.show(store.get_config()[key]))


@config.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key", shell_complete=complete.config_keys)
@click.argument("value")
@click.pass_context
def config_set(ctx: click.Context, key: str, value: str) -> None:
    """Change one setting: queuectl config set max_retries 5."""
    from ..settings import setting

    setting(key).parse(value)  # refuse bad input before touching the store
    open_named_store(ctx)
    from .. import ops

    stored = ops.set_setting(key, value)
    click.echo(f"{key} = {setting(key).show(stored)}")
