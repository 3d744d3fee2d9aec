"""`metrics`: totals, success rate, runtimes, throughput."""
from __future__ import annotations

import click

from ..cli import _open, _echo_json, json_option


@click.command()
@json_option
@click.pass_context
def metrics(ctx: click.Context, json_: bool) -> None:
    """Totals per state, success rate, runtimes and recent throughput."""
    _open(ctx, readonly=True)
    from .. import render, store

    m = store.metrics()
    if json_:
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
