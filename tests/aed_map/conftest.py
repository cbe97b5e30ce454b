"""Fixtures for the AED-map tests: the Wulin and Hangzhou networks, and a pedestrian reference.

The Wulin box (3,949 nodes) keeps walking tests fast; the full Hangzhou network is loaded once
for the synthetic registry (it was generated on it). The reference answers walking questions
with networkx on an undirected graph built straight from the network's edge arrays, so a
disagreement is our bug, not a data difference (`tests.support.aeds`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from routing.load import load_network
from routing.network import RoadNetwork


@pytest.fixture(scope="session")
def aed_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private network cache, so tests never read a developer's stale one."""
    return tmp_path_factory.mktemp("jijiu-aed-cache")


@pytest.fixture(scope="session")
def wulin(aed_cache: Path) -> RoadNetwork:
    """The bundled Wulin Square fixture network."""
    net, _ = load_network("wulin", cache=aed_cache)
    return net


@pytest.fixture(scope="session")
def hangzhou(aed_cache: Path) -> RoadNetwork:
    """The full bundled Hangzhou network (the synthetic registry's ground)."""
    net, _ = load_network("hangzhou", cache=aed_cache)
    return net


@pytest.fixture(scope="session")
def walk_nx(wulin: RoadNetwork) -> nx.Graph[Any]:
    """Undirected networkx graph of the Wulin roads, metres, shortest of parallel edges."""
    g: nx.Graph[Any] = nx.Graph()
    for u, v, m in zip(
        wulin.edge_tail.tolist(), wulin.edge_head.tolist(), wulin.length_m.tolist(), strict=True
    ):
        if u != v and m < g.get_edge_data(u, v, {"weight": float("inf")})["weight"]:
            g.add_edge(u, v, weight=m)
    return g
