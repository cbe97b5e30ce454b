"""Fixtures for the AED-map tests: the Wulin and Hangzhou networks, and a pedestrian reference.

The Wulin box (3,949 nodes) keeps walking tests fast; the full Hangzhou network is loaded once
for the synthetic registry (it was generated on it). The reference answers walking questions
with networkx on an undirected graph built straight from the network's edge arrays, so a
disagreement is our bug, not a data difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from aed_map.footways import WalkPoint
from aed_map.registry import Access, Aed, AedId
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


def reference_road_m(g: nx.Graph[Any], net: RoadNetwork, a: WalkPoint, b: WalkPoint) -> float:
    """Shortest road metres between two road points by networkx, the points as virtual nodes."""
    la, lb = float(net.length_m[a.edge]), float(net.length_m[b.edge])
    g.add_edge("A", int(net.edge_tail[a.edge]), weight=a.fraction * la)
    g.add_edge("A", int(net.edge_head[a.edge]), weight=(1 - a.fraction) * la)
    g.add_edge("B", int(net.edge_tail[b.edge]), weight=b.fraction * lb)
    g.add_edge("B", int(net.edge_head[b.edge]), weight=(1 - b.fraction) * lb)
    try:
        best = float(nx.dijkstra_path_length(g, "A", "B"))
    finally:
        g.remove_nodes_from(["A", "B"])
    if b.edge in (a.edge, int(net.twin[a.edge])):  # both on one road: straight along it
        fb = b.fraction if b.edge == a.edge else 1 - b.fraction
        best = min(best, abs(fb - a.fraction) * la)
    return best


def aed(aed_id: str, lat: float, lon: float, hours: str = "24/7", **tags: object) -> Aed:
    """An AED with public access and the given hours; other tags by keyword."""
    fields: dict[str, object] = {"access": Access.YES, "opening_hours": hours}
    fields.update(tags)
    return Aed(AedId(aed_id), lat, lon, **fields)  # type: ignore[arg-type]
