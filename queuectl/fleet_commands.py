"""The commands that operate a fleet: `host list` and `metrics serve` (the rest of `metrics`
and `worker stop --host` live with their groups in cli.py).  Only click at import time."""
from __future__ import annotations

import click

LOOPBACK = "127.0.0.1"
#: the port Prometheus' exporters conventionally take for an application of their own
DEFAULT_PORT = 9464


def _open(ctx: click.Context) -> None:
    from .cli import _open as open_store

    open_store(ctx, readonly=True)


def register(cli: click.Group, metrics: click.Group) -> None:
    from .cli import _echo_json, json_option

    @cli.group()
    def host() -> None:
        """The machines running workers: see them, stop one ('worker stop --host')."""

    @host.command("list")
    @json_option
    @click.pass_context
    def host_list(ctx: click.Context, json_: bool) -> None:
        """Every host: workers, slots busy/total, jobs running, last heartbeat, queuectl version;
        a host whose workers went silent shows as lost, with since when."""
        _open(ctx)
        from . import render, store

        hosts = store.list_hosts()
        if json_:
            _echo_json([h.as_dict() for h in hosts])
            return
        rows = [[h.name, h.state if h.since is None else f"{h.state} since {render.local_time(h.since)}",
                 str(h.workers), f"{h.busy}/{h.slots}", str(h.running), render.local_time(h.heartbeat_at),
                 h.version or ""] for h in hosts]  # fmt: skip
        styles = [None if h.state == "up" else ("red" if h.state == "lost" else "dim") for h in hosts]
        render.print_table(f"Hosts ({len(hosts)})", ["Host", "State", "Workers", "Slots", "Running", "Heartbeat",
                                                     "Version"], rows, styles)  # fmt: skip

    @metrics.command("serve")
    @click.option("--host", "bind", default=LOOPBACK, show_default=True, metavar="ADDRESS",
                  help="The address to listen on (0.0.0.0: every interface).")
    @click.option("--port", type=click.IntRange(min=0, max=65535), default=DEFAULT_PORT, show_default=True)
    @click.pass_context
    def metrics_serve(ctx: click.Context, bind: str, port: int) -> None:
        """Serve the fleet's metrics at http://ADDRESS:PORT/metrics for Prometheus (Ctrl+C stops)."""
        _open(ctx)
        from .metrics import serve

        def ready(server) -> None:
            address, bound = server.server_address[:2]
            click.echo(f"Serving metrics at http://{address}:{bound}/metrics (Ctrl+C stops)", err=True)

        try:
            serve(bind, port, ready)
        except OSError as exc:
            from .errors import QueuectlError

            raise QueuectlError(f"cannot listen on {bind}:{port}: {exc.strerror}") from None
