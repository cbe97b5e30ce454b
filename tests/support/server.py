"""A real dispatch server over loopback for tests, and the client calls tests make against it.

`start` runs uvicorn with `create_app(settings)` in a thread on a free port and returns once it
listens; `Running` holds its URLs and tokens. The rest are the few requests and frame waits
every server test repeats. Nothing here asserts on timing.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from dispatch.http.app import create_app
from dispatch.settings import Settings

# A point in the Wulin fixture near 文三路 (lat, lon), as a caller's GNSS fix.
HERE = {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12}
ELSEWHERE = {"lat": 30.2850, "lon": 120.1400, "accuracy_m": 15}


@dataclass
class Running:
    """One live server: its base URLs, its tokens and a way to stop it."""

    server: uvicorn.Server
    thread: threading.Thread
    port: int
    tokens: dict[str, Any]
    ws_port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str, token: str, **params: str) -> ClientConnection:
        query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
        return connect(f"ws://127.0.0.1:{self.ws_port}{path}?{query}", open_timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start(settings: Settings, open_service: Any = None) -> Running:
    """Run uvicorn with `create_app(settings)` in a thread; return once it listens."""
    config = uvicorn.Config(
        create_app(settings, open_service),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws_max_size=settings.max_body_bytes,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    tokens = json.loads(settings.tokens_file.read_text())
    return Running(server, thread, port, tokens, config.app.state.ws_port)


def auth(token: str) -> dict[str, str]:
    """The bearer header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def phone_of(key: str) -> str:
    """A phone number of its own for each key: another key is another caller (one phone
    calling again would join its open incident, see docs/wire-protocol.md)."""
    return f"+86138{zlib.crc32(key.encode()) % 10**8:08d}"


def new_call(
    live: Running, key: str, fix: dict[str, Any] = HERE, phone: str | None = None
) -> httpx.Response:
    """A chest-pain call with consent and `fix`, posted with idempotency key `key`, from
    `phone` (by default one of the key's own)."""
    body = {
        "phone": phone or phone_of(key),
        "consent_location": True,
        "fix": fix,
        "complaint": "chest_pain",
    }
    return httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": key})


def recv_until(ws: ClientConnection, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first frame that matches, skipping others (at most 200 frames, 10 s each)."""
    for _ in range(200):
        frame: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if match(frame):
            return frame
    raise AssertionError("no matching frame")


def closed_with(ws: ClientConnection) -> int | None:
    """The close code the server sent (after it accepted the handshake)."""
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    return info.value.rcvd.code if info.value.rcvd else None


def small_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Running]:
    """A module's own small server (Wulin, two units, offers that never time out, a fresh
    SQLite log), stopped after: the body of a module-scoped `server` fixture."""
    tmp: Path = tmp_path_factory.mktemp(name)
    running = start(
        Settings(
            network="wulin",
            store_url=f"sqlite:///{tmp / 'events.db'}",
            tokens_file=tmp / "tokens.json",
            port=0,
            ws_port=0,
            seed_fleet=2,
            ack_timeout_s=3600.0,
        )
    )
    yield running
    running.stop()
