"""Capacity benchmark: the highest call rate the server takes with call -> console p99 < 100 ms,
this tree against an earlier version of itself, on the same machine in the same run.

Budget it guards (issue 16, "off the event loop"; the limits are the `[capacity]` table of
`benchmarks/targets.toml`, shown in the `target` column and printed next to each figure):

    Load test: the highest rate with call -> console p99 < 100 ms rises at least 2x over
    today's (same machine, same run, before/after in the benchmark report).

"Before" is the source tree at `BASELINE_REV` (the last commit before the CPU work left the event
loop), checked out with `git worktree` into a temp dir and served from there with this machine's
Python and packages; "after" is this tree with its default settings, judged; "after, off-loop"
is this tree ranking on a worker thread and locating in a worker process (`JIJIU_OFF_LOOP=1`,
`JIJIU_LOCATE_WORKERS=1`), reported. Each is `jijiu serve` in its own process on the bundled
network with a fresh SQLite log, `units` seeded units sending positions at 1 Hz and `consoles`
console sockets (`simulator.load`, as `jijiu loadtest` runs it), then the same seeded ladder of
call rates in turn; a rate whose p99 passes 5 s ends the ladder. The verdict of each is the
highest rate at which it and every lower rate kept call -> `incident.recommended` p99 under
100 ms; judged: after / before (`rate_ratio_min`).

The profile: for every rate, where the server's CPU went per call (`procfs.cpu_split`): its
event-loop thread, its other threads (ranking, the log writer) and its worker processes
(locating), so the report shows what moved off the loop and what it cost elsewhere.

`--quick` (CI, ~1 min): Wulin, 50 units, 5 consoles, 10 and 20 calls/s for 2 s each; the ratio is
shown, not judged. `--baseline PATH` serves another source tree as "before" instead of a
worktree (the tests use this tree itself). Exit status 1 when a judged target is missed. Traffic
to 127.0.0.1 only; every wait and child process is bounded.

    python -m benchmarks.bench_capacity [--quick] [--baseline PATH | --rev REV]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.targets import QUICK as QUICK_NOTE
from benchmarks.targets import Scorecard, load
from benchmarks.timing import Row, close_report, server_machine_info
from simulator.load.loadtest import run as run_ladder
from simulator.load.report import Plan as LadderPlan
from simulator.load.report import Step, highest_passing
from simulator.load.servers import ROOT, RunFailed, jijiu_serve
from simulator.load.target import Target

#: The last commit before ranking, locating and fan-out framing left the event loop.
BASELINE_REV = "b02261b"
P99_LIMIT_MS = 100.0
#: The off-loop settings, measured beside the defaults (they are off by default: see the report).
OFF_LOOP = {"JIJIU_OFF_LOOP": "1", "JIJIU_LOCATE_WORKERS": "1"}


@dataclass(frozen=True)
class Plan:
    network: str
    units: int
    consoles: int
    rates: tuple[float, ...]  # calls/s, in turn
    seconds: float  # per rate
    judged: bool  # False: the ratio is shown, not judged


FULL = Plan("hangzhou", 1000, 50, (60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360), 15, True)
QUICK = Plan("wulin", 50, 5, (10, 20), 2, False)


def say(text: str) -> None:
    print(text, flush=True)


# --- bookkeeping (pure) ---------------------------------------------------------------------------
def ratio(before: float | None, after: float | None) -> float:
    """After's highest passing rate over before's; 0 when after passed none, inf when only
    before passed none (it cannot be judged slower)."""
    if after is None:
        return 0.0
    if before is None:
        return float("inf")
    return after / before


def profile_rows(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Per rate run: the console p99 and the server's CPU per call, by where it ran."""
    out = []
    for s in steps:
        if s.skipped is not None:
            continue
        row = s.row("call -> incident.recommended on consoles")
        p99 = row.latency.p99_ms if row is not None and row.latency is not None else None
        split = s.cpu_ms_per_call
        out.append(
            {
                "rate": s.rate,
                "p99_ms": p99,
                "loop_ms_per_call": None if split is None else split[0],
                "threads_ms_per_call": None if split is None else split[1],
                "workers_ms_per_call": None if split is None else split[2],
                "server_cpu_share": s.cpu_share,
            }
        )
    return out


def profile_table(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """Markdown: one line per version and rate."""

    def f(x: float | None, spec: str = ".2f") -> str:
        return "—" if x is None else format(x, spec)

    lines = [
        "| version | calls/s | p99 to console | loop thread ms/call | other threads ms/call "
        "| worker processes ms/call | server CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in runs.items():
        for r in rows:
            cpu = r["server_cpu_share"]
            lines.append(
                f"| {name} | {r['rate']:g} | {f(r['p99_ms'], '.1f')} ms "
                f"| {f(r['loop_ms_per_call'])} | {f(r['threads_ms_per_call'])} "
                f"| {f(r['workers_ms_per_call'])} | {'—' if cpu is None else f'{cpu:.0%}'} |"
            )
    return "\n".join(lines)


# --- the two versions -----------------------------------------------------------------------------
@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """The source tree at `rev`, checked out in a temp dir (`git worktree`), removed after."""
    with tempfile.TemporaryDirectory(prefix="jijiu-bench-baseline-") as tmp:
        path = Path(tmp) / "tree"
        cmd = ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), rev]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RunFailed(f"cannot check out {rev} for the baseline: {done.stderr.strip()}")
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                capture_output=True,
                timeout=120,
            )


def ladder(
    plan: Plan, root: Path, name: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One version served fresh (`env`: its JIJIU_* settings), the whole ladder run against it."""
    lp = LadderPlan(plan.rates, plan.units, plan.consoles, plan.seconds, seed=16)
    with tempfile.TemporaryDirectory(prefix=f"jijiu-bench-capacity-{name}-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work}/ev.db"
        with jijiu_serve(plan.network, plan.units, url, work, 300, root, env) as srv:
            target = Target("127.0.0.1", srv.port, srv.tokens, srv.proc.pid)
            t0 = time.monotonic()
            result = run_ladder(lp, target, lambda _: None)
            wall = time.monotonic() - t0
    steps: list[Step] = result["steps"]
    best = highest_passing(steps, P99_LIMIT_MS)
    rows = profile_rows(steps)
    for r in rows:
        say(
            f"{name}: {r['rate']:g} calls/s, p99 {r['p99_ms'] or 0:.1f} ms, loop "
            f"{r['loop_ms_per_call'] or 0:.2f} ms/call, other threads "
            f"{r['threads_ms_per_call'] or 0:.2f}, workers {r['workers_ms_per_call'] or 0:.2f}"
        )
    say(f"{name}: highest rate with p99 < {P99_LIMIT_MS:g} ms: {best}")
    return {
        "root": str(root),
        "env": dict(env or {}),
        "highest_rate": best,
        "profile": rows,
        "wall_s": wall,
    }


def run(
    quick: bool = False, baseline: Path | None = None, rev: str = BASELINE_REV
) -> dict[str, Any]:
    """Run before and after; print as it goes and return the report (rows, table, profile)."""
    plan = QUICK if quick else FULL
    targets = load("capacity")
    card = Scorecard(targets, say)
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "quick": quick,
        "plan": asdict(plan),
        "machine": server_machine_info(),
    }
    say(f"# capacity benchmark ({'quick' if quick else 'full'} mode; targets: {targets.source})")
    if baseline is not None:
        report["before"] = ladder(plan, baseline, "before")
        report["baseline"] = str(baseline)
    else:
        with worktree(rev) as tree:
            report["before"] = ladder(plan, tree, "before")
        report["baseline"] = rev
    report["after"] = ladder(plan, ROOT, "after")
    report["off_loop"] = ladder(plan, ROOT, "off-loop", OFF_LOOP)
    before, after = report["before"]["highest_rate"], report["after"]["highest_rate"]
    got = ratio(before, after)
    check = card.check("rate_ratio_min", got, unjudged=None if plan.judged else QUICK_NOTE)
    off = report["off_loop"]["highest_rate"]
    report["profile_table"] = profile_table(
        {
            "before": report["before"]["profile"],
            "after": report["after"]["profile"],
            "after, off-loop": report["off_loop"]["profile"],
        }
    )
    rows = [
        Row(
            f"highest calls/s with call -> console p99 < {P99_LIMIT_MS:g} ms "
            f"({plan.units} units, {plan.consoles} consoles)",
            "none" if after is None else f"{after:g}",
            f"before ({report['baseline']})",
            "none" if before is None else f"{before:g}",
            got,
            check.label,
            check.passed,
        ),
        Row(
            "the same with ranking on a thread and locating in a process "
            "(JIJIU_OFF_LOOP=1, JIJIU_LOCATE_WORKERS=1)",
            "none" if off is None else f"{off:g}",
            f"before ({report['baseline']})",
            "none" if before is None else f"{before:g}",
            ratio(before, off),
            "reported",
            None,
        ),
    ]
    close_report(report, rows, t_start, say, card)
    say(report["profile_table"])
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke run)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--baseline", type=Path, help="source tree to serve as 'before'")
    which.add_argument("--rev", default=BASELINE_REV, help="git revision to serve as 'before'")
    args = parser.parse_args(argv)
    if args.baseline is not None and not (args.baseline / "dispatch").is_dir():
        parser.error(f"{args.baseline} is not a jijiu source tree (no dispatch/ in it)")
    report = run(quick=args.quick, baseline=args.baseline, rev=args.rev)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
