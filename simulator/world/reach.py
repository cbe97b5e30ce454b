"""Driving times from every road node to a few anchors (zones, hospitals, stations), per period.

Coverage questions ("which zones can an idle unit reach within 8 minutes?") are asked for every
idle unit at every decision and every minute of a run; a search each time would dominate the
run. Instead one table per congestion period holds the driving time from every node to each
anchor, computed once with scipy's Dijkstra on the reversed graph under that period's live
weights (zone searches bounded by `zone_limit_s`: beyond it only "too far" matters).

A unit on the road at (edge e, fraction f) is priced as driving on to the head of e, then from
that node: `(1 - f) * time_s[e] + table[:, head(e)]`. It ignores turning back over the twin, so
it can overstate by at most one edge; good enough for coverage, never used for an ETA the
dispatcher sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.network import F64, I64, RoadNetwork

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class ReachTable:
    """Driving seconds from each node (columns) to each anchor (rows) in one period."""

    to_zone_s: F32  # (zones, nodes); inf beyond the zone limit
    to_hospital_s: F32  # (hospitals, nodes)
    to_station_s: F32  # (stations, nodes)


def reverse_graph(net: RoadNetwork) -> csr_matrix:
    """The live travel-time graph with every edge turned round (v -> u), parallel edges merged
    to the fastest (scipy would add them up)."""
    n = net.n_nodes
    key = net.edge_head.astype(np.int64) * n + net.edge_tail.astype(np.int64)
    order = np.lexsort((net.time_s, key))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    sel = order[first]
    return csr_matrix((net.time_s[sel], (net.edge_head[sel], net.edge_tail[sel])), shape=(n, n))


def times_to(net: RoadNetwork, anchors: I64, limit_s: float = np.inf) -> F32:
    """(len(anchors), nodes): driving seconds from every node to each anchor node."""
    if anchors.shape[0] == 0:
        return np.zeros((0, net.n_nodes), dtype=np.float32)
    d = dijkstra(reverse_graph(net), directed=True, indices=anchors, limit=limit_s)
    out: F32 = np.asarray(d, dtype=np.float32)
    return out


def build_table(
    net: RoadNetwork, zone_nodes: I64, hospital_nodes: I64, station_nodes: I64, zone_limit_s: float
) -> ReachTable:
    """One period's table under the network's current live weights."""
    return ReachTable(
        to_zone_s=times_to(net, zone_nodes, zone_limit_s),
        to_hospital_s=times_to(net, hospital_nodes),
        to_station_s=times_to(net, station_nodes),
    )


def from_positions(
    net: RoadNetwork, table_rows: F32, edge: NDArray[np.int32] | I64, fraction: F64
) -> F32:
    """(anchors, k): driving seconds from k road positions to each anchor of `table_rows`."""
    head = net.edge_head[edge]
    lead = ((1.0 - fraction) * net.time_s[edge]).astype(np.float32)
    out: F32 = table_rows[:, head] + lead[None, :]
    return out
