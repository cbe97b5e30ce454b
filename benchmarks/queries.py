"""Seeded benchmark questions: units, incidents and route ends on the road, and their peer nodes.

A sampled point is a random node moved by ~50 m (normal, 35 m per axis) and snapped back with
the router, so it lies along an edge like a real GPS fix would. Node-exact positions (for
checking our ETAs against a node-based peer) sit exactly on a node: a point that *arrives* at
node u is the end (fraction 1) of an edge into u, and a point that *leaves* from u is the start
(fraction 0) of an edge out of u, so neither pays for a partial edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchmarks.peers import I64, nearest_end
from routing.network import F64, RoadNetwork
from routing.router import Router
from routing.snap import DEG_M, Positions, RoadPosition

JITTER_M = 35.0  # per axis: ~50 m from the node on average


@dataclass(frozen=True)
class RankQuery:
    """Idle units and one incident, on the road, with the nodes a peer would use."""

    units: Positions
    incident: RoadPosition
    unit_nodes: I64
    incident_node: int


@dataclass(frozen=True)
class RouteQuery:
    """Two points on the road and their peer nodes."""

    origin: RoadPosition
    destination: RoadPosition
    origin_node: int
    destination_node: int


def jittered(net: RoadNetwork, rng: np.random.Generator, count: int) -> tuple[F64, F64]:
    """(lat, lon) of `count` random nodes, each moved ~50 m in a random direction."""
    lonlat = net.node_lonlat[rng.integers(0, net.n_nodes, count)]
    lat = lonlat[:, 1] + rng.normal(0.0, JITTER_M, count) / DEG_M
    kx = DEG_M * np.cos(np.radians(lat))
    lon = lonlat[:, 0] + rng.normal(0.0, JITTER_M, count) / kx
    return lat, lon


def snapped(r: Router, rng: np.random.Generator) -> tuple[RoadPosition, int]:
    """One jittered, snapped point and the nearer end of its edge."""
    lat, lon = jittered(r.net, rng, 1)
    p = r.snap(float(lat[0]), float(lon[0]))
    node = r.net.edge_tail[p.edge] if p.fraction < 0.5 else r.net.edge_head[p.edge]
    return p, int(node)


def rank_queries(r: Router, rng: np.random.Generator, count: int, units: int) -> list[RankQuery]:
    out: list[RankQuery] = []
    for _ in range(count):
        lat, lon = jittered(r.net, rng, units)
        pos = r.snap_many(lat, lon)
        incident, node = snapped(r, rng)
        out.append(RankQuery(pos, incident, nearest_end(r.net, pos), node))
    return out


def route_queries(r: Router, rng: np.random.Generator, count: int) -> list[RouteQuery]:
    out: list[RouteQuery] = []
    while len(out) < count:
        (a, u), (b, v) = snapped(r, rng), snapped(r, rng)
        if u != v:
            out.append(RouteQuery(a, b, u, v))
    return out


def arriving_at(net: RoadNetwork, nodes: I64) -> Positions:
    """Points exactly at each node, as the end of an edge into it (units for ranking)."""
    edges = net.rev_edge[net.rev_indptr[nodes]]
    return Positions(edges.astype(np.int32), np.ones(nodes.shape[0]), np.zeros(nodes.shape[0]))


def arriving_point(net: RoadNetwork, node: int) -> RoadPosition:
    """One point exactly at `node`, as the end of an edge into it (a route origin)."""
    e = int(net.rev_edge[net.rev_indptr[node]])
    lon, lat = net.node_lonlat[node]
    return RoadPosition(e, 1.0, 0.0, float(lon), float(lat))


def leaving_point(net: RoadNetwork, node: int) -> RoadPosition:
    """One point exactly at `node`, as the start of an edge out of it (an incident, a
    route destination)."""
    e = int(net.fwd_indptr[node])
    lon, lat = net.node_lonlat[node]
    return RoadPosition(e, 0.0, 0.0, float(lon), float(lat))


def random_edge_sets(
    net: RoadNetwork, rng: np.random.Generator, count: int, share: float = 0.01
) -> list[np.ndarray]:
    """`count` random sets of `share` of the edge ids (int32, as the network stores them)."""
    size = max(1, math.floor(net.n_edges * share))
    return [rng.choice(net.n_edges, size, replace=False).astype(np.int32) for _ in range(count)]
