"""The world of the volunteer study: where and when arrests happen, the fleet, the volunteers.

Every figure below is an assumption of the study (docs/volunteer-study.md discusses them):

- **Where.** Arrests fall near road nodes drawn with weight exp(-distance from Wulin Square /
  `demand_scale_m`): junctions are densest where streets are, and the kernel makes the centre
  denser still. Each is set back `setback_m` from its node in a random direction (people are
  in buildings, not on the kerb).
- **When.** A day of one ordinary week (no public holiday) drawn uniformly, an hour by
  `HOUR_WEIGHT` (sudden cardiac death peaks in the morning and is rarest at night: Muller et
  al., Circulation 1987;75:131), the minute uniformly. AED opening hours are read at that
  local time.
- **The fleet.** The demo fleet's units (`dispatch.core.fleet.demo_fleet`, k-means stations), each
  busy elsewhere with probability `p_busy`; the nearest free unit by road ETA is sent (any
  unit carries a defibrillator; an ALS upgrade does not change who is first).
- **Volunteers.** On-duty, verified volunteers form a homogeneous Poisson process of
  `density` per km² over the plane; only those within `max_radius_m` of the arrest can be
  alerted, so only that disc is drawn, and those off the walking map (in West Lake, outside
  the network's box, > 300 m from a road) are dropped. Each accepts with `p_accept` and sets
  off after a delay uniform in response_delay_s * (1 ± `delay_spread`); they move at
  `VolunteerParams.travel_speed_mps` over the walking graph, carrying an AED back included.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from aed_map.footways import Reach, WalkPoint
from aed_map.opening_hours import OpenState, open_state
from aed_map.registry import Aed
from aed_map.synthetic import CENTRE_LONLAT
from aed_map.volunteers import Volunteer, VolunteerId, VolunteerParams
from aed_map.walking import AedIndex
from dispatch.core.fleet import demo_fleet
from location_fusion.geo import LocalFrame
from routing.errors import OutsideNetwork
from routing.network import F64, I32, RoadNetwork
from routing.params import SnapParams
from routing.router import Router
from routing.snap import Positions, Snapper
from simulator.errors import InvalidArgument, NoPlaceableArrest

# Relative OHCA incidence by local hour 0..23: a night trough, a morning peak (an assumption
# shaped after the circadian pattern of sudden cardiac death, not fitted to Hangzhou data).
HOUR_WEIGHT = (
    0.5,
    0.45,
    0.4,
    0.4,
    0.45,
    0.55,
    0.8,
    1.1,
    1.4,
    1.5,
    1.45,
    1.3,
    1.2,
    1.15,
    1.1,
    1.1,
    1.1,
    1.1,
    1.1,
    1.05,
    1.0,
    0.9,
    0.75,
    0.6,
)
MAX_DRAWS = 100  # an arrest off the walking map is drawn again, at most this often
CONSENT_S = 1e9  # the simulated volunteers' consent outlasts any run


@dataclass(frozen=True)
class StudyParams:
    """The study's assumptions (seconds, metres, shares); the module docstring says why."""

    # Call answered, arrest recognised, unit dispatched: NFPA 1225 sets alarm-processing goals
    # around a minute for the highest priority; China's 2020 guidance wants 95 % of 120 calls
    # answered within 10 s. Dispatch-assisted recognition of an arrest takes longer.
    call_processing_s: tuple[float, float] = (60.0, 90.0)
    # Alert to wheels rolling: NFPA 1710's EMS turnout objective is 60 s; China's guidance
    # targets rolling within 3 minutes for 95 % of dispatches (3 分钟出车率).
    turnout_s: tuple[float, float] = (60.0, 120.0)
    # Road ETA is the router's (ambulance speeds with lights and siren, no congestion) times
    # this factor, a crude stand-in for traffic; the call-out is told the same ETA.
    drive_factor: float = 1.0
    n_units: int = 20  # the server's default demo fleet: 10 stations of 2
    fleet_seed: int = 0
    p_busy: float = 0.3  # each unit independently busy with another patient
    p_accept: float = 0.4  # an alerted volunteer accepts (an assumption; see the docs)
    delay_spread: float = 0.5  # set-off delay: response_delay_s * uniform(1 - s, 1 + s)
    target_s: float = 240.0  # "an AED within 4 minutes of the call"
    demand_scale_m: float = 4_000.0
    setback_m: tuple[float, float] = (10.0, 40.0)
    use_unknown_hours: bool = False  # an AED whose hours we cannot read is not fetched
    week_monday: date = date(2026, 3, 2)  # an ordinary week: no Chinese public holiday
    patient_reach_m: float = 5_000.0  # walking metres searched from the patient
    aed_reach_m: float = 4_000.0  # walking metres searched from each AED
    volunteer: VolunteerParams = field(default_factory=VolunteerParams)

    def __post_init__(self) -> None:
        for name in ("call_processing_s", "turnout_s", "setback_m"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
                raise InvalidArgument(f"{name} {(lo, hi)!r} must be a range 0 <= lo <= hi")
        for name in ("p_busy", "p_accept"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 <= v <= 1):
                raise InvalidArgument(f"{name} {v!r} must be a share in 0..1")
        if not (math.isfinite(self.delay_spread) and 0 <= self.delay_spread <= 1):
            raise InvalidArgument(f"delay_spread {self.delay_spread!r} must be in 0..1")
        for name in (
            "target_s",
            "demand_scale_m",
            "patient_reach_m",
            "aed_reach_m",
            "drive_factor",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InvalidArgument(f"{name} {v!r} must be a positive number")
        if self.p_busy >= 1:
            raise InvalidArgument("p_busy must be below 1: some unit has to be free")
        if not (isinstance(self.n_units, int) and self.n_units >= 1):
            raise InvalidArgument(f"n_units {self.n_units!r} must be a positive integer")
        if self.week_monday.weekday() != 0:
            raise InvalidArgument(f"week_monday {self.week_monday} is not a Monday")


@dataclass(frozen=True)
class Arrest:
    """One cardiac arrest: where, when, and the ambulance's part of the response."""

    lat: float
    lon: float
    local_time: datetime
    call_processing_s: float
    turnout_s: float
    drive_s: float  # the nearest free unit, by road ETA
    patient: WalkPoint


@dataclass(frozen=True)
class Scene:
    """The walking search from the patient, and each AED's way back (index order)."""

    reach: Reach
    aed_back_s: F64  # AED -> patient at volunteer speed, building included; inf if unusable


@dataclass(frozen=True)
class Pool:
    """The volunteers around one arrest at the highest density, with their random marks."""

    ceiling: float  # the density they were drawn at
    volunteers: tuple[Volunteer, ...]
    mark: F64  # present at density d when mark < d / ceiling (nested across densities)
    accepts: np.ndarray  # bool
    delay_s: F64  # alert -> sets off
    edge: I32
    fraction: F64
    offroad_m: F64

    def present(self, density: float) -> list[int]:
        """Rows of the volunteers present at `density` (<= ceiling)."""
        if density <= 0 or self.ceiling <= 0:
            return []
        return [int(i) for i in np.flatnonzero(self.mark < density / self.ceiling)]


class World:
    """The fixed part of the study on one network: router, fleet, AEDs, demand (build once)."""

    def __init__(
        self, net: RoadNetwork, aeds: Iterable[Aed], params: StudyParams | None = None
    ) -> None:
        self.net = net
        self.params = p = params or StudyParams()
        self.router = Router(net)
        units = demo_fleet(net, p.n_units, p.fleet_seed)
        self.units: Positions = self.router.snap_many(
            [u.lat for u in units], [u.lon for u in units]
        )
        self.index = AedIndex(net, aeds)
        # Our own off-road limit applies (the index's); the snapper only finds the road.
        self._snapper = Snapper(net, SnapParams(max_snap_m=1e7))
        self.lonlat_min, self.lonlat_max = net.node_lonlat.min(axis=0), net.node_lonlat.max(axis=0)
        x, y = LocalFrame(*CENTRE_LONLAT).to_xy(net.node_lonlat[:, 0], net.node_lonlat[:, 1])
        weight = np.exp(-np.hypot(x, y) / p.demand_scale_m)
        self.demand_cdf: F64 = np.cumsum(weight) / weight.sum()
        hour = np.array(HOUR_WEIGHT)
        self.hour_cdf: F64 = np.cumsum(hour) / hour.sum()
        # AED index -> (its road edge, fraction, walking metres to every node)
        self._fields: dict[int, tuple[int, float, F64]] = {}

    def draw_arrest(self, rng: np.random.Generator) -> Arrest:
        """Where, when and who drives: see the module docstring."""
        p, net = self.params, self.net
        for _ in range(MAX_DRAWS):
            node = min(int(np.searchsorted(self.demand_cdf, rng.random())), net.n_nodes - 1)
            setback, angle = rng.uniform(*p.setback_m), rng.uniform(0.0, 2 * math.pi)
            lon0, lat0 = (float(v) for v in net.node_lonlat[node])
            dx, dy = setback * math.cos(angle), setback * math.sin(angle)
            lon_a, lat_a = LocalFrame(lon0, lat0).to_lonlat(dx, dy)
            lat, lon = float(lat_a), float(lon_a)
            free = rng.random(len(self.units)) >= p.p_busy
            if not free.any():  # p_busy is a share busy, not a model of a collapsed system
                free[int(rng.integers(len(self.units)))] = True
            day, u = int(rng.integers(7)), rng.random()
            hour, minute = int(np.searchsorted(self.hour_cdf, u)), int(rng.integers(60))
            processing, turnout = rng.uniform(*p.call_processing_s), rng.uniform(*p.turnout_s)
            try:
                patient = self.index.place(lat, lon)
                incident = self.router.snap(lat, lon)
            except OutsideNetwork:
                continue
            on = Positions(
                self.units.edge[free], self.units.fraction[free], self.units.snap_distance_m[free]
            )
            ranked = self.router.rank(on, incident, k=1)
            if not ranked:
                continue
            when = datetime.combine(p.week_monday + timedelta(days=day), datetime.min.time())
            when += timedelta(hours=min(hour, 23), minutes=minute)
            drive_s = ranked[0].eta_s * p.drive_factor
            return Arrest(lat, lon, when, processing, turnout, drive_s, patient)
        raise NoPlaceableArrest(f"no arrest on the walking map in {MAX_DRAWS} draws")

    def scene(self, arrest: Arrest) -> Scene:
        """One walking search from the patient; AEDs closed at the arrest's time are unusable."""
        idx, vp = self.index, self.params.volunteer
        reach = Reach(self.net, idx.graph, arrest.patient, self.params.patient_reach_m)
        road_m, _ = reach.to(idx.edge, idx.fraction)
        metres = road_m + idx.params.detour_factor * (idx.offroad_m + arrest.patient.offroad_m)
        back = metres / vp.travel_speed_mps + idx.building_s
        ok = (
            {OpenState.OPEN, OpenState.UNKNOWN}
            if self.params.use_unknown_hours
            else {OpenState.OPEN}
        )
        # An empty calendar: the study's week has no public holiday, so `PH` rules are exact.
        usable = np.array(
            [open_state(h, arrest.local_time, frozenset()) in ok for h in idx.hours], dtype=bool
        )
        return Scene(reach, np.where(usable, back, np.inf))

    def draw_pool(self, arrest: Arrest, ceiling: float, rng: np.random.Generator) -> Pool:
        """Volunteers within max_radius_m at `ceiling` per km², on the walking map."""
        p = self.params
        radius_m = p.volunteer.max_radius_m
        n = int(rng.poisson(ceiling * math.pi * (radius_m / 1_000.0) ** 2))
        r_m = radius_m * np.sqrt(rng.random(n))  # uniform over the disc
        theta = rng.uniform(0.0, 2 * math.pi, n)
        mark, accepts = rng.random(n), rng.random(n) < p.p_accept
        delay = p.volunteer.response_delay_s * rng.uniform(
            1 - p.delay_spread, 1 + p.delay_spread, n
        )
        lon, lat = LocalFrame(arrest.lon, arrest.lat).to_lonlat(
            r_m * np.cos(theta), r_m * np.sin(theta)
        )
        inside = np.all(
            (np.c_[lon, lat] >= self.lonlat_min) & (np.c_[lon, lat] <= self.lonlat_max), axis=1
        )
        keep = np.flatnonzero(inside)
        if keep.size:
            pos = self._snapper.snap_many(lat[keep], lon[keep])
            on_map = pos.snap_distance_m <= self.index.params.max_offroad_m
            keep, edge, frac = keep[on_map], pos.edge[on_map], pos.fraction[on_map]
            off = pos.snap_distance_m[on_map]
        else:
            edge, frac, off = np.zeros(0, np.int32), np.zeros(0), np.zeros(0)
        # Verified, on duty, position reported at the alert (t = 0), consent valid throughout.
        vols = tuple(
            Volunteer(
                VolunteerId(f"v{k}"), True, True, float(lat[k]), float(lon[k]), 0.0, CONSENT_S
            )
            for k in keep
        )
        return Pool(ceiling, vols, mark[keep], accepts[keep], delay[keep], edge, frac, off)

    def volunteer_to_aed_m(self, j: int, edge: I32, fraction: F64) -> F64:
        """Road metres from AED j's road point to road points (walking is symmetric).

        The walking search from each AED runs once per study and is kept (its metres to every
        node); the answer is `footways.Reach.to`'s, without keeping each search's path tree.
        """
        kept = self._fields.get(j)
        if kept is None:
            o = self.index.point(j)
            reach = Reach(self.net, self.index.graph, o, self.params.aed_reach_m)
            kept = self._fields[j] = (o.edge, o.fraction, reach.dist)
        o_edge, o_fraction, dist = kept
        return road_m_from(self.net, dist, o_edge, o_fraction, edge, fraction)


def road_m_from(
    net: RoadNetwork, dist: F64, o_edge: int, o_fraction: float, edge: I32, fraction: F64
) -> F64:
    """Road metres from a road point (with `dist`, its metres to every node) to road points.

    Enter each target's road by its nearer end; along the origin's own road (either
    direction) the straight stretch between the two points may be shorter.
    """
    length = net.length_m[edge]
    by_tail = dist[net.edge_tail[edge]] + fraction * length
    by_head = dist[net.edge_head[edge]] + (1.0 - fraction) * length
    metres = np.minimum(by_tail, by_head)
    same = (edge == o_edge) | (edge == net.twin[o_edge])
    along = np.where(edge == o_edge, fraction, 1.0 - fraction)
    direct = np.abs(along - o_fraction) * float(net.length_m[o_edge])
    out: F64 = np.where(same & (direct < metres), direct, metres)
    return out
