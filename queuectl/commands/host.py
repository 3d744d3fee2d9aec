"""`host list`: the machines running workers (stopping one is `worker stop --host`)."""

from __future__ import annotations

import click

from .common import echo_json, json_option, open_named_store


@click.group()
def host() -> None:
    """The machines running workers: see them, stop one ('worker stop --host')."""


@host.command("list")
@json_option
@click.pass_context
def host_list(ctx: click.Context, json_: bool) -> None:
    """Every host: workers, slots busy/total, jobs running, last heartbeat, queuectl version;
    a host whose workers went silent shows as lost, with since when."""
    open_named_store(ctx, readonly=True)
    from .. import render, store

    hosts = store.list_hosts()
    offered = store.resources_of_hosts([h.name for h in hosts])
    if json_:
        echo_json([dict(h.as_dict(), resources=offered.get(h.name)) for h in hosts])
        return
    rows = [
        [
            h.name,
            h.state if h.since is None else f"{h.state} since {render.local_time(h.since)}",
            str(h.workers),
            f"{h.busy}/{h.slots}",
            str(h.running),
            render.local_time(h.heartbeat_at),
            h.version or "",
            render.free_of_total(offered.get(h.name)),
        ]
        for h in hosts
    ]
    styles = [None if h.state == "up" else ("red" if h.state == "lost" else "dim") for h in hosts]
    render.print_table(
        f"Hosts ({len(hosts)})",
        ["Host", "State", "Workers", "Slots", "Running", "Heartbeat", "Version", "Free/total"],
        rows,
        styles,
    )
