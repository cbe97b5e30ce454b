"""The pedestrian graph: roads both ways in metres, and one bounded search from a point on it.

A pedestrian ignores one-way rules, so the walking graph is the road network made undirected:
each road once per direction, weighted by its length in metres (the shortest of parallel
edges), kept as a scipy CSR matrix. A point lies on a road edge at a fraction of its length;
`Reach` runs one bounded Dijkstra (scipy.sparse.csgraph, `limit` in metres) from both ends of
the point's edge, so any road point within the limit is then a lookup, and any path can be
rebuilt as named road pieces for directions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from aed_map.directions import Piece
from routing.network import F64, I32, I64, RoadNetwork

MIN_EDGE_M = 0.01  # a stored weight of 0 would read as "no edge"; no real road is this short


@dataclass(frozen=True)
class WalkGraph:
    """The undirected pedestrian graph: CSR metres, and the road edge behind each entry."""

    csr: csr_matrix
    edge_of: I32  # network edge id for each stored entry (names, for directions)


def walking_graph(net: RoadNetwork) -> WalkGraph:
    """Both directions of every road, the shortest of parallel edges, self-loops dropped."""
    m = net.n_edges
    u = np.concatenate([net.edge_tail, net.edge_head])
    v = np.concatenate([net.edge_head, net.edge_tail])
    w = np.concatenate([net.length_m, net.length_m])
    e = np.concatenate([np.arange(m), np.arange(m)]).astype(np.int32)
    keep = u != v
    order = np.lexsort((e[keep], w[keep], v[keep], u[keep]))  # by u, v, then shortest, then id
    u, v, w, e = (a[keep][order] for a in (u, v, w, e))
    first = np.ones(u.shape[0], dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, w, e = u[first], v[first], w[first], e[first]
    indptr = np.zeros(net.n_nodes + 1, dtype=np.int32)
    np.cumsum(np.bincount(u, minlength=net.n_nodes), out=indptr[1:])
    csr = csr_matrix((np.maximum(w, MIN_EDGE_M), v, indptr), shape=(net.n_nodes,) * 2)
    return WalkGraph(csr, e)


@dataclass(frozen=True)
class WalkPoint:
    """A point placed on the walking map: its road point and the straight metres off the road."""

    edge: int
    fraction: float
    offroad_m: float
    lon: float
    lat: float


def point_along(net: RoadNetwork, edge: int, fraction: float) -> tuple[float, float]:
    """(lon, lat) at `fraction` of an edge's length along its polyline (local flat metres)."""
    ll = net.edge_lonlat(edge)
    kx = math.cos(math.radians(float(ll[0, 1])))
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(ll[:, 0]) * kx, np.diff(ll[:, 1])))])
    at = fraction * cum[-1]
    return float(np.interp(at, cum, ll[:, 0])), float(np.interp(at, cum, ll[:, 1]))


class Reach:
    """Road metres from one road point to every node within a limit, with the path tree."""

    def __init__(
        self, net: RoadNetwork, graph: WalkGraph, origin: WalkPoint, limit_m: float
    ) -> None:
        self.net, self.graph, self.origin = net, graph, origin
        length = float(net.length_m[origin.edge])
        self.ends = (int(net.edge_tail[origin.edge]), int(net.edge_head[origin.edge]))
        self.entry = (origin.fraction * length, (1.0 - origin.fraction) * length)
        dist, pred = dijkstra(
            graph.csr, indices=list(self.ends), limit=max(limit_m, 0.0),
            return_predecessors=True,
        )  # fmt: skip
        via = np.asarray(dist, dtype=np.float64) + np.array(self.entry)[:, None]
        self.root = np.argmin(via, axis=0)  # which end of the origin's edge each node is nearer by
        self.dist: F64 = via[self.root, np.arange(net.n_nodes)]
        self.pred = np.asarray(pred)

    def to(self, edge: I32, fraction: F64) -> tuple[F64, I64]:
        """Road metres to road points, and the node each is entered by (-1: same road as us)."""
        net, o = self.net, self.origin
        length = net.length_m[edge]
        tail, head = net.edge_tail[edge].astype(np.int64), net.edge_head[edge].astype(np.int64)
        by_tail, by_head = (
            self.dist[tail] + fraction * length,
            self.dist[head] + (1 - fraction) * length,
        )
        metres = np.minimum(by_tail, by_head)
        via = np.where(by_tail <= by_head, tail, head)
        same = (edge == o.edge) | (edge == net.twin[o.edge])
        along = np.where(edge == o.edge, fraction, 1.0 - fraction)
        direct = np.abs(along - o.fraction) * float(net.length_m[o.edge])
        shorter = same & (direct < metres)
        return np.where(shorter, direct, metres), np.where(shorter, -1, via)

    def pieces(self, target: WalkPoint, metres: float, via: int) -> list[Piece]:
        """The path to `target` (`metres` of road, entered by node `via`) as road pieces."""
        net, g, o = self.net, self.graph, self.origin
        if via < 0:
            return [
                Piece(int(net.edge_name[o.edge]), metres, (o.lon, o.lat), (target.lon, target.lat))
            ]
        r = int(self.root[via])
        nodes = [via]
        while nodes[-1] != self.ends[r]:
            nodes.append(int(self.pred[r, nodes[-1]]))
        nodes.reverse()
        ll = [(float(x), float(y)) for x, y in net.node_lonlat[nodes]]
        out = [Piece(int(net.edge_name[o.edge]), self.entry[r], (o.lon, o.lat), ll[0])]
        for i, (p, q) in enumerate(pairwise(nodes)):
            lo, hi = g.csr.indptr[p], g.csr.indptr[p + 1]
            k = lo + int(np.searchsorted(g.csr.indices[lo:hi], q))
            name = int(net.edge_name[g.edge_of[k]])
            out.append(Piece(name, float(g.csr.data[k]), ll[i], ll[i + 1]))
        end_m = metres - float(self.dist[via])
        out.append(Piece(int(net.edge_name[target.edge]), end_m, ll[-1], (target.lon, target.lat)))
        return out
