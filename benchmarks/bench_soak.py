"""Soak benchmark: hours of steady work must not grow the server's memory, its WAL or its p99.

Budget it guards (issue 24, the soak; the limits are the `[soak]` table of
`benchmarks/targets.toml`):

    `jijiu serve` on Hangzhou, 200 units at 1 Hz, 5 consoles, 5 calls/s for 2 h, every
    incident assigned, driven through the crew's statuses and closed (handover, treated on
    the spot or cancelled) so the open set stays steady: after warm-up the server's RSS grows
    by under 5 % an hour, the WAL stays under 64 MiB (checkpoints are not starved) and the
    call -> console p99 of the last quarter is within 1.5x the first quarter's.

The run is `simulator.load.soak` (the server and the load in their own processes; the
lifecycle driver is `simulator.load.lifecycle`; the server runs with `JIJIU_MAX_CONN_PER_IP=0`,
every client being on loopback); it samples every minute into `soak.csv` and draws `soak.png`
in the report folder. Warm-up: the first 10 % of the run or 2 minutes,
whichever is longer (at most half the run); the RSS slope is a least-squares fit of the
samples after it, as a share of their mean, per hour; the p99s are pooled over every call of
the first and the last quarter of those samples. A run too short for eight samples after
warm-up shows its figures, not judged. Exit status 1 when a judged target is missed.

    python -m benchmarks.bench_soak [--duration S] [--rate R] [--units N] [--network NAME]
                                    [--sample-s S] [--pace-scale X] [--report DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.targets import Scorecard, load
from benchmarks.timing import NO_PEER, Row, close_report, server_machine_info
from simulator.load.lifecycle import Pace
from simulator.load.soak import Sample, SoakPlan
from simulator.load.soak import run as run_soak

REPORT = Path("bench-report/soak")
MIN_JUDGED = 8  # samples after warm-up a figure needs to be judged
SHORT = "too short: fewer than 8 samples after warm-up"


# --- the figures (pure) --------------------------------------------------------------------------
def warmup_s(duration_s: float) -> float:
    """The first 10 % of the run or 2 minutes, whichever is longer, at most half the run."""
    return min(max(0.1 * duration_s, 120.0), 0.5 * duration_s)


def settled(samples: Sequence[Sample], duration_s: float) -> list[int]:
    """Indices of the samples taken after warm-up."""
    warm = warmup_s(duration_s)
    return [i for i, s in enumerate(samples) if s.elapsed_s > warm]


def rss_slope_share_per_h(samples: Sequence[Sample]) -> float:
    """Least-squares slope of RSS over hours, as a share of the mean RSS; NaN under 2 samples."""
    if len(samples) < 2:
        return math.nan
    hours = np.array([s.elapsed_s / 3600 for s in samples])
    rss = np.array([s.rss_mb for s in samples])
    if np.ptp(hours) == 0 or rss.mean() <= 0:
        return math.nan
    slope = float(np.polyfit(hours, rss, 1)[0])
    return slope / float(rss.mean())


def p99_ms(latencies_s: Sequence[float]) -> float:
    return float(np.percentile(latencies_s, 99)) * 1e3 if len(latencies_s) else math.nan


def quarter_p99s(latencies_s: Sequence[Sequence[float]]) -> tuple[float, float]:
    """The pooled p99 (ms) of the first and the last quarter of the periods given."""
    n = len(latencies_s)
    q = max(1, n // 4)
    first = [x for period in latencies_s[:q] for x in period]
    last = [x for period in latencies_s[n - q :] for x in period]
    return p99_ms(first), p99_ms(last)


def figures(
    samples: Sequence[Sample], latencies_s: Sequence[Sequence[float]], duration_s: float
) -> dict[str, Any]:
    """The judged figures and what goes beside them, from one run's samples."""
    idx = settled(samples, duration_s)
    after = [samples[i] for i in idx]
    first, last = quarter_p99s([latencies_s[i] for i in idx]) if idx else (math.nan, math.nan)
    opened = [s.open_incidents for s in after] or [s.open_incidents for s in samples]
    return {
        "warmup_s": warmup_s(duration_s),
        "settled_samples": len(after),
        "rss_slope_share": rss_slope_share_per_h(after),
        "rss_mb_first": after[0].rss_mb if after else math.nan,
        "rss_mb_last": after[-1].rss_mb if after else math.nan,
        "wal_mb": max((s.wal_mb for s in samples), default=math.nan),
        "log_mb_last": samples[-1].log_mb if samples else math.nan,
        "open_fds_first": after[0].open_fds if after else -1,
        "open_fds_last": after[-1].open_fds if after else -1,
        "p99_first_ms": first,
        "p99_last_ms": last,
        "p99_ratio": last / first if first > 0 else math.nan,
        "open_incidents_max": max(opened, default=0),
        "open_incidents_mean": float(np.mean(opened)) if opened else math.nan,
        "calls": sum(s.calls for s in samples),
        "errors": sum(s.errors for s in samples),
        "missing": sum(s.missing for s in samples),
    }


def rows_of(fig: dict[str, Any], card: Scorecard) -> list[Row]:
    """Judge the three targets (unjudged when the run is too short) and report the rest."""
    short = SHORT if fig["settled_samples"] < MIN_JUDGED else None
    c_rss = card.check("rss_slope_share_max", fig["rss_slope_share"], unjudged=short)
    c_wal = card.check("wal_mb_max", fig["wal_mb"])
    c_p99 = card.check("p99_ratio_max", fig["p99_ratio"], unjudged=short)
    return [
        Row.judged(
            "server RSS slope after warm-up (per hour, share of its mean)",
            f"{100 * fig['rss_slope_share']:+.2f} %/h "
            f"({fig['rss_mb_first']:.0f} -> {fig['rss_mb_last']:.0f} MB)",
            c_rss,
            NO_PEER,
        ),
        Row.judged(
            "largest WAL file seen (checkpoints keep up)",
            f"{fig['wal_mb']:.1f} MB (log {fig['log_mb_last']:.1f} MB at the end)",
            c_wal,
            NO_PEER,
        ),
        Row.judged(
            "call -> console p99, last quarter / first quarter after warm-up",
            f"{fig['p99_last_ms']:.1f} / {fig['p99_first_ms']:.1f} ms",
            c_p99,
            NO_PEER,
        ),
        Row(
            "incidents open at once after warm-up (mean / max)",
            f"{fig['open_incidents_mean']:.0f} / {fig['open_incidents_max']}",
            "—",
            "—",
            None,
            "reported",
            None,
        ),
        Row(
            "server open file descriptors after warm-up (first -> last)",
            f"{fig['open_fds_first']} -> {fig['open_fds_last']}",
            "—",
            "—",
            None,
            "reported",
            None,
        ),
        Row(
            "calls posted, not answered 201, console receipts missing",
            f"{fig['calls']}, {fig['errors']}, {fig['missing']}",
            "—",
            "—",
            None,
            "reported",
            None,
        ),
    ]


# --- the run -------------------------------------------------------------------------------------
def run(plan: SoakPlan, report_dir: Path = REPORT) -> dict[str, Any]:
    """Run the soak; print as it goes; write soak.csv, soak.png, soak.json and soak.md."""
    targets = load("soak")
    card = Scorecard(targets, print)
    t_start = time.perf_counter()
    print(
        f"# soak: {plan.rate:g} calls/s for {plan.duration_s:g} s on {plan.network}, "
        f"{plan.units} units, a sample every {plan.sample_s:g} s (targets: {targets.source})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="jijiu-soak-") as tmp:
        got = run_soak(plan, Path(tmp), report_dir, lambda line: print(line, flush=True))
    samples = [Sample(**s) for s in got["samples"]]
    fig = figures(samples, got.pop("latencies_s"), plan.duration_s)
    if got.get("server_log_note"):
        print(got["server_log_note"])
    report: dict[str, Any] = {
        **got,
        "figures": fig,
        "machine": server_machine_info(),
        "steady_open_expected": plan.pace.steady_open(plan.rate),
    }
    rows = rows_of(fig, card)
    table = close_report(report, rows, t_start, print, card)
    write_report(report, table, report_dir)
    return report


def write_report(report: dict[str, Any], table: str, out: Path) -> list[Path]:
    """soak.json (everything but the raw latencies) and soak.md (the table) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    plan, tally = report["plan"], report.get("tally", {})
    intro = (
        f"`jijiu serve` on {plan['network']} with {report.get('units')} units at 1 Hz and "
        f"{plan['consoles']} consoles; calls at {plan['rate']:g}/s for {plan['duration_s']:g} s, "
        f"every incident driven through its life (closed: {tally.get('closed', {})}, given up: "
        f"{tally.get('given_up', 0)}); calls not answered 201 by reason: "
        f"{report.get('failures', {})}; a sample every {plan['sample_s']:g} s in soak.csv, "
        "drawn in soak.png."
    )
    md = out / "soak.md"
    md.write_text(f"# Soak\n\n{intro}\n\n{table}\n\n![soak](soak.png)\n")
    js = out / "soak.json"
    js.write_text(json.dumps(report, indent=2, default=str, allow_nan=True))
    return [js, md]


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=7200.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=5.0, help="calls a second (default 5)")
    parser.add_argument("--units", type=int, default=200, help="units seeded (default 200)")
    parser.add_argument("--consoles", type=int, default=5, help="console sockets (default 5)")
    parser.add_argument("--network", default="hangzhou", help="bundled network (default hangzhou)")
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--report", type=Path, default=REPORT, help="report folder")
    parser.add_argument(
        "--pace-scale", type=float, default=1.0, help="every stage's delay times this (default 1)"
    )
    args = parser.parse_args(argv)
    plan = replace(
        SoakPlan(),
        network=args.network,
        units=args.units,
        consoles=args.consoles,
        rate=args.rate,
        duration_s=args.duration,
        sample_s=args.sample_s,
        pace=Pace().scaled(args.pace_scale),
    )
    report = run(plan, args.report)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
