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
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from simulator.errors import InvalidArgument
from simulator.load.procfs import pid_listening_on, rss_bytes
from simulator.load.report import (
    Plan,
    Step,
    Traffic,
    highest_passing,
    overloaded,
    parse_rates,
    per_call_ms,
    render,
    summarise_step,
)
from simulator.load.servers import RunFailed
from simulator.load.session import Session, Where
from simulator.load.target import (
    Target,
    discover,
    loopback_url,
    read_tokens,
    serve,
)

BAR = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s of load [{elapsed}<{remaining}]"


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
    where = Where(
        target.host, target.port, ws_host, ws_port, target.tokens["dispatcher"], target.pid
    )
    steps: list[Step] = []
    out: dict[str, Any] = {
        "plan": asdict(plan),
        "units_asked": plan.units,
        "steps": steps,
        "server_pid": target.pid,
    }
    with Session(where, units, plan.consoles, plan.seed, plan.planned_s + 600) as session:
        out.update(session.connected)
        n_units, n_consoles = (
            session.connected["units_connected"],
            session.connected["consoles_connected"],
        )
        if n_units == 0 or n_consoles == 0:
            raise RunFailed(f"{n_units} unit and {n_consoles} console sockets opened")
        overloaded_at: float | None = None
        for k, rate in enumerate(plan.rates):
            if overloaded_at is not None:
                steps.append(
                    Step(rate, plan.duration_s, skipped=f"overloaded at {overloaded_at:g} calls/s")
                )
                tick(round(plan.duration_s))
                continue
            got = session.step(rate, plan.duration_s, str(k), plan.seed + k, tick)
            traffic = Traffic(
                got["positions_sent"],
                got["position_errors"],
                got["console_frames"],
                got["console_drops"],
                got["span_s"],
                got["generator_cpu_s"],
            )
            step = summarise_step(
                rate,
                plan.duration_s,
                got["calls"],
                got["floor"],
                got["received"],
                got["recommended"],
                n_consoles,
                traffic,
                got["failures"],
            )
            rss = rss_bytes(target.pid) if target.pid is not None else None
            split0, split1 = got["server_cpu_split"]
            split = per_call_ms(split0, split1, len(got["calls"]))
            step = replace(
                step, rss_bytes=rss, cpu_share=got["server_cpu_share"], cpu_ms_per_call=split
            )
            steps.append(step)
            if overloaded(step):
                overloaded_at = rate
    out["verdict_calls_per_s"] = highest_passing(steps)
    return out


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
