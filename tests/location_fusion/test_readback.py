"""Read-back per locale: the words around street names in zh-CN and en, names as they are."""

from __future__ import annotations

import re

import pytest

from location_fusion.errors import InvalidInput
from location_fusion.gazetteer import Gazetteer
from location_fusion.locate import Locator
from location_fusion.readback import EN, ZH_CN, ReadBack, readback_for
from routing.load import load_network
from routing.network import RoadNetwork
from tests.support.cities import OAKLAND_OSM

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def oakland(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    """The West Oakland extract's 23-node network (8 English street names)."""
    net, _ = load_network(OAKLAND_OSM, cache=tmp_path_factory.mktemp("cache"))
    return net


def test_the_templates_read_as_each_locale_says() -> None:
    """40.4 m from a junction reads "约 40 米" in zh-CN and "about 40 m" in en."""
    assert ZH_CN.describe_junction("文三路", "学院路", 40.4) == "文三路与学院路交叉口附近，约 40 米"
    assert EN.describe_junction("7th Street", "Wood Street", 40.4) == (
        "near the junction of 7th Street and Wood Street, about 40 m"
    )
    assert EN.describe_street("Wood Street", 12.0) == "near Wood Street, about 12 m"
    assert readback_for("en") is EN and readback_for("zh-CN") is ZH_CN


def test_an_unknown_locale_or_a_broken_template_is_refused() -> None:
    """ "fr" is no locale; a pattern naming a field it is not given is refused at once."""
    with pytest.raises(InvalidInput, match="locale 'fr'"):
        readback_for("fr")
    with pytest.raises(InvalidInput, match="near_street"):
        ReadBack("xx", "{a}{b}", "{street}{place}", "{a}{b}{d_m}", "{road}", "{lat}{lon}")


def test_an_english_city_reads_back_in_english(oakland: RoadNetwork) -> None:
    """Anywhere on the West Oakland roads the read-back names its streets in English, with no
    Chinese character; a junction said in words is named "A and B"."""
    locator = Locator(Gazetteer.from_network(oakland, readback=EN))
    for lon, lat in oakland.node_lonlat:
        text = locator.describe(float(lon), float(lat))
        assert not CJK.search(text), text
        assert text.startswith("near ") and text.endswith(" m")
    found = locator.gazetteer.geocode("7th Street and Wood Street")
    assert found[0].name == "7th Street and Wood Street"


def test_the_default_locale_stays_chinese(oakland: RoadNetwork) -> None:
    """Without a locale the gazetteer reads back in zh-CN, as before cities had one."""
    locator = Locator(Gazetteer.from_network(oakland))
    lon, lat = (float(v) for v in oakland.node_lonlat[0])
    assert locator.describe(lon, lat).endswith(" 米")
