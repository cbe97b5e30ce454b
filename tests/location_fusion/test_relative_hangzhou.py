"""Relative phrases on the bundled Hangzhou city: a region about the named anchor, never a
junction of a street the caller did not say (issue 19, item 4).

The gazetteer is the one the server builds: the full network and `data/hangzhou/places.csv`
(hospitals, their addresses, hand-placed landmarks). Distances are checked against the
anchors' own positions, so each expected figure is the anchor's radius plus a stated margin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer, Place
from location_fusion.geo import haversine_m
from location_fusion.locate import CallEvidence, Locator
from location_fusion.readback import readback_for
from location_fusion.relative import BETWEEN_MARGIN_M, NEAR_MARGIN_M, OPPOSITE_MARGIN_M
from routing.city import bundled_city, load_city_network

pytestmark = pytest.mark.slow  # the full Hangzhou network: a few seconds to build


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    """The bundled city's gazetteer: full network, places.csv, zh-CN read-back."""
    city = bundled_city()
    assert city.places is not None
    net, _ = load_city_network(city)
    return Gazetteer.from_network(
        net, Gazetteer.load_places_csv(city.places), readback_for(city.locale)
    )


def top(gaz: Gazetteer, text: str) -> Place:
    """The best candidate for `text` (the phrase must match something)."""
    found = gaz.geocode(text)
    assert found, text
    return found[0]


def metres(a: Place, b: Place) -> float:
    """Great-circle metres between two candidates' points."""
    return float(haversine_m(a.lon, a.lat, b.lon, b.lat))


def test_shixiang_west_road_a_little_east(gaz: Gazetteer) -> None:
    """ "石祥西路往东走一点" is on 石祥西路, about 100 m east of its centre, not the 石祥路 x
    石祥西路 junction (the old reading, a street the caller never said) 1.8 km away."""
    street = top(gaz, "石祥西路")
    found = gaz.geocode("石祥西路往东走一点")
    best = found[0]
    assert all(p.kind != "intersection" for p in found)
    assert (best.kind, best.streets, best.relation, best.anchors) == (
        "street",
        ("石祥西路",),
        "offset",
        ("石祥西路",),
    )
    assert best.name == "石祥西路往东一点"
    line = street.line_lonlat
    assert line is not None
    assert float(haversine_m(line[:, 0], line[:, 1], best.lon, best.lat).min()) < 1.0  # on it
    assert best.lon > street.lon  # east of the reference point
    assert 60.0 < metres(best, street) < 140.0  # "a little": the default 100 m, along the street
    [(j_lon, j_lat, _)] = gaz._junctions[("石祥西路", "石祥路")]
    assert float(haversine_m(best.lon, best.lat, j_lon, j_lat)) > 1000.0
    assert best.corridor is not None
    assert best.radius_m == pytest.approx(best.corridor.covering_radius_m(best.lon, best.lat))


def test_misheard_direction_is_still_the_street(gaz: Gazetteer) -> None:
    """ "石祥西路网东走一点" (往 heard as 网: no relation left to read) is still 石祥西路 first,
    and no junction: the street heard again in "网东" is not a second street."""
    found = gaz.geocode("石祥西路网东走一点")
    assert found[0].kind == "street" and found[0].streets == ("石祥西路",)
    assert all(p.kind != "intersection" for p in found)


def test_opposite_widens_by_the_road(gaz: Gazetteer) -> None:
    """ "武林广场对面": the square's point, its 250 m radius plus 60 m for the road between."""
    square = top(gaz, "武林广场")
    found = top(gaz, "武林广场对面")
    assert (found.kind, found.relation, found.anchors) == ("place", "opposite", ("武林广场",))
    assert (found.lon, found.lat) == (square.lon, square.lat)
    assert found.radius_m == square.radius_m + OPPOSITE_MARGIN_M == 310.0
    assert found.name == "武林广场对面"


@pytest.mark.parametrize("word", ["旁边", "附近", "边上"])
def test_near_widens_a_place(gaz: Gazetteer, word: str) -> None:
    """ "西湖文化广场旁边/附近/边上": the square's point, 300 m + 120 m."""
    found = top(gaz, f"西湖文化广场{word}")
    assert (found.relation, found.anchors, found.name) == (
        "near",
        ("西湖文化广场",),
        "西湖文化广场附近",
    )
    assert found.radius_m == 300.0 + NEAR_MARGIN_M


def test_near_a_junction_stays_the_junction(gaz: Gazetteer) -> None:
    """ "文三路和学院路交叉口附近" is the junction with its own 65 m: a junction's radius
    already holds "near" (callers name the junction they stand by)."""
    plain = top(gaz, "文三路和学院路交叉口")
    near = top(gaz, "文三路和学院路交叉口附近")
    assert near.kind == "intersection" and set(near.streets) == {"文三路", "学院路"}
    assert (near.lon, near.lat, near.radius_m) == (plain.lon, plain.lat, plain.radius_m)
    assert near.relation == "near"


def test_offset_with_a_stated_distance(gaz: Gazetteer) -> None:
    """ "武林广场往北走两百米": 200 m due north of the square, radius 250 + half of 200."""
    square = top(gaz, "武林广场")
    found = top(gaz, "武林广场往北走两百米")
    assert (found.kind, found.relation, found.name) == (
        "relative",
        "offset",
        "武林广场往北约 200 米",
    )
    assert metres(found, square) == pytest.approx(200.0, abs=0.5)
    assert found.lon == pytest.approx(square.lon) and found.lat > square.lat
    assert found.radius_m == pytest.approx(250.0 + 100.0)


def test_between_two_places(gaz: Gazetteer) -> None:
    """ "武林广场和西湖文化广场之间": their midpoint, radius half their distance + 50 m."""
    a, b = top(gaz, "武林广场"), top(gaz, "西湖文化广场")
    found = top(gaz, "武林广场和西湖文化广场之间")
    assert (found.kind, found.relation, found.anchors) == (
        "relative",
        "between",
        ("武林广场", "西湖文化广场"),
    )
    assert found.lon == pytest.approx((a.lon + b.lon) / 2)
    assert found.lat == pytest.approx((a.lat + b.lat) / 2)
    assert found.radius_m == pytest.approx(metres(a, b) / 2 + BETWEEN_MARGIN_M)


def test_between_two_streets_uses_their_closest_points(gaz: Gazetteer) -> None:
    """ "文三路和文二路之间" (two parallel streets ~650 m apart) is a point between them: its
    radius is about half their gap plus the margin, not a kilometre-wide guess."""
    found = top(gaz, "文三路和文二路之间")
    assert found.relation == "between" and set(found.streets) == {"文三路", "文二路"}
    wen3, wen2 = top(gaz, "文三路").line_lonlat, top(gaz, "文二路").line_lonlat
    assert wen3 is not None and wen2 is not None
    d3 = float(haversine_m(wen3[:, 0], wen3[:, 1], found.lon, found.lat).min())
    d2 = float(haversine_m(wen2[:, 0], wen2[:, 1], found.lon, found.lat).min())
    assert abs(d3 - d2) < 0.2 * (d3 + d2)  # halfway
    assert found.radius_m < 600.0


def test_entrance_is_the_place(gaz: Gazetteer) -> None:
    """ "大关苑门口" (a 小区's gate) is the compound itself, with its 300 m radius."""
    found = top(gaz, "大关苑门口")
    assert (found.kind, found.relation, found.anchors) == ("place", "entrance", ("大关苑",))
    assert found.radius_m == 300.0 and found.name == "大关苑门口"


def test_readback_says_what_was_understood(gaz: Gazetteer) -> None:
    """With a GNSS fix on 石祥西路, the read-back names the street and says the relation heard."""
    street = top(gaz, "石祥西路")
    line = street.line_lonlat
    assert line is not None
    lon, lat = (float(v) for v in line[len(line) // 3])
    fix = DeviceFix(lat, lon, 10.0, 0.68, "gnss", 0.0)
    estimate = Locator(gaz).locate(CallEvidence((fix,), spoken="石祥西路往东走一点"), 5.0)
    assert estimate is not None
    assert float(haversine_m(lon, lat, estimate.lon, estimate.lat)) < 30.0
    assert estimate.description.endswith("；来电者说：石祥西路往东一点")
    assert math.isfinite(estimate.radius95_m) and np.isfinite(estimate.lat)
