"""A city is a folder: city.toml read into a `City`, the bundled Hangzhou as the default, and
the OSM tags that make a hospital, a station, an AED or a named place (routing.osm_layers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from routing.city import LAYERS, bundled_city, read_city, resolve_city
from routing.city_init import guess_locale
from routing.errors import CityError
from routing.osm_layers import layers_of


def write_toml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "city.toml").write_text(text, encoding="utf-8")
    return folder


def test_the_bundled_city_is_hangzhou_with_every_layer() -> None:
    """data/hangzhou/city.toml names the Hangzhou CSVs and all five layers, in zh-CN."""
    city = bundled_city()
    assert (city.name, city.locale, city.timezone) == ("Hangzhou", "zh-CN", "Asia/Shanghai")
    assert city.missing() == ()
    assert city.hospitals is not None and city.hospitals.name == "hospitals.csv"
    assert city.network.endswith("hangzhou_nodes.csv.gz")


def test_the_bundled_city_on_another_network_drops_its_stations() -> None:
    """resolve_city("", "wulin") keeps Hangzhou's hospitals on the Wulin network, but not its
    stations, which were placed for the whole city; "hangzhou" keeps the city as it is."""
    wulin = resolve_city("", "wulin")
    assert wulin.network == "wulin" and wulin.stations is None
    assert wulin.hospitals == bundled_city().hospitals
    assert resolve_city("", "hangzhou") == bundled_city()


def test_a_layer_left_out_is_not_configured(tmp_path: Path) -> None:
    """A city.toml naming only its network and places: the other four layers are missing,
    and the locale and timezone are read."""
    (tmp_path / "roads.osm").write_text("<osm/>", encoding="utf-8")
    (tmp_path / "places.csv").write_text("name,lat,lon\n", encoding="utf-8")
    city = read_city(
        write_toml(
            tmp_path,
            '[city]\nlocale = "en"\ntimezone = "Europe/Paris"\n'
            '[layers]\nnetwork = "roads.osm"\nplaces = "places.csv"\n',
        )
    )
    assert city.missing() == ("hospitals", "stations", "aeds", "cells")
    assert (city.name, city.locale, city.timezone) == (tmp_path.name, "en", "Europe/Paris")
    assert city.network == str(tmp_path / "roads.osm")
    assert set(LAYERS) == {"hospitals", "stations", "aeds", "cells", "places"}


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (None, "no readable city.toml"),
        ("[layers\n", "city.toml"),
        ('[layers]\nnetwork = "wulin"\nhospital = "h.csv"\n', "unknown layer(s) ['hospital']"),
        ('[layers]\nnetwork = "wulin"\nhospitals = "h.csv"\n', "no such file"),
        ('[city]\nlocale = "fr"\n[layers]\nnetwork = "wulin"\n', "locale 'fr'"),
        ('[city]\ntimezone = "Mars/Olympus"\n[layers]\nnetwork = "wulin"\n', "unknown timezone"),
        ('[city]\nname = "x"\n', "network is required"),
    ],
)
def test_a_bad_city_folder_is_refused_with_what_is_wrong(
    tmp_path: Path, toml: str | None, said: str
) -> None:
    """No city.toml, bad TOML, an unknown layer, a missing file, an unknown locale or
    timezone, no network: CityError naming it."""
    folder = tmp_path if toml is None else write_toml(tmp_path, toml)
    with pytest.raises(CityError, match=re.escape(said)):
        read_city(folder)


@pytest.mark.parametrize(
    ("tags", "layers"),
    [
        ({"amenity": "hospital", "name": "General"}, ("hospitals", "places")),
        ({"amenity": "hospital", "emergency": "no"}, ()),
        ({"healthcare": "hospital", "emergency": "yes"}, ("hospitals",)),
        ({"emergency": "ambulance_station"}, ("stations",)),
        ({"emergency": "defibrillator", "opening_hours": "24/7"}, ("aeds",)),
        ({"landuse": "residential", "name": "翠苑一区"}, ("places",)),
        ({"landuse": "residential"}, ()),
        ({"addr:housenumber": "12", "addr:street": "Wood Street"}, ("places",)),
        ({"addr:housenumber": "12"}, ()),
        ({"name": "7th Street", "highway": "secondary"}, ()),
    ],
)
def test_osm_tags_sort_objects_into_layers(tags: dict[str, str], layers: tuple[str, ...]) -> None:
    """A hospital (not emergency=no), a station, an AED, a named POI or 小区, an address with
    its street; a bare road or an unnamed landuse is no layer."""
    assert layers_of(tags) == layers


def test_the_locale_is_guessed_from_the_names() -> None:
    """Most names Chinese: zh-CN; most English, or none: en."""
    assert guess_locale(["文三路", "学院路", "Wood Street"]) == "zh-CN"
    assert guess_locale(["7th Street", "Wood Street", "文三路"]) == "en"
    assert guess_locale([]) == "en"
