"""Server benchmark: call to console under load, and websocket fan-out, over loopback.

Budgets it guards (issue 4; the `target` column; ratio above 1 = we are better):

1. Call to console. `jijiu serve` runs in its own process on the bundled network with a fresh
   event log (SQLite in a temp dir; in full runs also Redis, a private `redis-server
   --appendonly yes --appendfsync always`) and `JIJIU_SEED_FLEET` units. The load generator,
   in other processes, connects 20 consoles (`/ws/console`), every unit's socket
   (`/ws/units/{id}`) sending a position frame at 1 Hz, and posts calls (`POST /api/v1/calls`)
   open loop at 5, 20 and 50 calls/s. Per call: the time to the 201, and the time from sending
   the POST to the `incident.recommended` frame of that incident on each console (every
   console's frame is a sample). Targets, at 20 calls/s: call -> recommendation p99 <= 20 ms
   (both backends) and 201 p99 <= 20 ms with SQLite; a failed call or a recommendation that
   never reaches a console fails the row too. Peer, same run, same load: `GET /healthz` on the
   same server at the same rate, interleaved with the calls (the HTTP floor of uvicorn +
   FastAPI under this load, from the same minimal keep-alive HTTP/1.1 client, `HttpPool`);
   ratio = its p50 / ours p50.
   A console the server drops (1013, fell behind its queue) reconnects with `since`, as the
   real console does; drops are reported. When a rate overloads the server (over 10 % of the
   calls fail, or 201 p99 over 5 s) the higher rates are not run and their judged rows fail.
   Full runs repeat each backend with the units connected but silent: a diagnostic (not
   judged) of the call path without the position load.
2. Fan-out. What is measured is our fan-out layer, `dispatch.live.hub.Hub` + `pump` (what
   `/ws/console` runs), here given a `dispatch.ws.sink.ConnectionSink` per connection (frames
   written straight to the socket while it keeps up, queued and pumped when it pushes back),
   behind a plain `websockets` server in its own process, next to the practical ceiling: a
   bare `websockets` server doing `websockets.asyncio.server.broadcast()` of the same frames
   (same library, same settings, same clients). The uvicorn/Starlette socket layer of the real
   server is not in this number (case 1 covers the real server).
   Clients: two load-generator processes, each holding half of N raw websocket connections
   (a minimal client: handshake, frame parsing, pong; much cheaper than a full client so the
   generator is not the bottleneck). Every frame is a `unit.position`-shaped JSON text frame
   carrying its send time (`time.monotonic()`, one clock for all processes on Linux).
   a. Saturated: publish one frame per event-loop turn for a few seconds; deliveries/s =
      frames received by all clients / (last receipt - first send). Target >= 0.8x bare.
      Also reported: server CPU seconds per delivery (what each side could do on a core of
      its own; on a small machine the clients compete with the server for the CPUs).
   b. Paced: both publish at the same rate, half of bare's saturated capacity; delivery
      latency p50/p99 over every delivery. Target p99 within 1.2x of bare (ratio = bare p99 /
      ours p99 >= 0.83).
   N = 1000 and 5000 in full runs.

`--quick` (CI, < 40 s): Wulin, 50 units, 20 consoles, 2 s at 5 calls/s, SQLite only; fan-out
to 100 clients for 1 s per phase. The numbers of a quick run mean little and are not judged.

Network traffic goes to 127.0.0.1 only; every loop is bounded in count and time, every child
process has a deadline and is stopped (then killed) when it passes.

    python -m benchmarks.bench_server [--quick] [--only-fanout]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.timing import Row, close_report, fmt_ms, machine_info
from simulator.load.loadgen import (  # the lean clients and child processes, shared with loadtest
    Consoles,
    HttpPool,
    ask,
    child,
    open_many,
    open_raw,
    recv_cmd,
    run_child,
    stop_server,
)

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
SEED = 20240611
TARGET_MS = 20.0
JUDGED_RATE = 20  # calls/s at which the call targets are judged
FANOUT_THROUGHPUT = 0.8  # ours / bare deliveries per second
FANOUT_P99 = 1.2  # ours p99 / bare p99 at most
MAX_SAMPLES = 4_000_000  # latency samples kept per fan-out client process
QUICK_NOTE = "judged in full runs"
MAX_RECONNECTS = 200  # per console
OVERLOADED_S = 5.0  # a 201 p99 above this: the server is overloaded, higher rates are skipped


@dataclass(frozen=True)
class Plan:
    network: str
    units: int  # JIJIU_SEED_FLEET (the server's maximum is 1000)
    consoles: int
    rates: tuple[int, ...]  # calls/s
    seconds_per_rate: float
    backends: tuple[str, ...]
    fanout_clients: tuple[int, ...]
    fanout_seconds: float  # per phase
    judged: bool
    # True: every unit sends a position at 1 Hz (the load, judged); False: the units
    # are connected but silent (a diagnostic: the call path without the position load).
    positions: tuple[bool, ...] = (True,)


FULL = Plan(
    "hangzhou", 1000, 20, (5, 20, 50), 30.0, ("sqlite", "redis"), (1000, 5000), 5.0, True,
    positions=(True, False),
)  # fmt: skip
QUICK = Plan("wulin", 50, 20, (5,), 2.0, ("sqlite",), (100,), 1.0, False)


def say(text: str) -> None:
    print(text, flush=True)


def pcts(samples_s: Any) -> dict[str, float]:
    """n, p50, p99, max (ms) of samples in seconds; NaN when empty."""
    a = np.asarray(samples_s, dtype=float)
    if a.size == 0:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ms = a * 1e3
    return {
        "n": int(a.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def text(p: dict[str, float]) -> str:
    if not p["n"]:
        return "no samples"
    return f"{fmt_ms(p['p50_ms'])} / {fmt_ms(p['p99_ms'])}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# --- the servers under test ---------------------------------------------------------------------
@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server (appendonly, fsync always) on a free loopback port; its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    log = (workdir / "redis.log").open("w")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            HOST,
            "--dir",
            str(workdir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        import redis

        client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1)
        for _ in range(100):
            with suppress(redis.RedisError):
                if client.ping():
                    break
            if proc.poll() is not None:
                raise RuntimeError("redis-server exited at start")
            time.sleep(0.1)
        else:
            raise RuntimeError("redis-server did not answer within 10 s")
        client.close()
        yield f"redis://{HOST}:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@dataclass
class Jijiu:
    proc: subprocess.Popen[bytes]
    port: int
    ws_port: int
    tokens: dict[str, Any]
    start_s: float
    workdir: Path
    log_excerpt: list[str] | None = None  # filled on stop: the log lines above INFO (first 60)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


@contextmanager
def jijiu_server(plan: Plan, store_url: str, workdir: Path) -> Iterator[Jijiu]:
    """`python -m dispatch serve` in its own process; yields once /readyz answers 200."""
    port, ws_port = free_port(), free_port()
    while ws_port == port:
        ws_port = free_port()
    tokens = workdir / "tokens.json"
    env = {**os.environ, "JIJIU_SEED_FLEET": str(plan.units), "PYTHONPATH": str(ROOT)}
    log = (workdir / "server.log").open("w")
    cmd = [
        sys.executable,
        "-m",
        "dispatch",
        "serve",
        "--network",
        plan.network,
        "--store",
        store_url,
        "--tokens",
        str(tokens),
        "--host",
        HOST,
        "--port",
        str(port),
        "--ws-port",
        str(ws_port),
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = t0 + 240
        while True:
            if proc.poll() is not None:
                tail = (workdir / "server.log").read_text()[-2000:]
                raise RuntimeError(f"jijiu serve exited with {proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError("jijiu serve was not ready within 240 s")
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        running = Jijiu(
            proc, port, ws_port, json.loads(tokens.read_text()), time.monotonic() - t0, workdir
        )
        yield running
    finally:
        stop_server(proc)
        log.close()
        lines = (workdir / "server.log").read_text(errors="replace").splitlines()
        errors = [line for line in lines if line.strip() and not line.startswith("INFO:")]
        if "running" in locals():
            running.log_excerpt = errors[:60]
        if errors:  # the log is deleted with the temp dir: say what it warned about
            kinds = Counter(line[:60] for line in errors)
            say(f"server log: {len(errors)} lines above INFO, most common: {kinds.most_common(3)}")


# --- case 1 children: units and consoles ----------------------------------------------------------
Unit = tuple[str, str, float, float]  # unit id, token, lat, lon


def units_main(conn: Connection, port: int, units: list[Unit], positions: bool) -> None:
    run_child(_units(conn, port, units, positions), deadline_s=900)


async def _units(conn: Connection, port: int, units: list[Unit], positions: bool) -> None:
    """Every unit's socket, a position frame at 1 Hz each (random phase; none when not
    `positions`), until told to stop."""
    from websockets.asyncio.client import connect

    rng = np.random.default_rng(SEED)
    stop = asyncio.Event()
    sent = [0]
    errors = [0]

    async def opener(i: int) -> Any:
        unit_id, token = units[i][0], units[i][1]
        uri = f"ws://{HOST}:{port}/ws/units/{unit_id}?token={token}"
        return await connect(uri, open_timeout=60, compression=None, max_size=2**24)

    sockets, failed = await open_many(len(units), opener)

    async def drain(ws: Any) -> None:
        with suppress(Exception):
            async for _ in ws:
                pass

    async def report(i: int, ws: Any) -> None:
        lat0, lon0 = units[i][2], units[i][3]
        jitter = rng.normal(0.0, 0.0003, size=(900, 2))  # ~30 m; 900 s of frames at most
        t = time.monotonic() + float(rng.uniform(0, 1.0))
        k = 0
        while not stop.is_set() and k < len(jitter):
            await asyncio.sleep(max(0.0, t - time.monotonic()))
            if stop.is_set():
                break
            frame = {"type": "position", "lat": lat0 + jitter[k, 0], "lon": lon0 + jitter[k, 1]}
            try:
                await ws.send(json.dumps(frame))
                sent[0] += 1
            except Exception:
                errors[0] += 1
                return
            t += 1.0
            k += 1

    drains = [asyncio.create_task(drain(ws)) for ws in sockets]
    conn.send(("connected", len(sockets), failed))
    senders = [asyncio.create_task(report(i, ws)) for i, ws in enumerate(sockets) if positions]
    with suppress(TimeoutError):
        while (await recv_cmd(conn, 900))[0] != "stop":
            conn.send(("sent", sent[0], errors[0]))
    stop.set()
    if senders:
        await asyncio.wait(senders, timeout=5)
    with suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets)), 10)
    for task in drains + senders:
        task.cancel()


def consoles_main(conn: Connection, port: int, token: str, n: int) -> None:
    run_child(_consoles(conn, port, token, n), deadline_s=900)


async def _consoles(conn: Connection, port: int, token: str, n: int) -> None:
    """n consoles; for each `incident.recommended`, the time each console first received it.

    A console the server drops (1013: it fell behind its queue) reconnects with `since`, as
    the real console does, at most MAX_RECONNECTS times; the drops are reported.
    """
    seen: dict[str, list[float]] = {}
    frames = [0]
    positions = [0]
    drops: list[int] = []
    firsts: list[set[str]] = [set() for _ in range(n)]

    def on_frame(i: int, payload: bytes, now: float) -> None:
        frames[0] += 1
        if b'"units.moved"' in payload:
            positions[0] += 1
        elif b'"incident.recommended"' in payload:
            iid = json.loads(payload)["incident_id"]
            if iid not in firsts[i]:
                firsts[i].add(iid)
                seen.setdefault(iid, []).append(now)

    consoles = Consoles(port, token, on_frame, drops.append, HOST, MAX_RECONNECTS)
    connected = await consoles.open(n)
    conn.send(("connected", connected, n - connected))
    with suppress(TimeoutError):
        while (cmd := await recv_cmd(conn, 900))[0] != "stop":
            if cmd[0] == "report":
                got = Counter(map(str, drops))
                conn.send(("seen", dict(seen), frames[0], positions[0], dict(got)))
                seen.clear()
                drops.clear()
                frames[0] = positions[0] = 0
    consoles.close()


# --- case 1: the caller, in the orchestrating process ---------------------------------------------
async def post_calls(
    base: str, rate: float, seconds: float, places: np.ndarray, tag: str, seed: int
) -> dict[str, Any]:
    """Open-loop calls at `rate`, with a GET /healthz half a period after each; the timings."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rate * seconds))
    picks = rng.integers(0, len(places), size=n)
    jitter = rng.normal(0.0, 0.001, size=(n, 2))  # ~100 m about a unit's station: on roads
    calls: list[tuple[str | None, float, float, int]] = []
    reasons: Counter[str] = Counter()  # why calls failed: "status reason" or the exception
    floor: list[float] = []
    pool = HttpPool(int(base.rsplit(":", 1)[1]))
    try:

        async def call(i: int) -> None:
            lat = float(places[picks[i], 0] + jitter[i, 0])
            lon = float(places[picks[i], 1] + jitter[i, 1])
            body = {
                "phone": f"+86139{seed % 100:02d}{i:06d}",
                "consent_location": True,
                "complaint": "chest_pain",
                "fix": {"lat": lat, "lon": lon, "accuracy_m": 15},
            }
            headers = {"Idempotency-Key": f"{tag}-{i}"}
            t0 = time.monotonic()
            try:
                status, answer, t0, t1 = await pool.send(
                    "POST", "/api/v1/calls", json.dumps(body).encode(), headers
                )
            except (TimeoutError, OSError) as exc:
                calls.append((None, t0, time.monotonic(), 0))
                reasons[type(exc).__name__] += 1
                return
            reply = json.loads(answer) if answer else {}
            iid = reply.get("incident_id") if status == 201 else None
            calls.append((iid, t0, t1, status))
            if status != 201:
                reasons[f"{status} {reply.get('reason', '')}"] += 1

        async def healthz() -> None:
            with suppress(OSError, asyncio.TimeoutError):
                status, _, t0, t1 = await pool.send("GET", "/healthz")
                if status == 200:
                    floor.append(t1 - t0)

        await asyncio.gather(*(healthz() for _ in range(8)))  # open pooled connections
        floor.clear()
        tasks = []
        start = time.monotonic() + 0.05
        for i in range(n):
            for at, job in ((start + i / rate, call(i)), (start + (i + 0.5) / rate, healthz())):
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                tasks.append(asyncio.create_task(job))
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    finally:
        pool.close()
    starts = [c[1] for c in calls]
    span = max(starts) - min(starts) if len(starts) > 1 else 0.0
    return {
        "calls": calls,
        "floor": floor,
        "achieved_rate": (n - 1) / span if span else None,
        "failures": dict(reasons),
    }


def bench_calls(
    plan: Plan, backend: str, positions: bool, workdir: Path
) -> tuple[dict[str, Any], list[Row]]:
    """Case 1 on one event-log backend: units and consoles connected, calls at each rate."""
    from websockets.sync.client import connect

    label = backend if positions else f"{backend}, silent units"
    rows: list[Row] = []
    out: dict[str, Any] = {"backend": backend, "positions_hz": 1.0 if positions else 0.0}
    out["rates"] = {}
    store = redis_server(workdir) if backend == "redis" else nullctx(f"sqlite:///{workdir}/ev.db")
    with store as store_url, jijiu_server(plan, store_url, workdir) as srv:
        dispatcher = srv.tokens["dispatcher"]
        with connect(f"ws://{HOST}:{srv.ws_port}/ws/console?token={dispatcher}") as ws:
            snap = json.loads(ws.recv(timeout=30))
        units = [
            (u["unit_id"], srv.tokens["units"][u["unit_id"]], u["lat"], u["lon"])
            for u in snap["units"]
        ]
        places = np.array([(u[2], u[3]) for u in units])
        out.update(units=len(units), consoles=plan.consoles, start_s=srv.start_s)
        say(
            f"\n## {label}: jijiu serve on {plan.network}, {len(units)} units "
            f"(seeded; the server's maximum is 1000), ready in {srv.start_s:.1f} s"
        )
        with (
            child(units_main, srv.ws_port, units, positions) as unit_conn,
            child(consoles_main, srv.ws_port, dispatcher, plan.consoles) as console_conn,
        ):
            _, n_units, units_failed = ask(unit_conn, None, 180)
            _, n_cons, cons_failed = ask(console_conn, None, 120)
            out.update(units_connected=n_units, consoles_connected=n_cons)
            say(
                f"{n_units} unit sockets, {'1 Hz positions' if positions else 'silent'} "
                f"({units_failed} failed), {n_cons} consoles ({cons_failed} failed)"
            )
            time.sleep(2.0)  # let the 1 Hz positions settle in
            asyncio.run(post_calls(srv.base, 5, 2, places, f"{backend}-warm", 1))
            ask(console_conn, ("report",), 30)  # drop the warm-up's frames
            overloaded_at = None
            for rate in plan.rates:
                if overloaded_at is not None:
                    out["rates"][rate] = {"skipped": f"overloaded at {overloaded_at} calls/s"}
                    rows += skipped_rows(plan, label, positions, rate, overloaded_at)
                    say(f"{rate:>3} calls/s: not run, the server was overloaded at {overloaded_at}")
                    continue
                rec = call_step(plan, srv, rate, places, f"{label}-{rate}", unit_conn, console_conn)
                out["rates"][rate] = rec
                rows += call_rows(plan, label, positions, rate, rec)
                if (
                    rec["errors"] > 0.1 * rec["calls"]
                    or rec["created"]["p99_ms"] > 1e3 * OVERLOADED_S
                ):
                    overloaded_at = rate
    out["server_log_excerpt"] = srv.log_excerpt
    return out, rows


def call_step(
    plan: Plan,
    srv: Jijiu,
    rate: int,
    places: np.ndarray,
    tag: str,
    unit_conn: Connection,
    console_conn: Connection,
) -> dict[str, Any]:
    """Calls at one rate; the timings joined with the consoles' receipts, and the context."""
    cpu0, t0 = cpu_s(srv.proc.pid), time.monotonic()
    probe: list[float] = []
    prober = threading.Thread(
        target=disk_probe,
        args=(srv.workdir / f"probe-{rate}.db", rate, plan.seconds_per_rate, probe),
    )
    prober.start()
    got = asyncio.run(post_calls(srv.base, rate, plan.seconds_per_rate, places, tag, SEED + rate))
    prober.join()
    cpu1, t1 = cpu_s(srv.proc.pid), time.monotonic()
    time.sleep(1.0)  # frames still in flight
    _, seen, frames, positions, dropped = ask(console_conn, ("report",), 60)
    _, sent, unit_errors = ask(unit_conn, ("count",), 30)
    n_cons = plan.consoles
    rec = summarise_calls(got, seen, n_cons)
    rec.update(
        disk=pcts(probe),
        server_cpu=(cpu1 - cpu0) / (t1 - t0) if cpu0 is not None and cpu1 is not None else None,
        console_frames=frames,
        console_positions_per_s=positions / max(n_cons, 1) / (t1 - t0 + 1.0),
        consoles_dropped=dropped,
        unit_positions_sent=sent,
        unit_errors=unit_errors,
    )
    say(
        f"{rate:>3} calls/s (achieved {rec['achieved_rate'] or 0:.1f}): 201 "
        f"{text(rec['created'])}, to console {text(rec['recommended'])}, "
        f"healthz {text(rec['floor'])}, bare fsync'd commit {text(rec['disk'])}; "
        f"{rec['errors']} failed"
        f"{' ' + str(rec['failures']) if rec['failures'] else ''}, "
        f"{rec['missing']} missing "
        f"frames; server CPU {100 * (rec['server_cpu'] or 0):.0f} %; console positions "
        f"{rec['console_positions_per_s']:.0f}/s each; console drops (close code: count) "
        f"{dropped or 'none'}"
    )
    return rec


def disk_probe(path: Path, rate: float, seconds: float, out: list[float]) -> None:
    """The disk's floor under the same load: one-row SQLite commits (WAL, synchronous=FULL,
    as the event log) at the call rate, each timed. A durable 201 cannot beat this tail."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS e (seq INTEGER PRIMARY KEY, body TEXT)")
        t_next, stop = time.monotonic(), time.monotonic() + seconds
        while (now := time.monotonic()) < stop:
            time.sleep(max(0.0, t_next - now))
            t = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO e (body) VALUES (?)", ("x" * 300,))
            db.execute("COMMIT")
            out.append(time.perf_counter() - t)
            t_next += 1.0 / rate
    finally:
        db.close()


@contextmanager
def nullctx(value: str) -> Iterator[str]:
    yield value


def summarise_calls(
    got: dict[str, Any], seen: dict[str, list[float]], consoles: int
) -> dict[str, Any]:
    created = [t1 - t0 for iid, t0, t1, code in got["calls"] if code == 201]
    to_console = []
    missing = 0
    for iid, t0, _, code in got["calls"]:
        if code != 201:
            continue
        times = seen.get(iid, [])
        missing += consoles - len(times)
        to_console += [t - t0 for t in times]
    return {
        "calls": len(got["calls"]),
        "errors": sum(1 for c in got["calls"] if c[3] != 201),
        "failures": got["failures"],
        "missing": missing,
        "achieved_rate": got["achieved_rate"],
        "created": pcts(created),
        "recommended": pcts(to_console),
        "floor": pcts(got["floor"]),
    }


def call_targets(plan: Plan, label: str, positions: bool, rate: int) -> tuple[str, str, bool]:
    """(target of the 201 row, target of the console row, judged) for one rate."""
    if not positions:
        return "diagnostic (silent units)", "diagnostic (silent units)", False
    if plan.judged and rate != JUDGED_RATE:
        return "—", "—", False
    target = f"p99 <= {TARGET_MS:.0f} ms at {JUDGED_RATE}/s"
    target += "" if plan.judged else f" ({QUICK_NOTE})"
    return (target if label == "sqlite" else "—"), target, plan.judged


def call_rows(plan: Plan, label: str, positions: bool, rate: int, rec: dict[str, Any]) -> list[Row]:
    t201, tconsole, judged = call_targets(plan, label, positions, rate)
    peer = "GET /healthz (same load)"
    floor = rec["floor"]

    def ratio(p: dict[str, float]) -> float | None:
        return floor["p50_ms"] / p["p50_ms"] if p["n"] and floor["n"] else None

    def verdict(p: dict[str, float], target: str) -> bool | None:
        if not judged or not target.startswith("p99"):
            return None
        complete = rec["errors"] == 0 and rec["missing"] == 0 and p["n"] > 0
        return complete and p["p99_ms"] <= TARGET_MS

    created, recommended = rec["created"], rec["recommended"]
    lost = f" ({rec['errors']} failed)" if rec["errors"] else ""
    missing = f" ({rec['missing']} never arrived)" if rec["missing"] else ""
    return [
        Row(
            f"{label}: POST /calls -> 201 at {rate} calls/s",
            text(created) + lost,
            peer,
            text(floor),
            ratio(created),
            t201,
            verdict(created, t201),
        ),
        Row(
            f"{label}: call -> incident.recommended on {plan.consoles} consoles at {rate}/s",
            text(recommended) + missing,
            peer,
            text(floor),
            ratio(recommended),
            tconsole,
            verdict(recommended, tconsole),
        ),
        Row(
            f"{label}: disk floor at {rate}/s",
            "—",
            "bare fsync'd SQLite commit (same load)",
            text(rec["disk"]),
            None,
            "reported: a durable 201 waits for one",
            None,
        ),
    ]


def skipped_rows(plan: Plan, label: str, positions: bool, rate: int, at: int) -> list[Row]:
    """Rows of a rate not run because a lower one overloaded the server: judged rows fail."""
    t201, tconsole, judged = call_targets(plan, label, positions, rate)
    why = f"not run: overloaded at {at}/s"
    return [
        Row(
            f"{label}: POST /calls -> 201 at {rate} calls/s",
            why,
            "—",
            "—",
            None,
            t201,
            False if judged and t201.startswith("p99") else None,
        ),
        Row(
            f"{label}: call -> incident.recommended on {plan.consoles} consoles at {rate}/s",
            why,
            "—",
            "—",
            None,
            tconsole,
            False if judged else None,
        ),
    ]


# --- case 2: fan-out ---------------------------------------------------------------------------
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
            while (now := time.monotonic()) < stop and i < 10_000_000:
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


def bench_fanout(plan: Plan, n: int) -> tuple[dict[str, Any], list[Row]]:
    """Case 2 at n clients: saturated throughput and paced latency, ours next to bare."""
    say(f"\n## fan-out to {n} clients (Hub + pump vs bare broadcast, websockets server)")
    bare_sat, bare_paced = fanout_run("bare", n, plan.fanout_seconds, None)
    rate = bare_paced["rate"]
    hub_sat, hub_paced = fanout_run("hub", n, plan.fanout_seconds, rate)
    named = [
        ("bare saturated", bare_sat),
        ("hub saturated", hub_sat),
        (f"bare at {rate:g}/s", bare_paced),
        (f"hub at {rate:g}/s", hub_paced),
    ]
    for name, p in named:
        say(
            f"{name:>16}: {p['connected']} connected, {p['frames']} frames in "
            f"{p['publish_s']:.1f} s, {p['deliveries']} deliveries "
            f"({p['deliveries_per_s'] / 1e3:.1f} k/s), latency {text(p['latency'])}; CPU: server "
            f"{100 * p['server_cpu_share']:.0f} % ({p['server_us_per_delivery'] or 0:.1f} µs per "
            f"delivery), clients {100 * p['clients_cpu_share']:.0f} %; lagging dropped "
            f"{p['lagging_dropped']}, clients lost {p['clients_lost']}"
        )
    judged = plan.judged
    note = "" if judged else f" ({QUICK_NOTE})"
    ok = hub_sat["clients_lost"] == 0 and hub_sat["lagging_dropped"] == 0
    thr = hub_sat["deliveries_per_s"] / bare_sat["deliveries_per_s"]
    rows = [
        Row(
            f"fan-out {n} clients: deliveries/s, saturated",
            f"{hub_sat['deliveries_per_s'] / 1e3:,.1f} k/s",
            "websockets broadcast()",
            f"{bare_sat['deliveries_per_s'] / 1e3:,.1f} k/s",
            thr,
            f">= {FANOUT_THROUGHPUT}x{note}",
            (ok and thr >= FANOUT_THROUGHPUT) if judged else None,
        )
    ]
    ours_us, bare_us = hub_sat["server_us_per_delivery"], bare_sat["server_us_per_delivery"]
    rows.append(
        Row(
            f"fan-out {n} clients: server CPU per delivery, saturated",
            f"{ours_us or 0:.1f} µs",
            "websockets broadcast()",
            f"{bare_us or 0:.1f} µs",
            bare_us / ours_us if ours_us and bare_us else None,
            "reported (capacity on a free core)",
            None,
        )
    )
    lat_ok = hub_paced["clients_lost"] == 0 and hub_paced["lagging_dropped"] == 0
    p99r = bare_paced["latency"]["p99_ms"] / hub_paced["latency"]["p99_ms"]
    rows.append(
        Row(
            f"fan-out {n} clients: delivery latency at {rate:g} frames/s",
            text(hub_paced["latency"]),
            "websockets broadcast()",
            text(bare_paced["latency"]),
            p99r,
            f"p99 ratio >= {1 / FANOUT_P99:.2f} (within {FANOUT_P99}x){note}",
            (lat_ok and p99r >= 1 / FANOUT_P99) if judged else None,
        )
    )
    rec = {
        "clients": n,
        "paced_rate": rate,
        "saturated": {"ours": hub_sat, "bare": bare_sat},
        "paced": {"ours": hub_paced, "bare": bare_paced},
    }
    return rec, rows


# --- the run ---------------------------------------------------------------------------------
def run(
    quick: bool = False,
    only_fanout: bool = False,
    only_calls: str | None = None,
    rates: tuple[int, ...] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Run both cases (or case 2 alone, or case 1 alone on one backend); print as it goes and
    return the report (rows, table, raw numbers)."""
    plan = QUICK if quick else FULL
    if only_calls is not None:  # a diagnostic run: one backend, units moving, no fan-out
        plan = replace(plan, backends=(only_calls,), positions=(True,), fanout_clients=())
    if rates is not None:
        plan = replace(plan, rates=rates)
    if seconds is not None:
        plan = replace(plan, seconds_per_rate=seconds)
    t_start = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "plan": asdict(plan), "machine": machine()}
    rows: list[Row] = []
    say(f"# server benchmark ({'quick' if quick else 'full'} mode)")
    report["calls"] = {}
    for backend in () if only_fanout else plan.backends:
        for positions in plan.positions:
            key = backend if positions else f"{backend}-silent"
            with tempfile.TemporaryDirectory(prefix=f"jijiu-bench-{key}-") as tmp:
                report["calls"][key], got = bench_calls(plan, backend, positions, Path(tmp))
            rows += got
    first = next(iter(report["calls"].values()), None)
    if first is not None and first["units"] < 1000:
        say(f"\nnote: {first['units']} units (the issue asks for 1000)")
    report["fanout"] = {}
    for n in plan.fanout_clients:
        report["fanout"][n], got = bench_fanout(plan, n)
        rows += got
    close_report(report, rows, t_start, say)
    return report


def machine() -> dict[str, Any]:
    import fastapi
    import uvicorn
    import websockets

    return machine_info(fastapi, uvicorn, websockets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke run)")
    parser.add_argument("--only-fanout", action="store_true", help="case 2 (fan-out) alone")
    parser.add_argument(
        "--only-calls", choices=("sqlite", "redis"), help="case 1 alone, on one backend"
    )
    parser.add_argument("--rates", help="calls/s to run, comma separated (default 5,20,50)")
    parser.add_argument("--seconds", type=float, help="seconds per rate (default 30)")
    args = parser.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(",")) if args.rates else None
    run(
        quick=args.quick,
        only_fanout=args.only_fanout,
        only_calls=args.only_calls,
        rates=rates,
        seconds=args.seconds,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
