"""`usage`: what runs used over a period, per queue, label or host (in the spirit of sacct)."""

from __future__ import annotations

import click

from .common import echo_json, json_option, open_named_store


@click.command()
@click.option(
    "--by", type=click.Choice(("queue", "label", "host")), default="queue", show_default=True, help="Group runs by."
)
@click.option(
    "--since", metavar="WHEN", default="1d", show_default=True, help="Runs that ended since: 1d, 2h, ISO 8601."
)
@click.option("--until", "until_", metavar="WHEN", help="Runs that ended before this [default: now].")
@json_option
@click.pass_context
def usage(ctx: click.Context, by: str, since: str, until_: str | None, json_: bool) -> None:
    """Runs, failures, CPU hours, wall hours and the largest peak memory of the runs that ended in
    a period, per queue, label or host."""
    import time

    from ..errors import InputError

    t = time.time()
    start = _moment(since, t, ago=True)
    end = t if until_ is None else _moment(until_, t, ago=True)
    if end < start:
        raise InputError("--until is before --since")
    open_named_store(ctx, readonly=True)
    from .. import render, store
    from ..resources import size

    lines = store.usage_summary(by, start, end)
    if json_:
        echo_json(
            {"by": by, "since": store.iso(start), "until": store.iso(end), "groups": [line.as_dict() for line in lines]}
        )
        return
    rows = [
        [
            render.clean(line.key) or "-",
            str(line.runs),
            str(line.failed),
            f"{line.cpu_hours:.4f}",
            f"{line.wall_hours:.4f}",
            size(line.max_rss),
        ]
        for line in lines
    ]
    render.print_table(
        f"Usage by {by}, {render.local_time(start)} to {render.local_time(end)}",
        [by.capitalize(), "Runs", "Failed", "CPU hours", "Wall hours", "Peak memory"],
        rows,
    )


def _moment(text: str, t: float, ago: bool) -> float:
    """1d, 2h, 30m (that long ago), or a time parse_when reads."""
    from ..errors import InputError
    from ..settings import parse_duration
    from ..when import parse_when

    text = text.strip()
    if text and text[0].isdigit() and text[-1:].lower() in "smhdw" and text[:-1].replace(".", "", 1).isdigit():
        return t - parse_duration(text, "--since")
    try:
        moment = parse_when(text, t)
    except InputError:
        raise InputError(f"not a time: {text[:40]!r} (use 1d, 2h, 30m or a date)") from None
    return t if moment is None else moment
