"""Live congestion: set by edges, area or street name; seen by the next query; cleared."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from routing.compile import to_networkx
from routing.errors import InvalidArgument, UnknownId
from routing.router import Router
from routing.snap import Positions
from tests.support.routing import random_positions, reference_eta


def test_factor_on_route_edges_slows_the_next_query(own_router: Router) -> None:
    """Tripling the time on a route's edges makes the next route slower; clearing restores it."""
    r = own_router
    a, b = random_positions(r, np.random.default_rng(11), 2)
    before = r.route(a, b)
    assert before is not None and before.edges.size > 3
    assert r.set_congestion(before.edges, 3.0) == before.edges.size
    after = r.route(a, b)
    assert after is not None
    assert after.eta_s > before.eta_s + 1.0
    # Either it detours or it drives the same roads three times slower.
    if np.array_equal(after.edges, before.edges):
        assert after.eta_s > 2.5 * before.eta_s - 1.0
    assert r.clear_congestion() == before.edges.size
    again = r.route(a, b)
    assert again is not None and abs(again.eta_s - before.eta_s) < 1e-9


def test_reverse_graph_sees_the_factor_too(own_router: Router) -> None:
    """Ranking (reverse search) sees a factor exactly as routing (forward search) does."""
    r = own_router
    pts = random_positions(r, np.random.default_rng(12), 6)
    incident, units = pts[0], Positions.of(pts[1:])
    best = r.rank(units, incident, k=1)[0]
    r.set_congestion(best.found.edges, 5.0)
    for rk in r.rank(units, incident, k=5):
        direct = r.route(pts[1 + rk.unit], incident)
        assert direct is not None and abs(direct.eta_s - rk.eta_s) < 1e-6
    net = r.net
    assert np.array_equal(net.rev_time_s[net.edge_rev_pos], net.time_s)


def test_factor_below_one_keeps_routes_exact(own_router: Router) -> None:
    """A factor under 1 (a cleared lane) keeps A* exact: its bound is scaled down."""
    r = own_router
    a, b = random_positions(r, np.random.default_rng(13), 2)
    base = r.route(a, b)
    assert base is not None
    r.set_congestion(base.edges, 0.5)
    fast = r.route(a, b)
    assert fast is not None
    assert fast.eta_s < base.eta_s - 10.0
    truth = reference_eta(to_networkx(r.net), r.net, a, b)  # networkx on the live weights
    assert abs(fast.eta_s - truth) < 0.1
    ranked = r.rank(Positions.of([a]), b, k=1)[0]
    assert abs(ranked.eta_s - fast.eta_s) < 1e-6


def test_area_and_street(own_router: Router) -> None:
    """A polygon catches the edges whose midpoint is inside; a street name catches its edges."""
    r = own_router
    net = r.net
    lon0, lat0 = net.node_lonlat.mean(axis=0)
    box = shapely.box(lon0 - 0.003, lat0 - 0.003, lon0 + 0.003, lat0 + 0.003)
    n = r.set_congestion_area(box, 2.0)
    mid = 0.5 * (net.node_lonlat[net.edge_tail] + net.node_lonlat[net.edge_head])
    inside = (np.abs(mid[:, 0] - lon0) < 0.003) & (np.abs(mid[:, 1] - lat0) < 0.003)
    assert n == int(inside.sum()) > 0
    assert np.all(net.factor[inside] == 2.0) and np.all(net.factor[~inside] == 1.0)
    r.clear_congestion()
    name = str(net.names[net.edge_name[net.edge_name >= 0][0]])
    n = r.set_congestion_street(name, 1.5)
    named = net.names[np.maximum(net.edge_name, 0)] == name
    named &= net.edge_name >= 0
    assert n == int(named.sum()) and np.all(net.factor[named] == 1.5)
    assert np.allclose(net.time_s[named], 1.5 * net.base_time_s[named])


def test_bad_congestion_requests_are_refused(own_router: Router) -> None:
    """Unknown ids and streets, non-positive or NaN factors and empty areas are refused."""
    r = own_router
    with pytest.raises(UnknownId):
        r.set_congestion([r.net.n_edges], 2.0)
    with pytest.raises(UnknownId):
        r.set_congestion([-1], 2.0)
    with pytest.raises(UnknownId):
        r.set_congestion_street("不存在的路", 2.0)
    for bad in (0.0, -1.0, float("nan"), float("inf"), 5000.0):
        with pytest.raises(InvalidArgument):
            r.set_congestion([0], bad)
    with pytest.raises(InvalidArgument):
        r.set_congestion([0.5], 2.0)
    with pytest.raises(InvalidArgument):
        r.set_congestion_area(shapely.Polygon(), 2.0)
    assert np.all(r.net.factor == 1.0)  # nothing half-applied
