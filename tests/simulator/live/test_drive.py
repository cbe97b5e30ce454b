"""Driving a route: a unit is at the start at 0 s, at the end at the route's ETA, and between."""

from __future__ import annotations

import numpy as np
import pytest

from location_fusion.geo import haversine_m
from routing.load import load_network
from routing.router import Router
from simulator.live.drive import FALLBACK_KPH, along, straight


@pytest.fixture(scope="module")
def router() -> Router:
    """A router on the Wulin fixture network."""
    net, _ = load_network("wulin")
    return Router(net)


def test_a_straight_line_is_driven_at_the_fallback_speed() -> None:
    """1 km north at 25 km/h takes 144 s; halfway there after 72 s."""
    lat1 = 30.28 + 1000.0 / 111_195.0
    path = straight(30.28, 120.15, lat1, 120.15)
    assert path.duration_s == pytest.approx(1000.0 / (FALLBACK_KPH / 3.6), rel=1e-3)
    assert path.at(0.0) == pytest.approx((30.28, 120.15))
    assert path.at(path.duration_s / 2)[0] == pytest.approx((30.28 + lat1) / 2)
    assert path.at(1e9) == pytest.approx((lat1, 120.15))


def test_a_route_takes_its_eta_and_ends_at_its_end(router: Router) -> None:
    """Across Wulin: the path lasts the route's ETA, starts and ends on its polyline's ends, and
    never moves backwards along it."""
    route = router.route(router.snap(30.2803, 120.1465), router.snap(30.2650, 120.1750))
    assert route is not None
    path = along(route)
    assert path.duration_s == pytest.approx(route.eta_s, rel=1e-6)
    assert path.length_m == pytest.approx(route.length_m, rel=0.02)
    lon0, lat0 = route.lonlat[0]
    lon1, lat1 = route.lonlat[-1]
    assert path.at(0.0) == pytest.approx((lat0, lon0))
    assert path.at(path.duration_s) == pytest.approx((lat1, lon1))
    ts = np.linspace(0.0, path.duration_s, 50)
    done = np.interp(ts, path.knot_s, path.knot_m)
    assert np.all(np.diff(done) >= 0)
    a, b = path.at(ts[10]), path.at(ts[11])
    assert float(haversine_m(a[1], a[0], b[1], b[0])) < 400  # ~8 s of driving apart


def test_a_slower_drive_takes_longer_on_the_same_line() -> None:
    """x1.5: 216 s instead of 144 s for 1 km, at the same midpoint halfway through."""
    path = straight(30.28, 120.15, 30.29, 120.15)
    slow = path.slower(1.5)
    assert slow.duration_s == pytest.approx(1.5 * path.duration_s)
    assert slow.at(slow.duration_s / 2) == pytest.approx(path.at(path.duration_s / 2))
    with pytest.raises(ValueError):
        path.slower(0.0)
