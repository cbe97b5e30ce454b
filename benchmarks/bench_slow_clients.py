"""Slow-clients benchmark: 500 connections that never finish their request head must not slow
the real calls, and each is cut after the head timeout.

Budget it guards (issue 22, connections; the limits are the `[slow_clients]` table of
`benchmarks/targets.toml`, shown in the `target` column and printed next to each figure):

    500 clients each send half a request head and stall; while they hold their sockets, real
    calls (GET /healthz and POST /api/v1/calls, alternating) are answered with p99 under
    100 ms, and every slow client is closed by the server (408) within the head timeout plus
    one second.

Set-up: `jijiu serve` in its own process on Wulin with a fresh SQLite log,
`JIJIU_HEADER_TIMEOUT_S` = `timeout_s` (the slow clients come from 127.0.0.2-127.0.0.11, so
the per-address cap, 64 by default, is not what cuts them). Peer, same run and server: the same
real calls before any slow client connects (the quiet floor); ratio = quiet p99 / loaded p99,
above 1 = not slower. The real calls go through one lean keep-alive client
(`simulator.load.loadgen.HttpPool`) at `rate` a second, open loop, for as long as the slow
clients are held.

Judged: the loaded p99 (`answer_p99_ms_max`), the slow clients still open one second after the
head timeout (`slow_left_open_max`), the real calls that failed (`failed_calls_max`).
`--quick` (CI, ~30 s): 100 slow clients, a 2 s timeout, 10 calls a second; the p99 is shown,
not judged. Exit status 1 when a judged target is missed. Traffic to 127.0.0.1 only; every
wait is bounded.

    python -m benchmarks.bench_slow_clients [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.targets import QUICK as QUICK_NOTE
from benchmarks.targets import Scorecard, load
from benchmarks.timing import NO_PEER, Row, close_report, fmt_ms, server_machine_info
from simulator.load.latency import pcts
from simulator.load.loadgen import HttpPool
from simulator.load.servers import Served, jijiu_serve

HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # never ends
SLOW_ADDRESSES = [f"127.0.0.{i}" for i in range(2, 12)]  # loopback aliases (Linux: all 127/8)
CALL = {
    "phone": "",
    "consent_location": True,
    "fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12},
}


@dataclass(frozen=True)
class Plan:
    slow_clients: int
    timeout_s: float  # JIJIU_HEADER_TIMEOUT_S
    rate: float  # real calls a second
    judged: bool  # False: the p99 is shown, not judged


FULL = Plan(slow_clients=500, timeout_s=10.0, rate=20.0, judged=True)
QUICK = Plan(slow_clients=100, timeout_s=2.0, rate=10.0, judged=False)


def say(line: str) -> None:
    print(line, flush=True)


async def real_calls(srv: Served, seconds: float, rate: float, tag: str) -> tuple[list[float], int]:
    """Open loop at `rate` for `seconds`: GET /healthz and POST /calls alternately; the
    latencies (s) of the answered ones and how many failed (no answer, or 5xx)."""
    pool = HttpPool(srv.port)
    latencies: list[float] = []
    failed = 0
    n = max(2, int(seconds * rate))
    start = time.monotonic()

    async def one(i: int) -> None:
        nonlocal failed
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        if i % 2:
            body = json.dumps(CALL | {"phone": f"+86137{i:08d}"}).encode()
            key = {"Idempotency-Key": f"{tag}-{i}"}
            request = pool.send("POST", "/api/v1/calls", body, key)
        else:
            request = pool.send("GET", "/healthz")
        try:
            status, _, t0, t1 = await request
        except (OSError, TimeoutError):
            failed += 1
            return
        if status >= 500:
            failed += 1
        latencies.append(t1 - t0)

    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        pool.close()
    return latencies, failed


async def slow_phase(srv: Served, plan: Plan) -> dict[str, Any]:
    """Hold `plan.slow_clients` half heads open, time real calls meanwhile, and see each slow
    client cut: the loaded latencies and when the cuts came."""
    slow = []
    for i in range(plan.slow_clients):
        address = SLOW_ADDRESSES[i % len(SLOW_ADDRESSES)]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", srv.port, local_addr=(address, 0)
        )
        writer.write(HALF_HEAD)
        slow.append((reader, writer, time.monotonic()))

    async def cut_after(reader: asyncio.StreamReader, opened: float) -> float | None:
        try:
            await asyncio.wait_for(reader.read(), plan.timeout_s + 1.0)
        except TimeoutError:
            return None  # still open one second after its time
        return time.monotonic() - opened

    cuts = [asyncio.create_task(cut_after(r, t)) for r, _, t in slow]
    latencies, failed = await real_calls(srv, plan.timeout_s * 0.8, plan.rate, "loaded")
    cut_s = await asyncio.gather(*cuts)
    for _, writer, _ in slow:
        writer.close()
    done = [s for s in cut_s if s is not None]
    return {
        "answers": pcts(latencies),
        "failed": failed,
        "left_open": sum(s is None for s in cut_s),
        "cut_s": {"min": min(done, default=None), "max": max(done, default=None)},
    }


def run(quick: bool = False) -> dict[str, Any]:
    """The quiet floor, then the slow clients; print as it goes and return the report."""
    plan = QUICK if quick else FULL
    targets = load("slow_clients")
    card = Scorecard(targets, say)
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "quick": quick,
        "plan": asdict(plan),
        "machine": server_machine_info(),
    }
    say(
        f"# slow-clients benchmark ({'quick' if quick else 'full'} mode; targets: {targets.source})"
    )
    env = {"JIJIU_HEADER_TIMEOUT_S": str(plan.timeout_s), "JIJIU_MAX_CONN_PER_IP": "64"}
    with tempfile.TemporaryDirectory(prefix="jijiu-bench-slow-") as tmp:
        work = Path(tmp)
        with jijiu_serve("wulin", 20, f"sqlite:///{work}/ev.db", work, 300, extra_env=env) as srv:
            quiet, quiet_failed = asyncio.run(
                real_calls(srv, plan.timeout_s * 0.8, plan.rate, "quiet")
            )
            report["quiet"] = {"answers": pcts(quiet), "failed": quiet_failed}
            report["loaded"] = asyncio.run(slow_phase(srv, plan))
    q, loaded = report["quiet"]["answers"], report["loaded"]
    p99 = loaded["answers"]["p99_ms"]
    c_p99 = card.check("answer_p99_ms_max", p99, unjudged=None if plan.judged else QUICK_NOTE)
    c_open = card.check("slow_left_open_max", loaded["left_open"])
    c_failed = card.check("failed_calls_max", loaded["failed"] + report["quiet"]["failed"])
    cut = loaded["cut_s"]
    rows = [
        Row.judged(
            f"real calls with {plan.slow_clients} slow clients held ({plan.rate:g}/s)",
            f"{fmt_ms(loaded['answers']['p50_ms'])} / {fmt_ms(p99)}",
            c_p99,
            "the same calls, no slow client",
            f"{fmt_ms(q['p50_ms'])} / {fmt_ms(q['p99_ms'])}",
            q["p99_ms"] / p99 if p99 > 0 else None,
        ),
        Row.judged(
            f"slow clients still open {plan.timeout_s + 1:g} s after connecting",
            f"{loaded['left_open']} of {plan.slow_clients} (cut after "
            f"{cut['min'] or 0:.2f}-{cut['max'] or 0:.2f} s, timeout {plan.timeout_s:g} s)",
            c_open,
            NO_PEER,
        ),
        Row.judged(
            "real calls failed",
            str(loaded["failed"] + report["quiet"]["failed"]),
            c_failed,
            NO_PEER,
        ),
    ]
    close_report(report, rows, t_start, say, card)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke run)")
    args = parser.parse_args(argv)
    return 1 if run(quick=args.quick)["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
