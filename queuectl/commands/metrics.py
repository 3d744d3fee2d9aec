"""`metrics`: totals, success rate, runtimes, throughput; the Prometheus exposition and its
server (`metrics serve`)."""

from __future__ import annotations

import click

from .common import echo_json, json_option, open_named_store

LOOPBACK = "127.0.0.1"
#: the port Prometheus' exporters conventionally take for an application of their own
DEFAULT_PORT = 9464


@click.group(invoke_without_command=True)
@json_option
@click.option(
    "--format",
    "format_",
    type=click.Choice(["table", "json", "prometheus"]),
    default=None,
    help="table (the default), json (as --json), or prometheus: the text exposition format.",
)
@click.pass_context
def metrics(ctx: click.Context, json_: bool, format_: str | None) -> None:
    """Totals per state, success rate, runtimes and recent throughput ('metrics serve' for Prometheus)."""
    if ctx.invoked_subcommand is not None:
        return
    open_named_store(ctx, readonly=True)
    from .. import render, store

    if format_ == "prometheus":
        from ..metrics import exposition

        click.echo(exposition().decode(), nl=False)
        return
    m = store.metrics()
    if json_ or format_ == "json":
        echo_json(m.as_dict())
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


@metrics.command("serve")
@click.option(
    "--host",
    "bind",
    default=LOOPBACK,
    show_default=True,
    metavar="ADDRESS",
    help="The address to listen on (0.0.0.0: every interface).",
)
@click.option("--port", type=click.IntRange(min=0, max=65535), default=DEFAULT_PORT, show_default=True)
@click.pass_context
def metrics_serve(ctx: click.Context, bind: str, port: int) -> None:
    """Serve the fleet's metrics at http://ADDRESS:PORT/metrics for Prometheus (Ctrl+C stops)."""
    open_named_store(ctx, readonly=True, live=True)
    from ..metrics import serve
    from ..render import url_host

    def ready(server) -> None:
        address, bound = server.server_address[:2]
        click.echo(f"Serving metrics at http://{url_host(address)}:{bound}/metrics (Ctrl+C stops)", err=True)

    try:
        serve(bind, port, ready)
    except OSError as exc:
        from ..errors import QueuectlError

        raise QueuectlError(f"cannot listen on {bind}:{port}: {exc.strerror}") from None
