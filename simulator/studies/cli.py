"""`jijiu volunteer-study`: the volunteer Monte Carlo on the bundled city, as table, CSV and plot.

The I/O shell of `simulator.studies.volunteer`: loads the network and the SYNTHETIC AED registry,
runs each seed with a progress bar, prints a Markdown table, and writes the summary as CSV and
the two headline shares against density as a PNG.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path

from simulator.stats import Median, Share
from simulator.studies.volunteer import DensitySummary, Outcome, run_study, summarise
from simulator.studies.volunteer_world import StudyParams


def _densities(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from exc
    if not values or any(not (math.isfinite(v) and 0 <= v <= 1_000) for v in values):
        raise argparse.ArgumentTypeError("densities must be numbers in 0..1000 per km²")
    return sorted(set(values))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jijiu volunteer-study", description=__doc__.splitlines()[0] if __doc__ else None
    )
    d = StudyParams()
    parser.add_argument(
        "--densities",
        type=_densities,
        default=[0, 2, 5, 10, 20],
        help="on-duty volunteers per km², comma-separated (default 0,2,5,10,20)",
    )
    parser.add_argument("--arrests", type=int, default=500, help="arrests per seed")
    parser.add_argument("--seed", type=int, default=1, help="first seed")
    parser.add_argument("--seeds", type=int, default=3, help="independent replications")
    parser.add_argument("--network", default="hangzhou", help="bundled network name")
    parser.add_argument(
        "--aeds",
        type=Path,
        default=None,
        help="AED registry CSV (default: the bundled SYNTHETIC Hangzhou one)",
    )
    parser.add_argument("--p-accept", type=float, default=d.p_accept)
    parser.add_argument("--busy", type=float, default=d.p_busy, help="share of units busy")
    parser.add_argument("--units", type=int, default=d.n_units, help="demo fleet size")
    parser.add_argument(
        "--drive-factor",
        type=float,
        default=d.drive_factor,
        help="road ETA multiplier, a crude stand-in for traffic",
    )
    parser.add_argument(
        "--target-s",
        type=float,
        default=d.target_s,
        help="AED-on-scene target, seconds from the call",
    )
    parser.add_argument("--plot", type=Path, default=None, help="write the shares to this PNG")
    parser.add_argument("--csv", type=Path, default=None, help="write the summary to this CSV")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study from command-line arguments; 0 on success, 2 on a bad argument."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.arrests <= 100_000 or not 1 <= args.seeds <= 100:
        parser.error("--arrests must be in 1..100000 and --seeds in 1..100")
    from aed_map.registry import Registry
    from routing.load import data_dir, load_network
    from simulator.studies.volunteer_world import World

    try:
        params = StudyParams(
            p_accept=args.p_accept,
            p_busy=args.busy,
            n_units=args.units,
            drive_factor=args.drive_factor,
            target_s=args.target_s,
        )
    except ValueError as exc:
        parser.error(str(exc))
    net, _ = load_network(args.network)
    aeds_path = args.aeds or data_dir() / "aed" / "hangzhou_aeds_synthetic.csv"
    world = World(net, Registry.load_csv(aeds_path).public(), params)
    from tqdm import tqdm

    outcomes: list[Outcome] = []
    with tqdm(total=args.arrests * args.seeds, desc="arrests", file=sys.stderr) as bar:
        for s in range(args.seed, args.seed + args.seeds):
            outcomes += run_study(world, args.densities, args.arrests, s, _ticking(bar.update))
    summary = summarise(outcomes, params.target_s)
    print(report(summary, args, len(world.index.aeds)))
    if args.csv is not None:
        write_csv(summary, args.csv)
        print(f"\ncsv   {args.csv}")
    if args.plot is not None:
        plot(summary, args.plot, params.target_s)
        print(f"plot  {args.plot}")
    return 0


def _ticking(update: Callable[[int], object]) -> Callable[[Iterator[int]], Iterator[int]]:
    """A progress hook for `run_study` that calls `update(1)` once per arrest."""

    def wrap(steps: Iterator[int]) -> Iterator[int]:
        for i in steps:
            yield i
            update(1)

    return wrap


def _pct(s: Share) -> str:
    return f"{100 * s.value:.1f} % [{100 * s.lo:.1f}–{100 * s.hi:.1f}]"


def _clock(m: Median) -> str:
    def mmss(v: float) -> str:
        return "never" if math.isinf(v) else f"{round(v) // 60}:{round(v) % 60:02d}"

    return f"{mmss(m.value)} [{mmss(m.lo)}–{mmss(m.hi)}]"


def report(summary: Sequence[DensitySummary], args: argparse.Namespace, n_aeds: int) -> str:
    """The figures as a Markdown table, one row per density, with how the run was made."""
    seeds = (
        f"seeds {args.seed}..{args.seed + args.seeds - 1}"
        if args.seeds > 1
        else f"seed {args.seed}"
    )
    target = f"{args.target_s / 60:g} min"
    lines = [
        f"SYNTHETIC study: {args.arrests} arrests x {args.seeds} ({seeds}) on {args.network}, "
        f"{n_aeds} public AEDs (SYNTHETIC registry); {args.units} units, {args.busy:.0%} busy; "
        f"p_accept {args.p_accept:.0%}; drive factor {args.drive_factor:g}",
        "",
        f"| volunteers /km² | arrests | volunteer first | AED ≤ {target} | volunteer's AED first "
        "| ≥ 1 acceptor | median 1st volunteer | median AED | median crew |",
        "|---:|---:|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s.density_per_km2:g} | {s.arrests} | {_pct(s.volunteer_first)} "
            f"| {_pct(s.aed_within_target)} | {_pct(s.volunteer_aed_first)} "
            f"| {_pct(s.any_acceptor)} | {_clock(s.first_volunteer_s)} | {_clock(s.aed_s)} "
            f"| {_clock(s.crew_s)} |"
        )
    lines += [
        "",
        "Shares with Wilson 95 % intervals over arrests; medians (m:ss from the call) with "
        "order-statistic 95 % intervals. 'volunteer first': at the patient before the crew.",
    ]
    if args.seeds > 1:
        lines += ["", "Between seeds (t 95 % interval of the per-seed shares):"]
        for s in summary:
            v, a = s.volunteer_first, s.aed_within_target
            lines.append(
                f"  {s.density_per_km2:>6g} /km²  volunteer first {_seed(v)}   "
                f"AED ≤ {target} {_seed(a)}"
            )
    return "\n".join(lines)


def _seed(s: Share) -> str:
    if s.seed_lo is None or s.seed_hi is None:
        return "n/a"
    return f"{100 * max(s.seed_lo, 0.0):.1f}–{100 * min(s.seed_hi, 1.0):.1f} %"


def write_csv(summary: Sequence[DensitySummary], path: Path) -> None:
    """One row per density; shares as fractions, times in seconds (inf: never)."""
    rows = []
    for s in summary:
        row: dict[str, object] = {}
        for f in fields(s):
            value = getattr(s, f.name)
            if isinstance(value, Share | Median):  # flattened: name, name_lo, name_hi, ...
                row[f.name] = value.value
                row.update({f"{f.name}_{k}": v for k, v in asdict(value).items() if k != "value"})
            else:
                row[f.name] = value
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def plot(summary: Sequence[DensitySummary], path: Path, target_s: float) -> None:
    """Both headline shares against density, Wilson 95 % error bars; two more as thin lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [s.density_per_km2 for s in summary]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    series = (
        ("volunteer_first", "volunteer at the patient before the crew", "-", 2.0),
        (
            "aed_within_target",
            f"AED at the patient within {target_s / 60:g} min of the call",
            "-",
            2.0,
        ),
        ("volunteer_before_kerb", "volunteer before the ambulance stops", "--", 1.0),
        ("volunteer_aed_first", "volunteer's AED before the crew's", "--", 1.0),
    )
    for key, label, style, lw in series:
        shares: list[Share] = [getattr(s, key) for s in summary]
        y = [100 * v.value for v in shares]
        err = [
            [100 * max(v.value - v.lo, 0.0) for v in shares],
            [100 * max(v.hi - v.value, 0.0) for v in shares],
        ]
        ax.errorbar(x, y, yerr=err, ls=style, lw=lw, marker="o", ms=4, capsize=3, label=label)
    ax.set_xlabel("on-duty volunteers per km²")
    ax.set_ylabel("share of simulated arrests (%)")
    ax.set_ylim(-2, 100)  # a share of 0 % stays visible above the axis
    n = summary[0].arrests if summary else 0
    ax.set_title(f"CPR volunteers, {n} simulated arrests per density (SYNTHETIC AED registry)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


STUDIES = ("headline",)


def study_main(argv: Sequence[str] | None = None) -> int:
    """`jijiu study NAME ...`: route to the named study (today: headline); 2 for an unknown one."""
    args = list(argv if argv is not None else sys.argv[1:])
    if not args or args[0] in ("-h", "--help"):
        print(f"usage: jijiu study {{{','.join(STUDIES)}}} [options]\n\n", end="")
        print("headline  before/after of one tap on seeded calls: docs/outcomes.md")
        if not args:
            return 2
        raise SystemExit(0)  # as argparse's --help does
    if args[0] != "headline":
        print(
            f"jijiu study: unknown study {args[0]!r}; one of {', '.join(STUDIES)}", file=sys.stderr
        )
        return 2
    from simulator.studies.headline_cli import main as headline_main

    return headline_main(args[1:])
