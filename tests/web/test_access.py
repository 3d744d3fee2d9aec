"""Who gets in, tried with a raw HTTP and WebSocket client (aiohttp): the token, its cookie, the
Origin of the WebSocket handshake and the Host of every request."""

from __future__ import annotations

import os
import stat

import pytest

from .conftest import Dashboard, app_output, cookie_of, http_get, store_cli


async def test_without_the_token_there_is_no_page_and_no_websocket(dashboard):
    status, text, _ = await http_get(f"{dashboard.base}/")
    assert status == 401 and "open the URL that 'queuectl dashboard start' printed" in text
    assert text.count("\n") == 1 and "<" not in text  # one line, not the app
    assert (await http_get(f"{dashboard.base}/download/anything"))[0] == 401
    assert await app_output(f"{dashboard.base}/ws", Origin=dashboard.base) == 401
    status, text, _ = await http_get(f"{dashboard.base}/static/js/textual.js")
    assert status == 200  # static files are the same for everyone and hold no secret


async def test_a_wrong_token_is_refused(dashboard):
    assert (await http_get(f"{dashboard.base}/?token={dashboard.token[:-1]}x"))[0] == 403
    assert (await http_get(f"{dashboard.base}/?token="))[0] == 403
    assert await app_output(f"{dashboard.base}/ws?token=nope", Origin=dashboard.base) == 403


async def test_the_token_buys_an_httponly_strict_cookie_and_leaves_the_address_bar(dashboard):
    status, text, response = await http_get(dashboard.url + "&fontsize=18")
    assert status == 200 and 'http-equiv="refresh" content="0; url=/?fontsize=18"' in text
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and dashboard.token not in cookie
    assert response.headers["Referrer-Policy"] == "no-referrer"
    status, page, _ = await http_get(f"{dashboard.base}/", await cookie_of(dashboard))
    assert status == 200 and f'data-session-websocket-url="ws://{dashboard.host}/ws"' in page


async def test_the_cookie_opens_the_app_from_its_own_origin_only(dashboard):
    cookies = await cookie_of(dashboard)
    assert b"hello-web" in await app_output(f"{dashboard.base}/ws", cookies, Origin=dashboard.base)
    # the operator's browser sends the cookie only to same-site requests; a raw client can send it
    # with any Origin, which is what a hijacking page would need to get through
    for foreign in ("https://evil.example", "null", f"http://localhost:{dashboard.port + 1}"):
        assert await app_output(f"{dashboard.base}/ws", cookies, Origin=foreign) == 403
    assert await app_output(f"{dashboard.base}/ws", cookies) == 403  # no Origin at all
    assert await app_output(f"{dashboard.base}/ws?token={dashboard.token}", Origin="https://evil.example") == 403


async def test_a_foreign_host_is_refused_even_with_the_token(dashboard):
    """DNS rebinding: a name the attacker controls, pointed at 127.0.0.1, reaches the port."""
    cookies = await cookie_of(dashboard)
    for host in (f"evil.example:{dashboard.port}", "127.0.0.1.evil.example", "10.0.0.1", "[::2]"):
        assert (await http_get(dashboard.url, Host=host))[0] == 403
        assert (await http_get(f"{dashboard.base}/", cookies, Host=host))[0] == 403
    for host in (f"localhost:{dashboard.port}", f"dash.test:{dashboard.port}", f"[::1]:{dashboard.port}"):
        assert (await http_get(dashboard.url, Host=host))[0] == 200, host  # dash.test: --allow-host


async def test_the_dashboard_process_prints_no_banner_but_its_url(dashboard):
    out = dashboard.stderr.decode()
    assert out.count("token=") == 1 and "Serving" in out and "Warning" not in out
    assert dashboard.url.startswith(f"http://127.0.0.1:{dashboard.port}/?token=")
    assert len(dashboard.token) >= 22  # 128 bits or more in URL-safe base64


async def test_bound_to_every_interface_it_still_needs_the_token(web_store):
    server = Dashboard("--host", "0.0.0.0", env={"QUEUECTL_DB": str(web_store)})
    try:
        assert "can run any shell command as this user" in server.stderr.decode()
        other = f"http://127.0.0.2:{server.port}"  # another address of this machine
        assert (await http_get(f"{other}/"))[0] == 401
        assert await app_output(f"{other}/ws", Origin=other) == 401
        status, page, response = await http_get(f"{other}/?token={server.token}")
        assert status == 200
        morsel = response.cookies[f"queuectl-dashboard-{server.port}"]
        status, page, _ = await http_get(f"{other}/", {morsel.key: morsel.value})
        # the page names the address the browser used, never 0.0.0.0
        assert f"ws://127.0.0.2:{server.port}/ws" in page and "0.0.0.0" not in page
        assert (await http_get(f"{other}/?token={server.token}", Host="rebound.example"))[0] == 403
    finally:
        server.stop()


async def test_a_public_url_names_the_pages_addresses(web_store):
    server = Dashboard("--public-url", "https://queue.example.com", env={"QUEUECTL_DB": str(web_store)})
    try:
        assert server.url == f"https://queue.example.com/?token={server.token}"
        headers = {"Host": "queue.example.com"}  # as the reverse proxy passes it on
        _, _, response = await http_get(f"{server.base}/?token={server.token}", **headers)
        assert "Secure" in response.headers["Set-Cookie"]
        morsel = response.cookies["__Host-queuectl-dashboard"]  # (the prefix: this origin only)
        assert morsel["path"] == "/" and not morsel["domain"]
        _, page, _ = await http_get(f"{server.base}/", {morsel.key: morsel.value}, **headers)
        assert 'data-session-websocket-url="wss://queue.example.com/ws"' in page
    finally:
        server.stop()


def test_a_token_file_or_variable_fixes_the_token(web_store, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("correct-horse-battery-staple\n")
    token_file.chmod(0o600)
    server = Dashboard("--token-file", str(token_file), env={"QUEUECTL_DB": str(web_store)})
    server.stop()
    assert server.token == "correct-horse-battery-staple"
    server = Dashboard(env={"QUEUECTL_DB": str(web_store), "QUEUECTL_DASHBOARD_TOKEN": "from-the-environment"})
    server.stop()
    assert server.token == "from-the-environment"


@pytest.mark.parametrize(
    "content, mode, message",
    [
        ("short", 0o600, "at least 16 characters"),
        ("long-enough-but-shared", 0o644, "other users can read it"),
    ],
)
def test_a_weak_or_shared_token_file_is_refused(web_store, tmp_path, content, mode, message):
    token_file = tmp_path / "token"
    token_file.write_text(content)
    os.chmod(token_file, mode)
    result = store_cli(web_store, "dashboard", "start", "--token-file", str(token_file))
    assert result.returncode == 2 and result.stderr.startswith("Error: ") and message in result.stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == mode


def test_a_port_in_use_is_a_one_line_error(web_store):
    """Another program holds the port: exit 2 with the address and what to do, no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = store_cli(web_store, "dashboard", "start", "--port", str(port))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot serve on 127.0.0.1:{port}: the port is in use; choose another with --port"
    ]


async def test_each_sign_in_gets_its_own_cookie_and_none_outlives_the_server(web_store):
    """Cookies ignore ports, so whatever else listens on this host receives the dashboard's
    cookie: it used to be one value for every browser, good until the server stopped.  Now each
    sign-in has its own random value, kept by the server; a restart (same token) voids them."""
    env = {"QUEUECTL_DB": str(web_store), "QUEUECTL_DASHBOARD_TOKEN": "a-token-kept-across-restarts"}
    server = Dashboard(env=env)
    try:
        first, second = await cookie_of(server), await cookie_of(server)
        assert first != second
        for cookies in (first, second):
            assert (await http_get(f"{server.base}/", cookies))[0] == 200
        name = next(iter(first))
        assert (await http_get(f"{server.base}/", {name: first[name][:-2] + "xx"}))[0] == 401
        assert (await http_get(f"{server.base}/", {name: ""}))[0] == 401
    finally:
        server.stop()
    again = Dashboard(env=env)
    try:
        stale = {f"queuectl-dashboard-{again.port}": first[name]}  # (as named for the new port)
        assert (await http_get(f"{again.base}/", stale))[0] == 401
        assert await app_output(f"{again.base}/ws", stale, Origin=again.base) == 401
        assert (await http_get(f"{again.base}/", await cookie_of(again)))[0] == 200
    finally:
        again.stop()


async def test_bound_to_an_ipv6_address_the_printed_url_brackets_it(web_store):
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    server = Dashboard("--host", "::1", env={"QUEUECTL_DB": str(web_store)})
    try:
        assert server.url.startswith(f"http://[::1]:{server.port}/?token="), server.url
        assert (await http_get(server.url))[0] == 200
    finally:
        server.stop()
