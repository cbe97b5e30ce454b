"""Hand-made AEDs and a pedestrian reference for the AED-map tests.

`reference_road_m` answers a walking question with networkx on an undirected graph built
straight from the network's edge arrays, so a disagreement is our bug, not a data difference;
`aed` makes a public AED with the given opening hours.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from aed_map.footways import WalkPoint
from aed_map.registry import Access, Aed, AedId
from routing.network import RoadNetwork


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
