"""The load test's child processes: every unit's socket at 1 Hz, and the watching consoles.

Each runs in its own spawned process (`simulator.load.loadgen.child`) under a hard deadline and
answers the parent's commands over a pipe:

- units: ("count",) -> ("sent", positions sent, send failures, error frames received, CPU s)
- consoles: ("collect", incident ids, timeout_s) -> ("seen", received, recommended, frames,
  drops, CPU s, position frames, drops by close code): for each incident the times
  (time.monotonic(), the clock every process shares on Linux) at which each console first showed
  its `call.received` and `incident.recommended`; waits, bounded, until every live console
  showed both frames of every incident asked for. The counts are since the last collect.

Both speak websocket through `RawClient`, the lean client, so the generator stays cheaper than
the server it measures. Shared by the load test and the server benchmark; the units can also
stay silent (`positions=False`: connected, no frames), the benchmark's diagnostic.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from contextlib import suppress
from multiprocessing.connection import Connection

import numpy as np

from simulator.load.loadgen import Consoles, RawClient, open_many, open_raw, recv_cmd, run_child

Unit = tuple[str, str, float, float]  # unit id, token, lat, lon
JITTER_DEG = 0.0003  # ~30 m about the unit's place: it stands, its GPS wanders
MAX_RECONNECTS = 200  # per console
MAX_WRITE_BUFFER = 1 << 20  # bytes queued on one unit socket: beyond it a send counts as failed


def units_main(
    conn: Connection,
    host: str,
    port: int,
    units: list[Unit],
    seed: int,
    deadline_s: float,
    positions: bool = True,
) -> None:
    run_child(_units(conn, host, port, units, seed, deadline_s, positions), deadline_s)


async def _units(
    conn: Connection,
    host: str,
    port: int,
    units: list[Unit],
    seed: int,
    deadline_s: float,
    positions: bool,
) -> None:
    """One socket per unit, a position frame each second from a random phase (none when not
    `positions`), until stopped."""
    rng = np.random.default_rng(seed)
    counts = {"sent": 0, "failed": 0, "error_frames": 0}
    stop = asyncio.Event()

    def on_message(payload: bytes, now: float) -> None:
        if b'"type":"error"' in payload:
            counts["error_frames"] += 1

    place: dict[int, int] = {}  # id(client) -> index in units (failed opens leave gaps)

    async def opener(i: int) -> RawClient:
        unit_id, token = units[i][0], units[i][1]
        client = await open_raw(port, f"/ws/units/{unit_id}?token={token}", on_message, 60, host)
        place[id(client)] = i
        return client

    sockets, failed = await open_many(len(units), opener, deadline_s=min(deadline_s, 180))
    conn.send(("connected", len(sockets), failed))

    async def report(client: RawClient, lat0: float, lon0: float, offset_s: float) -> None:
        t = time.monotonic() + offset_s
        for _ in range(int(deadline_s) + 1):  # at most one frame per second of the deadline
            await asyncio.sleep(max(0.0, t - time.monotonic()))
            if stop.is_set():
                return
            dlat, dlon = rng.normal(0.0, JITTER_DEG, size=2)
            frame = b'{"type":"position","lat":%.6f,"lon":%.6f}' % (lat0 + dlat, lon0 + dlon)
            transport = client.transport
            if transport is not None and transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
                counts["failed"] += 1
            elif client.send_text(frame):
                counts["sent"] += 1
            else:
                counts["failed"] += 1
                return
            t += 1.0

    phases = rng.uniform(0.0, 1.0, size=len(sockets))
    moving = sockets if positions else []  # silent units: connected, sending nothing
    senders = []
    for c, phase in zip(moving, phases[: len(moving)], strict=True):
        _, _, lat, lon = units[place[id(c)]]
        senders.append(asyncio.create_task(report(c, lat, lon, float(phase))))
    with suppress(TimeoutError):
        while (await recv_cmd(conn, deadline_s))[0] != "stop":
            conn.send(
                (
                    "sent",
                    counts["sent"],
                    counts["failed"],
                    counts["error_frames"],
                    time.process_time(),
                )
            )
    stop.set()
    for task in senders:
        task.cancel()
    for c in sockets:
        c.close()
    await asyncio.sleep(0.1)


def consoles_main(
    conn: Connection, host: str, port: int, token: str, n: int, deadline_s: float
) -> None:
    run_child(_consoles(conn, host, port, token, n, deadline_s), deadline_s)


def frame_kind(payload: bytes) -> tuple[bytes, str | None]:
    """(type, incident id or None) of a console frame, read without parsing the whole JSON."""
    at = payload.find(b'"type":"')
    if at < 0:
        return b"", None
    end = payload.find(b'"', at + 8)
    kind = payload[at + 8 : end]
    if kind not in (b"call.received", b"incident.recommended"):
        return kind, None
    at = payload.find(b'"incident_id":"')
    if at >= 0:  # ids are plain ASCII (no escapes): the bytes up to the next quote
        end = payload.find(b'"', at + 15)
        return kind, payload[at + 15 : end].decode() if end > at + 15 else None
    iid = json.loads(payload).get("incident_id")
    return kind, iid if isinstance(iid, str) else None


async def _consoles(
    conn: Connection, host: str, port: int, token: str, n: int, deadline_s: float
) -> None:
    """n consoles recording when each incident's two first frames reached each of them.

    A console the server drops (1013, fell behind its queue) reconnects with `since`, as the
    real console does, at most MAX_RECONNECTS times; the drops are counted.
    """
    received: dict[str, list[float]] = {}
    recommended: dict[str, list[float]] = {}
    counts = {"frames": 0, "drops": 0, "positions": 0}
    by_code: Counter[str] = Counter()  # drops by close code
    firsts: list[set[tuple[bytes, str]]] = [set() for _ in range(n)]

    def on_frame(i: int, payload: bytes, now: float) -> None:
        counts["frames"] += 1
        kind, iid = frame_kind(payload)
        if kind == b"units.moved":
            counts["positions"] += 1
        if iid is None or (kind, iid) in firsts[i]:
            return
        firsts[i].add((kind, iid))
        seen = received if kind == b"call.received" else recommended
        seen.setdefault(iid, []).append(now)

    def on_drop(code: int) -> None:
        counts["drops"] += 1
        by_code[str(code)] += 1

    consoles = Consoles(port, token, on_frame, on_drop, host, MAX_RECONNECTS)
    connected = await consoles.open(n)
    live = consoles.live
    conn.send(("connected", connected, n - connected))
    with suppress(TimeoutError):
        while (cmd := await recv_cmd(conn, deadline_s))[0] != "stop":
            if cmd[0] != "collect":
                continue
            iids, timeout_s = list(cmd[1]), float(cmd[2])
            want = len(live)
            until = time.monotonic() + timeout_s
            while time.monotonic() < until and not all(
                len(received.get(i, ())) >= want and len(recommended.get(i, ())) >= want
                for i in iids
            ):
                await asyncio.sleep(0.05)
            conn.send(
                (
                    "seen",
                    {i: received.get(i, []) for i in iids},
                    {i: recommended.get(i, []) for i in iids},
                    counts["frames"],
                    counts["drops"],
                    time.process_time(),
                    counts["positions"],
                    dict(by_code),
                )
            )
            received.clear()  # frames of incidents not asked for are of a past step
            recommended.clear()
            for mine in firsts:
                mine.clear()
            counts.update(frames=0, drops=0, positions=0)
            by_code.clear()
    consoles.close()
    await asyncio.sleep(0.1)
