"""`jijiu loadtest`: drive a running jijiu server over loopback and report what it takes.

Every unit's socket sends a position at 1 Hz (one child process), `--consoles` raw console
sockets record when each incident's `call.received` and `incident.recommended` reach them
(another child), and this process posts calls open loop at each rate in turn, with a
`GET /healthz` half a period after each call (the HTTP floor under the same load). The tables
(simulator.load.report) go to stdout, the progress bar to stderr; docs/loadtest.md explains
every row. Loopback only; every loop, wait and child process is bounded in time.

    jijiu loadtest --serve --units 1000 --rates 10,50,100 --duration 120
    jijiu loadtest --url http://127.0.0.1:8000 --tokens jijiu-tokens.json --calls-per-s 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import InvalidArgument
from simulator.load.fleet import consoles_main, units_main
from simulator.load.loadgen import HttpPool, ask, child
from simulator.load.procfs import cpu_seconds, pid_listening_on, rss_bytes
from simulator.load.report import (
    Call,
    Plan,
    Step,
    Traffic,
    highest_passing,
    overloaded,
    parse_rates,
    render,
    summarise_step,
)
from simulator.load.target import (
    RunFailed,
    Target,
    discover,
    loopback_url,
    read_tokens,
    serve,
)

MAX_IN_FLIGHT = 500  # calls awaiting their answer; beyond it a call is not sent (a failure)
SETTLE_S = 2.0  # after connecting, before the first call: the 1 Hz positions are flowing
BAR = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s of load [{elapsed}<{remaining}]"
COLLECT_S = 10.0  # at most this long after a step for the consoles to show its last frames


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jijiu loadtest", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--url", help="HTTP base of a running server on loopback")
    parser.add_argument("--tokens", type=Path, help="that server's tokens JSON file")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="start a server here (temp dir, --units seeded units) and stop it",
    )
    parser.add_argument("--network", default="hangzhou", help="--serve: the bundled network")
    parser.add_argument("--units", type=int, default=1000, help="unit sockets at 1 Hz (max 1000)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--calls-per-s", type=float, help="one rate (default 50)")
    rate.add_argument("--rates", help="rates run in turn, comma separated, e.g. 10,50,100")
    parser.add_argument("--consoles", type=int, default=50, help="console sockets")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds per rate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the raw results to this file")
    return parser


def _plan(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Plan:
    try:
        if args.rates is not None:
            rates = parse_rates(args.rates)
        else:
            rates = parse_rates(str(50.0 if args.calls_per_s is None else args.calls_per_s))
        return Plan(rates, args.units, args.consoles, args.duration, args.seed)
    except InvalidArgument as exc:
        parser.error(str(exc))


def main(argv: list[str] | None = None) -> int:
    """Run the load test; 0 once the report is printed, 2 on a bad argument, 1 if it failed."""
    parser = _parser()
    args = parser.parse_args(argv)
    plan = _plan(parser, args)
    if args.serve and (args.url or args.tokens):
        parser.error("--serve starts its own server: give --serve or --url/--tokens, not both")
    if not args.serve and not (args.url and args.tokens):
        parser.error("give --url and --tokens of a running server, or --serve")
    try:
        where = None if args.serve else loopback_url(args.url)
        tokens = None if args.serve else read_tokens(args.tokens)
    except ValueError as exc:
        parser.error(str(exc))
    from tqdm import tqdm

    try:
        with ExitStack() as stack:
            if where is None or tokens is None:
                target = stack.enter_context(serve(args.network, plan.units))
            else:
                pid = pid_listening_on(where[1])
                note = "" if pid is not None else " (server process not visible from here)"
                target = Target(where[0], where[1], tokens, pid, note)
            bar = stack.enter_context(
                tqdm(total=round(plan.planned_s), desc="loadtest", file=sys.stderr, bar_format=BAR)
            )
            result = run(plan, target, lambda n: bar.update(n))
    except RunFailed as exc:
        print(f"jijiu loadtest: {exc}", file=sys.stderr)
        return 1
    steps: list[Step] = result["steps"]
    print(render(steps, plan, target.rss_note), flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_plain(result), indent=1))
    return 0


def run(plan: Plan, target: Target, tick: Callable[[int], object]) -> dict[str, Any]:
    """Connect the units and consoles, run each rate, return the steps and the context."""
    ws_host, ws_port, units = asyncio.run(discover(target, plan.units))
    if not units:
        raise RunFailed("the server has no unit this tokens file has a token for")
    places = np.array([(u[2], u[3]) for u in units])
    deadline_s = plan.planned_s + 600
    nonce = os.urandom(4).hex()
    steps: list[Step] = []
    out: dict[str, Any] = {
        "plan": asdict(plan),
        "units_asked": plan.units,
        "steps": steps,
        "server_pid": target.pid,
    }
    with (
        child(units_main, ws_host, ws_port, units, plan.seed, deadline_s) as unit_conn,
        child(
            consoles_main, ws_host, ws_port, target.tokens["dispatcher"], plan.consoles, deadline_s
        ) as console_conn,
    ):
        _, n_units, units_failed = ask(unit_conn, None, 240)
        _, n_consoles, consoles_failed = ask(console_conn, None, 120)
        out.update(
            units_connected=n_units,
            units_failed=units_failed,
            consoles_connected=n_consoles,
            consoles_failed=consoles_failed,
        )
        if n_units == 0 or n_consoles == 0:
            raise RunFailed(f"{n_units} unit and {n_consoles} console sockets opened")
        time.sleep(SETTLE_S)
        warm = asyncio.run(post_calls(target, 5.0, 1.0, places, f"lt-{nonce}-w", plan.seed))
        consoles_cpu = ask(
            console_conn, ("collect", _ids(warm["calls"]), COLLECT_S), COLLECT_S + 30
        )[5]
        before = ask(unit_conn, ("count",), 30)
        mark, main_cpu = time.monotonic(), time.process_time()
        overloaded_at: float | None = None
        for k, rate in enumerate(plan.rates):
            if overloaded_at is not None:
                steps.append(
                    Step(rate, plan.duration_s, skipped=f"overloaded at {overloaded_at:g} calls/s")
                )
                tick(round(plan.duration_s))
                continue
            cpu0, t0 = _cpu(target.pid), time.monotonic()
            tag = f"lt-{nonce}-{k}"
            got = asyncio.run(
                post_calls(target, rate, plan.duration_s, places, tag, plan.seed + k, tick)
            )
            cpu1, t1 = _cpu(target.pid), time.monotonic()
            _, received, recommended, frames, drops, consoles_cpu1 = ask(
                console_conn, ("collect", _ids(got["calls"]), COLLECT_S), COLLECT_S + 60
            )
            after = ask(unit_conn, ("count",), 30)
            mark1, main_cpu1 = time.monotonic(), time.process_time()
            generator_cpu = (
                (after[4] - before[4]) + (consoles_cpu1 - consoles_cpu) + (main_cpu1 - main_cpu)
            )
            traffic = Traffic(
                after[1] - before[1],
                (after[2] - before[2]) + (after[3] - before[3]),
                frames,
                drops,
                mark1 - mark,
                generator_cpu,
            )
            before, mark, main_cpu, consoles_cpu = after, mark1, main_cpu1, consoles_cpu1
            step = summarise_step(
                rate,
                plan.duration_s,
                got["calls"],
                got["floor"],
                received,
                recommended,
                n_consoles,
                traffic,
                got["failures"],
            )
            cpu = (cpu1 - cpu0) / (t1 - t0) if cpu0 is not None and cpu1 is not None else None
            rss = rss_bytes(target.pid) if target.pid is not None else None
            step = replace(step, rss_bytes=rss, cpu_share=cpu)
            steps.append(step)
            if overloaded(step):
                overloaded_at = rate
    out["verdict_calls_per_s"] = highest_passing(steps)
    return out


def _cpu(pid: int | None) -> float | None:
    return cpu_seconds(pid) if pid is not None else None


def _ids(calls: list[Call]) -> list[str]:
    return [iid for iid, _, _, status in calls if status == 201 and iid is not None]


async def post_calls(
    target: Target,
    rate: float,
    seconds: float,
    places: np.ndarray,
    tag: str,
    seed: int,
    tick: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Open-loop calls at `rate` for `seconds`, a GET /healthz half a period after each."""
    rng = np.random.default_rng(seed)
    n = max(1, round(rate * seconds))
    picks = rng.integers(0, len(places), size=n)
    jitter = rng.normal(0.0, 0.001, size=(n, 2))  # ~100 m about a unit's place: on roads
    phone0 = int(rng.integers(0, 1000))
    calls: list[Call] = []
    floor: list[float] = []
    reasons: Counter[str] = Counter()
    in_flight = [0]
    pool = HttpPool(target.port, target.host)

    async def call(i: int) -> None:
        t0 = time.monotonic()
        if in_flight[0] >= MAX_IN_FLIGHT:
            calls.append((None, t0, t0, 0))
            reasons["not sent: too many calls awaiting an answer"] += 1
            return
        lat, lon = (
            float(places[picks[i], 0] + jitter[i, 0]),
            float(places[picks[i], 1] + jitter[i, 1]),
        )
        fix = {"lat": lat, "lon": lon, "accuracy_m": 15}
        phone = f"+86{phone0:03d}{seed % 100:02d}{i:07d}"
        body = {"phone": phone, "consent_location": True, "complaint": "chest_pain", "fix": fix}
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
        start = time.monotonic() + 0.05
        ticking = asyncio.create_task(ticker(start))
        callers, probes = [], []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            callers.append(asyncio.create_task(call(i)))
            await asyncio.sleep(max(0.0, start + (i + 0.5) / rate - time.monotonic()))
            probes.append(asyncio.create_task(healthz()))
        _, pending = await asyncio.wait(callers + probes, timeout=30)
        for task in pending:
            task.cancel()
            if task in callers:  # HttpPool.send gives up after 15 s: only a stuck connect
                reasons["no answer within 30 s"] += 1
        await asyncio.wait({ticking}, timeout=2)
        ticking.cancel()
    finally:
        pool.close()
    return {"calls": calls, "floor": floor, "failures": dict(reasons)}


def _json(body: bytes) -> dict[str, Any]:
    with suppress(ValueError):
        value = json.loads(body) if body else {}
        if isinstance(value, dict):
            return value
    return {}


def _plain(value: Any) -> Any:
    """JSON-safe: NaN -> None, tuples -> lists, recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Step):
        return _plain(asdict(value))
    return value


if __name__ == "__main__":
    sys.exit(main())
