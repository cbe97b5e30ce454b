"""`jijiu demo`: the live city. A jijiu server and a simulated city driving it, on loopback.

Starts the server in this process on embedded defaults (a fresh SQLite event log and tokens
file in `--dir`, the bundled Hangzhou network, `--units` ambulances seeded at k-means
stations), prints where to watch (the hospital page, the API docs, the console's websocket)
and runs `simulator.live.city` against it: callers, a dispatcher bot, a tablet per unit, every
hospital. A status line shows progress; Ctrl-C or `--minutes` ends the run, and the summary
table follows (docs/simulator.md explains every line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from dispatch.settings import Settings
from simulator.live.city import LiveParams, LiveResult, run_live
from simulator.live.context import Endpoints
from simulator.live.local_server import LOOPBACK, LocalServer, port_or_any

RUN_FILES = ("events.db", "events.db-wal", "events.db-shm", "tokens.json", "server.log")
SHOWN_HOSPITAL = "zjpph"  # every capability, in the middle of the map: most patients go there


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jijiu demo", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop after this many wall minutes (default: at Ctrl-C)",
    )
    parser.add_argument("--network", default="hangzhou", help="bundled network name or OSM file")
    parser.add_argument("--city", default="", help="a city folder (docs/city.md) to run instead")
    parser.add_argument("--units", type=int, default=40, help="ambulances (default 40)")
    parser.add_argument(
        "--calls-per-day",
        type=float,
        default=400.0,
        help="mean calls per city day, shaped by the hour of day (default 400)",
    )
    parser.add_argument(
        "--start-hour",
        type=float,
        default=10.0,
        help="city time of day when the run starts (default 10, a busy morning)",
    )
    parser.add_argument(
        "--speed", type=float, default=30.0, help="city seconds per wall second (default 30)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated city")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("demo-output/live"),
        help="the run's event log, tokens file and server log (emptied first)",
    )
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (another if busy)")
    parser.add_argument("--ws-port", type=int, default=8001, help="websocket port (same)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the live city; 0 once the summary is printed, 2 on a bad argument."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.minutes is not None and not (math.isfinite(args.minutes) and args.minutes > 0):
        parser.error("--minutes must be a positive number")
    if not 1 <= args.units <= 1000:
        parser.error("--units must be in 1..1000")
    if args.city and args.network != "hangzhou":
        parser.error("give --city or --network, not both: a city folder names its own network")
    try:
        duration_s = args.minutes * 60 if args.minutes else None
        params = LiveParams(
            speed=args.speed,
            calls_per_day=args.calls_per_day,
            start_hour=args.start_hour,
            seed=args.seed,
            duration_s=duration_s,
        )
    except ValueError as exc:
        parser.error(str(exc))
    folder: Path = args.dir.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:  # a fresh city every run: the old log would replay old incidents
        (folder / name).unlink(missing_ok=True)
    settings = Settings(
        city=args.city,
        network=args.network,
        store_url=f"sqlite:///{folder / 'events.db'}",
        tokens_file=folder / "tokens.json",
        host=LOOPBACK,
        port=port_or_any(args.port),
        ws_port=port_or_any(args.ws_port),
        seed_fleet=args.units,
    )
    print(
        f"loading the {args.city or args.network} network and starting jijiu (a first run "
        "compiles the network and its kernels: up to a minute) ...",
        flush=True,
    )
    server = LocalServer(settings, folder / "server.log")
    try:
        server.start()
        _print_where(server, settings, folder, args, params)
        endpoints = Endpoints(server.http, server.ws, server.tokens)
        status = _StatusLine()
        result = asyncio.run(_run(endpoints, args.network, params, status.show, args.city))
        status.done()
        print()
        print(result.render(server_error_logs=server.errors.count))
        for line in server.errors.first:
            print(f"  server error: {line}")
    finally:
        server.stop()
    return 0


async def _run(
    endpoints: Endpoints,
    network: str,
    params: LiveParams,
    progress: Callable[[str], None],
    city: str = "",
) -> LiveResult:
    """The run; the first Ctrl-C ends it gracefully (the summary follows), a second one hard."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on some platforms

        def first_interrupt() -> None:
            stop.set()
            loop.remove_signal_handler(signal.SIGINT)

        loop.add_signal_handler(signal.SIGINT, first_interrupt)
    return await run_live(endpoints, network, params, stop=stop, progress=progress, city=city)


def _print_where(
    server: LocalServer,
    settings: Settings,
    folder: Path,
    args: argparse.Namespace,
    params: LiveParams,
) -> None:
    hospitals = server.tokens.get("hospitals", {})
    shown = SHOWN_HOSPITAL if SHOWN_HOSPITAL in hospitals else next(iter(hospitals), "")
    length = f"for {args.minutes:g} min" if args.minutes else "until Ctrl-C"
    console = f'  console feed   {server.ws}/ws/console?token=<"dispatcher" in the tokens file>\n'
    if _serves(f"{server.http}/console"):  # the console page, once the server has one
        console = f"  console        {server.http}/console#token={server.tokens['dispatcher']}\n"
    print(
        f"\njijiu live city: {args.units} units on {args.city or args.network}, "
        f"{params.calls_per_day:g} calls a day, from {params.start_hour:g}:00 city time, "
        f"time x{params.speed:g}\n"
        f"  hospital page  {server.http}/hospital#hospital={shown}&token={hospitals.get(shown)}\n"
        f"                 (other hospitals: their ids and tokens are in the tokens file)\n"
        f"  API docs       {server.http}/docs\n"
        f"{console}"
        f"  tokens file    {settings.tokens_file}\n"
        f"  server log     {folder / 'server.log'}\n"
        f"running {length}; Ctrl-C ends it and prints the summary\n",
        flush=True,
    )


def _serves(url: str) -> bool:
    """True when GET url answers 200 (loopback, 5 s at most)."""
    import httpx

    try:
        return httpx.get(url, timeout=5.0).status_code == 200
    except httpx.HTTPError:
        return False


class _StatusLine:
    """One line rewritten in place on a terminal; a plain line every 15 s otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = 0

    def show(self, line: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            sys.stderr.write("\r" + line[:width].ljust(width))
            sys.stderr.flush()
        else:
            self.shown += 1
            if self.shown % 15 == 1:
                print(line, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
