"""The load test's target: the server on loopback, who we are to it, where its sockets are.

Either a running server (`--url`, checked to be loopback, and `--tokens`) or one started here
(`serve`: `simulator.load.servers.jijiu_serve` in a temp dir, stopped afterwards), and
`discover`, which asks it where its websockets listen and which units it has and where.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simulator.load.fleet import Unit
from simulator.load.loadgen import HttpPool, open_raw
from simulator.load.servers import LOOPBACK, RunFailed, jijiu_serve


@dataclass(frozen=True)
class Target:
    """Where the server listens, who we are to it, and its pid when we can see it."""

    host: str
    port: int
    tokens: dict[str, Any]
    pid: int | None
    rss_note: str = ""  # why RSS is "n/a"


def loopback_url(url: str) -> tuple[str, int]:
    """(host, port) of an http:// URL on a loopback address; ValueError names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"--url must be http://<loopback>:<port>, got {url!r}")
    host = parts.hostname or ""
    if host == "localhost":
        host = LOOPBACK
    try:
        loop = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loop = False
    if not loop:
        raise ValueError(
            f"--url host {host or '(none)'!r} is not a loopback address: the load "
            "test drives loopback only (127.0.0.0/8, ::1, localhost)"
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError(f"--url has a bad port: {url!r}") from None
    return host, port


def read_tokens(path: Path) -> dict[str, Any]:
    """The server's tokens file: a dispatcher token and a token per unit."""
    try:
        tokens = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the tokens file {path}: {exc}") from None
    if not (
        isinstance(tokens, dict)
        and isinstance(tokens.get("dispatcher"), str)
        and isinstance(tokens.get("units"), dict)
    ):
        raise ValueError(f"{path} is not a jijiu tokens file (no dispatcher or units)")
    book: dict[str, Any] = tokens
    return book


@contextmanager
def serve(network: str, units: int, ready_s: float = 600.0) -> Iterator[Target]:
    """`python -m dispatch serve` in its own process and temp dir, `units` seeded, a fresh
    SQLite event log; stopped after (`simulator.load.servers.jijiu_serve`)."""
    with tempfile.TemporaryDirectory(prefix="jijiu-loadtest-") as tmp:
        work = Path(tmp)
        with jijiu_serve(network, units, f"sqlite:///{work / 'events.db'}", work, ready_s) as srv:
            yield Target(LOOPBACK, srv.port, srv.tokens, srv.proc.pid)
        bad = [
            line
            for line in srv.log_path.read_text(errors="replace").splitlines()
            if line.startswith(("ERROR", "CRITICAL", "Traceback"))
        ]
        if bad:
            print(f"server log: {len(bad)} error lines, first: {bad[0][:200]}", file=sys.stderr)


async def discover(target: Target, want: int) -> tuple[str, int, list[Unit]]:
    """The websocket host and port (GET /api/v1/endpoints) and up to `want` units with their
    places (the console's snapshot) that the tokens file has a token for."""
    pool = HttpPool(target.port, target.host)
    try:
        status, body, _, _ = await pool.send("GET", "/api/v1/endpoints")
    except (OSError, TimeoutError) as exc:
        raise RunFailed(f"no answer from http://{target.host}:{target.port}: {exc!r}") from None
    finally:
        pool.close()
    if status != 200:
        raise RunFailed(f"GET /api/v1/endpoints answered {status}: is this a jijiu server?")
    ws_host, ws_port = loopback_url("http" + json.loads(body)["websocket"].removeprefix("ws"))
    snapshot: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def first(payload: bytes, now: float) -> None:
        if not snapshot.done():
            snapshot.set_result(payload)

    token = target.tokens["dispatcher"]
    try:
        console = await open_raw(ws_port, f"/ws/console?token={token}", first, 30, ws_host)
        try:
            snap = json.loads(await asyncio.wait_for(snapshot, 60))
        finally:
            console.close()
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise RunFailed(f"the console socket did not open: {exc!r}") from None
    tokens = target.tokens["units"]
    units = [
        (u["unit_id"], tokens[u["unit_id"]], float(u["lat"]), float(u["lon"]))
        for u in snap.get("units", [])
        if u.get("unit_id") in tokens and u.get("lat") is not None
    ]
    return ws_host, ws_port, units[:want]
