"""TLS served directly (`serve --certfile --keyfile`) and wss:// behind HTTPS.

A self-signed certificate for 127.0.0.1 is made in the test with `cryptography`. The console is
opened over https in a real headless Chromium (told to accept that certificate) and must open
its websocket with wss:// and receive its snapshot (`jijiu serve --certfile --keyfile` itself:
tests/dispatch/http/test_serve_banner.py). A page reached through a trusted proxy over
HTTPS (`X-Forwarded-Proto: https`) is told wss://, and `public_ws_url` overrides it all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, expect, sync_playwright

from dispatch.http.app import create_app
from dispatch.settings import Settings
from tests.support.browser import CHROMIUM
from tests.support.pages import WAIT_MS
from tests.support.server import Running, start
from tests.support.services import require_service
from tests.support.tls import self_signed


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert, key) PEM files."""
    return self_signed(tmp_path)


@pytest.fixture
def tls_live(settings: Settings, certificate: tuple[Path, Path]) -> Iterator[Running]:
    """The small test server with TLS on both the API (uvicorn) and the websockets."""
    cert, key = certificate
    tls = replace(settings, certfile=str(cert), keyfile=str(key))
    config = uvicorn.Config(
        create_app(tls),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    tokens = json.loads(tls.tokens_file.read_text())
    running = Running(server, thread, port, tokens, config.app.state.ws_port)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tls_browser() -> Iterator[Browser]:
    """A headless system Chromium that accepts the test's self-signed certificate."""
    require_service("chromium", CHROMIUM is not None)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--ignore-certificate-errors"]
        )
        yield chromium
        chromium.close()


def test_the_console_over_https_connects_with_wss(tls_live: Running, tls_browser: Browser) -> None:
    """https://127.0.0.1:<port>/console opens wss://127.0.0.1:<ws port>/ws/console and its
    first frame is the snapshot; the page says connected."""
    base = f"https://127.0.0.1:{tls_live.port}"
    context = tls_browser.new_context(ignore_https_errors=True)
    sockets: list[str] = []
    frames: list[str] = []

    def opened(ws: object) -> None:
        sockets.append(ws.url)  # type: ignore[attr-defined]
        ws.on("framereceived", lambda p: frames.append(p if isinstance(p, str) else p.decode()))  # type: ignore[attr-defined]

    try:
        page = context.new_page()
        page.on("websocket", opened)
        page.goto(f"{base}/console#token={tls_live.tokens['dispatcher']}&lang=en")  # English text
        expect(page.locator("#connection")).to_have_text("connected", timeout=WAIT_MS)
        assert sockets and sockets[0].startswith(f"wss://127.0.0.1:{tls_live.ws_port}/ws/console?")
        for _ in range(WAIT_MS // 100):  # "connected" is the socket's open; the snapshot follows
            if frames:
                break
            page.wait_for_timeout(100)
        assert frames and json.loads(frames[0])["type"] == "snapshot"
        csp = httpx.get(f"{base}/console", verify=False).headers["content-security-policy"]
        assert f"connect-src 'self' wss://127.0.0.1:{tls_live.ws_port};" in csp
    finally:
        context.close()


def test_a_page_behind_an_https_proxy_is_told_wss(live: Running) -> None:
    """Through a trusted proxy (loopback, the default `forwarded_allow_ips`) that says
    `X-Forwarded-Proto: https`, /api/v1/endpoints and the page's CSP say wss://; without it,
    ws://."""
    https = {"X-Forwarded-Proto": "https"}
    plain = httpx.get(f"{live.http}/api/v1/endpoints").json()["websocket"]
    assert plain == f"ws://127.0.0.1:{live.ws_port}"
    proxied = httpx.get(f"{live.http}/api/v1/endpoints", headers=https).json()["websocket"]
    assert proxied == f"wss://127.0.0.1:{live.ws_port}"
    csp = httpx.get(f"{live.http}/track", headers=https).headers["content-security-policy"]
    assert f"connect-src 'self' wss://127.0.0.1:{live.ws_port};" in csp


def test_a_public_websocket_url_overrides_the_derived_one(settings: Settings) -> None:
    """With `public_ws_url` wss://jijiu.example.org/live the pages are told exactly that, and
    their CSP allows what lies under that path."""
    running = start(replace(settings, public_ws_url="wss://jijiu.example.org/live/"))
    try:
        told = httpx.get(f"{running.http}/api/v1/endpoints").json()["websocket"]
        assert told == "wss://jijiu.example.org/live"
        csp = httpx.get(f"{running.http}/console").headers["content-security-policy"]
        assert "connect-src 'self' wss://jijiu.example.org/live/;" in csp
    finally:
        running.stop()
