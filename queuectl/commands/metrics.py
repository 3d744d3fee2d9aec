"""`metrics`: totals, success rate, runtimes, throughput; with the fleet's commands (`metrics
serve`, `host list`), which fleet_commands adds to this group and to the root."""
from __future__ import annotations

import click

from ..cli import _open, _echo_json, json_option


@click.group(invoke_without_command=True)
@json_option
@click.option("--format", "format_", type=click.Choice(["table", "json", "prometheus"]), default=None,
              help="table (the default), json (as --json), or prometheus: the text exposition format.")
@click.pass_context
def metrics(ctx: click.Context, json_: bool, format_: str | None) -> None:
    """Totals per state, success rate, runtimes and recent throughput ('metrics serve' for Prometheus)."""
    if ctx.invoked_subcommand is not None:
        return
    _open(ctx, readonly=True)
    from .. import render, store

    if format_ == "prometheus":
        from ..metrics import exposition

        click.echo(exposition().decode(), nl=False)
        return
    m = store.metrics()
    if json_ or format_ == "json":
        _echo_json(m.as_dict())
        return
    rate = "" if m.success_rate is None else f"{m.success_rate * 100:.1f}%"
    rows = [["Total jobs", str(m.total)]]
    rows += [[state.capitalize(), str(n)] for state, n in m.jobs.items()]
    rows += [
        ["Success rate", rate],
        ["Avg runtime", render.duration(m.avg_runtime_s)],
        ["P95 runtime", render.duration(m.p95_runtime_s)],
        ["Completed (last min)", str(m.completed_last_minute)],
        ["Active workers", str(m.workers)],
    ]
    render.print_table("Metrics", ["Metric", "Value"], rows)


def register_fleet(cli: click.Group) -> None:
    """The root group asked for `metrics` or `host`: both, as fleet_commands defines them."""
    from ..fleet_commands import register

    cli.add_command(metrics)
    register(cli, metrics)
