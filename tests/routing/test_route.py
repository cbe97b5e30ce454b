"""Point-to-point routes and matrices agree with networkx on the same graph."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.compile import to_networkx
from routing.load import load_network
from routing.network import RoadNetwork
from routing.router import Router
from routing.snap import Positions, RoadPosition
from tests.support.routing import random_positions, reference_eta


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_route_eta_matches_networkx(router: Router, wulin_nx: nx.DiGraph, seed: int) -> None:
    """For random point pairs, our A* ETA equals networkx Dijkstra's within 0.1 s."""
    a, b = random_positions(router, np.random.default_rng(seed), 2)
    route = router.route(a, b)
    assert route is not None
    assert abs(route.eta_s - reference_eta(wulin_nx, router.net, a, b)) < 0.1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_route_is_self_consistent(router: Router, seed: int) -> None:
    """Legs add up to the totals; the polyline runs from origin to destination."""
    a, b = random_positions(router, np.random.default_rng(seed), 2)
    route = router.route(a, b)
    assert route is not None
    assert math.isclose(sum(leg.eta_s for leg in route.legs), route.eta_s, abs_tol=0.05)
    assert math.isclose(sum(leg.length_m for leg in route.legs), route.length_m, abs_tol=0.5)
    start, end = route.lonlat[0], route.lonlat[-1]
    assert np.allclose(start, (a.lon, a.lat), atol=2e-5)  # ~2 m
    assert np.allclose(end, (b.lon, b.lat), atol=2e-5)
    # Consecutive route edges join head to tail.
    net = router.net
    assert np.array_equal(net.edge_head[route.edges[:-1]], net.edge_tail[route.edges[1:]])


def test_same_road_forward_is_one_piece(router: Router) -> None:
    """Two points on one edge, the second ahead: the route is that stretch, no detour."""
    net = router.net
    e = int(np.argmax(net.length_m))  # the longest edge, so the stretch is clear
    a = RoadPosition(e, 0.2, 0.0, 0.0, 0.0)
    b = RoadPosition(e, 0.7, 0.0, 0.0, 0.0)
    route = router.route(a, b)
    assert route is not None
    assert math.isclose(route.eta_s, 0.5 * net.time_s[e], rel_tol=1e-9)
    assert math.isclose(route.length_m, 0.5 * net.length_m[e], rel_tol=1e-9)
    assert route.edges.size == 0


def test_one_way_backwards_goes_around(router: Router, wulin_nx: nx.DiGraph) -> None:
    """On a one-way street, a point behind you is reached by a loop, not by reversing."""
    net = router.net
    one_way = np.nonzero(net.twin < 0)[0]
    e = int(one_way[np.argmax(net.length_m[one_way])])
    a = RoadPosition(e, 0.7, 0.0, 0.0, 0.0)
    b = RoadPosition(e, 0.2, 0.0, 0.0, 0.0)
    route = router.route(a, b)
    assert route is not None
    assert route.eta_s > 0.5 * net.time_s[e]
    assert abs(route.eta_s - reference_eta(wulin_nx, net, a, b)) < 0.1


def test_matrix_matches_single_routes(router: Router) -> None:
    """A 3 x 10 matrix holds the same ETAs and lengths as 30 separate routes."""
    pts = random_positions(router, np.random.default_rng(7), 13)
    origins, dests = Positions.of(pts[:3]), Positions.of(pts[3:])
    m = router.matrix(origins, dests)
    assert m.eta_s.shape == (3, 10)
    for i in range(3):
        for j in range(10):
            r = router.route(pts[i], pts[3 + j])
            assert r is not None
            assert abs(m.eta_s[i, j] - r.eta_s) < 1e-6
            assert abs(m.length_m[i, j] - r.length_m) < 1.0  # equal-time ties may differ in length


def test_curved_osm_roads_route_exactly(test_data_dir: Path) -> None:
    """On West Oakland (OSM edges with curved shapes) routes match networkx end to end."""
    net, _ = load_network(test_data_dir / "West-Oakland.osm.bz2", use_cache=False)
    assert net.geom_lonlat.shape[0] > 0  # some edges carry inner shape points
    r = Router(net)
    g = to_networkx(net)
    rng = np.random.default_rng(21)
    for _ in range(20):
        a, b = random_positions(r, rng, 2)
        route = r.route(a, b)
        assert route is not None
        assert abs(route.eta_s - reference_eta(g, net, a, b)) < 0.1
        assert np.allclose(route.lonlat[0], (a.lon, a.lat), atol=2e-5)
        assert np.allclose(route.lonlat[-1], (b.lon, b.lat), atol=2e-5)


def test_warm_up_changes_nothing_a_route_depends_on(wulin: RoadNetwork) -> None:
    """warm_up runs the kernels; the weights and an ETA before and after are the same."""
    router = Router(wulin)
    a, b = router.snap(30.2803, 120.1465), router.snap(30.2850, 120.1400)
    before = router.route(a, b)
    weights = (wulin.time_s.copy(), wulin.rev_time_s.copy())
    router.warm_up()
    after = router.route(a, b)
    assert before is not None and after is not None and after.eta_s == before.eta_s
    assert np.array_equal(wulin.time_s, weights[0]) and np.array_equal(wulin.rev_time_s, weights[1])
