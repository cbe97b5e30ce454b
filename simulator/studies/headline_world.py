"""The before and after worlds of the headline study, and the switches between them.

One seed's calls (the fast simulator's demand, `simulator.world.calls`) are met by a centre
that works in one of two ways, or anything between them, one switch at a time:

- `location`. Before: a voice call; the call-taker asks where and what (the SF-fitted
  handling), and the place is the caller's words and the serving cell, fused without a handset
  fix. After: one tap; the fix and the complaint come with the call (shorter handling,
  `simulator.fast.calltaking`), and the place is the fused fix, cell and words.
- `recommendation`. Before: the dispatcher sends the idle unit nearest in a straight line
  (`StraightLine`). After: `Engine.recommend`'s first option, ranked by road ETA (the fast
  simulator's `default` policy).
- `pre_alert`. Before: the hospital learns of the patient at the door. After: told at
  transport (`patient.inbound`), so the handover takes `pre_alert_saving` less of the
  at-hospital interval.
- `volunteers`. Before: nobody but the crew. After: CPR volunteers alerted to a cardiac arrest
  (`aed_map`): at the tap with one tap (the desk alerts on `CallReceived`), else once the
  call-taker has triaged the call.

Location errors come from running the project's locator (`location_fusion.locate.Locator`) on
SYNTHETIC evidence (`location_fusion.scenario.CallMaker`): a pool of calls located twice,
with all their evidence and with the cell and words only; each simulated call draws one pool
call (the same one in every world of a seed) and its estimate is put at that error from the
true place. A crew sent to a wrong estimate stops there, drives on to the patient (road time
from the estimate) and, beyond `callback_m`, first phones the caller (`callback_s`).

Pure: the worlds are built by the shell (`simulator.studies.headline_cli`), the seed comes in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dispatch.core.model import Complaint
from location_fusion.geo import LocalFrame, haversine_m
from location_fusion.locate import CallEvidence, Locator
from location_fusion.scenario import CallMaker
from routing.errors import RoutingError
from routing.network import F64
from routing.snap import Positions
from simulator.fast.calltaking import CallTakingParams
from simulator.fast.policies import Pick, RunView
from simulator.world.scenario import World

NO_ESTIMATE_M = 500.0  # a call with no usable evidence: placed this far off, then asked


@dataclass(frozen=True)
class Switches:
    """Which of the four improvements are on (all off: before; all on: after)."""

    location: bool = False
    recommendation: bool = False
    pre_alert: bool = False
    volunteers: bool = False


BEFORE = Switches()
AFTER = Switches(True, True, True, True)
CAUSES = ("location", "recommendation", "pre_alert", "volunteers")


def one_on(cause: str) -> Switches:
    """Before, with one cause switched on."""
    if cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}; one of {', '.join(CAUSES)}")
    return Switches(**{cause: True})


@dataclass(frozen=True)
class HeadlineParams:
    """The study's assumptions (seconds, metres, shares); each says where it comes from."""

    call_taking: CallTakingParams = field(default_factory=CallTakingParams)
    # Handover time saved when the hospital was told ahead: ASSUMPTION (pre-notification
    # shortens door-to-treatment for stroke and STEMI; no offload-time figure was found).
    pre_alert_saving: float = 0.10
    callback_m: float = 100.0  # beyond this the crew phones the caller: ASSUMPTION
    callback_s: float = 60.0
    stop_m: float = 25.0  # within this of the patient the crew is at the door
    volunteers_per_km2: float = 5.0  # on duty (docs/volunteer-study.md's middle density)
    arrest_target_s: float = 240.0  # an AED or CPR volunteer at the patient within 4 min
    near_m: float = 50.0  # "located": the estimate within this of the truth
    pool_calls: int = 1000  # evidence calls located for the error pool

    def __post_init__(self) -> None:
        if not (0 <= self.pre_alert_saving < 1):
            raise ValueError("pre_alert_saving must be in [0, 1)")
        for name in ("callback_m", "callback_s", "stop_m", "volunteers_per_km2"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a number >= 0")
        if not (self.arrest_target_s > 0 and self.near_m > 0 and self.pool_calls >= 10):
            raise ValueError("arrest_target_s and near_m must be > 0, pool_calls >= 10")


@dataclass(frozen=True)
class ErrorPool:
    """Estimate minus truth, metres east and north, per pool call: (n, 2) for each world."""

    before_xy_m: F64  # cell and words only
    after_xy_m: F64  # fix, cell and words

    @property
    def n(self) -> int:
        return int(self.before_xy_m.shape[0])


def build_pool(maker: CallMaker, locator: Locator, n: int, seed: int) -> ErrorPool:
    """Locate n SYNTHETIC calls with and without their handset fixes."""
    rng = np.random.default_rng([seed, 41])
    before, after = np.zeros((n, 2)), np.zeros((n, 2))
    for k in range(n):
        call = maker.make(rng)
        frame = LocalFrame(call.true_lon, call.true_lat)
        full = CallEvidence(call.fixes, call.cell, call.spoken)
        heard = CallEvidence((), call.cell, call.spoken)
        for out, evidence in ((after, full), (before, heard)):
            est = locator.locate(evidence, call.now_s)
            if est is None:
                angle = rng.uniform(0.0, 2 * math.pi)
                out[k] = NO_ESTIMATE_M * math.cos(angle), NO_ESTIMATE_M * math.sin(angle)
            else:
                x, y = frame.to_xy(np.array([est.lon]), np.array([est.lat]))
                out[k] = float(np.asarray(x)[0]), float(np.asarray(y)[0])
    return ErrorPool(before, after)


@dataclass(frozen=True)
class Placed:
    """Where each call is believed to be, and what the error costs the crew (per call)."""

    lat: F64
    lon: F64
    error_m: F64
    finding_s: F64  # kerb at the estimate -> at the patient


def place(
    world: World,
    truth: Sequence[tuple[float, float]],
    xy_m: F64,
    p: HeadlineParams,
) -> Placed:
    """Estimates at `xy_m` from each true (lat, lon); the crew's drive on from the estimate
    (road time under midday traffic, the same for every run) and the phone call beyond
    `callback_m`."""
    world.set_period(world.params.rhythm.period(12 * 3600.0))
    n = len(truth)
    lat, lon, err, find = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for k, (t_lat, t_lon) in enumerate(truth):
        lat[k], lon[k] = _on_roads(world, t_lat, t_lon, xy_m[k])
        err[k] = float(haversine_m(t_lon, t_lat, lon[k], lat[k]))
        if err[k] <= p.stop_m:
            continue
        find[k] = _road_s(world, (lat[k], lon[k]), (t_lat, t_lon), err[k])
        if err[k] > p.callback_m:
            find[k] += p.callback_s
    world.router.clear_congestion()
    return Placed(lat, lon, err, find)


def _on_roads(world: World, t_lat: float, t_lon: float, xy_m: F64) -> tuple[float, float]:
    """The estimate at xy_m from the truth; one off every road (a lake, beyond the map) is
    pulled halfway back until it snaps, as a dispatcher would place it by the caller's words."""
    frame = LocalFrame(t_lon, t_lat)
    for share in (1.0, 0.5, 0.25, 0.0):
        e_lon, e_lat = frame.to_lonlat(xy_m[0] * share, xy_m[1] * share)
        try:
            world.router.snap(float(e_lat), float(e_lon))
        except RoutingError:
            continue
        return float(e_lat), float(e_lon)
    return t_lat, t_lon


def _road_s(world: World, a: tuple[float, float], b: tuple[float, float], err_m: float) -> float:
    """Road seconds from a to b; off the network, the straight line at 5 m/s."""
    try:
        pa, pb = world.router.snap(*a), world.router.snap(*b)
    except RoutingError:
        return err_m / 5.0
    found = world.router.space.route_one(Positions.of([pa]), Positions.of([pb]))
    return float(found.cost_s) if found is not None else err_m / 5.0


@dataclass(frozen=True)
class StraightLine:
    """The dispatcher's rule before: the idle unit nearest as the crow flies (its station,
    or where it last reported), sent whatever the roads; units return home."""

    name: str = "straight-line"

    def choose(self, view: RunView, i: int) -> Pick | None:
        idle = view.idle()
        if not idle:
            return None
        inc = view.engine.incidents[view.call(i).incident_id].position
        units = view.engine.units
        pos = [units[view.unit_id(u)].position for u in idle]
        d = haversine_m(
            np.array([q.lon for q in pos]), np.array([q.lat for q in pos]), inc.lon, inc.lat
        )
        k = int(np.argmin(d))
        ranked = view.world.router.rank(Positions.of([pos[k]]), inc, 1)
        return Pick(idle[k], ranked[0].eta_s) if ranked else None

    def station_for(self, view: RunView, u: int) -> int:
        return view.world.homes[view.unit_id(u)]


def is_arrest(complaint: Complaint) -> bool:
    return complaint is Complaint.CARDIAC_ARREST
