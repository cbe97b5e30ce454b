"""Reference answers for the routing tests: networkx on our compiled graph, and random points.

`reference_eta` answers a driving-time question with networkx on the very same compiled graph,
treating road points as virtual nodes, so a disagreement is our bug, not a data difference;
`random_positions` draws snapped points to ask it about.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from routing.network import RoadNetwork
from routing.router import Router
from routing.snap import RoadPosition


def reference_eta(g: nx.DiGraph, net: RoadNetwork, a: RoadPosition, b: RoadPosition) -> float:
    """Fastest driving time from point a to point b by networkx, points as virtual nodes."""
    h = g  # virtual nodes A and B are added here and removed before returning
    ea, fa, eb, fb = a.edge, a.fraction, b.edge, b.fraction
    ta, tb = int(net.twin[ea]), int(net.twin[eb])
    h.add_edge("A", int(net.edge_head[ea]), weight=(1 - fa) * net.time_s[ea])
    if ta >= 0:
        h.add_edge("A", int(net.edge_head[ta]), weight=fa * net.time_s[ta])
    h.add_edge(int(net.edge_tail[eb]), "B", weight=fb * net.time_s[eb])
    if tb >= 0:
        h.add_edge(int(net.edge_tail[tb]), "B", weight=(1 - fb) * net.time_s[tb])
    try:
        best = float(nx.dijkstra_path_length(h, "A", "B"))
    finally:
        h.remove_nodes_from(["A", "B"])
    # Both points on one road: drive straight along it when the order allows.
    if eb in (ea, ta):
        g_b = fb if eb == ea else 1 - fb
        if g_b >= fa:
            best = min(best, (g_b - fa) * float(net.time_s[ea]))
        elif ta >= 0:
            best = min(best, (fa - g_b) * float(net.time_s[ta]))
    return best


def random_positions(router: Router, rng: np.random.Generator, n: int) -> list[RoadPosition]:
    """n points near random nodes, snapped (a point may land on any nearby road)."""
    net = router.net
    ll = net.node_lonlat[rng.integers(0, net.n_nodes, n)] + rng.normal(0, 3e-4, (n, 2))
    return [router.snap(float(lat), float(lon)) for lon, lat in ll]
