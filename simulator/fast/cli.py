"""`jijiu simulate`: dispatch policies compared in the fast engine, as a table and plots.

    jijiu simulate --policy closest-idle,default,coverage --hours 24 --seeds 10 --plot out/
    jijiu simulate --calls my_calls.csv --format csv --columns received=Time,priority=Prio

The I/O shell of the policy study: reads the city (network, hospitals, SYNTHETIC stations) and,
for `--calls replay`, the San Francisco log, or for `--calls FILE` the call log named (refused,
exit 2, when empty, of the wrong layout or with too many unreadable rows); runs every policy on
every seed with a progress bar; prints the policy table (mean [95 % t interval] over seeds), the
paired comparison of coverage-aware against closest-idle, and the wall time; writes the PNGs
under `--plot`.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.fast.metrics import COLUMNS, RunResult, comparison, figures, policy_table
from simulator.fast.policies import COMPARED, POLICIES
from simulator.world.call_log import FORMATS

if TYPE_CHECKING:
    from routing.network import RoadNetwork
    from simulator.fast.study import CallSource


def _policies(text: str) -> list[str]:
    names = list(COMPARED) if text == "all" else [p.strip() for p in text.split(",") if p]
    bad = [p for p in names if p not in POLICIES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown policy {', '.join(bad) or '(none)'}; use all or some of {', '.join(POLICIES)}"
        )
    return list(dict.fromkeys(names))


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="jijiu simulate", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--policy",
        type=_policies,
        default=list(COMPARED),
        help=f"all, or comma-separated names: {', '.join(POLICIES)}",
    )
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours per run")
    ap.add_argument("--seeds", type=int, default=10, help="independent replications")
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument(
        "--calls",
        default="synthetic",
        metavar="synthetic|replay|FILE",
        help="synthetic demand, replay the bundled San Francisco week (data/sf_fire_calls), "
        "or replay the call log FILE (.csv or .csv.gz; needs --format)",
    )
    ap.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="layout of the --calls FILE: sf (SF Fire Department calls for service), csv (one "
        "row per call: received, priority, lat, lon[, complaint, transport, id]), nemsis (a "
        "flat NEMSIS v3 export: eTimes.01, eResponse.23, eScene.11[, eDisposition.30])",
    )
    ap.add_argument(
        "--columns",
        default="",
        metavar="FIELD=HEADER,...",
        help="--format csv: the file's header names for received, priority, lat, lon, "
        "complaint, transport, id (default: those names)",
    )
    ap.add_argument(
        "--time-format",
        default=None,
        help="--format csv: strptime format of the received times (default ISO 8601)",
    )
    ap.add_argument(
        "--replay-day",
        type=int,
        default=0,
        help="first day of the log to replay (0: the day of its first call)",
    )
    ap.add_argument(
        "--calls-per-day", type=float, default=None, help="synthetic demand (default 300)"
    )
    ap.add_argument("--network", default="hangzhou", help="bundled network name")
    ap.add_argument("--city", default="", help="a city folder (docs/city.md) instead of Hangzhou")
    ap.add_argument(
        "--units",
        type=int,
        default=None,
        help="fleet size: stations placed anew (default: the bundled 32 units)",
    )
    ap.add_argument("--no-congestion", action="store_true", help="free-flow traffic all day")
    ap.add_argument(
        "--exact-times",
        action="store_true",
        help="drives take their road ETA and call processing its median (the DMEXCLP papers' "
        "deterministic setting)",
    )
    ap.add_argument(
        "--map-minutes",
        type=float,
        default=8.0,
        help="coverage maps: an idle unit within this drive covers a zone",
    )
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (fork)")
    ap.add_argument("--plot", type=Path, default=None, help="write the PNGs into this folder")
    ap.add_argument("--csv", type=Path, default=None, help="write per-run figures to this CSV")
    ap.add_argument("--digest", action="store_true", help="print each run's result digest")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study; 0 on success, 2 on a bad argument or missing data."""
    ap = _parser()
    args = ap.parse_args(argv)
    if not (0 < args.hours <= 24 * 366 and 1 <= args.seeds <= 1000 and 1 <= args.jobs <= 64):
        ap.error("--hours must be in (0, 8784], --seeds in 1..1000, --jobs in 1..64")
    from simulator.fast.engine import RunParams
    from simulator.fast.study import CallSource, study
    from simulator.world.call_log import CallLogError
    from simulator.world.calls import DemandParams
    from simulator.world.replay import ReplayDataMissing, read_sf_log
    from simulator.world.rhythm import Rhythm
    from simulator.world.scenario import ScenarioParams, load_world
    from simulator.world.stations import PlacementParams

    try:
        map_s = args.map_minutes * 60.0
        params = ScenarioParams(
            network=args.network,
            city=args.city,
            rhythm=Rhythm(congestion=not args.no_congestion),
            map_threshold_s=map_s,
            zone_limit_s=max(900.0, map_s),
        )
        if args.units is not None:
            params = replace(params, placement=PlacementParams(n_units=args.units))
        if args.calls_per_day is not None:
            params = replace(params, demand=DemandParams(args.calls_per_day))
        source = CallSource()
        if args.calls == "replay":
            source = CallSource("replay", tuple(read_sf_log()), args.replay_day)
        elif args.calls != "synthetic":
            source = _log_source(args)
        elif args.format is not None or args.columns or args.time_format:
            ap.error("--format, --columns and --time-format go with --calls FILE")
        if args.exact_times:
            source = replace(source, exact=True)
        run = RunParams(horizon_s=args.hours * 3600.0)
    except (ReplayDataMissing, CallLogError) as exc:
        print(f"jijiu simulate: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        ap.error(str(exc))
    if args.city and args.network != "hangzhou":
        ap.error("give --city or --network, not both: a city folder names its own network")
    from routing.errors import RoutingError

    started = time.perf_counter()
    try:
        world = load_world(params)
    except (RoutingError, ValueError) as exc:  # a bad city folder, or one without hospitals
        print(f"jijiu simulate: {exc}", file=sys.stderr)
        return 2
    built_s = time.perf_counter() - started
    seeds = list(range(args.seed, args.seed + args.seeds))
    from tqdm import tqdm

    total_h = args.hours * len(seeds) * len(args.policy)
    with tqdm(total=round(total_h, 3), unit="sim h", file=sys.stderr, desc="simulating") as bar:

        def advance(simulated_s: float) -> None:
            bar.update(round(simulated_s / 3600.0, 3))

        t0 = time.perf_counter()
        runs = study(world, args.policy, seeds, run, source, args.jobs, advance)
        ran_s = time.perf_counter() - t0
    print(header(args, world.n_units, len(world.stations), seeds))
    if source.kind == "log":
        print(log_summary(source, world.net, args.network, run.horizon_s))
    print()
    print(policy_table(runs))
    print()
    if "closest-idle" in runs:
        for other in runs:
            if other != "closest-idle":
                print(comparison(runs, "closest-idle", other))
                print()
    n_runs = len(seeds) * len(args.policy)
    per_min = args.hours * n_runs / max(ran_s, 1e-9) * 60.0
    print(
        f"wall time: world built in {built_s:.1f} s; {n_runs} runs of {args.hours:g} simulated h "
        f"in {ran_s:.1f} s with {args.jobs} process(es): {ran_s / n_runs:.1f} s a run, "
        f"{per_min:,.0f} simulated h a minute"
    )
    if args.digest:
        for name, rs in runs.items():
            for r in rs:
                print(f"digest {name} seed {r.seed}: {r.digest()}")
    if args.csv is not None:
        write_csv(runs, args.csv)
        print(f"csv    {args.csv}")
    if args.plot is not None:
        from simulator.fast.plots import plot_all

        title = f"{args.calls} calls, {args.hours:g} h x {len(seeds)} seeds"
        for path in plot_all(runs, world, args.plot, title):
            print(f"plot   {path}")
    return 0


def _log_source(args: argparse.Namespace) -> CallSource:
    """The named call log as a call source; CallLogError when it cannot be replayed."""
    from simulator.fast.study import CallSource
    from simulator.world.call_log import CallLogError, ColumnMap, read_call_log

    if not Path(args.calls).is_file():
        raise CallLogError(
            f"--calls takes synthetic, replay or a call log FILE; {args.calls} does not exist"
        )
    if args.format is None:
        raise CallLogError(
            f"--calls {args.calls}: say its layout with --format {'|'.join(FORMATS)}"
        )
    if args.replay_day < 0:
        raise CallLogError("--replay-day must be 0 or more")
    columns = ColumnMap.parse(args.columns, args.time_format)
    log = read_call_log(Path(args.calls), args.format, columns)
    if log.bad:
        first = log.bad[0]
        print(
            f"jijiu simulate: {len(log.bad)} of {log.rows} rows of {args.calls} skipped as "
            f"unreadable (first: line {first.line}: {first.why})",
            file=sys.stderr,
        )
    return CallSource("log", first_day=args.replay_day, named=log.calls)


def log_summary(source: CallSource, net: RoadNetwork, network: str, horizon_s: float) -> str:
    """How the named log's calls meet the run: its clock origin, the window, the network."""
    from simulator.world.log_replay import located, origin, sim_times_s

    calls = source.named
    t0 = origin(calls, source.first_day)
    times = sim_times_s(calls, source.first_day)
    in_run = int(((times >= 0) & (times < horizon_s)).sum())
    where = located(calls, net)
    return (
        f"call log: {len(calls)} calls; time 0 = {t0:%Y-%m-%d} 00:00 local, times of day kept; "
        f"{in_run} fall in the {horizon_s / 3600:g} h run; {where.on_network} lie on the "
        f"{network} road network, {where.outside} outside it (or without a place) and are "
        "placed by demand density"
    )


def header(args: argparse.Namespace, n_units: int, n_stations: int, seeds: list[int]) -> str:
    if args.calls == "replay":
        calls = f"the San Francisco week replayed from day {args.replay_day} (DataSF)"
    elif args.calls != "synthetic":
        calls = f"the call log {args.calls} ({args.format}) replayed from day {args.replay_day}"
    else:
        calls = f"SYNTHETIC calls, {args.calls_per_day or 300:g} a day"
    traffic = "free flow" if args.no_congestion else "time-of-day congestion"
    return (
        f"jijiu simulate: {calls} on {args.network}; {n_units} units at {n_stations} SYNTHETIC "
        f"stations; {traffic}; {args.hours:g} h per run; seeds {seeds[0]}..{seeds[-1]}\n"
        "Figures: mean over seeds [95 % Student-t interval]. Response = call received to first "
        "unit on scene; late P1 = over 12 min (or never reached); demand covered = within "
        f"{args.map_minutes:g} min drive of an idle unit."
    )


def write_csv(runs: dict[str, list[RunResult]], path: Path) -> None:
    """One row per run: policy, seed, digest and every figure (seconds, shares 0..1)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ["calls"] + [k for k, _, _ in COLUMNS]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["policy", "seed", "digest", *keys])
        for name, rs in runs.items():
            for r in rs:
                fig = figures(r)
                w.writerow([name, r.seed, r.digest(), *(f"{fig[k]:.6g}" for k in keys)])
