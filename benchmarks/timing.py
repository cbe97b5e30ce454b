"""Timing and reporting for the benchmarks: samples, percentiles, result rows, the Markdown table.

A `Timing` is the wall time of each call (seconds, `time.perf_counter`), taken one call at a
time with the garbage collector paused (as `timeit` does), so a collection triggered by one
library's garbage never lands on another's clock. Ratios are peer p50 / ours p50: above 1 means
we are faster.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from benchmarks.targets import Check, Scorecard

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Timing:
    """Per-call wall times (s) of one contender on one case."""

    name: str
    samples_s: tuple[float, ...]

    @property
    def p50_ms(self) -> float:
        return float(np.percentile(self.samples_s, 50)) * 1e3

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.samples_s, 99)) * 1e3

    def summary(self) -> dict[str, Any]:
        ms = np.asarray(self.samples_s) * 1e3
        return {
            "name": self.name,
            "n": len(self.samples_s),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "min_ms": float(ms.min()),
            "mean_ms": float(ms.mean()),
            "max_ms": float(ms.max()),
        }

    def text(self) -> str:
        return f"{fmt_ms(self.p50_ms)} / {fmt_ms(self.p99_ms)}"


def fmt_ms(ms: float) -> str:
    """Milliseconds with three significant digits, switching to seconds above 10 s."""
    if ms >= 10_000:
        return f"{ms / 1e3:.1f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.3g} ms"
    return f"{ms * 1e3:.3g} µs"


def time_calls(
    name: str,
    fn: Callable[[T], R],
    items: Sequence[T],
    progress: bool = False,
    after: Callable[[T], object] | None = None,
) -> tuple[Timing, list[R]]:
    """Call fn on each item, timing each call; return the timing and the results.

    `after(item)` runs untimed after each call (to undo what the call changed).
    """
    samples: list[float] = []
    results: list[R] = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        bar = tqdm(items, desc=name, file=sys.stderr, disable=not progress, leave=False)
        for item in bar:
            t0 = time.perf_counter()
            out = fn(item)
            samples.append(time.perf_counter() - t0)
            results.append(out)
            if after is not None:
                after(item)
    finally:
        if enabled:
            gc.enable()
    return Timing(name, tuple(samples)), results


@dataclass(frozen=True)
class Row:
    """One line of the report: our number, a peer's number, their ratio and the target.

    `target` and `passed` come from a `benchmarks.targets.Check` (see `judged`); a row with no
    outside contender says so in its peer column (`NO_PEER`) rather than naming a floor.
    """

    case: str
    ours: str
    peer: str
    peer_value: str
    ratio: float | None = None
    target: str = "—"
    passed: bool | None = None

    def cells(self) -> list[str]:
        ratio = "—" if self.ratio is None else f"{self.ratio:,.3g}x"
        verdict = {True: "pass", False: "**FAIL**", None: "—"}[self.passed]
        return [self.case, self.ours, self.peer, self.peer_value, ratio, self.target, verdict]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def judged(
        cls,
        case: str,
        ours: str,
        check: Check,
        peer: str = "—",
        peer_value: str = "—",
        ratio: float | None = None,
    ) -> Row:
        """A row whose target and verdict are those of `check`."""
        return cls(case, ours, peer, peer_value, ratio, check.label, check.passed)


NO_PEER = "— (no peer: budget)"  # the peer cell of a row judged against a budget alone
NO_PEER_CHECK = "— (no peer: answer check)"  # ... of a row checking our own answers


HEADER = ["case", "ours p50 / p99", "peer", "peer p50 / p99", "ratio", "target", "pass/fail"]


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a GitHub Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (pandana's C++ core prints its progress there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio (and std::cout synced with it) before restore
        os.dup2(saved, 1)
        os.close(saved)


def machine_info(*modules: Any) -> dict[str, Any]:
    """Python, platform, CPUs, load at start and the versions of `modules`: what a report ran on."""
    import platform

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),  # other work on the machine skews timings
    }
    for module in modules:
        info[module.__name__] = getattr(module, "__version__", "?")
    return info


def close_report(
    report: dict[str, Any],
    rows: Sequence[Row],
    t_start: float,
    say: Callable[[str], None],
    card: Scorecard | None = None,
) -> str:
    """Put the table, wall time and failed targets into `report`, print them; return the table.

    With a scorecard the failed targets are its failed keys and `report["targets"]` records
    every figure next to its limit (what `benchmarks.targets.judge` re-checks); without one
    they are the cases of the rows marked failed.
    """
    table = markdown_table(rows)
    wall = time.perf_counter() - t_start
    if card is None:
        failed = [row.case for row in rows if row.passed is False]
        judged = sum(row.passed is not None for row in rows)
    else:
        failed = card.failed
        judged = sum(c.passed is not None for c in card.checks)
        report["targets"] = card.as_dict()
    report.update(rows=[row.as_dict() for row in rows], table=table, wall_s=wall, failed=failed)
    say("\n" + table)
    say(
        f"\nwall time {wall:.1f} s; {len(failed)} of {judged} judged target(s) failed"
        + (f": {failed}" if failed else "")
    )
    return table


def server_machine_info() -> dict[str, Any]:
    """`machine_info` with the server stack's versions (FastAPI, uvicorn, websockets): what
    a benchmark that drives a live `jijiu serve` ran on."""
    import fastapi
    import uvicorn
    import websockets

    return machine_info(fastapi, uvicorn, websockets)
