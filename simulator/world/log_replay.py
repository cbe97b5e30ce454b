"""Put a read call log (`simulator.world.call_log`) onto the simulation's clock and city.

Clock: simulation time 0 is local midnight of the log's day `first_day` (0 = the day of its first
call). Each call keeps its gap to the others and its time of day, so the city's hourly rhythm
(demand zones by day and night, congestion) meets the calls at the hours they really came.

Place: a call whose logged point is within `SNAP_LIMIT_M` of a node of the road network goes to
the nearest node. A call outside the network (or without a point) is counted and placed by the
city's demand density for its hour, as `simulator.world.replay` does for the bundled week.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from scipy.spatial import cKDTree

from routing.network import RoadNetwork
from simulator.world.call_log import LogCall
from simulator.world.calls import CAP_S, CallSpec, draw_complaints, draw_intervals, make_specs
from simulator.world.calls import place_calls as place_by_density
from simulator.world.zones import Zones, node_zone

SNAP_LIMIT_M = 500.0
_EARTH_M = 6_371_000.0


def origin(calls: Sequence[LogCall], first_day: int = 0) -> datetime:
    """Local midnight of the first call's day plus `first_day` days: simulation time 0."""
    if not calls:
        raise ValueError("no calls")
    first = calls[0].received
    return datetime(first.year, first.month, first.day) + timedelta(days=first_day)


def sim_times_s(calls: Sequence[LogCall], first_day: int = 0) -> np.ndarray:
    """Each call's receipt in seconds of simulation time."""
    t0 = origin(calls, first_day)
    return np.array([(c.received - t0).total_seconds() for c in calls], dtype=np.float64)


def snap(calls: Sequence[LogCall], net: RoadNetwork) -> np.ndarray:
    """The nearest node of each call's point, or -1 when it has none within SNAP_LIMIT_M."""
    out = np.full(len(calls), -1, dtype=np.int64)
    have = [i for i, c in enumerate(calls) if c.lat is not None and c.lon is not None]
    if not have or net.n_nodes == 0:
        return out
    lat0 = math.radians(float(np.mean(net.node_lonlat[:, 1])))
    scale = np.array([math.cos(lat0), 1.0]) * math.radians(1.0) * _EARTH_M

    def metres(lonlat: np.ndarray) -> np.ndarray:
        return lonlat * scale

    points = np.array([[calls[i].lon, calls[i].lat] for i in have], dtype=np.float64)
    dist, node = cKDTree(metres(net.node_lonlat)).query(metres(points))
    ok = np.asarray(dist) <= SNAP_LIMIT_M
    out[np.array(have)[ok]] = np.asarray(node)[ok]
    return out


@dataclass(frozen=True)
class Located:
    """How a log's calls meet the city: on its network, or outside it (no point, or too far)."""

    on_network: int
    outside: int


def located(calls: Sequence[LogCall], net: RoadNetwork) -> Located:
    nodes = snap(calls, net)
    inside = int((nodes >= 0).sum())
    return Located(inside, len(calls) - inside)


def replay_log(
    calls: Sequence[LogCall],
    zones: Zones,
    net: RoadNetwork,
    seed: int,
    start_s: float,
    end_s: float,
    first_day: int = 0,
) -> list[CallSpec]:
    """The log's calls received in [start_s, end_s) of simulation time as CallSpecs.

    From the log: time, priority, place (snapped; else drawn), and complaint, transport, time on
    scene and at hospital where it gives them. Drawn (seeded): everything else.
    """
    times_all = sim_times_s(calls, first_day) if calls else np.zeros(0)
    keep = np.flatnonzero((times_all >= start_s) & (times_all < end_s))
    picked = [calls[int(k)] for k in keep]
    times = times_all[keep]
    rng = np.random.default_rng([seed, 13])  # stream 13: a named log's draws
    zone, node = place_by_density(zones, net, times, rng)
    snapped = snap(picked, net)
    snapped_zone = np.where(snapped >= 0, node_zone(zones, net.n_nodes)[snapped], -1)
    on = snapped_zone >= 0  # a node in no demand zone (cut off) keeps the drawn place
    node[on] = snapped[on]
    zone[on] = snapped_zone[on]
    complaints, prios = draw_complaints(rng, len(picked), [c.priority for c in picked])
    complaints = [c.complaint or d for c, d in zip(picked, complaints, strict=True)]
    d = draw_intervals(rng, prios)
    for k, call in enumerate(picked):
        if call.transported is not None:
            d["transport"][k] = call.transported
        if call.on_scene_s is not None:
            key = "on_scene_transported_s" if d["transport"][k] else "on_scene_treated_s"
            d[key][k] = min(call.on_scene_s, CAP_S)
        if call.at_hospital_s is not None:
            d["at_hospital_s"][k] = min(call.at_hospital_s, CAP_S)
    ids = [c.call_id for c in picked]
    return make_specs(ids, times, zone, node, net, complaints, prios, d)
