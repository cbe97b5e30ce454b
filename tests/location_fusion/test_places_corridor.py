"""A street named alone is a corridor (location_fusion.corridor): its extent, not its midpoint.

A straight 1 km street sampled every 10 m checks the geometry by hand; the Wulin fixture's
文三路 and 环城北路 check the gazetteer's street candidates and that fusion puts the caller on
the street where the other evidence is.
"""

from __future__ import annotations

import numpy as np
import pytest

from location_fusion.corridor import STREET_HALF_WIDTH_M, Corridor, covering_centre
from location_fusion.errors import InvalidInput
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer
from location_fusion.geo import DEG_M, LocalFrame, haversine_m
from location_fusion.locate import CallEvidence, Locator
from routing.load import load_network

FRAME = LocalFrame(120.15, 30.28)


def east_west_street(length_m: float = 1000.0) -> np.ndarray:
    """A straight street from (0, 0) to (length_m, 0) metres east of 120.15E 30.28N, a point
    every 10 m, as lon/lat."""
    x = np.arange(0.0, length_m + 1.0, 10.0)
    lon, lat = FRAME.to_lonlat(x, np.zeros_like(x))
    return np.column_stack([lon, lat])


def at(x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of a point x_m east and y_m north of the street's west end."""
    lon, lat = FRAME.to_lonlat(x_m, y_m)
    return float(lon), float(lat)


def test_covering_centre_of_a_straight_street() -> None:
    """The centre of a 1 km straight street is its middle, 500 m from either end (0.4 % of
    slack from the 36 directions)."""
    x = np.arange(0.0, 1001.0, 10.0)
    k, radius = covering_centre(np.column_stack([x, np.zeros_like(x)]))
    assert x[k] == 500.0
    assert 500.0 <= radius <= 502.0


def test_corridor_geometry() -> None:
    """Inside is within 60 m of the centre line; the nearest street point to a spot 30 m north
    of x=700 is x=700; the covering radius from the middle is 500 m + 60 m."""
    corridor = Corridor(east_west_street())
    assert corridor.half_width_m == STREET_HALF_WIDTH_M == 60.0
    assert corridor.length_m == pytest.approx(1000.0, rel=0.02)
    inside, outside = at(300, 50), at(300, 70)
    assert corridor.contains(*inside) and not corridor.contains(*outside)
    assert float(corridor.distance_m(*outside)) == pytest.approx(10.0, abs=0.1)
    n_lon, n_lat = corridor.nearest(*at(700, 30))
    assert float(haversine_m(n_lon, n_lat, *at(700, 0))) < 0.5
    lon, lat, radius = corridor.centre()
    assert float(haversine_m(lon, lat, *at(500, 0))) < 0.5
    assert radius == pytest.approx(560.0, abs=2.0)
    assert corridor.covering_radius_m(*at(0, 0)) == pytest.approx(1060.0, abs=0.5)


def test_corridor_likelihood_and_polygon() -> None:
    """The likelihood is flat inside (on the line = 50 m off) and lower outside; the shapely
    polygon holds a point 50 m off the line and not one 70 m off."""
    from shapely import Point

    corridor = Corridor(east_west_street())
    on, off50, off90 = at(400, 0), at(400, 50), at(400, 90)
    ll = [float(corridor.log_likelihood(*p)) for p in (on, off50, off90)]
    assert ll[0] == pytest.approx(ll[1]) and ll[2] < ll[1] - 1.0
    shape = corridor.polygon()
    assert shape.contains(Point(*off50)) and not shape.contains(Point(*at(400, 70)))


def test_bad_corridor_refused() -> None:
    """No points, a NaN point or a zero half width is InvalidInput."""
    with pytest.raises(InvalidInput):
        Corridor(np.zeros((0, 2)))
    with pytest.raises(InvalidInput):
        Corridor(np.array([[np.nan, 30.0]]))
    with pytest.raises(InvalidInput):
        Corridor(east_west_street(), half_width_m=0.0)


@pytest.fixture(scope="module")
def wulin_gaz(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    """The Wulin fixture's gazetteer (no places: streets only)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("corridor-cache"))
    return Gazetteer.from_network(net)


def test_street_alone_covers_the_street(wulin_gaz: Gazetteer) -> None:
    """ "文三路" alone: a street candidate whose point is on the street and whose radius holds
    every point of it plus the corridor's half width, and no more than that."""
    street = wulin_gaz.geocode("文三路")[0]
    corridor = street.corridor
    assert street.kind == "street" and corridor is not None and street.line_lonlat is not None
    line = street.line_lonlat
    to_points = haversine_m(line[:, 0], line[:, 1], street.lon, street.lat)
    assert float(to_points.min()) < 0.5  # on the street
    assert street.radius_m >= float(to_points.max()) + STREET_HALF_WIDTH_M - 1.0  # covers it
    assert street.radius_m <= 1.01 * (float(to_points.max()) + STREET_HALF_WIDTH_M)  # honestly


def test_fusion_puts_the_caller_on_the_street_by_the_fix(wulin_gaz: Gazetteer) -> None:
    """ "环城北路" (about 3 km of it in the fixture) and a GNSS fix 40 m north of its western
    end (claiming 30 m): the estimate is inside the corridor by the fix, a kilometre and more
    from the street's centre (where the old midpoint reading put it)."""
    street = wulin_gaz.geocode("环城北路")[0]
    corridor, line = street.corridor, street.line_lonlat
    assert street.name == "环城北路" and corridor is not None and line is not None
    west = line[int(np.argmin(line[:, 0]))]
    fix = DeviceFix(float(west[1]) + 40.0 / DEG_M, float(west[0]), 30.0, 0.68, "gnss", 0.0)
    estimate = Locator(wulin_gaz).locate(CallEvidence((fix,), spoken="环城北路"), now_s=5.0)
    assert estimate is not None
    assert corridor.contains(estimate.lon, estimate.lat)  # between the fix and the street
    assert float(haversine_m(estimate.lon, estimate.lat, fix.lon, fix.lat)) < 40.0
    assert float(haversine_m(estimate.lon, estimate.lat, street.lon, street.lat)) > 1000.0
