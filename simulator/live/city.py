"""The live engine: a city of simulated clients driving a running jijiu server over loopback.

Callers tap (`simulator.live.caller`), a dispatcher bot clicks the recommended unit
(`simulator.live.dispatcher`), one tablet per unit drives and steps through the job
(`simulator.live.tablet`), every hospital acknowledges and receives vitals
(`simulator.live.hospital_client`), the traffic feed posts the city's congestion and road
incidents (`simulator.live.traffic_feed`); docs/simulator.md tells the whole story. `run_live`
connects them all, places calls for the run's duration (or until `stop` is set), lets the
clients finish the request they are in, reads every incident back from the server to check it
agrees with the simulator's record, closes everything and returns what it saw.

The calls and every human time in them come from the demand model the fast engine uses too
(`simulator.world.calls`, over `simulator.world.zones` and `simulator.world.rhythm`): one model,
two engines.
Time is compressed by `speed` (`simulator.live.context`): call arrivals, call-taking, turnout,
driving, on-scene and at-hospital times run `speed` times faster than in the city; the
server, its timeouts, the networks and the vitals' one-second ECG chunks run in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dispatch.core.model import Step
from hospital_link.registry import Registry
from routing.city import load_city_network, resolve_city
from routing.router import Router
from simulator.errors import InvalidArgument
from simulator.live.caller import run_callers
from simulator.live.context import Endpoints, LiveContext
from simulator.live.dispatcher import Dispatcher
from simulator.live.hospital_client import Hospital
from simulator.live.summary import SERVER_STEPS, CallRecord, Check, Tally, render
from simulator.live.tablet import Tablet
from simulator.live.traffic_feed import run_traffic_feed
from simulator.world.rhythm import Rhythm
from simulator.world.traffic_model import TrafficModel
from simulator.world.zones import build_zones

CONNECT_S = 60.0  # wall seconds for every client to connect
SETTLE_S = 15.0  # wall seconds for the clients to finish their request when the run stops


@dataclass(frozen=True)
class LiveParams:
    """A live run: compression, demand, when in the day it starts, length and seed."""

    speed: float = 30.0  # city seconds per wall second
    calls_per_day: float = 400.0  # the demand model's daily mean, shaped by the hour
    start_hour: float = 10.0  # city time of day when the run starts
    duration_s: float | None = None  # wall seconds; None: until `stop` is set
    seed: int = 1
    rhythm: Rhythm = field(default_factory=Rhythm)
    max_calls: int = 100_000
    max_calls_in_flight: int = 64
    video_fps: float = 1.0  # in-vehicle pictures a wall second per unit on a job; 0: none
    traffic: bool = True  # post the traffic model's reports (simulator.live.traffic_feed)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and 1.0 <= self.speed <= 1000.0):
            raise InvalidArgument(f"speed must be in 1..1000, got {self.speed!r}")
        if not (math.isfinite(self.calls_per_day) and 0 < self.calls_per_day <= 100_000):
            raise InvalidArgument("calls_per_day must be in (0, 100000]")
        if not (math.isfinite(self.start_hour) and 0 <= self.start_hour < 24):
            raise InvalidArgument("start_hour must be in [0, 24)")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**31):
            raise InvalidArgument("seed must be an integer in 0..2**31-1")
        if self.duration_s is not None and not (0 < self.duration_s < math.inf):
            raise InvalidArgument("duration_s must be a positive number of seconds or None")
        if self.max_calls < 1 or not 1 <= self.max_calls_in_flight <= 10_000:
            raise InvalidArgument("max_calls and max_calls_in_flight must be positive")
        if not (math.isfinite(self.video_fps) and 0 <= self.video_fps <= 2):
            raise InvalidArgument("video_fps must be in 0..2 (the server takes at most 4)")


@dataclass(frozen=True)
class LiveResult:
    """What a run saw; `render` is the summary table."""

    records: tuple[CallRecord, ...]
    tally: Tally
    check: Check
    wall_s: float
    speed: float
    units: int
    hospitals: int

    def render(self, server_error_logs: int | None = None) -> str:
        return render(
            self.records,
            self.tally,
            self.check,
            wall_s=self.wall_s,
            speed=self.speed,
            units=self.units,
            hospitals=self.hospitals,
            server_error_logs=server_error_logs,
        )


def status_line(ctx: LiveContext) -> str:
    """One line of progress: time, calls by phase, vitals and errors."""
    wall = time.monotonic() - ctx.t0
    phases = Counter(r.phase for r in ctx.records)
    c = ctx.tally.counts

    def n(*names: str) -> int:
        return sum(phases[p] for p in names)

    return (
        f"{_mmss(wall)} wall, city {_mmss(ctx.city_s() % 86_400 / 60)} | calls {len(ctx.records)}: "
        f"waiting {n('created')}, coming {n('assigned', 'acknowledged', 'en_route')}, "
        f"on scene {n('on_scene')}, to hospital {n('transporting')}, "
        f"at hospital {n('at_hospital', 'handed_over')}, done {n('back_in_service')} | "
        f"vitals {c['vitals_received']}/{c['vitals_sent']} | "
        f"errors {sum(ctx.tally.errors.values())}"
    )


def _mmss(value: float) -> str:
    whole = int(value)
    return f"{whole // 60}:{whole % 60:02d}"


async def run_live(
    endpoints: Endpoints,
    network: str,
    params: LiveParams,
    *,
    stop: asyncio.Event | None = None,
    progress: Callable[[str], None] | None = None,
    router: Router | None = None,
    city: str = "",
) -> LiveResult:
    """Drive the server at `endpoints` (which serves the `city` folder, or the bundled city on
    `network` when that is "") for one run."""
    spec = resolve_city(city, "" if city else network)
    if router is None:
        net, _ = await asyncio.to_thread(load_city_network, spec)
        router = Router(net)
        await asyncio.to_thread(router.warm_up)
    crew_seed = np.random.default_rng([params.seed, 13])  # monitors; calls.py uses stream 7
    ctx = LiveContext(endpoints, router, params.speed, params.start_hour * 3600.0)
    registry = Registry.load_csv(spec.hospitals) if spec.hospitals is not None else Registry(())
    ctx.hospital_doors = {h.id: (h.lat, h.lon) for h in registry.hospitals}
    dispatcher = Dispatcher(ctx)
    tasks = [asyncio.create_task(dispatcher.link.run())]
    hospitals = [Hospital(ctx, hid, token) for hid, token in endpoints.tokens["hospitals"].items()]
    tasks += [asyncio.create_task(h.link.run()) for h in hospitals]
    tablets: list[Tablet] = []
    try:
        await asyncio.wait_for(dispatcher.snapshot.wait(), CONNECT_S)
        unit_seeds = crew_seed.spawn(len(dispatcher.units))
        for unit, rng in zip(dispatcher.units, unit_seeds, strict=True):
            if unit["unit_id"] in endpoints.tokens["units"]:
                tablets.append(Tablet(ctx, unit, rng, params.video_fps))
        tasks += [asyncio.create_task(t.link.run()) for t in tablets]
        links = [dispatcher.link, *(h.link for h in hospitals), *(t.link for t in tablets)]
        await asyncio.wait_for(asyncio.gather(*(k.connected.wait() for k in links)), CONNECT_S)
        ctx.t0 = time.monotonic()  # city time starts with everyone connected
        crews = [ctx.spawn(t.run(), "tablet") for t in tablets]
        zones = build_zones(router.net)
        calling = run_callers(
            ctx,
            router.net,
            zones,
            params.rhythm,
            params.calls_per_day,
            params.seed,
            params.max_calls,
            params.max_calls_in_flight,
        )
        callers = ctx.spawn(calling, "caller")
        if params.traffic:
            model = TrafficModel(router.net, params.rhythm, params.seed)
            ctx.spawn(run_traffic_feed(ctx, model), "traffic feed")
        await _watch(ctx, params.duration_s, stop, progress)
        ctx.stop.set()
        await asyncio.wait([callers, *crews], timeout=SETTLE_S)
        await ctx.settle(SETTLE_S)
        wall_s = time.monotonic() - ctx.t0
        check = await read_back(ctx)
    finally:
        ctx.stop.set()
        for link in [dispatcher.link, *(h.link for h in hospitals), *(t.link for t in tablets)]:
            await link.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ctx.close()
    return LiveResult(
        tuple(ctx.records),
        _with_console_latency(ctx),
        check,
        wall_s,
        params.speed,
        len(tablets),
        len(hospitals),
    )


async def _watch(
    ctx: LiveContext,
    duration_s: float | None,
    stop: asyncio.Event | None,
    progress: Callable[[str], None] | None,
) -> None:
    """Until the duration has passed or `stop` is set, report progress every second."""
    end = ctx.t0 + duration_s if duration_s is not None else math.inf
    while time.monotonic() < end and not (stop is not None and stop.is_set()):
        if progress is not None:
            progress(status_line(ctx))
        wait_s = min(1.0, end - time.monotonic())
        if stop is None:
            await asyncio.sleep(max(wait_s, 0.0))
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait_s, 0.0))
    if progress is not None:
        progress(status_line(ctx))


async def read_back(ctx: LiveContext) -> Check:
    """Every incident the simulator created, as the server holds it, against its record."""
    token = ctx.endpoints.tokens["dispatcher"]
    r = await ctx.api("GET", "/api/v1/incidents?open_only=false", token)
    if r is None:
        return Check(0, ("the server's incidents could not be read",))
    views = {v["incident_id"]: v for v in r.json()}
    mismatches = []
    created = [rec for rec in ctx.records if rec.incident_id is not None and rec.phase]
    for rec in created:
        view = views.get(rec.incident_id or "")
        if view is None:
            mismatches.append(f"{rec.incident_id}: not on the server")
            continue
        step = Step(view["step"]).name.lower()
        assert rec.phase is not None
        unit_ok = rec.phase == "created" or view["unit_id"] in (rec.unit_id, None)
        if step not in SERVER_STEPS[rec.phase] or not unit_ok:
            mismatches.append(
                f"{rec.incident_id}: simulator {rec.phase} ({rec.unit_id}), "
                f"server {step} ({view['unit_id']})"
            )
    return Check(len(created), tuple(mismatches))


def _with_console_latency(ctx: LiveContext) -> Tally:
    """Join the console's receipt times with the calls' send times (either may come first)."""
    for rec in ctx.records:
        seen = ctx.console_seen.get(rec.incident_id or "", {})
        posted = rec.at.get("posted")
        if posted is None:
            continue
        for kind in ("call.received", "incident.recommended"):
            if kind in seen:
                ctx.tally.sample(f"call → console {kind}", seen[kind] - posted)
        if "offered" in rec.at and "assign_posted" in rec.at:
            ctx.tally.sample(
                "assignment → offer on tablet", rec.at["offered"] - rec.at["assign_posted"]
            )
    return ctx.tally
