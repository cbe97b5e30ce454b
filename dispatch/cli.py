"""The `jijiu` command line: one subcommand per thing a person runs by hand."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jijiu",
        description="jijiu: real-time pre-hospital emergency medical dispatch.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # No -h on `demo`: `jijiu demo --help` shows the demo's own help.
    commands.add_parser(
        "demo",
        help="a live city of ambulances, callers and hospitals driving a real server",
        description="Run the live city; arguments after `demo` go to it unchanged.",
        add_help=False,
    )
    commands.add_parser(
        "rank-demo",
        help="route and rank on the bundled Hangzhou road network",
        description="Run the routing demo; arguments after `rank-demo` go to it unchanged.",
        add_help=False,
    )
    commands.add_parser(
        "eval-location",
        help="score location fusion on synthetic calls",
        description="Evaluate location fusion; arguments after the command go to it.",
        add_help=False,
    )
    commands.add_parser(
        "volunteer-study",
        help="simulate CPR volunteers against the ambulance (SYNTHETIC)",
        description="Run the volunteer study; arguments after the command go to it.",
        add_help=False,
    )
    commands.add_parser(
        "simulate",
        help="compare dispatch policies in the fast simulator (SYNTHETIC city)",
        description="Run the policy study; arguments after the command go to it.",
        add_help=False,
    )
    commands.add_parser(
        "loadtest",
        help="drive a running server on loopback and report latency per message kind",
        description="Run the load test; arguments after the command go to it.",
        add_help=False,
    )
    city = commands.add_parser(
        "city",
        help="make a city folder to serve (docs/city.md)",
        description="City folders: a road network and data layers named in a city.toml.",
    )
    city_commands = city.add_subparsers(dest="city_command", required=True, metavar="ACTION")
    init = city_commands.add_parser(
        "init",
        help="build a city folder from an OpenStreetMap file",
        description="Compile the roads and extract hospitals, ambulance stations, AEDs and "
        "named places from an OSM file (.osm, .osm.bz2, .osm.pbf) into DIR with a city.toml.",
    )
    init.add_argument("dir", type=Path, help="the city folder to write (created if missing)")
    init.add_argument("--osm", type=Path, required=True, help="the OSM file")
    init.add_argument("--locale", choices=("zh-CN", "en"), help="read-back language (guessed)")
    init.add_argument("--timezone", default="UTC", help="IANA zone of the city (default UTC)")
    init.add_argument("--name", help="the city's name (default: the OSM file's)")
    init.add_argument("--force", action="store_true", help="overwrite a city.toml in DIR")
    serve = commands.add_parser(
        "serve",
        help="run the dispatch server",
        description="Serve the dispatch API and websockets; flags override JIJIU_* variables.",
    )
    serve.add_argument("--city", help="a city folder with a city.toml (default: bundled Hangzhou)")
    serve.add_argument("--network", help="bundled network name or OSM file (default hangzhou)")
    serve.add_argument("--store", help="event log URL (default sqlite:///jijiu-events.db)")
    serve.add_argument("--tokens", help="role tokens file (default jijiu-tokens.json)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", help="HTTP listen port (default 8000)")
    serve.add_argument("--ws-port", help="websocket listen port (default 8001)")
    return parser


def _demo(argv: list[str]) -> int:
    # Imported here so `jijiu --help` and `jijiu serve` never load numba or the network.
    import simulator.live.demo as live_demo  # the top layer: see pyproject's ignore_imports

    code: int = live_demo.main(argv)
    return code


def _rank_demo(argv: list[str]) -> int:
    import routing.demo as demo

    code: int = demo.main(argv)
    return code


def _print_network(city_dir: str, network: str) -> bool:
    """Read the city, load (and so cache) its road network, print what was kept and dropped
    and which layers are not configured; False on failure.

    The app loads it again at start-up from the cache this fills, so a file that cannot be read
    is a one-line refusal here rather than "Application startup failed".
    """
    from routing.city import load_city_network, resolve_city
    from routing.errors import CityError, NetworkLoadError

    try:
        city = resolve_city(city_dir, "" if city_dir else network)
        _, report = load_city_network(city)
    except (CityError, NetworkLoadError) as exc:
        print(f"jijiu serve: {exc}", file=sys.stderr)
        return False
    how = "from the cache" if report.cached else "compiled"
    print(f"city         {city.name} ({city.folder}, locale {city.locale})")
    if city.missing():
        print(f"             not configured: {', '.join(city.missing())} (docs/city.md)")
    print(f"network      {city.network} ({how} in {report.seconds:.1f} s)")
    for line in report.summary.lines() if report.summary else []:
        print(f"             {line}")
    return True


def _city(ns: argparse.Namespace) -> int:
    """`jijiu city init`: the work is routing.city_init's; this prints its report."""
    from routing.city_init import init_city
    from routing.errors import CityError, NetworkLoadError

    try:
        report = init_city(
            ns.dir, ns.osm, locale=ns.locale, timezone=ns.timezone, name=ns.name, force=ns.force
        )
    except (CityError, NetworkLoadError) as exc:
        print(f"jijiu city init: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    print(f"serve it     jijiu serve --city {ns.dir}")
    return 0


def _serve(ns: argparse.Namespace) -> int:
    """Run uvicorn on the app factory; prints where the tokens are, never the tokens."""
    import uvicorn

    from dispatch.http.app import create_app
    from dispatch.settings import Settings

    flags = {
        "city": ns.city,
        "network": ns.network,
        "store_url": ns.store,
        "tokens_file": ns.tokens,
        "host": ns.host,
        "port": ns.port,
        "ws_port": ns.ws_port,
    }
    try:
        settings = Settings.from_env().with_text({k: v for k, v in flags.items() if v is not None})
    except ValueError as exc:
        print(f"jijiu serve: {exc}", file=sys.stderr)
        return 2
    if not _print_network(settings.city, settings.network):
        return 2
    # The event log, its WAL and the tokens file hold patient data and secrets: whatever the
    # server creates (an export too) is readable by its own user only, folders included.
    os.umask(0o077)
    # Our loggers (jijiu.*, dispatch.*) to stderr beside uvicorn's, in its "LEVEL:" style.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:  %(name)s  %(message)s")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"tokens file  {settings.tokens_file.resolve()} (created on first start, mode 0600)")
    print(f"event log    {settings.store_url}")
    print(f"console      ws://{host}:{settings.ws_port}/ws/console?token=<dispatcher token>")
    print(f"API docs     http://{host}:{settings.port}/docs")
    sys.stdout.flush()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="none",  # the websockets have their own server and port (dispatch/ws/server.py)
        log_level="info",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: the process arguments), run the subcommand, return its exit code."""
    parser = _build_parser()
    # parse_known_args: everything after `demo` that this parser does not know is the demo's.
    ns, rest = parser.parse_known_args(argv)
    if ns.command == "demo":
        return _demo(rest)
    if ns.command == "rank-demo":
        return _rank_demo(rest)
    if ns.command == "eval-location":
        import location_fusion.cli as fusion_cli

        code: int = fusion_cli.main(rest)
        return code
    if ns.command == "volunteer-study":
        import simulator.studies.cli as simulator_cli  # the top layer: see pyproject

        study_code: int = simulator_cli.main(rest)
        return study_code
    if ns.command == "simulate":
        import simulator.fast.cli as simulate_cli  # the top layer: see pyproject

        simulate_code: int = simulate_cli.main(rest)
        return simulate_code
    if ns.command == "loadtest":
        import simulator.load.loadtest as loadtest  # the top layer: see pyproject's ignore_imports

        load_code: int = loadtest.main(rest)
        return load_code
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if ns.command == "city":
        return _city(ns)
    return _serve(ns)
