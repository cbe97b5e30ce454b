"""Run the compiled search from road positions: workspace, seeds, exits and paths.

Turns points on edges into what `kernels.multi_target_search` wants (seed nodes with the cost
of the partial edge to reach them; target exits with the cost between a node and the point) and
its raw output back into driving paths with partial first and last edges. Two directions:

- FORWARD from one origin to many targets (routes, matrices);
- REVERSE from one destination back to many origins (ranking units to an incident): the search
  runs on the reverse CSR, so its cost at node v is the driving time from v to the destination.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from routing.errors import InvalidArgument, UnknownId
from routing.kernels import astar_search, multi_target_search
from routing.network import F64, I32, RoadNetwork
from routing.snap import Positions


class Direction(Enum):
    FORWARD = "forward"
    REVERSE = "reverse"


# How a target point is left (REVERSE) or entered (FORWARD).
VIA_EDGE = 0  # over the tail/head of the point's own edge
VIA_TWIN = 1  # over the opposite (twin) edge
DIRECT_EDGE = 2  # same road as the source, driving along the source's edge: no node between
DIRECT_TWIN = 3  # same road, driving along the twin of the source's edge


@dataclass(frozen=True)
class Piece:
    """A stretch of one edge, from fraction `start` to `end` (0 <= start <= end <= 1)."""

    edge: int
    start: float
    end: float


@dataclass(frozen=True)
class Found:
    """One target reached: its index, cost (s) and the driving path as pieces and edges.

    The path is `first`, then whole `edges`, then `last`, in driving order; a direct hit on
    the same road is one piece (`first`) with no edges and `last` None.
    """

    target: int
    cost_s: float
    first: Piece
    edges: I32
    last: Piece | None


class SearchSpace:
    """Reusable search arrays for one network; not shared between threads."""

    def __init__(self, net: RoadNetwork) -> None:
        n = net.n_nodes
        self.net = net
        self.dist = np.zeros(n, dtype=np.float64)
        self.hval = np.zeros(n, dtype=np.float64)
        self.stamp = np.zeros(n, dtype=np.int64)
        self.done = np.zeros(n, dtype=np.int64)
        self.pred_edge = np.full(n, -1, dtype=np.int32)
        self.tmark = np.full(n, -1, dtype=np.int32)
        self._size_for(1024)
        self.gen = 0
        self.last_settled = 0

    def _size_for(self, exits: int) -> None:
        """Heap room for every push: seeds (2) + one per edge relaxation + 2 per exit."""
        self.tnext = np.empty(exits, dtype=np.int32)
        cap = self.net.n_edges + 2 * exits + 8
        self.heap_keys = np.empty(cap, dtype=np.float64)
        self.heap_ids = np.empty(cap, dtype=np.int64)

    def run(
        self,
        direction: Direction,
        source: Positions,
        targets: Positions,
        k: int,
        max_cost_s: float = np.inf,
    ) -> list[Found]:
        """Up to k targets in increasing cost order, with their driving paths.

        FORWARD: driving from the single `source` to each target.
        REVERSE: driving from each target to the single `source` (units to an incident).
        """
        if len(source) != 1:
            raise InvalidArgument("a search starts from exactly one position")
        _check(self.net, source)
        _check(self.net, targets)
        if k < 1:
            raise InvalidArgument("k must be at least 1")
        if len(targets) == 0:
            return []
        net = self.net
        rev = direction is Direction.REVERSE
        se, sf = int(source.edge[0]), float(source.fraction[0])
        seed_node, seed_cost, seed_piece = _seeds(net, se, sf, rev)
        exit_node, exit_cost, exit_target, exit_kind = _exits(net, targets, se, sf, rev)
        if exit_node.shape[0] > self.tnext.shape[0]:
            self._size_for(2 * exit_node.shape[0])
        self.gen += 1
        if rev:
            arrays = (net.rev_indptr, net.rev_tail, net.rev_edge, net.rev_time_s)
            came_from = net.edge_head
        else:
            arrays = (net.fwd_indptr, net.edge_head, net.fwd_edge, net.time_s)
            came_from = net.edge_tail
        tgt, cost, ex, seed, ptr, path, settled = multi_target_search(
            *arrays,
            seed_node,
            seed_cost,
            exit_node,
            exit_cost,
            exit_target,
            came_from,
            len(targets),
            min(k, len(targets)),
            float(max_cost_s),
            self.dist,
            self.stamp,
            self.done,
            self.pred_edge,
            self.tmark,
            self.tnext,
            self.heap_keys,
            self.heap_ids,
            self.gen,
        )
        self.last_settled = int(settled)
        out = []
        for i in range(tgt.shape[0]):
            t = int(tgt[i])
            kind = int(exit_kind[int(ex[i])])
            te, tf = int(targets.edge[t]), float(targets.fraction[t])
            edges = path[ptr[i] : ptr[i + 1]]
            if kind >= DIRECT_EDGE:
                first = _direct_piece(net, se, sf, te, tf, kind, rev)
                out.append(Found(t, float(cost[i]), first, edges[:0], None))
                continue
            target_piece = _target_piece(net, te, tf, kind, rev)
            if rev:  # unit -> its exit node -> ... -> a seed -> the incident: driving order
                found = Found(t, float(cost[i]), target_piece, edges, seed_piece[int(seed[i])])
            else:  # walked back from the target's entry node to a seed: reverse to drive
                edges = np.ascontiguousarray(edges[::-1])
                found = Found(t, float(cost[i]), seed_piece[int(seed[i])], edges, target_piece)
            out.append(found)
        return out

    def route_one(self, source: Positions, target: Positions) -> Found | None:
        """The fastest driving path from one point to another (A* with landmark bounds)."""
        if len(source) != 1 or len(target) != 1:
            raise InvalidArgument("a route joins exactly one origin and one destination")
        _check(self.net, source)
        _check(self.net, target)
        net = self.net
        se, sf = int(source.edge[0]), float(source.fraction[0])
        seed_node, seed_cost, seed_piece = _seeds(net, se, sf, rev=False)
        node, cost, _, kind = _exits(net, target, se, sf, rev=False)
        entry = node >= 0
        direct = float(cost[~entry].min()) if (~entry).any() else np.inf
        hscale = min(1.0, float(net.factor.min()))  # a factor below 1 would beat the bound
        self.gen += 1
        best, used, seed, path, settled = astar_search(
            net.fwd_indptr,
            net.edge_head,
            net.fwd_edge,
            net.time_s,
            net.edge_tail,
            seed_node,
            seed_cost,
            node[entry],
            cost[entry],
            direct,
            net.from_landmark_s,
            net.to_landmark_s,
            hscale,
            self.dist,
            self.hval,
            self.stamp,
            self.done,
            self.pred_edge,
            self.heap_keys,
            self.heap_ids,
            self.gen,
        )
        self.last_settled = int(settled)
        if not np.isfinite(best):
            return None
        te, tf = int(target.edge[0]), float(target.fraction[0])
        if used < 0:
            d_kind = int(kind[~entry][np.argmin(cost[~entry])])
            return Found(0, best, _direct_piece(net, se, sf, te, tf, d_kind, False), path, None)
        last = _target_piece(net, te, tf, int(kind[entry][used]), rev=False)
        first = seed_piece[seed]
        return Found(0, best, first, np.ascontiguousarray(path[::-1]), last)


def _check(net: RoadNetwork, positions: Positions) -> None:
    """Positions made outside the snapper must name real edges and fractions in [0, 1]."""
    e, f = positions.edge, positions.fraction
    bad = (e < 0) | (e >= net.n_edges)
    if bad.any():
        raise UnknownId(f"unknown edge id {int(e[np.argmax(bad)])} (network has {net.n_edges})")
    if not np.all((f >= 0.0) & (f <= 1.0)):  # NaN fails this too
        raise InvalidArgument("a position's fraction along its edge must be in [0, 1]")


def _seeds(net: RoadNetwork, e: int, f: float, rev: bool) -> tuple[I32, F64, list[Piece]]:
    """Nodes next to the source point, the partial-edge cost, and that partial edge."""
    tw = int(net.twin[e])
    if rev:  # reach the point: from the tail of e, or from the tail of its twin
        nodes, costs, pieces = [net.edge_tail[e]], [f * net.time_s[e]], [Piece(e, 0.0, f)]
        if tw >= 0:
            nodes.append(net.edge_tail[tw])
            costs.append((1.0 - f) * net.time_s[tw])
            pieces.append(Piece(tw, 0.0, 1.0 - f))
    else:  # leave the point: to the head of e, or to the head of its twin
        nodes, costs, pieces = [net.edge_head[e]], [(1.0 - f) * net.time_s[e]], [Piece(e, f, 1.0)]
        if tw >= 0:
            nodes.append(net.edge_head[tw])
            costs.append(f * net.time_s[tw])
            pieces.append(Piece(tw, 1.0 - f, 1.0))
    return np.array(nodes, dtype=np.int32), np.array(costs, dtype=np.float64), pieces


def _exits(
    net: RoadNetwork, targets: Positions, se: int, sf: float, rev: bool
) -> tuple[I32, F64, I32, I32]:
    """Every target's exits: (node or -1 for direct, cost, target index, kind)."""
    e, f = targets.edge, targets.fraction
    idx = np.arange(e.shape[0], dtype=np.int32)
    tw = net.twin[e]
    has_tw = tw >= 0
    t_e = net.time_s[e]
    t_tw = np.where(has_tw, net.time_s[np.maximum(tw, 0)], 0.0)
    if rev:  # a unit drives on to the head of its edge, or turns onto the twin to its head
        node_a, cost_a = net.edge_head[e], (1.0 - f) * t_e
        node_b, cost_b = net.edge_tail[e], f * t_tw
    else:  # a destination is entered from the tail of its edge, or from the twin's tail
        node_a, cost_a = net.edge_tail[e], f * t_e
        node_b, cost_b = net.edge_head[e], (1.0 - f) * t_tw
    # Same road as the source: drive along it with no node between, if the order allows.
    se_tw = int(net.twin[se])
    on_se = e == se
    on_tw = (e == se_tw) if se_tw >= 0 else np.zeros(e.shape[0], dtype=bool)
    g = np.where(on_se, f, 1.0 - f)  # the target's fraction measured along se
    if rev:  # from the target at g to the source at sf
        along_se = (on_se | on_tw) & (g <= sf)
        along_tw = (on_se | on_tw) & (g >= sf) & (se_tw >= 0) & ~along_se
    else:  # from the source at sf to the target at g
        along_se = (on_se | on_tw) & (g >= sf)
        along_tw = (on_se | on_tw) & (g <= sf) & (se_tw >= 0) & ~along_se
    t_se = float(net.time_s[se])
    t_se_tw = float(net.time_s[se_tw]) if se_tw >= 0 else 0.0
    span = np.abs(sf - g)
    d_se, d_tw = np.nonzero(along_se)[0], np.nonzero(along_tw)[0]
    node = np.concatenate([node_a, node_b[has_tw], np.full(d_se.size + d_tw.size, -1)])
    cost = np.concatenate([cost_a, cost_b[has_tw], span[d_se] * t_se, span[d_tw] * t_se_tw])
    target = np.concatenate([idx, idx[has_tw], idx[d_se], idx[d_tw]])
    kind = np.concatenate(
        [
            np.full(idx.size, VIA_EDGE),
            np.full(int(has_tw.sum()), VIA_TWIN),
            np.full(d_se.size, DIRECT_EDGE),
            np.full(d_tw.size, DIRECT_TWIN),
        ]
    )
    return (
        node.astype(np.int32),
        cost.astype(np.float64),
        target.astype(np.int32),
        kind.astype(np.int32),
    )


def _target_piece(net: RoadNetwork, e: int, f: float, kind: int, rev: bool) -> Piece:
    """The partial edge between a target point and its exit node."""
    if rev:  # a unit leaving its point
        return Piece(int(net.twin[e]), 1.0 - f, 1.0) if kind == VIA_TWIN else Piece(e, f, 1.0)
    return Piece(int(net.twin[e]), 0.0, 1.0 - f) if kind == VIA_TWIN else Piece(e, 0.0, f)


def _direct_piece(
    net: RoadNetwork, se: int, sf: float, te: int, tf: float, kind: int, rev: bool
) -> Piece:
    """The single stretch between source and target on one road, in driving order."""
    g = tf if te == se else 1.0 - tf  # target fraction along se
    a, b = (g, sf) if rev else (sf, g)  # driving from a to b, fractions along se
    if kind == DIRECT_EDGE:
        return Piece(se, a, b)
    return Piece(int(net.twin[se]), 1.0 - a, 1.0 - b)
