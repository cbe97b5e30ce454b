"""Ranking units by ETA: exact against networkx, best first, and its route needs no search."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.errors import InvalidArgument
from routing.router import Router
from routing.snap import Positions
from tests.support.routing import random_positions, reference_eta


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6))
def test_rank_matches_networkx(router: Router, wulin_nx: nx.DiGraph, seed: int, k: int) -> None:
    """The k ranked units are the k truly fastest by networkx, with ETAs within 0.1 s."""
    rng = np.random.default_rng(seed)
    pts = random_positions(router, rng, 31)
    incident, units = pts[0], pts[1:]
    ranked = router.rank(Positions.of(units), incident, k=k)
    truth = np.array([reference_eta(wulin_nx, router.net, u, incident) for u in units])
    assert len(ranked) == k
    assert [r.eta_s for r in ranked] == sorted(r.eta_s for r in ranked)
    for r in ranked:
        assert abs(r.eta_s - truth[r.unit]) < 0.1
    kth_true = np.sort(truth)[k - 1]
    assert abs(ranked[-1].eta_s - kth_true) < 0.1  # nobody faster was missed


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ranked_route_comes_from_the_search(router: Router, seed: int) -> None:
    """Each ranked unit's route has its ETA and distance, ends at the incident, and matches A*."""
    rng = np.random.default_rng(seed)
    pts = random_positions(router, rng, 11)
    incident, units = pts[0], pts[1:]
    for r in router.rank(Positions.of(units), incident, k=3):
        route = r.route(router.net)
        assert math.isclose(route.eta_s, r.eta_s)
        assert math.isclose(route.length_m, r.distance_m, abs_tol=0.5)
        assert np.allclose(route.lonlat[-1], (incident.lon, incident.lat), atol=2e-5)
        assert np.allclose(route.lonlat[0], (units[r.unit].lon, units[r.unit].lat), atol=2e-5)
        direct = router.route(units[r.unit], incident)
        assert direct is not None and abs(direct.eta_s - r.eta_s) < 1e-6


def test_far_incident_still_gets_k_units(router: Router) -> None:
    """Units all across the map: the search grows until k are found, however far."""
    net = router.net
    west = int(np.argmin(net.node_lonlat[:, 0]))
    east_nodes = np.argsort(net.node_lonlat[:, 0])[-5:]
    incident = router.snap(*net.node_lonlat[west][::-1])
    units = router.snap_many(net.node_lonlat[east_nodes, 1], net.node_lonlat[east_nodes, 0])
    ranked = router.rank(units, incident, k=5)
    assert len(ranked) == 5
    assert ranked[0].eta_s > 60  # across the whole box


def test_fewer_units_than_k_and_bounds(router: Router) -> None:
    """k larger than the fleet returns the fleet; max_eta_s drops the units beyond it."""
    pts = random_positions(router, np.random.default_rng(3), 4)
    incident, units = pts[0], Positions.of(pts[1:])
    everyone = router.rank(units, incident, k=10)
    assert sorted(r.unit for r in everyone) == [0, 1, 2]
    bound = (everyone[0].eta_s + everyone[1].eta_s) / 2
    near = router.rank(units, incident, k=10, max_eta_s=bound)
    assert [r.unit for r in near] == [everyone[0].unit]
    assert router.rank(Positions.of([]), incident, k=3) == []


def test_unit_on_the_incident_road_ahead_of_it(router: Router) -> None:
    """A unit just before the incident on the same edge drives straight there."""
    net = router.net
    e = int(np.argmax(net.length_m))
    from routing.snap import RoadPosition

    incident = RoadPosition(e, 0.8, 0.0, 0.0, 0.0)
    unit = RoadPosition(e, 0.3, 0.0, 0.0, 0.0)
    (r,) = router.rank(Positions.of([unit]), incident, k=1)
    assert math.isclose(r.eta_s, 0.5 * net.time_s[e])
    assert math.isclose(r.distance_m, 0.5 * net.length_m[e])


def test_k_must_be_positive(router: Router) -> None:
    """k = 0 is a caller's mistake and says so."""
    pts = random_positions(router, np.random.default_rng(1), 2)
    with pytest.raises(InvalidArgument):
        router.rank(Positions.of(pts[1:]), pts[0], k=0)


def test_made_up_positions_are_refused(router: Router) -> None:
    """Positions built by hand with a missing edge or a NaN fraction get a typed error."""
    from routing.errors import UnknownId
    from routing.snap import RoadPosition

    good = RoadPosition(0, 0.5, 0.0, 0.0, 0.0)
    with pytest.raises(UnknownId):
        router.route(good, RoadPosition(router.net.n_edges, 0.5, 0.0, 0.0, 0.0))
    with pytest.raises(InvalidArgument):
        router.rank(Positions.of([RoadPosition(1, float("nan"), 0.0, 0.0, 0.0)]), good, k=1)
    with pytest.raises(InvalidArgument):
        router.matrix(Positions.of([good]), Positions.of([RoadPosition(2, 1.5, 0.0, 0.0, 0.0)]))
