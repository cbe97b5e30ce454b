"""Every `jijiu … --help` names its own subcommand (issue 21: first contact)."""

from __future__ import annotations

import argparse

import pytest

from dispatch import cli


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every subcommand path under `parser`, nested ones included (`city init`)."""
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_commands(sub, (*prefix, name)))
    return found


COMMANDS = _commands(cli._build_parser())


def test_the_parser_lists_the_known_subcommands() -> None:
    """The loop covers serve, demo and city, so it cannot pass by finding no subcommand."""
    names = {" ".join(c) for c in COMMANDS}
    assert {"serve", "demo", "rank-demo", "city", "city init", "eval-location"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_names_its_own_subcommand(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """`jijiu X --help` exits 0 and its usage line begins `usage: jijiu X`."""
    with pytest.raises(SystemExit) as stop:
        cli.main([*command, "--help"])
    assert stop.value.code in (0, None)
    usage = capsys.readouterr().out.splitlines()[0]
    assert usage.startswith(f"usage: jijiu {' '.join(command)} "), usage
