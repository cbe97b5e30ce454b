"""Walking to the nearest AED: times over the road graph on foot, and which AEDs are worth it.

Walking ignores one-way rules: the graph is the road network made undirected, in metres
(`aed_map.footways`). One bounded Dijkstra from the incident gives the road distance to every
AED within reach; AEDs are snapped to the road once, when the index is built, and only the
few nearest get their opening hours checked and their directions written.

A query costs what the search reaches, not the registry's size: the index keeps, per road
node, the AEDs whose road ends there (a CSR), so only AEDs on roads the search got to are
measured, and ties are broken on a precomputed rank of the ids.

Time = metres / speed, plus the off-road legs (incident and AED to their road points) as the
straight line times a detour factor, plus a fixed allowance for an AED inside a building. The
round trip (patient -> AED -> patient) is what decides whether a bystander's AED can beat the
ambulance's defibrillator.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from aed_map.directions import describe_walk
from aed_map.errors import InvalidArgument
from aed_map.footways import Reach, WalkPoint, point_along, walking_graph
from aed_map.opening_hours import OpenState, Schedule, Unparsed, open_state, parse
from aed_map.registry import Aed, AedId
from routing.errors import OutsideNetwork
from routing.network import F64, I32, I64, RoadNetwork
from routing.params import SnapParams
from routing.snap import Snapper


@dataclass(frozen=True)
class WalkParams:
    """Pedestrian speed and the allowances around the road graph (defaults say why)."""

    # 1.4 m/s is the typical preferred walking speed of adults (Bohannon 1997; Browning et al.
    # 2006). A bystander sent for an AED walks fast or jogs, but crossings, stairs and finding
    # the way cost time, so the plain walking speed is the honest planning figure.
    speed_mps: float = 1.4
    # Off-road legs are straight lines; urban walking routes run ~1.2-1.4x the straight line.
    detour_factor: float = 1.3
    # A point farther than this from any road is outside the walking map.
    max_offroad_m: float = 300.0
    # An assumption: door to cabinet inside a building (lobby, corridor), each way.
    indoor_extra_s: float = 60.0
    # An assumption: one floor of stairs (about 20 steps), each way.
    per_level_s: float = 15.0

    def __post_init__(self) -> None:
        for name in ("speed_mps", "detour_factor", "max_offroad_m"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InvalidArgument(f"{name} {v!r} must be a positive number")
        if self.detour_factor < 1.0:
            raise InvalidArgument("detour_factor below 1 would make the walk shorter than a line")
        for name in ("indoor_extra_s", "per_level_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InvalidArgument(f"{name} {v!r} must be a number >= 0")


@dataclass(frozen=True)
class AedOption:
    """One AED a bystander could fetch: how far, how long, open or not, and how to get there."""

    aed: Aed
    distance_m: float  # one way, incident to AED, road and off-road legs
    walk_s: float  # one way
    round_trip_s: float  # patient -> AED -> patient
    state: OpenState  # CLOSED never appears in nearest_aeds' answer
    directions: str  # for the dispatcher to read to the caller, in Chinese


class AedIndex:
    """The public AEDs of a registry, placed on one network's walking graph (build once).

    Per AED it keeps the road point (edge, fraction), the off-road metres, the seconds spent
    inside its building and its parsed hours, as arrays, so a query is a few vector operations
    after one Dijkstra; and per road node the AEDs whose road ends there, so those operations
    run over the AEDs the search reached, not all of them.
    """

    def __init__(
        self, net: RoadNetwork, aeds: Iterable[Aed], params: WalkParams | None = None
    ) -> None:
        self.net = net
        self.params = params or WalkParams()
        self.graph = walking_graph(net)
        # Our own limit applies (max_offroad_m); the snapper only finds the nearest road.
        self._snapper = Snapper(net, SnapParams(max_snap_m=1e7))
        public = [a for a in aeds if a.public_use]
        pos = self._snapper.snap_many([a.lat for a in public], [a.lon for a in public])
        near = pos.snap_distance_m <= self.params.max_offroad_m
        self.aeds = tuple(a for a, ok in zip(public, near, strict=True) if ok)
        # Public AEDs too far from any road to walk to: a registry problem to show an operator.
        self.unplaced = tuple(a.id for a, ok in zip(public, near, strict=True) if not ok)
        self.edge: I32 = pos.edge[near]
        self.fraction: F64 = pos.fraction[near]
        self.offroad_m: F64 = pos.snap_distance_m[near]
        self.building_s = np.array([building_s(a, self.params) for a in self.aeds], np.float64)
        self.hours: tuple[Schedule | Unparsed, ...] = tuple(
            parse(a.opening_hours) for a in self.aeds
        )
        # Ties in walking time go to the smaller id: its rank among the ids, sorted once.
        self.id_rank: I64 = np.empty(len(self.aeds), dtype=np.int64)
        self.id_rank[sorted(range(len(self.aeds)), key=lambda i: self.aeds[i].id)] = np.arange(
            len(self.aeds)
        )
        # AEDs by road node: those on an edge ending at node v are
        # _at_node[_node_ptr[v]:_node_ptr[v + 1]] (each AED under its edge's tail and head).
        ends = np.concatenate([net.edge_tail[self.edge], net.edge_head[self.edge]])
        owner = np.tile(np.arange(len(self.aeds), dtype=np.int64), 2)
        self._at_node: I64 = owner[np.argsort(ends, kind="stable")]
        self._node_ptr: I64 = np.zeros(net.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=self._node_ptr[1:])

    def place(self, lat: float, lon: float) -> WalkPoint:
        """A point on the walking map; OutsideNetwork beyond max_offroad_m from a road."""
        pos = self._snapper.snap(lat, lon)
        if pos.snap_distance_m > self.params.max_offroad_m:
            raise OutsideNetwork(lat, lon, pos.snap_distance_m, self.params.max_offroad_m)
        return WalkPoint(pos.edge, pos.fraction, pos.snap_distance_m, pos.lon, pos.lat)

    def on_roads_at(self, nodes: I64) -> I64:
        """The AEDs on roads ending at any of `nodes`, ascending, each once."""
        start = self._node_ptr[nodes]
        count = self._node_ptr[nodes + 1] - start
        # Slot of every entry of those slices: its slice's start plus its place in the slice.
        first = np.cumsum(count) - count
        slots = np.repeat(start - first, count) + np.arange(int(count.sum()))
        return np.unique(self._at_node[slots])

    def point(self, i: int) -> WalkPoint:
        """AED i's road point."""
        e, f = int(self.edge[i]), float(self.fraction[i])
        return WalkPoint(e, f, float(self.offroad_m[i]), *point_along(self.net, e, f))


def building_s(aed: Aed, params: WalkParams) -> float:
    """Extra seconds each way for an AED indoors: the allowance plus stairs to its level."""
    if not aed.indoor:
        return 0.0
    try:
        levels = abs(float(aed.level.split(";")[0])) if aed.level else 0.0
    except ValueError:
        levels = 0.0
    return params.indoor_extra_s + params.per_level_s * (levels if math.isfinite(levels) else 0)


def _check(max_walk_s: float) -> None:
    if not (math.isfinite(max_walk_s) and max_walk_s > 0):
        raise InvalidArgument(f"max_walk_s {max_walk_s!r} must be a positive number")


@dataclass(frozen=True)
class _Walks:
    """One search from a point, answered for the AEDs on roads it reached (arrays by `aed`).

    Any AED left out is beyond the search's limit: neither end of its road was reached.
    """

    reach: Reach
    aed: I64  # index in AedIndex.aeds, ascending
    road_m: F64  # along roads
    via: I64  # node the AED's road is entered by; -1 along the origin's own road
    metres: F64  # road and off-road legs
    walk_s: F64  # one way, building time included


def _walk_all(index: AedIndex, lat: float, lon: float, max_walk_s: float) -> _Walks:
    _check(max_walk_s)
    p = index.params
    origin = index.place(lat, lon)
    off_m = origin.offroad_m * p.detour_factor
    reach = Reach(index.net, index.graph, origin, max_walk_s * p.speed_mps - off_m)
    aed = index.on_roads_at(reach.reached())
    road_m, via = reach.to(index.edge[aed], index.fraction[aed])
    metres = off_m + road_m + index.offroad_m[aed] * p.detour_factor
    return _Walks(reach, aed, road_m, via, metres, metres / p.speed_mps + index.building_s[aed])


def nearest_aeds(
    index: AedIndex,
    incident_lat: float,
    incident_lon: float,
    now_local: datetime,
    k: int = 3,
    max_walk_s: float = 600.0,
    holidays: Container[date] | None = None,
) -> list[AedOption]:
    """The k public AEDs quickest to walk to, open now or of unknown hours, nearest first.

    Closed AEDs are left out; unknown hours are kept and flagged (`state`). `max_walk_s`
    bounds the one-way walk. An incident off the walking map raises OutsideNetwork.
    """
    if k < 1:
        raise InvalidArgument(f"k must be at least 1, not {k}")
    w = _walk_all(index, incident_lat, incident_lon, max_walk_s)
    out: list[AedOption] = []
    # Nearest first; ties by id, so answers are stable.
    for j in np.lexsort((index.id_rank[w.aed], w.walk_s)).tolist():
        if not w.walk_s[j] <= max_walk_s or len(out) == k:
            break
        i = int(w.aed[j])
        state = open_state(index.hours[i], now_local, holidays)
        if state is OpenState.CLOSED:
            continue
        aed, target = index.aeds[i], index.point(i)
        pieces = w.reach.pieces(target, float(w.road_m[j]), int(w.via[j]))
        text = describe_walk(index.net.names, pieces, aed, target.offroad_m)
        t = float(w.walk_s[j])
        out.append(AedOption(aed, float(w.metres[j]), t, 2.0 * t, state, text))
    return out


def walk_times_s(
    index: AedIndex, lat: float, lon: float, max_walk_s: float = 900.0
) -> dict[AedId, float]:
    """One-way walking seconds from a point (a volunteer) to every public AED within reach."""
    w = _walk_all(index, lat, lon, max_walk_s)
    aeds = index.aeds
    return {
        aeds[i].id: t
        for i, t in zip(w.aed.tolist(), w.walk_s.tolist(), strict=True)
        if t <= max_walk_s
    }


def walk_between_s(
    index: AedIndex,
    from_lat: float,
    from_lon: float,
    to_lat: float,
    to_lon: float,
    max_walk_s: float = 1800.0,
) -> float | None:
    """One-way walking seconds between two points (a volunteer and the patient); None if over."""
    _check(max_walk_s)
    p = index.params
    origin, target = index.place(from_lat, from_lon), index.place(to_lat, to_lon)
    off_m = (origin.offroad_m + target.offroad_m) * p.detour_factor
    reach = Reach(index.net, index.graph, origin, max_walk_s * p.speed_mps - off_m)
    road_m = reach.to(np.array([target.edge], np.int32), np.array([target.fraction]))[0]
    walk_s = (off_m + float(road_m[0])) / p.speed_mps
    return walk_s if walk_s <= max_walk_s else None
