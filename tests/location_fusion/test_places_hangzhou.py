"""Hangzhou's places layer (data/hangzhou/places.csv, places.md): in step with hospitals.csv,
every row approximate and on the network, and a POI, a 小区 and a house number found by name."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from location_fusion.gazetteer import Gazetteer, Place
from location_fusion.geo import haversine_m
from location_fusion.places import NamedPlace, read_places_csv
from location_fusion.readback import readback_for
from routing.city import bundled_city, load_city_network
from routing.network import RoadNetwork

pytestmark = pytest.mark.slow  # the full Hangzhou network: a few seconds to build


@pytest.fixture(scope="module")
def places() -> list[NamedPlace]:
    """The bundled city's places layer, as city.toml names it."""
    city = bundled_city()
    assert city.places is not None and city.places.name == "places.csv"
    return read_places_csv(city.places)


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    """The bundled city's road network."""
    network, _ = load_city_network(bundled_city())
    return network


@pytest.fixture(scope="module")
def gaz(net: RoadNetwork, places: list[NamedPlace]) -> Gazetteer:
    """The gazetteer the server builds for the bundled city."""
    return Gazetteer.from_network(net, places, readback_for("zh-CN"))


def top(gaz: Gazetteer, text: str) -> Place:
    """The best candidate for `text` (the phrase must match something)."""
    found = gaz.geocode(text)
    assert found, text
    return found[0]


def test_hospitals_in_step(places: list[NamedPlace], data_dir: Path) -> None:
    """Every hospital of hospitals.csv is a place of the same name and position, and its
    address_zh a place too (the address rows: same position, 200 m)."""
    by_name = {p.name: p for p in places}
    with (data_dir / "hangzhou" / "hospitals.csv").open(encoding="utf-8", newline="") as fh:
        hospitals = list(csv.DictReader(fh))
    assert len(hospitals) == 10
    for h in hospitals:
        place, address = by_name[h["name_zh"]], by_name[h["address_zh"]]
        assert (place.kind, place.lat, place.lon) == ("hospital", float(h["lat"]), float(h["lon"]))
        assert (address.kind, address.lat, address.lon, address.radius_m) == (
            "address",
            float(h["lat"]),
            float(h["lon"]),
            200.0,
        )


def test_every_row_approximate_and_on_the_network(
    places: list[NamedPlace], net: RoadNetwork
) -> None:
    """Every row is marked approximate, and the hand-placed landmarks lie inside the
    network's box, within their own radius of a road node (they were read off it)."""
    assert all(p.approximate for p in places)
    landmarks = [p for p in places if p.kind in ("landmark", "residential")]
    assert len(landmarks) >= 8
    lon, lat = net.node_lonlat[:, 0], net.node_lonlat[:, 1]
    for p in landmarks:
        assert 30.265 <= p.lat <= 30.355 and 120.05 <= p.lon <= 120.215, p.name
        nearest = float(np.min(haversine_m(lon, lat, p.lon, p.lat)))
        assert nearest < p.radius_m, p.name


def test_landmark_found(gaz: Gazetteer) -> None:
    """ "我在杭州东站" is the station (a landmark, 500 m), not a street."""
    found = top(gaz, "我在杭州东站")
    assert (found.kind, found.name, found.radius_m) == ("place", "杭州东站", 500.0)


def test_residential_compound_found(gaz: Gazetteer) -> None:
    """ "大关苑" is the 小区 (300 m), not 大关苑路 or the other 苑 streets around it."""
    found = top(gaz, "大关苑")
    assert (found.kind, found.name, found.radius_m) == ("place", "大关苑", 300.0)
    assert top(gaz, "大关苑路").kind == "street"  # the street is still the street


@pytest.mark.parametrize("said", ["上塘路158号", "上塘路一百五十八号", "我在上塘路一五八号"])
def test_house_number_listed(gaz: Gazetteer, said: str) -> None:
    """ "上塘路158号", in digits or numerals, is the listed address: the Provincial People's
    Hospital's position."""
    found = top(gaz, said)
    assert (found.kind, found.name, found.radius_m) == ("place", "上塘路158号", 200.0)
    assert (found.lat, found.lon) == (30.2938, 120.1562)


def test_house_number_between_listed_ones(gaz: Gazetteer) -> None:
    """ "上塘路166号" (not listed) is placed at 158, the nearest even number on 上塘路, its
    radius grown by 8 numbers of 4 m; "文一西路588号" (none listed on that street) is the
    street itself."""
    found = top(gaz, "上塘路166号")
    assert (found.kind, found.name, found.streets) == ("place", "上塘路166号", ("上塘路",))
    assert (found.lat, found.lon, found.radius_m) == (30.2938, 120.1562, 232.0)
    street = top(gaz, "文一西路588号")
    assert (street.kind, street.name) == ("street", "文一西路")
