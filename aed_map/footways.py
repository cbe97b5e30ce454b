"""The pedestrian graph: roads both ways in metres, and one bounded search from a point on it.

A pedestrian ignores one-way rules, so the walking graph is the road network made undirected:
each road once per direction, weighted by its length in metres (the shortest of parallel
edges), kept as a scipy CSR matrix. A point lies on a road edge at a fraction of its length;
`Reach` runs one bounded Dijkstra (scipy.sparse.csgraph, `limit` in metres) from both ends of
the point's edge, so any road point within the limit is then a lookup (`reached` lists the
nodes it got to), and any path can be rebuilt as named road pieces for directions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    key: I64  # u * n_nodes + v for each stored entry u -> v: ascending, so searchsorted finds one


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
    key = u.astype(np.int64) * net.n_nodes + v  # rows ascending, columns ascending within a row
    return WalkGraph(csr, e, key)


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
            graph.csr,
            indices=list(self.ends),
            limit=max(limit_m, 0.0),
            return_predecessors=True,
        )
        self.from_end: F64 = np.asarray(dist, dtype=np.float64)  # (2, n): metres from each end
        self.pred = np.asarray(pred)
        # By the nearer end; the minimum of two numbers is one of them, so this is exactly the
        # distance by the end `root` names.
        self.dist: F64 = np.minimum(
            self.from_end[0] + self.entry[0], self.from_end[1] + self.entry[1]
        )

    def root(self, node: int) -> int:
        """Which end of our edge the path to `node` leaves by: 0 tail (on a tie too), 1 head."""
        by_tail = self.from_end[0, node] + self.entry[0]
        return 1 if self.from_end[1, node] + self.entry[1] < by_tail else 0

    def reached(self) -> I64:
        """The nodes the search got to (finite distance), ascending."""
        return np.flatnonzero(self.dist < np.inf)

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
        r = self.root(via)
        pred = self.pred[r]
        nodes = [via]
        while nodes[-1] != self.ends[r]:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        path = np.array(nodes, dtype=np.int64)
        slots = np.searchsorted(g.key, path[:-1] * net.n_nodes + path[1:])  # each step's entry
        names = net.edge_name[g.edge_of[slots]].tolist()
        steps_m = g.csr.data[slots].tolist()
        ll = [(x, y) for x, y in net.node_lonlat[path].tolist()]
        out = [Piece(int(net.edge_name[o.edge]), self.entry[r], (o.lon, o.lat), ll[0])]
        for i, (name, step_m) in enumerate(zip(names, steps_m, strict=True)):
            out.append(Piece(name, step_m, ll[i], ll[i + 1]))
        end_m = metres - float(self.dist[via])
        out.append(Piece(int(net.edge_name[target.edge]), end_m, ll[-1], (target.lon, target.lat)))
        return out
