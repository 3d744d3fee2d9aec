"""`queuectl dashboard start`: the dashboard in a browser, through textual-serve, behind a door
(installed as queuectl.tui.web, beside the app it serves: the engine never imports textual-serve).

textual-serve gives every WebSocket that reaches its port a dashboard, and a dashboard runs
shell commands as this user; so anyone who reaches the port, including any web page open in the
operator's browser, could run commands.  This server keeps textual-serve's app and routes and
adds, in one aiohttp middleware:

- a secret token per start, as Jupyter does: `/?token=…` (compared in constant time) is traded for
  an HttpOnly SameSite=Strict cookie of that browser's own (random, kept here, void once the
  server stops) and a redirect that takes the token out of the address bar; `/`, `/ws` and
  `/download/…` need that cookie (or the token) and `/static` alone is open;
- the WebSocket handshake only from the dashboard's own origin (cross-site WebSocket hijacking);
- only requests whose Host is the bound address, localhost, an IP address when bound to every
  interface, or a name given with --allow-host (DNS rebinding).

The page's WebSocket and static URLs come from the request's own Host (or --public-url), so a
dashboard bound to 0.0.0.0 works from a browser that reached it by the machine's address.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import html
import ipaddress
import os
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from aiohttp import web
from textual_serve.server import Server

from queuectl.execution.childproc import python_module, store_env
from queuectl.paths import Location, open_private
from queuectl.render import url_host

TOKEN_ENV = "QUEUECTL_DASHBOARD_TOKEN"
#: the shortest token a user may choose (a generated one is 43 characters, 256 bits)
MIN_TOKEN_LENGTH = 16
WILDCARDS = ("0.0.0.0", "::", "")

NO_TOKEN = "This queuectl dashboard needs its token: open the URL that 'queuectl dashboard start' printed.\n"
WRONG_TOKEN = "Wrong token: open the URL that 'queuectl dashboard start' printed.\n"

#: the origin (scheme://host[:port]) the page being served was asked for; set per request
_request_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_origin", default=None)


def origin(url: str) -> str | None:
    """scheme://host[:port] of a URL, lower case, default port left out; None if it is not one."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class HostCheck:
    """Which names in a request's Host header reach this dashboard."""

    def __init__(self, bound: str, allowed: Iterable[str] = ()):
        self.names = {"localhost", *(name.lower().rstrip(".") for name in allowed)}
        self.any_address = bound in WILDCARDS
        self.addresses = (
            {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")} if is_loopback(bound) else set()
        )
        try:
            self.addresses.add(ipaddress.ip_address(bound))
        except ValueError:
            self.names.add(bound.lower())  # bound by name

    def allows(self, hostname: str) -> bool:
        try:
            address = ipaddress.ip_address(hostname)
        except ValueError:
            return hostname.rstrip(".") in self.names
        # a DNS name can be rebound to this machine; an address typed into a browser cannot
        return self.any_address or address in self.addresses


class DashboardServer(Server):
    """textual-serve's Server, whose every app route needs the token or its cookie."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str,
        allow_hosts: Iterable[str] = (),
        public_url: str | None = None,
    ):
        self.fixed_public_url = public_url.rstrip("/") if public_url else None
        super().__init__(command, host=host, port=port, title="queuectl", public_url=self.fixed_public_url)
        self.token = token
        self.hosts = HostCheck(host, [*allow_hosts, *([urlsplit(public_url).hostname or ""] if public_url else [])])
        # A browser sends a host's cookies to every port of that host, whatever their name, so
        # the cookie's value is worth nothing elsewhere: a new random one per sign-in, known
        # here only by its hash and forgotten when the server stops.  Behind https, the name
        # has the __Host- prefix (the browser then keeps it to this origin, Secure, path /, no
        # Domain); over http it cannot (the prefix needs Secure), so it names the port, so that
        # two dashboards of one host do not overwrite each other's cookie.
        self.secure = (self.fixed_public_url or "").startswith("https:")
        self.cookie_name = "__Host-queuectl-dashboard" if self.secure else f"queuectl-dashboard-{port}"
        self.sessions: set[bytes] = set()

    # textual-serve reads self.public_url to build the page's WebSocket and static URLs
    @property
    def public_url(self) -> str:
        return self.fixed_public_url or _request_origin.get() or self._bound_url

    @public_url.setter
    def public_url(self, value: str) -> None:
        self._bound_url = value

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        app.on_response_prepare.append(_security_headers)
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's page, with PAGE_SCRIPT first in its head."""
        response = await super().handle_index(request)
        if isinstance(response, web.Response) and response.text:
            response.text = response.text.replace("<head>", "<head>\n" + PAGE_SCRIPT, 1)
        return response

    async def on_startup(self, app: web.Application) -> None:
        """(textual-serve prints a banner here: the dashboard is announced once its port is bound.)"""

    def serve(self, debug: bool = False, announce=lambda: None) -> None:
        """textual-serve's serve(), without the access log (it would print the token) and with
        `announce` called once the port is bound."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            access_log=None,
            shutdown_timeout=2,
            print=lambda *_: announce(),
        )

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        own = origin(f"http://{request.host}")
        if own is None or not self.hosts.allows(urlsplit(own).hostname or ""):
            return _refuse(403, "This address is not one of this dashboard's host names (see --allow-host).\n")
        if request.path.startswith("/static/"):
            return await handler(request)
        token = request.query.get("token")
        if token is not None:
            if not hmac.compare_digest(token.encode(), self.token.encode()):
                return _refuse(403, WRONG_TOKEN)
            if request.path == "/":
                return self._signed_in(request)
        elif _digest(request.cookies.get(self.cookie_name, "")) not in self.sessions:
            return _refuse(401, NO_TOKEN)
        if request.path == "/ws" and origin(request.headers.get("Origin", "")) not in self._own_origins(own):
            return _refuse(403, "The dashboard's WebSocket opens only from the dashboard's own page.\n")
        _request_origin.set(own)
        return await handler(request)

    def _own_origins(self, own: str) -> set[str | None]:
        """The page's origin: as the browser asked for it (http, or https through a proxy), or
        the public URL's."""
        return {own, "https" + own.removeprefix("http"), origin(self.fixed_public_url or "")} - {None}

    def _signed_in(self, request: web.Request) -> web.Response:
        """The cookie, and a redirect by the page itself: an HTTP redirect would stay part of the
        navigation that brought the token, and when that began on another site (a link in a web
        mail or a chat) the browser would not send a SameSite=Strict cookie to where it leads."""
        target = html.escape(str(request.rel_url.without_query_params("token")))
        response = web.Response(
            text=f'<!DOCTYPE html><meta http-equiv="refresh" content="0; url={target}">\n', content_type="text/html"
        )
        session = secrets.token_urlsafe(32)
        self.sessions.add(_digest(session))
        response.set_cookie(self.cookie_name, session, path="/", httponly=True, samesite="Strict", secure=self.secure)
        return response


#: what the page adds to textual-serve's (issue 25):
#: - the terminal takes the keyboard as soon as it exists: keys typed right after sign-in reach
#:   the dashboard (the focus stayed on BODY until a click);
#: - closing the tab (or leaving the page) asks first while workers started in this tab run: they
#:   stop with it (each finishes its job).  The tab's dashboard says how many run as an OSC 777
#:   sequence in its output (`ESC ] 777 ; queuectl ; workers=N BEL`, which the terminal ignores),
#:   read here from the WebSocket before the terminal gets it.
PAGE_SCRIPT = """<script>
(function () {
  var workers = 0;
  var said = /\\x1b\\]777;queuectl;workers=(\\d+)\\x07/g;
  function read(text) {
    var found;
    said.lastIndex = 0;
    while ((found = said.exec(text)) !== null) workers = parseInt(found[1], 10);
  }
  var Native = window.WebSocket;
  function Watched(url, protocols) {
    var socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    socket.addEventListener("message", function (event) {
      if (typeof event.data === "string") read(event.data);
      else if (event.data instanceof ArrayBuffer) read(new TextDecoder().decode(event.data));
      else if (event.data && event.data.text) event.data.text().then(read);
    });
    return socket;
  }
  Watched.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Watched[k] = Native[k]; });
  window.WebSocket = Watched;
  window.addEventListener("beforeunload", function (event) {
    if (workers > 0) {
      event.preventDefault();
      event.returnValue = "Workers started in this tab stop when it closes.";
      return event.returnValue;
    }
  });
  function focusTerminal() {
    var area = document.querySelector("#terminal textarea");
    if (area && document.activeElement !== area) area.focus();
    return !!area && document.activeElement === area;
  }
  var tries = 0;
  var timer = setInterval(function () {
    if (focusTerminal() || ++tries > 300) clearInterval(timer);
  }, 50);
  window.addEventListener("focus", focusTerminal);
})();
</script>
"""


def _digest(session: str) -> bytes:
    """What the server keeps of a session cookie: looking a hash up in a set tells a timing
    attacker nothing about the values that are valid."""
    return hashlib.sha256(session.encode()).digest()


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:  # the short IPv4 forms the socket layer reads, e.g. 127.1 (= 127.0.0.1)
        return ipaddress.ip_address(socket.inet_aton(host)).is_loopback
    except OSError:
        return False


def dashboard_token(token_file: str | None) -> str:
    """The token: from --token-file, else QUEUECTL_DASHBOARD_TOKEN, else a new random one."""
    from queuectl.errors import InputError, StoreUnusable

    if token_file is None and not os.environ.get(TOKEN_ENV):
        return secrets.token_urlsafe(32)
    if token_file is None:
        token, source = os.environ[TOKEN_ENV].strip(), TOKEN_ENV
    else:
        source = f"--token-file {token_file}"
        try:
            with open(open_private(token_file, "--token-file", secret=True), encoding="utf-8") as f:
                token = f.read().strip()
        except StoreUnusable as exc:
            raise InputError(str(exc)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{source}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise InputError(f"{source}: a token needs at least {MIN_TOKEN_LENGTH} characters")
    return token


def sign_in_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/?token={quote(token, safe='')}"


def serve_dashboard(
    location: Location,
    *,
    host: str,
    port: int,
    token: str,
    readonly: bool,
    allow_hosts: Iterable[str] = (),
    public_url: str | None = None,
) -> None:
    """Serve `queuectl tui` to browsers until Ctrl+C; each browser tab gets its own dashboard
    process, which finds the store in its environment (never on a command line)."""
    os.environ.update(store_env(location))  # textual-serve gives each app process this environment
    os.environ.pop(TOKEN_ENV, None)  # the dashboards and their jobs have no use for it
    command = shlex.join(python_module("queuectl", "tui", *(["--readonly"] * readonly)))
    server = DashboardServer(command, host=host, port=port, token=token, allow_hosts=allow_hosts, public_url=public_url)
    local = f"http://{'127.0.0.1' if host in WILDCARDS else url_host(host)}:{port}"

    def announce() -> None:
        mode = " (read-only)" if readonly else ""
        lines = [
            f"Serving {location.display}{mode} on {host}:{port} (Ctrl+C stops). Open this URL:",
            f"    {sign_in_url(public_url or local, token)}",
        ]
        if host in WILDCARDS and not public_url:
            lines.append("(from another machine: this machine's address in place of 127.0.0.1)")
        print("\n".join(lines), file=sys.stderr, flush=True)

    server.serve(announce=announce)
