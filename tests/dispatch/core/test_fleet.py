"""The demo fleet's stations: seeded k-means centres, each on a road node."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dispatch.core.fleet import demo_fleet, station_lonlat
from routing.load import load_network
from routing.network import RoadNetwork


@pytest.fixture(scope="module")
def wulin(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    """The small Wulin fixture network (3,949 nodes), compiled into a private cache."""
    net, _ = load_network("wulin", cache=Path(tmp_path_factory.mktemp("cache")))
    return net


def test_stations_are_road_nodes_and_seeded(wulin: RoadNetwork) -> None:
    """50 stations sit on 50 distinct nodes; the same seed gives them again, another does not."""
    stations = station_lonlat(wulin, 50, seed=3)
    nodes = {tuple(p) for p in wulin.node_lonlat.tolist()}
    assert stations.shape == (50, 2)
    assert all(tuple(p) in nodes for p in stations.tolist())
    assert len({tuple(p) for p in stations.tolist()}) == 50
    assert np.array_equal(station_lonlat(wulin, 50, seed=3), stations)
    assert not np.array_equal(station_lonlat(wulin, 50, seed=4), stations)


def test_stations_spread_over_the_network(wulin: RoadNetwork) -> None:
    """k-means centres split the nodes: with 4 stations no station serves over 60 % of nodes."""
    stations = station_lonlat(wulin, 4, seed=0)
    scale = np.array([math.cos(math.radians(float(wulin.node_lonlat[:, 1].mean()))), 1.0])
    d = (((wulin.node_lonlat[:, None, :] - stations[None, :, :]) * scale) ** 2).sum(axis=2)
    share = np.bincount(d.argmin(axis=1), minlength=4) / wulin.n_nodes
    assert share.max() < 0.6


def test_demo_fleet_deals_units_to_stations(wulin: RoadNetwork) -> None:
    """5 units use 3 stations in turn (units 1 and 4 share one); every third unit is ALS."""
    fleet = demo_fleet(wulin, 5, seed=0)
    assert [u.unit_id for u in fleet] == ["ALS01", "BLS02", "BLS03", "ALS04", "BLS05"]
    assert (fleet[0].lat, fleet[0].lon) == (fleet[3].lat, fleet[3].lon)
    assert len({(u.lat, u.lon) for u in fleet}) == 3


def test_edge_cases(wulin: RoadNetwork) -> None:
    """No stations asked for gives none; asking for more stations than nodes gives one per node."""
    assert station_lonlat(wulin, 0).shape == (0, 2)
    assert demo_fleet(wulin, 0) == []
    assert station_lonlat(wulin, 1, seed=0).shape == (1, 2)
    assert station_lonlat(wulin, wulin.n_nodes + 10, seed=0).shape == (wulin.n_nodes, 2)
