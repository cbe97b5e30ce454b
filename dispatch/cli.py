"""The `jijiu` command line: one subcommand per thing a person runs by hand."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.settings import Settings


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
        "study",
        help="run a named study: headline (before/after of one tap, docs/outcomes.md)",
        description="Run a study; `jijiu study headline ...`, arguments go to it.",
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
    serve.add_argument(
        "--certfile", help="PEM certificate: serve HTTPS and wss:// (with --keyfile)"
    )
    serve.add_argument("--keyfile", help="the certificate's PEM private key")
    _users_parser(commands)
    _units_parser(commands)
    _purge_parser(commands)
    _export_parser(commands)
    store_help = "event log URL (default sqlite:///jijiu-events.db, or JIJIU_STORE)"
    tokens_help = "role tokens file (default jijiu-tokens.json, or JIJIU_TOKENS)"
    backup = commands.add_parser(
        "backup",
        help="copy the event log and the server's secret files to a folder (docs/operations.md)",
        description="Back up while the server runs: the log (SQLite online backup, or a Redis "
        "stream dump), the secret files (tokens, accounts, data key, key ring) and a manifest, "
        "into DEST.",
    )
    backup.add_argument("dest", type=Path, help="the backup folder (new or empty; made 0700)")
    backup.add_argument("--store", help=store_help)
    backup.add_argument("--tokens", help=tokens_help)
    restore = commands.add_parser(
        "restore",
        help="put a backup back into an event log (docs/operations.md)",
        description="Verify the backup in SRC against its manifest, then write its log into "
        "the store and its secret files where the settings name them. Stop the server first.",
    )
    restore.add_argument("src", type=Path, help="a folder written by `jijiu backup`")
    restore.add_argument("--store", help=store_help)
    restore.add_argument("--tokens", help=tokens_help)
    restore.add_argument(
        "--force", action="store_true", help="overwrite a log with records, or other secrets"
    )
    return parser


def _secret_files(settings: Settings) -> dict[str, Path]:
    """What a server reads beside its log, by its name in a backup's manifest: the role
    tokens, people's accounts, the master data key and the key ring it wraps (the key from
    JIJIU_DATA_KEY is no file: its holder keeps it). Login sessions are not kept."""
    from dispatch.service.personal import RING_FILE, key_file_of

    key = key_file_of(settings)
    return {
        "tokens": settings.tokens_file,
        "users": settings.users_path,
        "data_key": key,
        "key_ring": key.with_name(RING_FILE),
    }


def _backup_or_restore(ns: argparse.Namespace) -> int:
    """`jijiu backup` and `jijiu restore`: the work is dispatch.store.backup's."""
    from dispatch.errors import StoreError
    from dispatch.settings import Settings
    from dispatch.store import backup

    flags = {"store_url": ns.store, "tokens_file": ns.tokens}
    try:
        settings = Settings.from_env().with_text({k: v for k, v in flags.items() if v})
        secrets = _secret_files(settings)
        os.umask(0o077)
        if ns.command == "backup":
            manifest = backup.backup(settings.store_url, ns.dest, secrets)
            print("\n".join(manifest.lines()))
            print(f"written to   {ns.dest.resolve()}")
        else:
            manifest = backup.restore(ns.src, settings.store_url, secrets, ns.force)
            print("\n".join(manifest.lines()))
            print(f"restored to  {settings.store_url}")
    except (StoreError, ValueError, OSError) as exc:
        print(f"jijiu {ns.command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _purge_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`jijiu purge [--dry-run]`: retention, asked of the running server."""
    purge = commands.add_parser(
        "purge",
        help="purge personal fields past JIJIU_RETENTION_DAYS now (docs/security.md)",
        description="Ask the running server to purge the personal fields (callers' numbers, "
        "notes) of incidents closed longer ago than its retention: a tombstone each in the "
        "log, their data keys shredded. The server also does this hourly by itself.",
    )
    purge.add_argument("--dry-run", action="store_true", help="only list what is due")
    purge.add_argument("--server", help="its HTTP base URL (default http://127.0.0.1:JIJIU_PORT)")
    purge.add_argument("--tokens", help="role tokens file (default jijiu-tokens.json)")


def _purge(ns: argparse.Namespace) -> int:
    """POST /api/v1/retention/purge with the dispatcher token; prints the incidents' ids."""
    import json
    import urllib.error
    import urllib.request

    from dispatch.settings import Settings

    try:
        settings = Settings.from_env().with_text({"tokens_file": ns.tokens} if ns.tokens else {})
        token = json.loads(settings.tokens_file.read_text(encoding="utf-8"))["dispatcher"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = type(exc).__name__  # never the file's content
        print(f"jijiu purge: cannot read the dispatcher token: {reason}", file=sys.stderr)
        return 2
    base = ns.server or f"http://127.0.0.1:{settings.port}"
    request = urllib.request.Request(
        base.rstrip("/") + "/api/v1/retention/purge",
        data=json.dumps({"dry_run": ns.dry_run}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            done = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"jijiu purge: no answer from {base}: {exc}", file=sys.stderr)
        return 2
    print(f"retention    {done['retention_days']:g} days after the close")
    print(f"due          {len(done['due'])} incidents {' '.join(done['due'])}".rstrip())
    if not ns.dry_run:
        print(f"purged       {len(done['purged'])} incidents")
    return 0


def _export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`jijiu export`: closed incidents as NEMSIS XML or FHIR JSON, from the log itself."""
    export = commands.add_parser(
        "export",
        help="write closed incidents as NEMSIS v3.5.1 XML or FHIR R4 Bundles (docs/exports.md)",
        description="Read the event log directly (no server needed), replay it, and write "
        "each closed incident whose call came in [--since, --until) to its own file in --out "
        "(files 0600, the folder 0700), without personal fields.",
    )
    export.add_argument("--format", required=True, choices=("nemsis", "fhir"))
    export.add_argument("--out", required=True, type=Path, help="the folder to write into")
    export.add_argument("--since", help="ISO 8601 time; without an offset, the city's time")
    export.add_argument("--until", help="ISO 8601 time (not included); as --since")
    export.add_argument("--store", help="event log URL (default sqlite:///jijiu-events.db)")
    export.add_argument("--tokens", help="role tokens file (the pseudonyms' secret)")
    export.add_argument("--city", help="the city folder the log was served on")
    export.add_argument("--network", help="bundled network name or OSM file (default hangzhou)")
    export.add_argument("--quiet", action="store_true", help="no progress bar")


def _export(ns: argparse.Namespace) -> int:
    """Write the files (a tqdm progress bar on stderr); prints how many and where."""
    from datetime import datetime

    from tqdm import tqdm

    from dispatch.errors import StoreError
    from dispatch.service import exports
    from dispatch.settings import Settings

    flags = {
        "city": ns.city,
        "network": ns.network,
        "store_url": ns.store,
        "tokens_file": ns.tokens,
    }
    try:
        settings = Settings.from_env().with_text({k: v for k, v in flags.items() if v is not None})
        zone = exports.zone_of(settings)
        since, until = (
            None if text is None else datetime.fromisoformat(text) for text in (ns.since, ns.until)
        )
        since, until = (
            t if t is None or t.tzinfo else t.replace(tzinfo=zone) for t in (since, until)
        )
        written = exports.export_log(
            settings,
            ns.format,
            ns.out,
            since,
            until,
            lambda incidents: tqdm(incidents, "export", unit="incident", disable=ns.quiet),
        )
    except (StoreError, ValueError, OSError, KeyError) as exc:
        print(f"jijiu export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} {ns.format} files to {ns.out}")
    return 0


def _users_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`jijiu users add|list|disable`: people's accounts (dispatch.users)."""
    users = commands.add_parser(
        "users",
        help="people's accounts: call-takers, dispatchers, supervisors (docs/security.md)",
        description="Accounts for people who log in at /login, kept 0600 beside the tokens "
        "file (jijiu-users.json, or JIJIU_USERS); a running server sees changes at once.",
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an account", description="Add an account.")
    add.add_argument("name", help="1-32 letters, digits, '.', '_' or '-'")
    add.add_argument("--role", required=True, choices=("call_taker", "dispatcher", "supervisor"))
    add.add_argument("--password-file", type=Path, help="read the password from this file")
    listing = actions.add_parser("list", help="list the accounts", description="List them.")
    disable = actions.add_parser(
        "disable",
        help="disable an account",
        description="Disable an account: its sessions "
        "stop at their next request and it cannot log in.",
    )
    disable.add_argument("name")
    for sub in (add, listing, disable):
        sub.add_argument("--tokens", help="role tokens file (default jijiu-tokens.json)")
        sub.add_argument("--users", help="accounts file (default jijiu-users.json beside it)")


def _users(ns: argparse.Namespace) -> int:
    """`jijiu users ...`: prints names and roles, never a password or a hash."""
    import getpass

    from dispatch.settings import Settings
    from dispatch.users import Rank, UserBook

    flags = {"tokens_file": ns.tokens, "users_file": ns.users}
    try:
        settings = Settings.from_env().with_text({k: v for k, v in flags.items() if v})
        os.umask(0o077)
        book = UserBook(settings.users_path)
        if ns.users_command == "list":
            for user in book.all():
                state = "disabled" if user.disabled else ""
                print(f"{user.name:<32} {user.rank.value:<12} {state}".rstrip())
            return 0
        if ns.users_command == "disable":
            book.disable(ns.name)
            print(f"disabled     {ns.name}")
            return 0
        if ns.password_file is not None:
            password = ns.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        else:
            password = getpass.getpass(f"password for {ns.name}: ")
            if getpass.getpass("again: ") != password:
                print("jijiu users add: the passwords differ", file=sys.stderr)
                return 2
        user = book.add(ns.name, Rank(ns.role), password)
        print(f"added        {user.name} ({user.rank.value}) to {settings.users_path.resolve()}")
    except KeyError:
        print(f"jijiu users {ns.users_command}: no user {ns.name}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"jijiu users {ns.users_command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _units_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`jijiu units add-device UNIT NAME`: a crew device's own token (dispatch.tokens)."""
    units = commands.add_parser(
        "units",
        help="crew devices: a token per tablet or phone of a unit (docs/wire-protocol.md)",
        description="Crew devices of the units in the tokens file.",
    )
    actions = units.add_subparsers(dest="units_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add-device",
        help="give one device of a unit its own token",
        description="Give one device of a unit its own token, printed once; the tokens file "
        "keeps only its SHA-256. A server reads the file when it starts: while one runs, "
        "use POST /api/v1/units/{unit_id}/devices instead.",
    )
    add.add_argument("unit", help="the unit's id, as in the tokens file (ALS01)")
    add.add_argument("name", help="the device's name (doctor-pad, driver-phone)")
    add.add_argument("--tokens", help="role tokens file (default jijiu-tokens.json)")


def _units(ns: argparse.Namespace) -> int:
    """`jijiu units add-device`: prints the new token once, to stdout."""
    from dispatch.settings import Settings
    from dispatch.tokens import TokenBook

    try:
        settings = Settings.from_env().with_text({"tokens_file": ns.tokens} if ns.tokens else {})
        os.umask(0o077)
        token = TokenBook.open(settings.tokens_file).add_device(ns.unit, ns.name)
    except KeyError:
        print(f"jijiu units add-device: no unit {ns.unit} in the tokens file", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"jijiu units add-device: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


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
    from dispatch.http.connections import ConnectionLimits, guarded_protocol
    from dispatch.settings import Settings

    flags = {
        "city": ns.city,
        "network": ns.network,
        "store_url": ns.store,
        "tokens_file": ns.tokens,
        "host": ns.host,
        "port": ns.port,
        "ws_port": ns.ws_port,
        "certfile": ns.certfile,
        "keyfile": ns.keyfile,
    }
    try:
        settings = Settings.from_env().with_text({k: v for k, v in flags.items() if v is not None})
    except ValueError as exc:
        print(f"jijiu serve: {exc}", file=sys.stderr)
        return 2
    if settings.certfile:  # a bad certificate is a one-line refusal, not a failed start-up
        import ssl

        from dispatch.ws.server import tls_context

        try:
            tls_context(settings)
        except (OSError, ssl.SSLError) as exc:
            print(f"jijiu serve: cannot use the certificate and key: {exc}", file=sys.stderr)
            return 2
    if not _print_network(settings.city, settings.network):
        return 2
    # The event log, its WAL and the tokens file hold patient data and secrets: whatever the
    # server creates (an export too) is readable by its own user only, folders included.
    os.umask(0o077)
    # Our loggers (jijiu.*, dispatch.*) to stderr beside uvicorn's, in its "LEVEL:" style.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:  %(name)s  %(message)s")
    print(f"tokens file  {settings.tokens_file.resolve()} (created on first start, mode 0600)")
    print(f"event log    {settings.store_url}")
    for line in page_urls(settings):
        print(line)
    sys.stdout.flush()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="none",  # the websockets have their own server and port (dispatch/ws/server.py)
        # Head and body read timeouts and a per-address cap (dispatch/http/connections.py).
        http=guarded_protocol(ConnectionLimits.of(settings)),
        log_level="info",
        forwarded_allow_ips=settings.forwarded_allow_ips,  # whose X-Forwarded-Proto counts
        ssl_certfile=settings.certfile or None,
        ssl_keyfile=settings.keyfile or None,
    )
    return 0


def page_urls(settings: Settings) -> list[str]:
    """The lines `serve` prints: each page's URL on this host and port (https with TLS)."""
    scheme = "https" if settings.certfile else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"{scheme}://{host}:{settings.port}"
    return [
        f"start page   {base}/",
        f"console      {base}/console#token=<dispatcher token> (or log in)",
        f"log in       {base}/login (accounts: jijiu users add)",
        f"cockpit      {base}/cockpit#token=<dispatcher token>",
        f"hospital     {base}/hospital#hospital=<id>&token=<that hospital's token>",
        f"tablet       {base}/tablet (a crew device's token)",
        f"API docs     {base}/docs",
    ]


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
    if ns.command == "study":
        import simulator.studies.cli as studies_cli  # the top layer: see pyproject

        studies_code: int = studies_cli.study_main(rest)
        return studies_code
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
    if ns.command == "purge":
        return _purge(ns)
    if ns.command == "export":
        return _export(ns)
    if ns.command == "users":
        return _users(ns)
    if ns.command == "units":
        return _units(ns)
    if ns.command in ("backup", "restore"):
        return _backup_or_restore(ns)
    return _serve(ns)
