"""Walking to AEDs: exact distances against networkx, one-way streets, open state, directions.

All on the Wulin fixture network. 2025-05-11 is a Sunday, 2025-05-05 a Monday.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aed_map.directions import describe_walk
from aed_map.errors import InvalidArgument
from aed_map.footways import Reach, walking_graph
from aed_map.opening_hours import OpenState, open_state
from aed_map.registry import Access, AedId
from aed_map.synthetic import KINDS, UNREADABLE_HOURS
from aed_map.walking import (
    AedIndex,
    AedOption,
    WalkParams,
    nearest_aeds,
    walk_between_s,
    walk_times_s,
)
from routing.errors import InvalidCoordinate, OutsideNetwork
from routing.network import RoadNetwork
from routing.router import Router
from tests.support.aeds import aed, reference_road_m

SUNDAY_NOON = datetime(2025, 5, 11, 12, 0)
MONDAY_NOON = datetime(2025, 5, 5, 12, 0)
P = WalkParams()


def node_latlon(net: RoadNetwork, node: int) -> tuple[float, float]:
    lon, lat = net.node_lonlat[node]
    return float(lat), float(lon)


def random_points(net: RoadNetwork, rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """n (lat, lon) points within ~30 m of random nodes."""
    ll = net.node_lonlat[rng.integers(0, net.n_nodes, n)] + rng.normal(0, 3e-4, (n, 2))
    return [(float(lat), float(lon)) for lon, lat in ll]


@pytest.fixture(scope="module")
def empty_index(wulin: RoadNetwork) -> AedIndex:
    """An index with no AED, for the point-to-point walking questions."""
    return AedIndex(wulin, [])


def test_walking_graph_is_symmetric(wulin: RoadNetwork) -> None:
    """The pedestrian graph has every road both ways with the same length, no self-loops."""
    g = walking_graph(wulin).csr
    assert (abs(g - g.T)).max() == 0
    assert g.diagonal().max() == 0
    assert g.nnz >= wulin.n_edges  # two-way roads once per direction, one-way ones added


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_walk_matches_networkx(
    wulin: RoadNetwork, empty_index: AedIndex, walk_nx: nx.Graph[Any], seed: int
) -> None:
    """For random point pairs, our walking time equals networkx's shortest path (same graph)."""
    (la, oa), (lb, ob) = random_points(wulin, np.random.default_rng(seed), 2)
    a, b = empty_index.place(la, oa), empty_index.place(lb, ob)
    road_m = reference_road_m(walk_nx, wulin, a, b)
    expected = (road_m + (a.offroad_m + b.offroad_m) * P.detour_factor) / P.speed_mps
    got = walk_between_s(empty_index, la, oa, lb, ob, max_walk_s=1e6)
    assert got is not None and got == pytest.approx(expected, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_nearest_aeds_match_networkx(wulin: RoadNetwork, walk_nx: nx.Graph[Any], seed: int) -> None:
    """Every AED's walk time equals the networkx reference, answers sorted, none over limit."""
    rng = np.random.default_rng(seed)
    pts = random_points(wulin, rng, 21)
    index = AedIndex(wulin, [aed(f"a{i}", lat, lon) for i, (lat, lon) in enumerate(pts[1:])])
    options = nearest_aeds(index, *pts[0], MONDAY_NOON, k=20, max_walk_s=900)
    origin = index.place(*pts[0])
    for o in options:
        target = index.place(o.aed.lat, o.aed.lon)
        metres = reference_road_m(walk_nx, wulin, origin, target)
        metres += (origin.offroad_m + target.offroad_m) * P.detour_factor
        assert o.distance_m == pytest.approx(metres, abs=1e-6)
        assert o.walk_s == pytest.approx(metres / P.speed_mps, abs=1e-6)  # outdoors: no extra
        assert o.round_trip_s == pytest.approx(2 * o.walk_s)
        assert o.walk_s <= 900
    assert [o.walk_s for o in options] == sorted(o.walk_s for o in options)
    left_out = {a.id for a in index.aeds} - {o.aed.id for o in options}
    for a in index.aeds:
        if a.id in left_out:
            t = walk_between_s(index, *pts[0], a.lat, a.lon, max_walk_s=1e6)
            assert t is not None and t > 900 - 1e-9


def test_one_way_streets_are_walkable_both_ways(wulin: RoadNetwork, empty_index: AedIndex) -> None:
    """Along a one-way street, walking against the traffic is as short as with it.

    A car must go round the block; a pedestrian walks straight back.
    """
    router = Router(wulin)
    one_way = np.flatnonzero((wulin.twin < 0) & (wulin.length_m > 100))
    checked = 0
    for e in one_way[:20]:
        u, v = int(wulin.edge_tail[e]), int(wulin.edge_head[e])
        there = walk_between_s(empty_index, *node_latlon(wulin, u), *node_latlon(wulin, v))
        back = walk_between_s(empty_index, *node_latlon(wulin, v), *node_latlon(wulin, u))
        assert there is not None and back is not None
        assert back == pytest.approx(there, abs=1e-6)
        assert back * P.speed_mps <= wulin.length_m[e] + 1e-6
        drive = router.route(
            router.snap(*node_latlon(wulin, v)), router.snap(*node_latlon(wulin, u))
        )
        if drive is not None and drive.length_m > wulin.length_m[e] + 1.0:
            checked += 1  # the car really had to detour
    assert checked > 0


def test_closed_aeds_are_left_out_and_unknown_flagged(wulin: RoadNetwork) -> None:
    """On a Sunday an office-hours AED is closed (left out); free-text hours are unknown (kept)."""
    lat, lon = node_latlon(wulin, 500)
    index = AedIndex(
        wulin,
        [
            aed("office", lat + 1e-4, lon, "Mo-Fr 08:00-18:00"),
            aed("words", lat - 1e-4, lon, "营业时间内"),
            aed("always", lat, lon + 1e-4, "24/7"),
            aed("none", lat, lon - 1e-4, ""),
        ],
    )
    sunday = {o.aed.id: o.state for o in nearest_aeds(index, lat, lon, SUNDAY_NOON, k=10)}
    assert sunday == {
        "words": OpenState.UNKNOWN,
        "always": OpenState.OPEN,
        "none": OpenState.UNKNOWN,
    }
    monday = {o.aed.id: o.state for o in nearest_aeds(index, lat, lon, MONDAY_NOON, k=10)}
    assert monday[AedId("office")] is OpenState.OPEN


def test_private_and_far_aeds_are_not_offered(wulin: RoadNetwork) -> None:
    """access=private is never indexed; an AED 1 km from any road is listed as unplaced."""
    lat, lon = node_latlon(wulin, 500)
    index = AedIndex(
        wulin,
        [
            aed("mine", lat, lon, access=Access.PRIVATE),
            aed("field", lat + 0.5, lon),  # 55 km north, far off the fixture's roads
            aed("ok", lat, lon),
        ],
    )
    assert [a.id for a in index.aeds] == ["ok"] and index.unplaced == ("field",)


def test_k_and_the_walk_limit(wulin: RoadNetwork) -> None:
    """k caps the answer; an AED beyond max_walk_s is not offered; bad arguments raise."""
    lat, lon = node_latlon(wulin, 800)
    index = AedIndex(wulin, [aed(f"a{i}", lat + i * 2e-3, lon) for i in range(5)])  # ~220 m apart
    assert len(nearest_aeds(index, lat, lon, MONDAY_NOON, k=2, max_walk_s=3600)) == 2
    near = nearest_aeds(index, lat, lon, MONDAY_NOON, k=5, max_walk_s=60)
    assert [o.aed.id for o in near] == ["a0"]
    with pytest.raises(InvalidArgument):
        nearest_aeds(index, lat, lon, MONDAY_NOON, k=0)
    with pytest.raises(InvalidArgument):
        nearest_aeds(index, lat, lon, MONDAY_NOON, max_walk_s=math.nan)


def test_indoor_aeds_cost_building_time(wulin: RoadNetwork) -> None:
    """An indoor AED two floors down adds 60 s + 2 x 15 s each way to the street walk."""
    lat, lon = node_latlon(wulin, 800)
    out = AedIndex(wulin, [aed("out", lat, lon, indoor=False)])
    inside = AedIndex(wulin, [aed("in", lat, lon, indoor=True, level="-2")])
    (o,) = nearest_aeds(out, lat + 1e-3, lon, MONDAY_NOON)
    (i,) = nearest_aeds(inside, lat + 1e-3, lon, MONDAY_NOON)
    assert i.walk_s - o.walk_s == pytest.approx(90.0)
    assert i.round_trip_s - o.round_trip_s == pytest.approx(180.0)


def test_incident_off_the_map_raises(wulin: RoadNetwork, empty_index: AedIndex) -> None:
    """An incident beyond max_offroad_m raises OutsideNetwork; a NaN one InvalidCoordinate."""
    lat, lon = node_latlon(wulin, 0)
    with pytest.raises(OutsideNetwork):
        nearest_aeds(empty_index, lat + 0.5, lon, MONDAY_NOON)
    with pytest.raises(InvalidCoordinate):
        nearest_aeds(empty_index, math.nan, lon, MONDAY_NOON)
    assert nearest_aeds(empty_index, lat, lon, MONDAY_NOON) == []


def test_walk_times_to_aeds(wulin: RoadNetwork) -> None:
    """walk_times_s gives the same one-way times as nearest_aeds (walking is symmetric)."""
    pts = random_points(wulin, np.random.default_rng(7), 6)
    index = AedIndex(wulin, [aed(f"a{i}", lat, lon) for i, (lat, lon) in enumerate(pts[1:])])
    times = walk_times_s(index, *pts[0], max_walk_s=3600)
    for o in nearest_aeds(index, *pts[0], MONDAY_NOON, k=5, max_walk_s=3600):
        assert times[o.aed.id] == pytest.approx(o.walk_s)


def test_directions_name_the_streets_and_the_aed(wulin: RoadNetwork) -> None:
    """Directions follow named streets in order and end with the AED's location and floor."""
    named = np.flatnonzero((wulin.edge_name >= 0) & (wulin.length_m > 150))
    e = int(named[0])
    street = str(wulin.names[wulin.edge_name[e]])
    (tlon, tlat), (hlon, hlat) = wulin.node_lonlat[[wulin.edge_tail[e], wulin.edge_head[e]]]
    lat, lon = tlat + 0.1 * (hlat - tlat), tlon + 0.1 * (hlon - tlon)  # 10 % along the street
    alat, alon = tlat + 0.9 * (hlat - tlat), tlon + 0.9 * (hlon - tlon)  # 90 % along it
    index = AedIndex(
        wulin,
        [aed("a", float(alat), float(alon), indoor=True, level="-1", location="地铁站 B 口内")],
    )
    (o,) = nearest_aeds(index, float(lat), float(lon), MONDAY_NOON)
    assert o.directions.startswith(f"沿{street}向")
    assert o.directions.endswith("AED 在地铁站 B 口内，室内，地下一层")
    assert f"约 {round(0.8 * wulin.length_m[e] / 10) * 10} 米" in o.directions


def every_walk(
    index: AedIndex, lat: float, lon: float, max_walk_s: float
) -> tuple[Reach, Any, Any, Any, Any]:
    """One search, then every AED of the index measured: (reach, road_m, via, metres, walk_s)."""
    p = index.params
    origin = index.place(lat, lon)
    off_m = origin.offroad_m * p.detour_factor
    reach = Reach(index.net, index.graph, origin, max_walk_s * p.speed_mps - off_m)
    road_m, via = reach.to(index.edge, index.fraction)
    metres = off_m + road_m + index.offroad_m * p.detour_factor
    return reach, road_m, via, metres, metres / p.speed_mps + index.building_s


def scan_every_aed(
    index: AedIndex,
    lat: float,
    lon: float,
    now: datetime,
    k: int,
    max_walk_s: float,
    holidays: set[date] | None = None,
) -> list[AedOption]:
    """nearest_aeds as first written: every AED measured, sorted on (walk time, id string)."""
    reach, road_m, via, metres, walk_s = every_walk(index, lat, lon, max_walk_s)
    ids = np.array([a.id for a in index.aeds], dtype=np.str_)
    out: list[AedOption] = []
    for i in np.lexsort((ids, walk_s)):
        if not walk_s[i] <= max_walk_s or len(out) == k:
            break
        state = open_state(index.hours[i], now, holidays)
        if state is OpenState.CLOSED:
            continue
        aed_i, target = index.aeds[i], index.point(int(i))
        pieces = reach.pieces(target, float(road_m[i]), int(via[i]))
        text = describe_walk(index.net.names, pieces, aed_i, target.offroad_m)
        t = float(walk_s[i])
        out.append(AedOption(aed_i, float(metres[i]), t, 2.0 * t, state, text))
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_nearest_aeds_equal_a_scan_of_every_aed(wulin: RoadNetwork, seed: int) -> None:
    """Searching only the AEDs on reached roads answers exactly as scanning all of them does.

    Same options, same order, same floats and directions, for 60 AEDs with the synthetic
    registry's hours (some closed, some unreadable) and indoor levels, plus exact copies of 20
    of them whose ids sort first (ties in walking time go to the smaller id).
    """
    rng = np.random.default_rng(seed)
    pts = random_points(wulin, rng, 61)
    hours = [h for kind in KINDS for h in kind.hours] + list(UNREADABLE_HOURS)
    aeds = [
        aed(
            f"a{i:02d}",
            lat,
            lon,
            hours[int(rng.integers(len(hours)))],
            indoor=bool(rng.random() < 0.7),
            level=str(int(rng.integers(-2, 4))),
        )
        for i, (lat, lon) in enumerate(pts[1:])
    ]
    aeds += [replace(a, id=AedId(f"0-copy-{a.id}")) for a in aeds[:20]]
    index = AedIndex(wulin, aeds)
    now = datetime(2025, 5, 5) + timedelta(minutes=int(rng.integers(7 * 24 * 60)))
    lat, lon = pts[0]
    for k, max_walk_s in ((1, 300.0), (3, 600.0), (100, 1200.0)):
        got = nearest_aeds(index, lat, lon, now, k=k, max_walk_s=max_walk_s)
        assert got == scan_every_aed(index, lat, lon, now, k, max_walk_s)
    holidays = {now.date()}
    got = nearest_aeds(index, lat, lon, now, k=100, max_walk_s=1200.0, holidays=holidays)
    assert got == scan_every_aed(index, lat, lon, now, 100, 1200.0, holidays)
    walk_s = every_walk(index, lat, lon, 1200.0)[4]
    expected = {a.id: float(t) for a, t in zip(index.aeds, walk_s, strict=True) if t <= 1200.0}
    assert walk_times_s(index, lat, lon, 1200.0) == expected


def test_aeds_are_found_by_the_nodes_their_road_ends_at(wulin: RoadNetwork) -> None:
    """on_roads_at gives, ascending and once each, the AEDs whose road ends at the nodes."""
    lat, lon = node_latlon(wulin, 500)
    far_lat, far_lon = node_latlon(wulin, 3000)
    index = AedIndex(
        wulin, [aed("near", lat, lon), aed("far", far_lat, far_lon), aed("same road", lat, lon)]
    )
    e = int(index.edge[0])
    ends = np.array([wulin.edge_tail[e], wulin.edge_head[e]], dtype=np.int64)
    assert index.on_roads_at(ends).tolist() == [0, 2]  # not "far", each once
    assert index.on_roads_at(ends[:1]).tolist() == [0, 2]
    assert index.on_roads_at(np.zeros(0, dtype=np.int64)).tolist() == []
