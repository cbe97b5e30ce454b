"""The `jijiu` command line: one subcommand per thing a person runs by hand."""

from __future__ import annotations

import argparse
import sys


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jijiu",
        description="jijiu: real-time pre-hospital emergency medical dispatch.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # No -h on `demo`: `jijiu demo --help` shows the demo's own help.
    commands.add_parser(
        "demo",
        help="route and rank on the bundled Hangzhou road network",
        description="Run the routing demo; arguments after `demo` go to it unchanged.",
        add_help=False,
    )
    commands.add_parser(
        "eval-location",
        help="score location fusion on synthetic calls",
        description="Evaluate location fusion; arguments after the command go to it.",
        add_help=False,
    )
    commands.add_parser("serve", help="run the dispatch server (not yet available)")
    return parser


def _demo(argv: list[str]) -> int:
    # Imported here so `jijiu --help` and `jijiu serve` never load numba or the network.
    import routing.demo as demo

    code: int = demo.main(argv)
    return code


def _serve() -> int:
    print("not yet: the dispatch server arrives with issue 4", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: the process arguments), run the subcommand, return its exit code."""
    parser = _build_parser()
    # parse_known_args: everything after `demo` that this parser does not know is the demo's.
    ns, rest = parser.parse_known_args(argv)
    if ns.command == "demo":
        return _demo(rest)
    if ns.command == "eval-location":
        import location_fusion.cli as fusion_cli

        code: int = fusion_cli.main(rest)
        return code
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return _serve()
