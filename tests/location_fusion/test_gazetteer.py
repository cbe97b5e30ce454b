"""Tests for the gazetteer: spoken streets, intersections and places found on the road network.

The Wulin fixture (3,949 nodes, 118 street names) serves the behaviour tests; its real names
are used (文三路 meets 莫干山路, 文三支路 makes "文三" ambiguous, 上塘路 passes the Zhejiang
Provincial People's Hospital). The accuracy tests feed synthetic noisy phrases from
`location_fusion.speech` and print the share of right answers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import location_fusion.gazetteer as gz_mod
from location_fusion.errors import InvalidInput, TextTooLong
from location_fusion.gazetteer import Gazetteer, Place
from location_fusion.geo import haversine_m
from location_fusion.places import NamedPlace
from location_fusion.speech import add_speech_noise, phrase_for_intersection, phrase_for_street
from location_fusion.spoken_text import canonical_street, fuzzy_syllable, place_aliases
from routing.load import load_network
from routing.network import RoadNetwork

HOSPITAL = "浙江省人民医院"


@pytest.fixture(scope="session")
def gazetteer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private network cache, so these tests never read a developer's stale cache."""
    return tmp_path_factory.mktemp("gazetteer-cache")


@pytest.fixture(scope="session")
def places(data_dir: Path) -> list[NamedPlace]:
    """The ten bundled hospitals as places (name, lat, lon, kind hospital, 120 m)."""
    return Gazetteer.load_places_csv(data_dir / "hangzhou" / "hospitals.csv")


@pytest.fixture(scope="session")
def wulin_net(gazetteer_cache: Path) -> RoadNetwork:
    """The Wulin Square fixture network."""
    net, _ = load_network("wulin", cache=gazetteer_cache)
    return net


@pytest.fixture(scope="session")
def gaz(wulin_net: RoadNetwork, places: list[NamedPlace]) -> Gazetteer:
    """The gazetteer of the Wulin network with the hospitals as places."""
    return Gazetteer.from_network(wulin_net, places)


def junction_nodes(net: RoadNetwork, a: str, b: str) -> list[int]:
    """Nodes where an edge named a and an edge named b meet (read straight from the arrays)."""

    def nodes(name: str) -> set[int]:
        ids = [i for i, n in enumerate(net.names) if str(n) == name]
        named = np.isin(net.edge_name, ids)
        return set(net.edge_tail[named].tolist()) | set(net.edge_head[named].tolist())

    return sorted(nodes(a) & nodes(b))


def names_at(net: RoadNetwork, node: int) -> set[str]:
    """The raw names of the edges at a node."""
    at = (net.edge_tail == node) | (net.edge_head == node)
    return {str(net.names[k]) for k in net.edge_name[at] if k >= 0}


def test_exact_street(gaz: Gazetteer) -> None:
    """ "文三路" gives the street 文三路 first, with full confidence and a sampled line."""
    top = gaz.geocode("文三路")[0]
    assert (top.kind, top.name, top.streets, top.confidence) == (
        "street",
        "文三路",
        ("文三路",),
        1.0,
    )
    assert top.line_lonlat is not None and top.line_lonlat.shape[1] == 2
    assert top.radius_m > 100
    name, dist = gaz.nearest_street(top.lon, top.lat) or ("", -1.0)
    assert name == "文三路" and dist < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "文三路与莫干山路交叉口",
        "莫干山路和文三路路口",
        "文三路 莫干山路口",
        "我在莫干山路跟文三路交界这里",
        "文三路莫干山路路口",
        "莫干山路和文三路的路口",
    ],
)
def test_intersection_phrasings(gaz: Gazetteer, wulin_net: RoadNetwork, text: str) -> None:
    """Every way of saying the 文三路/莫干山路 junction, either order, finds that junction."""
    top = gaz.geocode(text)[0]
    assert top.kind == "intersection" and set(top.streets) == {"文三路", "莫干山路"}
    assert top.radius_m == pytest.approx(
        gz_mod.INTERSECTION_RADIUS_M
    ) and top.confidence == pytest.approx(1.0)
    ll = wulin_net.node_lonlat[junction_nodes(wulin_net, "文三路", "莫干山路")]
    assert float(haversine_m(ll[:, 0], ll[:, 1], top.lon, top.lat).min()) < 150


def test_homophone(gaz: Gazetteer) -> None:
    """ "文山路" (山 for 三, as a recogniser writes it) still finds 文三路, a little less sure."""
    top = gaz.geocode("文山路")[0]
    assert top.name == "文三路" and 0.9 <= top.confidence < 1.0


def test_pinyin_and_english_input(gaz: Gazetteer) -> None:
    """Typed pinyin and English street names find the same junction as the characters."""
    for text in (
        "wen san lu he mo gan shan lu",
        "wensanlu moganshanlu",
        "Wensan Rd & Moganshan Road",
    ):
        top = gaz.geocode(text)[0]
        assert set(top.streets) == {"文三路", "莫干山路"}, text


def test_dropped_suffix(gaz: Gazetteer) -> None:
    """ "文三" for 文三路 and "莫干山" for 莫干山路 are still understood."""
    assert set(gaz.geocode("文三和莫干山路口")[0].streets) == {"文三路", "莫干山路"}
    assert gaz.geocode("我在文三")[0].name == "文三路"
    assert gaz.geocode("莫干山这边")[0].name == "莫干山路"


def test_trailing_shang_is_filler(gaz: Gazetteer) -> None:
    """ "上塘路上" is the street 上塘路: only the trailing 上 is dropped."""
    assert gaz.geocode("上塘路上")[0].name == "上塘路"


def test_place_alias(gaz: Gazetteer, places: list[NamedPlace]) -> None:
    """ "省人民医院" is the Zhejiang Provincial People's Hospital at its own position."""
    top = gaz.geocode("我在省人民医院")[0]
    lat, lon = next((p.lat, p.lon) for p in places if p.name == HOSPITAL)
    assert (top.kind, top.name, top.streets) == ("place", HOSPITAL, ())
    assert (top.lat, top.lon, top.radius_m) == (lat, lon, 120.0)


def test_street_near_place(gaz: Gazetteer, wulin_net: RoadNetwork) -> None:
    """ "上塘路上，靠近省人民医院" is the point of 上塘路 nearest the hospital."""
    top = gaz.geocode("上塘路上，靠近省人民医院")[0]
    assert top.kind == "street_near_place" and top.streets == ("上塘路",)
    assert top.name == "上塘路近浙江省人民医院" and top.radius_m == pytest.approx(150.0)
    street = gaz.geocode("上塘路")[0].line_lonlat
    assert street is not None
    assert float(haversine_m(street[:, 0], street[:, 1], top.lon, top.lat).min()) < 1.0
    to_hospital = haversine_m(street[:, 0], street[:, 1], 120.1562, 30.2938)
    assert float(haversine_m(top.lon, top.lat, 120.1562, 30.2938)) == pytest.approx(
        float(to_hospital.min()), abs=1.0
    )


def test_ambiguous_phrase(gaz: Gazetteer) -> None:
    """ "文三" could be 文三路 or 文三支路: both come back, the plain street first."""
    found = gaz.geocode("文三")
    names = [p.name for p in found]
    assert names[0] == "文三路" and "文三支路" in names
    assert [p.confidence for p in found] == sorted((p.confidence for p in found), reverse=True)
    assert len(gaz.geocode("文三", limit=1)) == 1


@pytest.mark.parametrize(
    "text", ["", "   ", "！！！", "asdf qwer", "今天天气很好", "我在这里", "12345"]
)
def test_nothing_matches(gaz: Gazetteer, text: str) -> None:
    """Empty, punctuation-only or place-free text gives no candidates."""
    assert gaz.geocode(text) == []


def test_too_long_is_refused(gaz: Gazetteer) -> None:
    """A 10 MB string is refused with TextTooLong, naming the limit."""
    text = "文三路" * 3_500_000
    with pytest.raises(TextTooLong, match="200"):
        gaz.geocode(text)


@pytest.mark.parametrize("bad", [None, 42, b"\xe6\x96\x87", ["文三路"]])
def test_non_str_is_invalid(gaz: Gazetteer, bad: object) -> None:
    """Anything but a str is InvalidInput."""
    with pytest.raises(InvalidInput):
        gaz.geocode(bad)  # type: ignore[arg-type]


def test_nearest_on_a_junction_node(gaz: Gazetteer, wulin_net: RoadNetwork) -> None:
    """Where only 环城北路 and 中山北路 meet, the nearest junction is that pair, 0 m away."""
    pair = {"环城北路", "中山北路"}
    nodes = junction_nodes(wulin_net, *pair)
    node = next(v for v in nodes if names_at(wulin_net, v) == pair)
    lon, lat = (float(v) for v in wulin_net.node_lonlat[node])
    a, b, j_lon, j_lat, dist = gaz.nearest_intersection(lon, lat) or ("", "", 0.0, 0.0, -1.0)
    assert {a, b} == pair and dist < 0.01
    assert (j_lon, j_lat) == (lon, lat)
    name, d = gaz.nearest_street(lon, lat) or ("", -1.0)
    assert name in pair and d < 0.01
    with pytest.raises(InvalidInput):
        gaz.nearest_street(float("nan"), lat)


def test_street_names_are_canonical(gaz: Gazetteer) -> None:
    """English tails are cut ("弥陀寺路 Mituosi Road" is 弥陀寺路) and names are unique."""
    names = gaz.street_names()
    assert "弥陀寺路" in names and not any("Road" in n for n in names)
    assert names == sorted(set(names))


def test_name_helpers() -> None:
    """Fuzzy pinyin folds the usual confusions; names and aliases are cut as documented."""
    assert [fuzzy_syllable(s) for s in ("zhang", "shan", "chen", "ning", "xing", "long")] == [
        "zan",
        "san",
        "cen",
        "lin",
        "xin",
        "long",
    ]
    assert canonical_street("文一西路 Wenyi Road (West)") == "文一西路"
    assert canonical_street("丰登街(沁园路)") == "丰登街"
    assert canonical_street("Yunqi Road") == "Yunqi Road"
    assert place_aliases("浙江省人民医院") == ["浙江省人民医院", "省人民医院", "人民医院"]
    assert "邵逸夫医院" in place_aliases("浙江大学医学院附属邵逸夫医院(庆春院区)")


def test_place_validation() -> None:
    """A Place with an unknown kind, a bad confidence or a bad coordinate is refused."""
    good = {
        "kind": "place",
        "name": "x",
        "lon": 120.0,
        "lat": 30.0,
        "radius_m": 10.0,
        "confidence": 0.5,
        "streets": (),
    }
    Place(**good)  # type: ignore[arg-type]
    for change in ({"kind": "city"}, {"confidence": 1.5}, {"lat": 95.0}, {"radius_m": -1.0}):
        with pytest.raises(InvalidInput):
            Place(**{**good, **change})  # type: ignore[arg-type]


def spoken_accuracy(gaz: Gazetteer, net: RoadNetwork, n: int, seed: int) -> float:
    """Share of n noisy phrases (2/3 junctions, 1/3 streets) whose top answer is right."""
    rng = np.random.default_rng(seed)
    names = gaz.street_names()
    right = 0
    for i in range(n):
        if i % 3 == 2:
            street = names[int(rng.integers(len(names)))]
            truth, text = {street}, phrase_for_street(street, rng)
        else:
            lon, lat = (float(v) for v in net.node_lonlat[int(rng.integers(net.n_nodes))])
            a, b, *_ = gaz.nearest_intersection(lon, lat) or ("", "")
            truth, text = {a, b}, phrase_for_intersection(a, b, rng)
        found = gaz.geocode(add_speech_noise(text, rng, level=1.0))
        right += bool(found) and set(found[0].streets) == truth
    return right / n


def test_spoken_accuracy_wulin(gaz: Gazetteer, wulin_net: RoadNetwork) -> None:
    """At least 90 % of 300 noisy spoken phrases on Wulin name the right street or junction."""
    share = spoken_accuracy(gaz, wulin_net, 300, seed=2024)
    print(f"spoken-only accuracy, Wulin: {share:.1%}")
    assert share >= 0.90


@pytest.mark.slow
def test_spoken_accuracy_hangzhou(gazetteer_cache: Path, data_dir: Path) -> None:
    """At least 90 % of 300 noisy spoken phrases on all of Hangzhou (744 names), with the
    city's whole places layer (landmarks and addresses too), are right."""
    net, _ = load_network("hangzhou", cache=gazetteer_cache)
    places = Gazetteer.load_places_csv(data_dir / "hangzhou" / "places.csv")
    share = spoken_accuracy(Gazetteer.from_network(net, places), net, 300, seed=2024)
    print(f"spoken-only accuracy, Hangzhou: {share:.1%}")
    assert share >= 0.90
