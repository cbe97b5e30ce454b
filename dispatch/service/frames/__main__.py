"""`python -m dispatch.service.frames --write docs/schemas` regenerates the sockets' JSON
Schema files; `--check docs/schemas` exits 1 when a checked-in file is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dispatch.service.frames.schemas import stale, write_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatch.service.frames", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, metavar="DIR", help="write one file per socket")
    group.add_argument("--check", type=Path, metavar="DIR", help="fail when a file is stale")
    args = parser.parse_args(argv)
    if args.write is not None:
        for path in write_all(args.write):
            print(path)
        return 0
    behind = stale(args.check)
    for name in behind:
        print(
            f"{args.check / name} is stale: python -m dispatch.service.frames --write {args.check}"
        )
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main())
