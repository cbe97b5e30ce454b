"""The receiving hospitals of the vitals load: their sockets, and the slow one.

Each hospital connects to `/ws/hospitals/{id}` with its own token and notes every `vitals` frame
(unit, sample seq, receipt time). The slow one (`slow=True`) reads one frame a second (`1hz`) or
stops reading (`stall`) while its event is set, on a socket with a 64 KiB receive buffer and no
keepalive of its own, so the backlog piles up in the server rather than in the client's kernel
buffers and only the server's policies can end the connection. `watch_log` notes when the
server's log says it dropped it; `release_slow` lets it read its backlog; `resume` reconnects
with `since=` and counts what the history replays. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulator.load.loadgen import HOST
from simulator.load.vitals.ledger import Receipt

SLOW_RCVBUF = 64 * 1024  # bytes: the slow hospital's socket receive buffer
SLOW_MODES = ("1hz", "stall")


@dataclass
class HospitalClient:
    """One hospital's socket and what it received (mutable: it fills as frames arrive)."""

    hospital_id: str
    slow: bool
    ws: ClientConnection | None = None
    got: list[Receipt] = field(default_factory=list)  # unit, sample_seq, receipt time
    frame_bytes: int = 0
    frames: int = 0  # vitals frames
    last_seq: int = 0  # the topic seq of the last frame: where a resume starts
    close_code: int | None = None
    close_reason: str | None = None
    close_sent: int | None = None  # the code this client sent, when it closed first
    closed_at: float | None = None
    cut_at: float | None = None  # when the server's log said it dropped this socket
    cut_line: str | None = None  # that log line
    live_n: int | None = None  # len(got) when a reconnect began: the receipts before it


def slow_socket() -> socket.socket:
    """A connected TCP socket with a small receive buffer (set before connecting)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
    return sock


async def open_hospital(port: int, h: HospitalClient, token: str) -> None:
    uri = f"ws://{HOST}:{port}/ws/hospitals/{h.hospital_id}?token={token}"
    extra: dict[str, Any] = {}
    if h.slow:
        sock = slow_socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
        # No keepalive of its own: a client that does not read cannot see a pong, and its own
        # ping timeout would end the connection before the server's policies do.
        extra = {"sock": sock, "max_queue": 4, "ping_interval": None}
    h.ws = await connect(uri, open_timeout=30, compression=None, max_size=2**24, **extra)
    snap = json.loads(await asyncio.wait_for(h.ws.recv(), 30))
    if snap.get("type") != "snapshot":
        raise RuntimeError(f"{h.hospital_id}: first frame is {snap.get('type')}")
    h.last_seq = int(snap.get("last_seq", 0))


def note_frame(h: HospitalClient, raw: bytes, t: float) -> None:
    frame = json.loads(raw)
    h.last_seq = int(frame.get("seq", h.last_seq))
    if frame.get("type") == "vitals":  # patient.inbound and other frames are not samples
        h.got.append((frame["unit_id"], frame["sample_seq"], t))
        h.frames += 1
        h.frame_bytes += len(raw)


async def read_hospital(h: HospitalClient, slow_mode: str, slow_on: asyncio.Event) -> None:
    """Read until the socket closes; the slow hospital lags while `slow_on` is set."""
    assert h.ws is not None
    try:
        while True:
            if h.slow and slow_on.is_set() and slow_mode == "stall":
                while slow_on.is_set():
                    await asyncio.sleep(0.05)
            raw = await h.ws.recv(decode=False)
            t = time.monotonic()
            note_frame(h, raw, t)
            if h.slow and slow_on.is_set() and slow_mode == "1hz":
                await asyncio.sleep(1.0)
    except ConnectionClosed as exc:
        h.close_code = exc.rcvd.code if exc.rcvd else None
        h.close_reason = exc.rcvd.reason if exc.rcvd else None
        h.close_sent = exc.sent.code if exc.sent else None
        h.closed_at = time.monotonic()


async def watch_log(path: Path, h: HospitalClient, since: int) -> None:
    """Note when the server's log first says a hospital socket ended or the slow hospital fell
    behind (read from byte `since` on): during phase 2 only the slow one can end, so this is
    when the server dropped it, however long the client takes to read up to the close."""
    marks = ("websocket hospital ended", f"hospital:{h.hospital_id} (seq")
    while h.cut_at is None:
        with suppress(OSError), path.open("rb") as f:
            f.seek(since)
            for line in f.read().decode(errors="replace").splitlines():
                if any(m in line for m in marks) or ("behind" in line and "hospital:" in line):
                    h.cut_at, h.cut_line = time.monotonic(), line.strip()
                    return
        await asyncio.sleep(0.25)


async def release_slow(h: HospitalClient, slow_on: asyncio.Event, t2: float) -> dict[str, Any]:
    """Let the slow hospital read its backlog at full speed until the server's close or 2 s of
    silence (at most 30 s); whether and when (s into phase 2, which began at `t2`) the server
    closed it. Read before this process closes anything, so a close seen here is the server's."""
    assert h.ws is not None
    open_when_released = h.closed_at is None
    slow_on.clear()
    count = h.frames
    deadline = time.monotonic() + 30
    while h.closed_at is None and time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        if h.frames == count:
            break
        count = h.frames
    return {
        "open_when_released": open_when_released,
        "close_code": h.close_code,
        "close_reason": h.close_reason,
        "close_sent": h.close_sent,
        "closed_s_into_phase2": None if h.closed_at is None else h.closed_at - t2,
        "server_dropped_s_into_phase2": None if h.cut_at is None else h.cut_at - t2,
        "server_log_line": h.cut_line,
    }


async def resume(port: int, h: HospitalClient, token: str) -> dict[str, Any]:
    """After a drop, reconnect with since=<last seq seen> and read what the history replays."""
    if h.closed_at is None:
        return {"resumed": False}
    uri = f"ws://{HOST}:{port}/ws/hospitals/{h.hospital_id}?token={token}&since={h.last_seq}"
    before = h.frames
    h.live_n = len(h.got)
    snapshot = False
    async with connect(uri, open_timeout=30, compression=None, max_size=2**24) as ws:
        for _ in range(5000):
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 2.0)
            except TimeoutError:
                break
            if raw.startswith(b'{"type":"snapshot"'):
                snapshot = True
                continue
            note_frame(h, raw, time.monotonic())
    return {
        "resumed": True,
        "since": h.last_seq,
        "replayed": h.frames - before,
        "snapshot": snapshot,
    }


def slow_hospital_log(path: Path, hospital_id: str) -> dict[str, list[str]]:
    """What the server logged about dropping hospital sockets: the hub's "fell behind"
    warnings for the slow hospital's topic, and the ends of hospital sockets (jijiu.ws, INFO)."""
    lines = path.read_text(errors="replace").splitlines()
    return {
        "lagging": [ln for ln in lines if f"hospital:{hospital_id}" in ln and "behind" in ln],
        "ended": [ln for ln in lines if "websocket hospital ended" in ln],
    }
