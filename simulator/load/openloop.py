"""The open-loop caller: one-tap calls posted at a fixed rate, whatever the server answers, with
a `GET /healthz` half a period after each (the HTTP floor under the same load).

Shared by `jijiu loadtest` and the server benchmark. Open loop: a call is sent on its schedule,
not when the previous one is answered, so a slow server meets the load it would meet in a
surge; at most MAX_IN_FLIGHT calls wait for an answer (beyond that a call is counted as failed,
not sent). Calls go through `HttpPool`, the lean keep-alive client, to loopback.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import numpy as np

from simulator.load.latency import achieved_rate
from simulator.load.loadgen import HttpPool
from simulator.load.report import Call

MAX_IN_FLIGHT = 500  # calls awaiting their answer; beyond it a call is not sent (a failure)
JITTER_DEG = 0.001  # ~100 m about a unit's place: on roads
ANSWER_S = 30.0  # after the last send, the longest wait for the answers


def _json(body: bytes) -> dict[str, Any]:
    with suppress(ValueError):
        value = json.loads(body) if body else {}
        if isinstance(value, dict):
            return value
    return {}


async def post_calls(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    places: np.ndarray,
    tag: str,
    seed: int,
    tick: Callable[[int], object] | None = None,
    warm_connections: int = 0,
    phone: str | None = None,
    probes: bool = True,
) -> dict[str, Any]:
    """Open-loop calls at `rate` for `seconds` near `places` ((n, 2) lat, lon), a GET /healthz
    half a period after each; `warm_connections` probes first open that many pooled
    connections (not timed). Each call has a phone of its own, or all `phone` (a flood);
    `probes` False sends no GET /healthz. Returns calls (`report.Call`), floor (s), failures,
    achieved_rate.
    """
    rng = np.random.default_rng(seed)
    n = max(1, round(rate * seconds))
    picks = rng.integers(0, len(places), size=n)
    jitter = rng.normal(0.0, JITTER_DEG, size=(n, 2))
    phone0 = int(rng.integers(0, 1000))
    calls: list[Call] = []
    floor: list[float] = []
    reasons: Counter[str] = Counter()
    in_flight = [0]
    pool = HttpPool(port, host)

    async def call(i: int) -> None:
        t0 = time.monotonic()
        if in_flight[0] >= MAX_IN_FLIGHT:
            calls.append((None, t0, t0, 0))
            reasons["not sent: too many calls awaiting an answer"] += 1
            return
        lat = float(places[picks[i], 0] + jitter[i, 0])
        lon = float(places[picks[i], 1] + jitter[i, 1])
        fix = {"lat": lat, "lon": lon, "accuracy_m": 15}
        number = phone or f"+86{phone0:03d}{seed % 100:02d}{i:07d}"
        body = {"phone": number, "consent_location": True, "complaint": "chest_pain", "fix": fix}
        in_flight[0] += 1
        try:
            status, answer, t0, t1 = await pool.send(
                "POST",
                "/api/v1/calls",
                json.dumps(body).encode(),
                {"Idempotency-Key": f"{tag}-{i}"},
            )
        except (TimeoutError, OSError) as exc:
            calls.append((None, t0, time.monotonic(), 0))
            reasons[type(exc).__name__] += 1
            return
        finally:
            in_flight[0] -= 1
        reply = _json(answer)
        calls.append((reply.get("incident_id") if status == 201 else None, t0, t1, status))
        if status != 201:
            reasons[f"{status} {reply.get('reason', '')}".strip()] += 1

    async def healthz() -> None:
        with suppress(OSError, TimeoutError):
            status, _, t0, t1 = await pool.send("GET", "/healthz")
            if status == 200:
                floor.append(t1 - t0)

    async def ticker(start: float) -> None:
        for k in range(1, math.ceil(seconds) + 1):
            await asyncio.sleep(max(0.0, start + k - time.monotonic()))
            if tick is not None:
                tick(1)

    try:
        if warm_connections:
            await asyncio.gather(*(healthz() for _ in range(warm_connections)))
            floor.clear()
        start = time.monotonic() + 0.05
        ticking = asyncio.create_task(ticker(start))
        callers: list[asyncio.Task[None]] = []
        floors: list[asyncio.Task[None]] = []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            callers.append(asyncio.create_task(call(i)))
            if probes:
                await asyncio.sleep(max(0.0, start + (i + 0.5) / rate - time.monotonic()))
                floors.append(asyncio.create_task(healthz()))
        _, pending = await asyncio.wait(callers + floors, timeout=ANSWER_S)
        for task in pending:
            task.cancel()
            if task in callers:  # HttpPool.send gives up after 15 s: only a stuck connect
                reasons[f"no answer within {ANSWER_S:g} s"] += 1
        await asyncio.wait({ticking}, timeout=2)
        ticking.cancel()
    finally:
        pool.close()
    return {
        "calls": calls,
        "floor": floor,
        "failures": dict(reasons),
        "achieved_rate": achieved_rate(calls),
    }
