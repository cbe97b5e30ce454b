"""The policy study: every policy on the same seeded calls, seed after seed, in one world.

A seed fixes the calls (synthetic, or the San Francisco log replayed with seeded places and
intervals); each policy then runs on exactly those calls, so policy differences are paired by
seed. Runs can go to worker processes forked after the world is built (it is read-only in a
run but for the router's congestion factors, which each process owns a copy of).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

from dispatch.core.model import Priority
from simulator.fast.engine import FastSim, RunParams
from simulator.fast.metrics import RunResult
from simulator.fast.policies import make_policy
from simulator.world.call_log import LogCall
from simulator.world.calls import (
    CALL_PROCESSING_ROUTINE,
    CALL_PROCESSING_URGENT,
    TURNOUT_AT_STATION,
    TURNOUT_ON_ROAD,
    CallSpec,
    generate_calls,
)
from simulator.world.log_replay import replay_log
from simulator.world.replay import LoggedIncident, replay_calls
from simulator.world.scenario import World


@dataclass(frozen=True)
class CallSource:
    """Where a run's calls come from: "synthetic", the bundled week replayed ("replay", `log`)
    or a named call log ("log", `named`), each replayed from `first_day`. `exact` takes the
    randomness out of the response as the DMEXCLP papers' simulations do: every drive takes its
    road ETA, call processing and turnout their medians (the other intervals stay drawn)."""

    kind: str = "synthetic"
    log: tuple[LoggedIncident, ...] = ()
    first_day: int = 0
    named: tuple[LogCall, ...] = ()
    exact: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("synthetic", "replay", "log"):
            raise ValueError("kind is synthetic, replay or log")
        if self.kind == "replay" and not self.log:
            raise ValueError("a replay needs the log")
        if self.kind == "log" and not self.named:
            raise ValueError("a log replay needs its calls")

    def calls(self, world: World, seed: int, run: RunParams) -> list[CallSpec]:
        drawn = self._drawn(world, seed, run)
        return [_exact(c) for c in drawn] if self.exact else drawn

    def _drawn(self, world: World, seed: int, run: RunParams) -> list[CallSpec]:
        start, end = -run.warmup_s, run.horizon_s
        if self.kind == "log":
            net = world.net
            return replay_log(self.named, world.zones, net, seed, start, end, self.first_day)
        if self.kind == "replay":
            return replay_calls(self.log, world.zones, world.net, seed, start, end, self.first_day)
        p = world.params
        return generate_calls(world.zones, world.net, p.rhythm, p.demand, seed, start, end)


def _exact(c: CallSpec) -> CallSpec:
    """The call with ETA-exact drives and the median call processing and turnouts."""
    median = CALL_PROCESSING_ROUTINE if c.priority is Priority.P3 else CALL_PROCESSING_URGENT
    return replace(
        c,
        triage_s=median.median_s,
        turnout_station_s=TURNOUT_AT_STATION.median_s,
        turnout_road_s=TURNOUT_ON_ROAD.median_s,
        drive_noise=1.0,
        transport_noise=1.0,
        return_noise=1.0,
    )


def run_one(
    world: World,
    policy: str,
    seed: int,
    run: RunParams,
    source: CallSource,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """One policy on one seed's calls."""
    calls = source.calls(world, seed, run)
    return FastSim(world, make_policy(policy), calls, seed, run).run(progress)


_WORLD: World | None = None  # the forked workers' world (set before the pool forks)


def _work(policy: str, seed: int, run: RunParams, source: CallSource) -> RunResult:
    if _WORLD is None:
        raise RuntimeError("worker started without a world")
    return run_one(_WORLD, policy, seed, run, source)


def study(
    world: World,
    policies: Sequence[str],
    seeds: Sequence[int],
    run: RunParams,
    source: CallSource,
    jobs: int = 1,
    progress: Callable[[float], None] | None = None,
) -> dict[str, list[RunResult]]:
    """Every policy on every seed; results per policy in seed order. `progress` gets
    simulated seconds (in one process) or whole runs' horizons (with workers) as they finish."""
    out: dict[str, list[RunResult]] = {p: [] for p in policies}
    tasks = [(p, s) for s in seeds for p in policies]
    if jobs <= 1:
        for p, s in tasks:
            out[p].append(run_one(world, p, s, run, source, progress))
        return out
    for result in _in_workers(world, tasks, run, source, jobs, progress):
        out[result.policy].append(result)
    for results in out.values():
        results.sort(key=lambda r: r.seed)
    return out


def _in_workers(
    world: World,
    tasks: list[tuple[str, int]],
    run: RunParams,
    source: CallSource,
    jobs: int,
    progress: Callable[[float], None] | None,
) -> Iterator[RunResult]:
    global _WORLD
    _WORLD = world
    ctx = multiprocessing.get_context("fork")  # the workers inherit the built world
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_work, p, s, run, source) for p, s in tasks]
            for f in as_completed(futures):
                if progress is not None:
                    progress(run.horizon_s)
                yield f.result()
    finally:
        _WORLD = None
