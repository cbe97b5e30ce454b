"""The lean load generator: a minimal websocket client, a keep-alive HTTP/1.1 client, children.

Shared by `jijiu loadtest` (simulator/load/loadtest.py) and the server benchmark
(benchmarks/bench_server.py), through `session`, `fleet`, `openloop` and `fanout`. Full clients
(websockets, httpx) cost the generator more CPU per message than the server spends on it (httpx
~4 ms per request), which a measurement would charge to the server; these write the bytes at
once and parse only what they must.

Loopback only: every connection goes to `host` (default 127.0.0.1) given by the caller, and
every wait is bounded: `open_raw` and `HttpPool.send` time out, children run under a deadline
and are stopped (then killed) when their `child` block ends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing as mp
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from typing import Any

HOST = "127.0.0.1"


def netloc(host: str, port: int) -> str:
    """host:port for a Host header; an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RawClient(asyncio.Protocol):
    """Handshake, unmasked server frames, pong and close; every message goes to `on_message`.

    Far cheaper per frame than a full client, so thousands of them in two processes keep up
    with the server. Consoles and fan-out clients only read; a unit also sends its positions
    with `send_text`.
    """

    def __init__(self, request: bytes, on_message: Callable[[bytes, float], None]) -> None:
        self.request = request
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.partial: bytearray | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.upgraded.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        self.close_code: int | None = None
        self.lost = False
        self.finished = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.finished.set()
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                self.abort()
                return
            del buf[: end + 4]
            self.upgraded.set_result(None)
        now = time.monotonic()  # one clock reading per chunk: its frames arrived together
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if b1 & 0x80:  # a server never masks
                self.abort()
                return
            end = pos + head + length
            if end > n:
                break
            self._frame(b0, bytes(buf[pos + head : end]), now)
            pos = end
        if pos:
            del buf[:pos]

    def _frame(self, b0: int, payload: bytes, now: float) -> None:
        op, fin = b0 & 0x0F, b0 & 0x80
        if op in (0x1, 0x2):
            if fin:
                self.on_message(payload, now)
            else:
                self.partial = bytearray(payload)
        elif op == 0x0 and self.partial is not None:
            self.partial += payload
            if fin:
                self.on_message(bytes(self.partial), now)
                self.partial = None
        elif op == 0x9:
            self._send(0xA, payload)
        elif op == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close()

    def _send(self, op: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing() or len(payload) > 125:
            return
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | op, 0x80 | len(payload)]) + mask + body)

    def send_text(self, payload: bytes) -> bool:
        """Send one masked text frame (a client always masks); False when the socket is gone."""
        if self.transport is None or self.transport.is_closing():
            return False
        n = len(payload)
        if n < 126:
            head = bytes([0x81, 0x80 | n])
        elif n < 65536:
            head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        key = (mask * (n // 4 + 1))[:n]  # XOR as one big integer: no per-byte Python loop
        body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        self.transport.write(head + mask + body)
        return True

    def close(self) -> None:
        """Send a close frame (1000) and drop the connection."""
        self._send(0x8, (1000).to_bytes(2, "big"))
        self.abort()

    def abort(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class HttpConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time: the load generator's client.

    httpx costs ~4 ms of client time per request on this machine (measured on an idle
    server, a request every 10-20 ms: `GET /healthz` p50 1.1-1.8 ms from a bare socket, 5.9 ms
    from httpx.AsyncClient), which a benchmark would charge to the server. This writes the
    request's bytes at once and reads `content-length` framing; no chunked answers.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiting: asyncio.Future[tuple[int, bytes, float]] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0 or self.waiting is None:
            return
        head = bytes(buf[:end]).lower()
        at = head.find(b"content-length:")
        length = (
            int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else len(head)])
            if at >= 0
            else 0
        )
        if len(buf) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        waiting, self.waiting = self.waiting, None
        if not waiting.done():
            waiting.set_result((status, body, time.monotonic()))

    def request(self, raw: bytes) -> asyncio.Future[tuple[int, bytes, float]]:
        assert self.transport is not None and self.waiting is None
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiting


class HttpPool:
    """Keep-alive connections to one server; a request takes an idle one or opens another."""

    def __init__(self, port: int, host: str = HOST) -> None:
        self.port = port
        self.host = host
        self.idle: list[HttpConn] = []
        self.all: list[HttpConn] = []

    async def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, float, float]:
        """(status, body, t_sent, t_answered): t_sent just before the bytes are written."""
        conn = self.idle.pop() if self.idle else None
        if conn is None or conn.lost:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(HttpConn, self.host, self.port)
            self.all.append(conn)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        typ = "Content-Type: application/json\r\n" if body else ""
        host = netloc(self.host, self.port)
        raw = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{typ}{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        t0 = time.monotonic()
        status, answer, t1 = await asyncio.wait_for(conn.request(raw), 15.0)
        self.idle.append(conn)
        return status, answer, t0, t1

    def close(self) -> None:
        for conn in self.all:
            if conn.transport is not None:
                conn.transport.close()


async def open_raw(
    port: int,
    path: str,
    on_message: Callable[[bytes, float], None],
    timeout: float = 30.0,
    host: str = HOST,
) -> RawClient:
    """Connect a RawClient to ws://host:port/path (default 127.0.0.1) and wait for the 101."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {netloc(host, port)}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(lambda: RawClient(request, on_message), host, port), timeout
    )
    try:
        await asyncio.wait_for(proto.upgraded, timeout)
    except BaseException:
        proto.abort()
        raise
    return proto


class Consoles:
    """n raw console sockets that resume with `since` when the server drops one (1013: it fell
    behind its queue), as the real console does, at most `max_reconnects` times each.

    Every frame goes to `on_frame(i, payload, now)` after its seq is noted; every drop to
    `on_drop(close_code)`. Used by the load test and the server benchmark.
    """

    def __init__(
        self,
        port: int,
        token: str,
        on_frame: Callable[[int, bytes, float], None],
        on_drop: Callable[[int], None],
        host: str = HOST,
        max_reconnects: int = 200,
    ) -> None:
        self.port, self.token, self.host = port, token, host
        self.on_frame, self.on_drop = on_frame, on_drop
        self.max_reconnects = max_reconnects
        self.live: dict[int, RawClient] = {}
        self._last_seq: dict[int, int] = {}
        self._keepers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def open(self, n: int, timeout: float = 60.0) -> int:
        """Connect n consoles; how many connected."""
        opened = await asyncio.gather(
            *(
                open_raw(self.port, self._path(i), self._reader(i), timeout, self.host)
                for i in range(n)
            ),
            return_exceptions=True,
        )
        self.live = {i: c for i, c in enumerate(opened) if isinstance(c, RawClient)}
        self._keepers = [asyncio.create_task(self._keep(i, c)) for i, c in self.live.items()]
        return len(self.live)

    def close(self) -> None:
        self._stopping = True
        for client in self.live.values():
            client.close()
        for task in self._keepers:
            task.cancel()

    def _path(self, i: int) -> str:
        since = self._last_seq.get(i, 0)
        return f"/ws/console?token={self.token}" + (f"&since={since}" if since else "")

    def _reader(self, i: int) -> Callable[[bytes, float], None]:
        def on_message(payload: bytes, now: float) -> None:
            if payload.startswith(b'{"seq":'):
                with suppress(ValueError):
                    self._last_seq[i] = int(payload[7 : payload.index(b",")])
            elif payload.startswith(b'{"type":"snapshot"'):
                self._last_seq[i] = int(json.loads(payload).get("last_seq", 0))
            self.on_frame(i, payload, now)

        return on_message

    async def _keep(self, i: int, client: RawClient) -> None:
        for _ in range(self.max_reconnects):
            await client.finished.wait()
            if self._stopping:
                return
            self.on_drop(client.close_code or 0)
            try:
                client = await open_raw(self.port, self._path(i), self._reader(i), 30, self.host)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.5)
            self.live[i] = client


async def open_many(
    n: int, opener: Callable[[int], Any], limit: int = 64, deadline_s: float = 120.0
) -> tuple[list[Any], int]:
    """Open n connections, at most `limit` handshakes at a time; (opened, failures)."""
    gate = asyncio.Semaphore(limit)
    stop = time.monotonic() + deadline_s

    async def one(i: int) -> Any:
        async with gate:
            if time.monotonic() > stop:
                raise TimeoutError("connection deadline passed")
            return await opener(i)

    got = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    ok = [g for g in got if not isinstance(g, BaseException)]
    return ok, n - len(ok)


async def recv_cmd(conn: Connection, timeout: float) -> Any:
    """The parent's next command, read without blocking the event loop; TimeoutError after."""
    if not conn.poll(0):
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = conn.fileno()
        loop.add_reader(fd, lambda: None if ready.done() else ready.set_result(None))
        try:
            await asyncio.wait_for(ready, timeout)
        finally:
            loop.remove_reader(fd)
    return conn.recv()


def ask(conn: Connection, message: Any, timeout: float) -> Any:
    """Send a command to a child and wait (bounded) for its answer."""
    if message is not None:
        conn.send(message)
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer to {message!r} within {timeout:.0f} s")
    return conn.recv()


@contextmanager
def child(target: Callable[..., None], *args: Any) -> Iterator[Connection]:
    """Run target(conn, *args) in a spawned process; stop (then kill) it on the way out."""
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(theirs, *args), daemon=True)
    proc.start()
    theirs.close()
    try:
        yield mine
    finally:
        with suppress(OSError):
            mine.send(("stop",))
        proc.join(timeout=20)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
        mine.close()


def run_child(main: Any, deadline_s: float) -> None:
    """asyncio.run a child's coroutine under a hard deadline."""
    with suppress(TimeoutError, BrokenPipeError, EOFError, KeyboardInterrupt):
        asyncio.run(asyncio.wait_for(main, deadline_s))


def stop_server(proc: subprocess.Popen[Any], grace_s: float = 20.0) -> None:
    """Ctrl-C a server process (it closes its log and sockets), then kill it if it lingers."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
