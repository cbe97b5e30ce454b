"""Snapping points onto roads, and refusing what cannot be placed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routing.errors import InvalidCoordinate, OutsideNetwork, RoutingError
from routing.network import RoadNetwork
from routing.params import SnapParams
from routing.router import Router
from routing.snap import Snapper


def test_point_on_a_node_snaps_onto_it(router: Router) -> None:
    """A node's own coordinates snap with ~0 m error to an edge end at that node."""
    net = router.net
    v = 100
    lon, lat = net.node_lonlat[v]
    p = router.snap(float(lat), float(lon))
    assert p.snap_distance_m < 0.01
    end = net.edge_tail[p.edge] if p.fraction < 0.5 else net.edge_head[p.edge]
    assert end == v
    assert p.fraction in (0.0, 1.0)


def test_midpoint_of_a_straight_edge(router: Router) -> None:
    """A point 3 m beside the middle of a straight edge lands at fraction 0.5, 3 m off."""
    net = router.net
    straight = np.nonzero(np.diff(net.geom_indptr) == 0)[0]
    e = int(straight[np.argmax(net.length_m[straight])])
    a, b = net.node_lonlat[net.edge_tail[e]], net.node_lonlat[net.edge_head[e]]
    mid = (a + b) / 2
    # Offset 3 m perpendicular to the edge, in local metres.
    kx = 111_195 * math.cos(math.radians(mid[1]))
    d = np.array([(b - a)[0] * kx, (b - a)[1] * 111_195])
    normal = np.array([-d[1], d[0]]) / np.hypot(*d) * 3.0
    lon, lat = mid[0] + normal[0] / kx, mid[1] + normal[1] / 111_195
    p = router.snap(lat, lon)
    assert p.edge in (e, net.twin[e])
    frac = p.fraction if p.edge == e else 1 - p.fraction
    assert abs(frac - 0.5) < 0.01
    assert abs(p.snap_distance_m - 3.0) < 0.1
    assert abs(p.lon - mid[0]) < 1e-6 and abs(p.lat - mid[1]) < 1e-6


def test_far_point_is_refused_with_its_distance(wulin: RoadNetwork) -> None:
    """A point 2 km outside the box is OutsideNetwork, which names the distance and limit."""
    snapper = Snapper(wulin, SnapParams(max_snap_m=300))
    lon = float(wulin.node_lonlat[:, 0].max()) + 0.03  # ~2.9 km east at 30 deg N
    lat = float(wulin.node_lonlat[:, 1].mean())
    with pytest.raises(OutsideNetwork) as info:
        snapper.snap(lat, lon)
    assert info.value.distance_m > 2000
    assert info.value.limit_m == 300
    assert isinstance(info.value, ValueError) and info.value.reason == "outside_network"


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(math.nan, 120.1), (30.2, math.inf), (91.0, 120.0), (-90.5, 120.0), (30.0, 180.5)],
)
def test_invalid_coordinates_are_refused(router: Router, lat: float, lon: float) -> None:
    """NaN, infinite and out-of-range coordinates raise InvalidCoordinate."""
    with pytest.raises(InvalidCoordinate):
        router.snap(lat, lon)


def test_one_bad_point_fails_the_batch(router: Router) -> None:
    """snap_many validates every point: one NaN among good points is refused as a whole."""
    lon, lat = router.net.node_lonlat[:3].T
    lat = lat.copy()
    lat[1] = np.nan
    with pytest.raises(RoutingError):
        router.snap_many(lat, lon)


def test_snap_many_matches_snap(router: Router) -> None:
    """Batch snapping gives the same edges and fractions as one-by-one snapping."""
    rng = np.random.default_rng(5)
    ll = router.net.node_lonlat[rng.integers(0, router.net.n_nodes, 50)] + rng.normal(
        0, 2e-4, (50, 2)
    )
    batch = router.snap_many(ll[:, 1], ll[:, 0])
    for i, (lon, lat) in enumerate(ll):
        one = router.snap(float(lat), float(lon))
        assert one.edge == batch.edge[i]
        assert abs(one.fraction - batch.fraction[i]) < 1e-9


def test_snap_params_validate() -> None:
    """A non-positive or NaN snapping limit is refused when the parameters are made."""
    for bad in (0.0, -5.0, math.nan):
        with pytest.raises(ValueError):
            SnapParams(max_snap_m=bad)


def test_road_positions_match_snap_and_mark_far_points_none(router: Router) -> None:
    """The batch of RoadPositions equals snap() one by one; a point 2 km off a road is None."""
    rng = np.random.default_rng(6)
    ll = router.net.node_lonlat[rng.integers(0, router.net.n_nodes, 40)] + rng.normal(
        0, 2e-4, (40, 2)
    )
    lats, lons = [*ll[:, 1], 30.2803], [*ll[:, 0], 120.1465 + 0.5]  # the last: far east
    found = router.snapper.road_positions(lats, lons)
    assert found[-1] is None
    for i, (lon, lat) in enumerate(ll):
        one, many = router.snap(float(lat), float(lon)), found[i]
        assert many is not None and one.edge == many.edge
        assert abs(one.fraction - many.fraction) < 1e-9
        assert abs(one.lat - many.lat) < 1e-9 and abs(one.lon - many.lon) < 1e-9
    assert router.snapper.road_positions([], []) == []
