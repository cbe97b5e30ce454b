"""The peers we time against, each built once (untimed) from the same compiled network.

Peers work on nodes, not on points along an edge, so a position is handed to them as the nearer
end of its edge (what a peer user would get from a nearest-node lookup). Parallel edges are
reduced to the fastest (`routing.compile.unique_pairs`), since scipy would add them up. Each
query method does what a user of that library would write, including picking the k best units
out of the distances it returns, so the clock sees the whole question, not just the search.
"""

from __future__ import annotations

import warnings
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from benchmarks.timing import quiet_stdout
from routing.compile import to_networkx, unique_pairs
from routing.network import F64, RoadNetwork
from routing.snap import Positions

I64 = NDArray[np.int64]
Ranked = tuple[I64, F64]  # (unit indices, ETA s), best first


def nearest_end(net: RoadNetwork, positions: Positions) -> I64:
    """The node at the nearer end of each position's edge."""
    e = positions.edge
    return np.where(positions.fraction < 0.5, net.edge_tail[e], net.edge_head[e]).astype(np.int64)


def top_k(eta_s: F64, k: int) -> Ranked:
    """Indices and values of the k smallest finite ETAs, best first."""
    k = min(k, int(np.isfinite(eta_s).sum()))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    part = np.argpartition(eta_s, k - 1)[:k]
    best = part[np.argsort(eta_s[part], kind="stable")]
    return best.astype(np.int64), eta_s[best]


class ScipyPeer:
    """scipy.sparse.csgraph.dijkstra on CSR matrices (C, binary heap over all n nodes)."""

    def __init__(self, net: RoadNetwork) -> None:
        tail, head, time_s = unique_pairs(net)
        n = net.n_nodes
        self.forward = csr_matrix((time_s, (tail, head)), shape=(n, n))
        self.toward = csr_matrix((time_s, (head, tail)), shape=(n, n))  # transposed: to a node

    def rank(self, incident: int, units: I64, k: int, limit: float = np.inf) -> Ranked:
        """Dijkstra toward the incident (optionally stopped at `limit` s), then the k best."""
        dist: F64 = dijkstra(self.toward, directed=True, indices=[incident], limit=limit)[0]
        return top_k(dist[units], k)

    def eta_to(self, incident: int) -> F64:
        """Driving seconds from every node to `incident` (for correctness checks)."""
        dist: F64 = dijkstra(self.toward, directed=True, indices=[incident])[0]
        return dist


class NetworkxPeer:
    """networkx DiGraph weighted by live travel time (pure Python, dict of dicts)."""

    def __init__(self, net: RoadNetwork) -> None:
        self.graph = to_networkx(net)
        self.reverse = self.graph.reverse(copy=False)

    def rank(self, incident: int, units: I64, k: int) -> Ranked:
        """Unbounded reverse single-source Dijkstra from the incident, then the k best."""
        d = nx.single_source_dijkstra_path_length(self.reverse, incident, weight="weight")
        eta = np.fromiter((d.get(u, np.inf) for u in units.tolist()), np.float64, units.shape[0])
        return top_k(eta, k)

    def route(self, a: int, b: int) -> tuple[float, list[int]]:
        """(seconds, node path) by bidirectional Dijkstra."""
        return nx.bidirectional_dijkstra(self.graph, a, b, weight="weight")


class IgraphPeer:
    """python-igraph (C core); Graph.distances with mode="in" searches toward the source."""

    def __init__(self, net: RoadNetwork) -> None:
        import igraph

        tail, head, time_s = unique_pairs(net)
        edges = np.column_stack([tail, head]).tolist()
        self.graph = igraph.Graph(n=net.n_nodes, edges=edges, directed=True)
        self.graph.es["weight"] = time_s.tolist()

    def rank(self, incident: int, units: I64, k: int) -> Ranked:
        """Distances from the units to the incident (igraph refuses duplicate targets)."""
        uniq, back = np.unique(units, return_inverse=True)
        d = self.graph.distances(
            source=[incident],
            target=uniq.tolist(),
            weights="weight",
            mode="in",
            algorithm="dijkstra",
        )[0]
        return top_k(np.asarray(d, dtype=np.float64)[back], k)


class PandanaPeer:
    """pandana: a contraction hierarchy (C++), fast queries but a preprocessing step per weight set.

    Node ids are 0..n-1, so pandana's internal index is the node id and the raw C++ core can be
    called without the pandas id mapping its public API does on every call.
    """

    def __init__(self, net: RoadNetwork) -> None:
        self.network = build_pandana(net)
        idx = self.network.node_idx.to_numpy()
        assert np.array_equal(idx, np.arange(net.n_nodes)), "pandana reordered the nodes"

    def route(self, a: int, b: int) -> tuple[float, I64]:
        """The public API, one pair: shortest_paths + shortest_path_lengths."""
        path = self.network.shortest_paths([a], [b])[0]
        return float(self.network.shortest_path_lengths([a], [b])[0]), path

    def route_core(self, a: int, b: int) -> tuple[float, I64]:
        """The C++ core directly, no pandas id mapping: the CH query itself."""
        path = self.network.net.shortest_path(a, b, 0)
        return float(self.network.net.shortest_path_distance(a, b, 0)), path


def build_pandana(net: RoadNetwork) -> Any:
    """pandana.Network over the live edge times: this builds the contraction hierarchy."""
    import pandana
    import pandas as pd

    tail, head, live = unique_pairs(net)
    ids = np.arange(net.n_nodes, dtype=np.int64)
    with quiet_stdout(), warnings.catch_warnings():
        warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning))
        return pandana.Network(
            pd.Series(net.node_lonlat[:, 0], index=ids),
            pd.Series(net.node_lonlat[:, 1], index=ids),
            pd.Series(tail.astype(np.int64)),
            pd.Series(head.astype(np.int64)),
            pd.DataFrame({"time_s": live}),
            twoway=False,
        )
