"""English relative phrases on West Oakland, a city built by `jijiu city init` from the bundled
extract (tests/support/cities.py): its places layer holds the extract's named POIs, so "near
Revolution Cafe" is the cafe widened, read back in English."""

from __future__ import annotations

import pytest

from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer, Place
from location_fusion.geo import haversine_m
from location_fusion.locate import CallEvidence, Locator
from location_fusion.readback import readback_for
from location_fusion.relative import NEAR_MARGIN_M, OPPOSITE_MARGIN_M
from routing.city import load_city_network, read_city
from tests.support.cities import oakland_city


@pytest.fixture(scope="module")
def gaz(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    """West Oakland's gazetteer: its network, places.csv from the extract, en read-back."""
    folder = oakland_city(tmp_path_factory.mktemp("oakland") / "city")
    city = read_city(folder)
    assert city.places is not None and city.locale == "en"
    net, _ = load_city_network(city)
    return Gazetteer.from_network(
        net, Gazetteer.load_places_csv(city.places), readback_for(city.locale)
    )


def top(gaz: Gazetteer, text: str) -> Place:
    """The best candidate for `text` (the phrase must match something)."""
    found = gaz.geocode(text)
    assert found, text
    return found[0]


def test_near_a_poi(gaz: Gazetteer) -> None:
    """ "near Revolution Cafe": the cafe (an OSM POI, 80 m) widened by 120 m, named in English."""
    cafe = top(gaz, "Revolution Cafe")
    assert (cafe.kind, cafe.name, cafe.radius_m) == ("place", "Revolution Cafe", 80.0)
    found = top(gaz, "I'm near Revolution Cafe")
    assert (found.kind, found.relation, found.anchors) == ("place", "near", ("Revolution Cafe",))
    assert (found.lon, found.lat) == (cafe.lon, cafe.lat)
    assert found.radius_m == 80.0 + NEAR_MARGIN_M
    assert found.name == "near Revolution Cafe"


def test_opposite_and_entrance(gaz: Gazetteer) -> None:
    """ "across the street from Shorey House" widens by 60 m; "in front of" is the place."""
    house = top(gaz, "Shorey House")
    opposite = top(gaz, "across the street from Shorey House")
    assert opposite.relation == "opposite" and opposite.name == "opposite Shorey House"
    assert opposite.radius_m == house.radius_m + OPPOSITE_MARGIN_M
    front = top(gaz, "in front of Prescott School")
    assert (front.relation, front.name) == ("entrance", "at the entrance of Prescott School")
    assert front.radius_m == top(gaz, "Prescott School").radius_m


def test_offsets(gaz: Gazetteer) -> None:
    """ "100 m north of Bertha Port Park" is 100 m due north; "a bit east of" is 100 m east,
    with a wider radius since no distance was said."""
    park = top(gaz, "Bertha Port Park")
    north = top(gaz, "100 m north of Bertha Port Park")
    assert north.kind == "relative" and north.name == "about 100 m north of Bertha Port Park"
    assert float(haversine_m(park.lon, park.lat, north.lon, north.lat)) == pytest.approx(
        100.0, abs=0.5
    )
    assert north.lat > park.lat and north.radius_m == pytest.approx(park.radius_m + 50.0)
    east = top(gaz, "a bit east of Bertha Port Park")
    assert east.lon > park.lon and east.name == "a little east of Bertha Port Park"
    assert east.radius_m == pytest.approx(park.radius_m + 80.0)


def test_between(gaz: Gazetteer) -> None:
    """ "between Revolution Cafe and Shorey House" is their midpoint."""
    a, b = top(gaz, "Revolution Cafe"), top(gaz, "Shorey House")
    found = top(gaz, "between Revolution Cafe and Shorey House")
    assert found.name == "between Revolution Cafe and Shorey House"
    assert found.lon == pytest.approx((a.lon + b.lon) / 2)
    assert found.lat == pytest.approx((a.lat + b.lat) / 2)


def test_english_readback_says_the_relation(gaz: Gazetteer) -> None:
    """With a fix at the cafe, the read-back ends with what the caller was understood to say."""
    cafe = top(gaz, "Revolution Cafe")
    fix = DeviceFix(cafe.lat, cafe.lon, 10.0, 0.68, "gnss", 0.0)
    estimate = Locator(gaz).locate(CallEvidence((fix,), spoken="near Revolution Cafe"), 5.0)
    assert estimate is not None
    assert estimate.description.endswith("; caller said: near Revolution Cafe")
