"""The fan-out peer and its clients: frames published through our Hub + pump or through bare
`websockets` `broadcast()`, to N raw clients that time every delivery.

What the server benchmark's case 2 measures. `fanout_server_main` runs a plain `websockets`
server in its own process that fans `unit.position`-shaped frames out either with
`dispatch.live.hub.Hub` + `pump` and a `dispatch.ws.sink.ConnectionSink` per connection (what
`/ws/console` runs, minus uvicorn) or with `broadcast()` (the practical ceiling: same library,
same settings, same clients). `fanout_clients_main` holds N `RawClient`s in another process;
every frame carries its send time (`time.monotonic()`, one clock for all processes on Linux),
so each receipt gives a latency sample. `fanout_run` drives a saturated phase then a paced one.

Loopback only; every child has a deadline and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from simulator.load.latency import pcts
from simulator.load.loadgen import HOST, ask, child, open_many, open_raw, recv_cmd, run_child

MAX_SAMPLES = 4_000_000  # latency samples kept per client process
MAX_FRAMES = 10_000_000  # frames one publishing phase may send at most


def fanout_server_main(conn: Connection, mode: str) -> None:
    run_child(_fanout_server(conn, mode), deadline_s=600)


def position(i: int) -> dict[str, Any]:
    """A unit.position message (1000 units in turn) stamped with its send time `t`."""
    u = i % 1000
    return {
        "type": "unit.position",
        "unit_id": f"U{u:04d}",
        "lat": 30.25 + u * 1e-5,
        "lon": 120.15 + u * 1e-5,
        "t": time.monotonic(),
    }


async def _fanout_server(conn: Connection, mode: str) -> None:
    """A websockets server that fans frames out with our Hub + pump or with bare broadcast()."""
    from websockets.asyncio.server import broadcast, serve

    from dispatch.live.hub import Hub, pump
    from dispatch.ws.sink import ConnectionSink

    hub = Hub()
    members: set[Any] = set()
    lagged = [0]

    async def handler(ws: Any) -> None:
        if mode == "hub":
            # As the app's endpoint: text frames written straight to the socket while it keeps
            # up, the rest queued and pumped until the subscription or the connection ends.
            sink = ConnectionSink(ws)
            sub = hub.subscribe(["console"], sink=sink)
            pumping = asyncio.create_task(pump(sub, sink.send))
            closing = asyncio.create_task(ws.wait_closed())
            try:
                await asyncio.wait({pumping, closing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lagged[0] += sub.lagging
                sub.close()
                for task in (pumping, closing):
                    task.cancel()
                await asyncio.gather(pumping, closing, return_exceptions=True)
        else:
            members.add(ws)
            try:
                await ws.wait_closed()
            finally:
                members.discard(ws)

    def publish(i: int) -> None:
        message = position(i)
        if mode == "hub":
            hub.publish("console", message, coalesce=f"pos:{message['unit_id']}")
        else:
            frame = json.dumps(
                {"seq": i + 1, "topic": "console", **message},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            broadcast(members, frame, text=True)

    def end() -> None:
        if mode == "hub":
            hub.publish("console", {"type": "end"})
        else:
            broadcast(members, b'{"seq":0,"topic":"console","type":"end"}', text=True)

    async with serve(
        handler, HOST, 0, ping_interval=None, compression=None, backlog=2048, max_queue=16
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        conn.send(("port", port))
        while (cmd := await recv_cmd(conn, 600))[0] != "stop":
            if cmd[0] == "count":
                conn.send(("count", hub.subscribers("console") if mode == "hub" else len(members)))
                continue
            if cmd[0] == "cpu":
                conn.send(("cpu", time.process_time()))
                continue
            _, seconds, rate = cmd  # rate None: one frame per event-loop turn
            t0 = time.monotonic()
            stop, i = t0 + seconds, 0
            while (now := time.monotonic()) < stop and i < MAX_FRAMES:
                if rate is not None:
                    await asyncio.sleep(max(0.0, t0 + i / rate - now))
                publish(i)
                i += 1
                if rate is None:
                    await asyncio.sleep(0)
            t1 = time.monotonic()
            end()
            await asyncio.sleep(0)
            conn.send(("published", i, t0, t1, lagged[0]))


def fanout_clients_main(conn: Connection, port: int, n: int) -> None:
    run_child(_fanout_clients(conn, port, n), deadline_s=600)


async def _fanout_clients(conn: Connection, port: int, n: int) -> None:
    """n raw clients; per phase: deliveries, latency samples, first/last receipt, ends seen."""
    lat = array("d")
    cpu0 = time.process_time()
    state = {"count": 0, "ends": 0, "first": float("inf"), "last": 0.0}
    all_ended = asyncio.Event()
    expected = [n]

    def on_message(payload: bytes, now: float) -> None:
        if payload.endswith(b'"type":"end"}'):
            state["ends"] += 1
            if state["ends"] >= expected[0]:
                all_ended.set()
            return
        state["count"] += 1
        if now < state["first"]:
            state["first"] = now
        state["last"] = now
        if len(lat) < MAX_SAMPLES:
            lat.append(now - float(payload[payload.rindex(b":") + 1 : -1]))

    clients, failed = await open_many(
        n, lambda i: open_raw(port, "/", on_message, timeout=60), limit=64
    )
    conn.send(("connected", len(clients), failed))
    while (cmd := await recv_cmd(conn, 600))[0] != "stop":
        if cmd[0] == "phase":
            del lat[:]
            state.update(count=0, ends=0, first=float("inf"), last=0.0)
            all_ended.clear()
            expected[0] = sum(1 for c in clients if not c.lost)
            cpu0 = time.process_time()
            conn.send(("ready",))
        elif cmd[0] == "collect":
            with suppress(TimeoutError):
                await asyncio.wait_for(all_ended.wait(), cmd[1])
            lost = sum(1 for c in clients if c.lost)
            conn.send(
                (
                    "phase",
                    state["count"],
                    lat.tobytes(),
                    state["first"],
                    state["last"],
                    state["ends"],
                    lost,
                    time.process_time() - cpu0,
                )
            )
    for c in clients:
        c.close()
    await asyncio.sleep(0.1)


def fanout_phase(
    server: Connection, clients: list[Connection], seconds: float, rate: float | None
) -> dict[str, Any]:
    """One publishing phase: clients reset, the server publishes, the clients report."""
    for c in clients:
        ask(c, ("phase",), 30)
    cpu0 = ask(server, ("cpu",), 10)[1]
    _, frames, t0, t1, lagged = ask(server, ("publish", seconds, rate), seconds + 60)
    deliveries, samples, last, ends, lost, client_cpu = 0, [], t0, 0, 0, 0.0
    for c in clients:
        _, count, lat_bytes, _first, c_last, c_ends, c_lost, c_cpu = ask(
            c, ("collect", seconds + 30), seconds + 90
        )
        deliveries += count
        samples.append(np.frombuffer(lat_bytes, dtype=float))
        last = max(last, c_last)
        ends += c_ends
        lost += c_lost
        client_cpu += c_cpu
    server_cpu = ask(server, ("cpu",), 10)[1] - cpu0  # includes flushing after the last publish
    lat = np.concatenate(samples) if samples else np.zeros(0)
    span = last - t0 if last > t0 else float("nan")
    return {
        "rate": rate,
        "frames": frames,
        "publish_s": t1 - t0,
        "deliveries": deliveries,
        "deliveries_per_s": deliveries / span if deliveries else 0.0,
        "latency": pcts(lat),
        "server_cpu_s": server_cpu,
        "server_cpu_share": server_cpu / span,  # of one core, first send to last receipt
        "server_us_per_delivery": 1e6 * server_cpu / deliveries if deliveries else None,
        "clients_cpu_share": client_cpu / span,  # both client processes, of one core
        "lagging_dropped": lagged,
        "clients_lost": lost,
        "ends_seen": ends,
    }


def fanout_run(mode: str, n: int, seconds: float, paced: float | None) -> list[dict[str, Any]]:
    """Start a server (`mode`) and two client processes; a saturated phase then a paced one
    (at `paced` frames/s, or when None at half the saturated phase's capacity)."""
    halves = [n // 2, n - n // 2]
    with child(fanout_server_main, mode) as server:
        _, port = ask(server, None, 60)
        with (
            child(fanout_clients_main, port, halves[0]) as c1,
            child(fanout_clients_main, port, halves[1]) as c2,
        ):
            connected = sum(ask(c, None, 180)[1] for c in (c1, c2))
            for _ in range(100):  # every handler registered
                if ask(server, ("count",), 10)[1] >= connected:
                    break
                time.sleep(0.1)
            saturated = fanout_phase(server, [c1, c2], seconds, None)
            rate = paced or max(1.0, round(0.5 * saturated["deliveries_per_s"] / n, 1))
            time.sleep(0.5)  # let the sockets drain
            paced_phase = fanout_phase(server, [c1, c2], seconds, rate)
    for p in (saturated, paced_phase):
        p.update(mode=mode, clients=n, connected=connected)
    return [saturated, paced_phase]


def describe(name: str, p: dict[str, Any]) -> str:
    """One phase of `fanout_run` in a line: deliveries, latency, CPU, what was dropped."""
    lat = p["latency"]
    return (
        f"{name:>16}: {p['connected']} connected, {p['frames']} frames in "
        f"{p['publish_s']:.1f} s, {p['deliveries']} deliveries "
        f"({p['deliveries_per_s'] / 1e3:.1f} k/s), latency p50 {lat['p50_ms']:.3g} ms / p99 "
        f"{lat['p99_ms']:.3g} ms; CPU: server {100 * p['server_cpu_share']:.0f} % "
        f"({p['server_us_per_delivery'] or 0:.1f} µs per delivery), clients "
        f"{100 * p['clients_cpu_share']:.0f} %; lagging dropped {p['lagging_dropped']}, "
        f"clients lost {p['clients_lost']}"
    )
