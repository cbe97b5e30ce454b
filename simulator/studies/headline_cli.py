"""`jijiu study headline`: before and after on the same seeded calls, written to docs/outcomes.md.

The I/O shell of `simulator.studies.headline`: loads the city (Hangzhou by default, or any
city folder), its locator and SYNTHETIC evidence for the location error pool, its AED layer
for the volunteers; runs every seed (a tqdm bar; `--jobs` forks workers after the worlds are
built); writes the report and its plots and prints the tables.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from simulator.studies.headline import HeadlineWorld, SeedResult, run_seed

_WORLD: HeadlineWorld | None = None  # the forked workers' world (set before the pool forks)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="jijiu study headline", description=__doc__.splitlines()[0] if __doc__ else None
    )
    ap.add_argument("--seeds", type=int, default=20, help="independent replications (>= 2)")
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours per seed")
    ap.add_argument("--city", default="", help="a city folder (docs/city.md); default Hangzhou")
    ap.add_argument("--network", default="hangzhou", help="bundled network name")
    ap.add_argument("--calls-per-day", type=float, default=None, help="default 300")
    ap.add_argument("--call-takers", type=int, default=None, help="on shift (default 2)")
    ap.add_argument(
        "--volunteers", type=float, default=None, help="on-duty volunteers per km² (default 5)"
    )
    ap.add_argument(
        "--pool-calls", type=int, default=1000, help="SYNTHETIC calls located for the error pool"
    )
    ap.add_argument("--out", type=Path, default=Path("docs/outcomes.md"), help="the report")
    ap.add_argument(
        "--img", type=Path, default=Path("docs/img/outcomes"), help="folder for the plots"
    )
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (fork)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study and write the report; 0 on success, 2 on a bad argument or city."""
    ap = _parser()
    args = ap.parse_args(argv)
    if not (2 <= args.seeds <= 1000 and 0 < args.hours <= 24 * 31 and 1 <= args.jobs <= 64):
        ap.error("--seeds must be in 2..1000, --hours in (0, 744], --jobs in 1..64")
    if args.city and args.network != "hangzhou":
        ap.error("give --city or --network, not both: a city folder names its own network")
    started = time.perf_counter()
    try:
        world = build(args)
    except ValueError as exc:  # a bad parameter, a city without hospitals, cells or places
        print(f"jijiu study headline: {exc}", file=sys.stderr)
        return 2
    built_s = time.perf_counter() - started
    seeds = list(range(args.seed, args.seed + args.seeds))
    from tqdm import tqdm

    results: list[SeedResult] = []
    with tqdm(total=len(seeds), unit="seed", desc="before/after", file=sys.stderr) as bar:
        for batch in _run(world, seeds, args.jobs):
            results += batch
            bar.update(1)
    results.sort(key=lambda r: (r.seed, r.variant))
    ran_s = time.perf_counter() - started - built_s
    from simulator.studies.headline_plots import plot
    from simulator.studies.headline_report import document, main_table

    plots = plot(results, args.img)
    text = document(results, _how(args, world, built_s, ran_s), plots, args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(main_table(results))
    print(f"\nreport {args.out}; plots {', '.join(str(p) for p in plots)}")
    print(f"wall time: worlds built in {built_s:.0f} s, {len(seeds)} seeds in {ran_s:.0f} s")
    return 0


def build(args: argparse.Namespace) -> HeadlineWorld:
    """The city, its error pool and its volunteers' world; ValueError when the city lacks a
    layer the study needs (hospitals; cells and places for the locator). Built once per
    process for the same arguments (the worlds are read-only but for a run's traffic)."""
    key = (
        args.network,
        args.city,
        args.calls_per_day,
        args.call_takers,
        args.volunteers,
        args.pool_calls,
        args.seed,
        args.hours,
    )
    return _build(*key)


@functools.lru_cache(maxsize=2)
def _build(
    network: str,
    city_folder: str,
    calls_per_day: float | None,
    call_takers: int | None,
    volunteers_per_km2: float | None,
    pool_calls: int,
    first_seed: int,
    hours: float,
) -> HeadlineWorld:
    from aed_map.registry import Registry
    from location_fusion.cli import build as build_locator
    from routing.city import resolve_city
    from routing.errors import CityError, RoutingError
    from simulator.fast.calltaking import CallTakingParams
    from simulator.fast.engine import RunParams
    from simulator.fast.study import CallSource
    from simulator.studies.headline_world import HeadlineParams, build_pool
    from simulator.studies.volunteer_world import World as VolunteerWorld
    from simulator.world.calls import DemandParams
    from simulator.world.scenario import ScenarioParams, load_world

    p = HeadlineParams(pool_calls=pool_calls)
    if call_takers is not None:
        p = replace(p, call_taking=CallTakingParams(call_takers=call_takers))
    if volunteers_per_km2 is not None:
        p = replace(p, volunteers_per_km2=volunteers_per_km2)
    scenario = ScenarioParams(network=network, city=city_folder)
    if calls_per_day is not None:
        scenario = replace(scenario, demand=DemandParams(calls_per_day))
    try:
        city = load_world(scenario)
        maker, locator, _ = build_locator(network, city_folder)
        spec = resolve_city(city_folder, "" if city_folder else network)
    except (CityError, RoutingError) as exc:
        raise ValueError(str(exc)) from exc
    volunteers = None
    if spec.aeds is not None and spec.aeds.suffix == ".csv":
        volunteers = VolunteerWorld(city.net, Registry.load_csv(spec.aeds).public())
    pool = build_pool(maker, locator, p.pool_calls, first_seed)
    # Coverage is not scored here: sample it hourly, not every minute (a sixth of the work).
    run = RunParams(horizon_s=hours * 3600.0, sample_s=3600.0)
    return HeadlineWorld(city, pool, volunteers, p, run, CallSource())


def _run(world: HeadlineWorld, seeds: list[int], jobs: int) -> Iterator[list[SeedResult]]:
    if jobs <= 1:
        for s in seeds:
            yield run_seed(world, s)
        return
    global _WORLD
    _WORLD = world
    ctx = multiprocessing.get_context("fork")  # the workers inherit the built worlds
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            for f in as_completed([pool.submit(_work, s) for s in seeds]):
                yield f.result()
    finally:
        _WORLD = None


def _work(seed: int) -> list[SeedResult]:
    if _WORLD is None:
        raise RuntimeError("worker started without a world")
    return run_seed(_WORLD, seed)


def _how(args: argparse.Namespace, w: HeadlineWorld, built_s: float, ran_s: float) -> str:
    """How the run was made, for the report's first lines."""
    where = f"the city folder {args.city}" if args.city else f"the bundled {args.network}"
    ct = w.params.call_taking
    vols = (
        f"{w.params.volunteers_per_km2:g} volunteers per km² on duty"
        if w.volunteers is not None
        else "no AED layer in this city: volunteers not simulated"
    )
    return (
        f"`jijiu study headline --seeds {args.seeds} --seed {args.seed} --hours {args.hours:g}"
        f"{' --city ' + args.city if args.city else ''}` on {where}: {w.city.n_units} units at "
        f"{len(w.city.stations)} stations, {args.calls_per_day or 300:g} calls a day, "
        f"{ct.call_takers} call-takers on shift, {vols}; a location error pool of "
        f"{w.pool.n} SYNTHETIC calls. Worlds built in {built_s:.0f} s, the seeds run in "
        f"{ran_s:.0f} s with {args.jobs} process(es)."
    )
