"""The benchmarks' targets: floors (`*_min`) and ceilings (`*_max`) read from one TOML file.

`benchmarks/targets.toml` holds one table per benchmark; the environment variable
`JIJIU_BENCH_TARGETS` names another file (the acceptance test raises a floor out of reach that
way). A benchmark loads its table, measures, and asks `Targets.check(key, value)` for a frozen
`Check` (limit, verdict, a short text such as `≤ 20 ms`) to put in its table next to the figure.
A `Scorecard` collects the checks of one run, prints each figure next to its target and goes into
the JSON report as `{"figures": ..., "unjudged": ..., "checks": ...}`; `judge` re-checks such
recorded figures against any targets file without running anything.

    server = load("server")
    server.check("created_p99_ms_max", 12.5)  # Check(..., limit=20.0, passed=True, text="≤ 20 ms")
    server.check("created_p99_ms_max", 31.0, unjudged=QUICK)  # passed=None: shown, not judged
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

ENV = "JIJIU_BENCH_TARGETS"
DEFAULT_PATH = Path(__file__).with_name("targets.toml")
SUFFIXES = ("_min", "_max")
QUICK = "quick: not judged"  # the note on a timing target a quick run cannot judge


class TargetError(ValueError):
    """A targets file that cannot be used: unreadable, no such table, a bad key or value."""


class MissingTarget(TargetError, KeyError):
    """A benchmark asked for a key its table does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def unit_text(stem: str, x: float, spec: str = "g") -> str:
    """`x` in the unit the key's stem names (`_ms`, `_s`, `_mb`, `_share`, `_points`, a count
    of `_checks` or `_queries`, `_ratio_`); `spec` formats the number (limits as written)."""
    words = stem.split("_")
    last = words[-1]
    if last in ("ms", "s"):
        return f"{x:{spec}} {last}"
    if last == "mb":
        return f"{x:{spec}} MB"
    if last == "share":
        return f"{x:.0%}" if x * 100 == round(x * 100) else f"{x:.1%}"
    if last in ("points", "checks", "queries"):
        return f"{x:{spec}} {last}"
    if "ratio" in words:
        return f"{x:,.3g}x"
    return f"{x:{spec}}"


@dataclass(frozen=True)
class Check:
    """One figure against its target: `passed` is None when the run does not judge it."""

    key: str
    value: float
    limit: float
    passed: bool | None
    text: str  # the target, e.g. "≤ 20 ms" or "≥ 100x"
    note: str = ""  # why it is not judged, e.g. "quick: not judged"

    @property
    def label(self) -> str:
        """The target with its note: what a report's target column shows."""
        return f"{self.text} ({self.note})" if self.note else self.text

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "not judged"}[self.passed]

    def line(self) -> str:
        """`key  value  (target ...)  verdict`: the figure printed next to its target."""
        stem = self.key[: -len("_min")]
        figure = unit_text(stem, self.value, ".3g")
        return f"   {self.key:<40} {figure:>12}  target {self.label}: {self.verdict}"


@dataclass(frozen=True)
class Targets:
    """The limits of one benchmark, key -> number, as read from `source`."""

    bench: str
    limits: Mapping[str, float]
    source: str = "<memory>"

    def limit(self, key: str) -> float:
        if key not in self.limits:
            raise MissingTarget(
                f"no target {key!r} in [{self.bench}] of {self.source} "
                f"(it has: {', '.join(sorted(self.limits)) or 'nothing'})"
            )
        return self.limits[key]

    def text(self, key: str) -> str:
        """The target as a reader sees it: `≤ 20 ms`, `≥ 100x`."""
        limit = self.limit(key)
        sign = "≥" if key.endswith("_min") else "≤"
        return f"{sign} {unit_text(key[:-4], limit)}"

    def check(self, key: str, value: float, *, unjudged: str | None = None) -> Check:
        """`value` against the key's limit (`_min`: value ≥ limit, `_max`: value ≤ limit).

        NaN fails either way. With `unjudged` (the reason) the verdict is None.
        """
        limit = self.limit(key)
        value = float(value)
        ok = value >= limit if key.endswith("_min") else value <= limit
        passed = None if unjudged else (ok and not math.isnan(value))
        return Check(key, value, limit, passed, self.text(key), unjudged or "")


def parse(data: Mapping[str, Any], bench: str, source: str = "<memory>") -> Targets:
    """The `bench` table of parsed TOML, checked: keys end in _min or _max, values are numbers."""
    table = data.get(bench)
    if not isinstance(table, Mapping):
        raise TargetError(f"{source} has no [{bench}] table")
    limits: dict[str, float] = {}
    for key, value in table.items():
        if not key.endswith(SUFFIXES):
            raise TargetError(f"[{bench}] {key} in {source}: a target key ends in _min or _max")
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise TargetError(f"[{bench}] {key} in {source}: {value!r} is not a number")
        limits[key] = float(value)
    return Targets(bench, MappingProxyType(limits), source)


def targets_path(path: Path | None = None) -> Path:
    """`path`, else the file `JIJIU_BENCH_TARGETS` names, else `benchmarks/targets.toml`."""
    if path is not None:
        return path
    env = os.environ.get(ENV)
    return Path(env) if env else DEFAULT_PATH


def load(bench: str, path: Path | None = None) -> Targets:
    """Read and validate the `bench` table of the targets file (see `targets_path`)."""
    source = targets_path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"cannot read targets file {source}: {exc}") from exc
    return parse(data, bench, str(source))


def judge(
    figures: Mapping[str, float], targets: Targets, unjudged: Mapping[str, str] | None = None
) -> list[Check]:
    """Every recorded figure against `targets`; keys in `unjudged` (key -> reason) get None."""
    unjudged = unjudged or {}
    return [targets.check(k, v, unjudged=unjudged.get(k)) for k, v in figures.items()]


@dataclass
class Scorecard:
    """The checks of one benchmark run, printed as they are made (mutable: it collects)."""

    targets: Targets
    say: Callable[[str], None] = print
    checks: list[Check] = field(default_factory=list)

    def check(self, key: str, value: float, *, unjudged: str | None = None) -> Check:
        """Check one figure, remember it and print it next to its target."""
        c = self.targets.check(key, value, unjudged=unjudged)
        self.checks.append(c)
        self.say(c.line())
        return c

    @property
    def failed(self) -> list[str]:
        return [c.key for c in self.checks if c.passed is False]

    def as_dict(self) -> dict[str, Any]:
        """What the JSON report records, enough for `judge` to re-check it later."""
        return {
            "source": self.targets.source,
            "figures": {c.key: c.value for c in self.checks},
            "unjudged": {c.key: c.note for c in self.checks if c.passed is None},
            "checks": [asdict(c) for c in self.checks],
        }
