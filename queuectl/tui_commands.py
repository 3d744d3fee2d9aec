"""The commands that open the dashboard, `tui`, `demo` and `dashboard start`; Textual is imported
only when one of them runs."""

from __future__ import annotations

import errno
import os
import shlex

import click

LOOPBACK = "127.0.0.1"


def _open(ctx: click.Context):
    from . import store

    location = ctx.find_root().obj
    store.open_store(location)
    return location


def _after(app) -> None:
    """Say what became of the workers this dashboard started."""
    left = app.local_workers.running()
    if left:
        click.echo(
            f"{len(left)} worker(s) started by the dashboard are finishing their current job and will then exit.",
            err=True,
        )


#: the demo job cancelled as soon as it is enqueued (every state shows from the start)
DEMO_CANCELLED = "not-needed"


def demo_jobs(now: float) -> list:
    """A varied set that shows every state within seconds on two slots, and holds none of them
    long: fast, slow with output (one slot for 20 s), colours, failing then retried into the
    DLQ, dead at once, timed out, blocked on the slow one, scheduled, urgent, and one cancelled
    (DEMO_CANCELLED)."""
    from .spec import JobSpec

    slow = 'for i in $(seq 1 40); do echo "step $i of 40: processing batch $i"; sleep 0.5; done'
    colours = "printf '\\033[32mgreen\\033[0m \\033[33myellow\\033[0m \\033[1;31mbold red\\033[0m\\n'; sleep 1"
    jobs = [JobSpec(slow, id="slow-output", timeout=120, priority=50)]  # claimed first: processing
    jobs += [JobSpec(f"echo 'hello from job {i}'", id=f"fast-{i}") for i in range(1, 9)]
    jobs += [
        JobSpec(colours, id="colours"),
        JobSpec("echo 'warming up' >&2; sleep 2; echo 'processed 1,204 rows'", id="etl-nightly"),
        JobSpec("echo 'connecting…'; echo 'error: connection refused' >&2; exit 7", id="failing", max_retries=2),
        JobSpec("python3 -c 'import sys; sys.exit(\"bad input\")'", id="bad-input", max_retries=0),
        JobSpec("echo 'report from the slow batches'", id="after-slow", depends_on=("slow-output",)),
        JobSpec("echo 'runs in two minutes'", id="scheduled", run_at=now + 120),
        JobSpec("echo 'I jumped the queue'", id="urgent", priority=100),
        JobSpec("sleep 3; echo done", id="timeout-demo", timeout=1, max_retries=0),
        JobSpec("echo 'never runs'", id=DEMO_CANCELLED, run_at=now + 60),
    ]
    return jobs


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

    @cli.command()
    @click.option(
        "--workers",
        type=click.IntRange(min=0, max=16),
        default=2,
        show_default=True,
        help="Workers to start inside the dashboard.",
    )
    @click.option(
        "--dir",
        "folder",
        type=click.Path(file_okay=False),
        help="Where to create the demo store (default: a new temporary folder). Never your usual store.",
    )
    def demo(workers: int, folder: str | None) -> None:
        """Fill a fresh demo store with varied jobs and open the dashboard with workers running."""
        import tempfile
        from pathlib import Path

        from . import ops, store
        from .paths import resolve

        base = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="queuectl-demo-"))
        path = base / "demo.db"
        if path.exists():
            raise click.ClickException(f"{path} already exists: the demo wants a fresh store")
        location = resolve(str(path))
        store.open_store(location)
        ops.set_setting("backoff_base", "3")
        ops.enqueue_batch(demo_jobs(store.now()))
        ops.cancel(DEMO_CANCELLED)
        from .tui.app import QueuectlApp

        app = QueuectlApp(location, workers=workers, demo=True)
        app.run()
        _after(app)
        click.echo(f"The demo store stays at {path}: queuectl --db {shlex.quote(str(path))} tui", err=True)

    @cli.group()
    def dashboard() -> None:
        """Serve the dashboard in a web browser (needs textual-serve: pip install '.[web]' in the checkout)."""

    @dashboard.command("start")
    @click.option("--host", default=LOOPBACK, show_default=True, help="Address to bind to.")
    @click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
    @click.option("--readonly", is_flag=True, help="Serve a dashboard whose actions are disabled.")
    @click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        help="Read the token from this file (owner-only) "
        "instead of a new random one per start. [env: QUEUECTL_DASHBOARD_TOKEN]",
    )
    @click.option(
        "--allow-host",
        "allow_hosts",
        metavar="NAME",
        multiple=True,
        help="Also answer requests for this host name (repeatable; e.g. behind a reverse proxy).",
    )
    @click.option(
        "--public-url",
        metavar="URL",
        help="The address browsers use, e.g. https://queue.example.com "
        "behind a reverse proxy (default: the one each browser asked for).",
    )
    @click.pass_context
    def dashboard_start(
        ctx: click.Context,
        host: str,
        port: int,
        readonly: bool,
        token_file: str | None,
        allow_hosts: tuple[str, ...],
        public_url: str | None,
    ) -> None:
        """Serve `queuectl tui` over HTTP; each browser tab gets its own dashboard.

        It prints the URL to open, with a secret token: without that token nothing but the
        static files is served.
        """
        from .errors import InputError

        location = _open(ctx)  # fail now on a bad store, not in every browser tab
        try:
            from .tui import web
        except ModuleNotFoundError as exc:
            if exc.name not in ("textual_serve", "aiohttp"):
                raise
            from .hints import install_extra

            raise click.ClickException(f"the web dashboard needs textual-serve: {install_extra('web')}") from None
        if public_url is not None and web.origin(public_url) is None:
            raise InputError(f"--public-url must be an http:// or https:// URL, not {public_url[:80]!r}")
        token = web.dashboard_token(token_file)
        if not web.is_loopback(host):
            click.echo(
                f"Warning: {host} is not a loopback address. Anyone who can reach port {port} and has the "
                "URL below can run any shell command as this user; keep it secret, and put TLS in front "
                "(a reverse proxy) on a network you do not control.",
                err=True,
            )
        try:
            web.serve_dashboard(
                location,
                host=host,
                port=port,
                token=token,
                readonly=readonly,
                allow_hosts=allow_hosts,
                public_url=public_url,
            )
        except OSError as exc:  # the address given cannot be bound: bad input, like a bad --port
            why = (
                "the port is in use; choose another with --port"
                if exc.errno == errno.EADDRINUSE
                else (os.strerror(exc.errno) if exc.errno else str(exc))
            )
            raise InputError(f"cannot serve on {host}:{port}: {why}") from None
