"""`jijiu city init`: a city folder from the bundled West Oakland extract, read back whole."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from routing.city import load_city_network, read_city
from routing.city_init import init_city
from routing.errors import CityError
from tests.support.cities import OAKLAND_OSM


def test_init_writes_the_roads_the_places_and_a_city_toml(tmp_path: Path) -> None:
    """The extract holds 8 named streets and 18 named places but no hospital, station or AED:
    the folder gets roads.npz, places.csv and a city.toml in English naming only those."""
    report = init_city(tmp_path / "oakland", OAKLAND_OSM, timezone="America/Los_Angeles")
    city = read_city(tmp_path / "oakland")
    assert (city.locale, city.timezone) == ("en", "America/Los_Angeles")
    assert city.missing() == ("hospitals", "stations", "aeds", "cells")
    assert report.rows == {"hospitals": 0, "stations": 0, "aeds": 0, "places": 18}
    assert any("not configured" in line for line in report.lines())
    net, loaded = load_city_network(city)
    assert loaded.cached and net.n_nodes == 23 and len(net.names) == 8
    assert city.places is not None
    with city.places.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"name": "Revolution Cafe", "kind": "poi"}.items() <= rows[3].items()
    assert all(r["name"].isascii() for r in rows)


def test_a_stale_compiled_network_is_compiled_again_from_its_source(tmp_path: Path) -> None:
    """roads.npz written by another jijiu (here: truncated) is rebuilt from roads.osm.bz2."""
    init_city(tmp_path, OAKLAND_OSM)
    (tmp_path / "roads.npz").write_bytes(b"not a network")
    net, report = load_city_network(read_city(tmp_path))
    assert net.n_nodes == 23 and report.source.endswith("roads.osm.bz2")


def test_init_refuses_a_folder_holding_a_city_unless_forced(tmp_path: Path) -> None:
    """A second init into the same folder is refused; with force it is written again."""
    init_city(tmp_path, OAKLAND_OSM)
    with pytest.raises(CityError, match="already holds"):
        init_city(tmp_path, OAKLAND_OSM)
    assert init_city(tmp_path, OAKLAND_OSM, force=True, locale="zh-CN").locale == "zh-CN"


def test_init_refuses_a_file_that_is_not_osm(tmp_path: Path) -> None:
    """A CSV given as --osm: CityError naming the formats, and no folder written."""
    with pytest.raises(CityError, match="not an OSM file"):
        init_city(tmp_path / "x", tmp_path / "roads.csv")
    assert not (tmp_path / "x").exists()


def test_jijiu_city_init_prints_what_it_wrote_and_how_to_serve_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jijiu city init DIR --osm FILE` exits 0 naming the missing layers and the serve
    command; a second run into the same folder exits 2 with the reason on stderr."""
    from dispatch.cli import main

    argv = ["city", "init", str(tmp_path / "c"), "--osm", str(OAKLAND_OSM)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "hospitals    none: not configured" in out and "places       18 rows" in out
    assert f"jijiu serve --city {tmp_path / 'c'}" in out
    assert main(argv) == 2
    assert "already holds a city.toml" in capsys.readouterr().err


def test_routes_on_the_built_city_never_loop(tmp_path: Path) -> None:
    """Between 200 seeded pairs of the West Oakland city's nodes, every route found uses each
    road edge and each node once, and is no shorter than the straight line (a route that
    loops would drive an edge twice; one shorter than the crow flies would be a bad graph)."""
    import numpy as np

    from location_fusion.geo import haversine_m
    from routing.router import Router

    init_city(tmp_path / "city", OAKLAND_OSM, timezone="America/Los_Angeles")
    net, _ = load_city_network(read_city(tmp_path / "city"))
    router = Router(net)
    rng = np.random.default_rng(18)
    lonlat = net.node_lonlat
    found = 0
    for a, b in rng.integers(0, len(lonlat), size=(200, 2)):
        if a == b:
            continue
        start = router.snap(float(lonlat[a, 1]), float(lonlat[a, 0]))
        end = router.snap(float(lonlat[b, 1]), float(lonlat[b, 0]))
        route = router.route(start, end)
        if route is None:
            continue
        found += 1
        edges = route.edges.tolist()
        assert len(edges) == len(set(edges)), (a, b, edges)
        points = {tuple(p) for p in np.round(route.lonlat, 7).tolist()}
        assert len(points) >= len(route.lonlat) - 1  # a point repeats only where legs meet
        (lon0, lat0), (lon1, lat1) = route.lonlat[0], route.lonlat[-1]  # as snapped
        assert route.length_m >= haversine_m(lon0, lat0, lon1, lat1) - 1.0
    assert found > 100
