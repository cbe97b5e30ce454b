"""Routes: a found path turned into ETA, length, a lon/lat polyline and named legs.

The search (`routing.search`) returns pieces and edge ids; this module is the only place that
looks at geometry and street names, and only for the few paths someone will read or draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing.network import F64, I32, RoadNetwork
from routing.search import Found, Piece


@dataclass(frozen=True)
class Leg:
    """A stretch of one street: its name (None when unnamed), length and driving time."""

    name: str | None
    length_m: float
    eta_s: float


@dataclass(frozen=True)
class Route:
    """A drivable route: ETA, length, the (p, 2) lon/lat polyline and the legs by street."""

    eta_s: float
    length_m: float
    lonlat: F64
    legs: tuple[Leg, ...]
    edges: I32

    def directions(self) -> list[str]:
        """Legs as short lines a dispatcher can read out ("文三路 850 m")."""
        return [f"{leg.name or 'unnamed road'} {leg.length_m:.0f} m" for leg in self.legs]


def _items(found: Found) -> tuple[I32, F64]:
    """The path as (edge, share of the edge driven) pairs in driving order."""
    pieces = [found.first] + ([found.last] if found.last is not None else [])
    edges = np.concatenate(
        [[found.first.edge], found.edges, [found.last.edge] if found.last else []]
    ).astype(np.int32)
    share = np.concatenate(
        [
            [found.first.end - found.first.start],
            np.ones(found.edges.shape[0]),
            [pieces[-1].end - pieces[-1].start] if found.last else [],
        ]
    )
    return edges, share


def path_length_m(net: RoadNetwork, found: Found) -> float:
    """Metres driven along a found path (no geometry needed)."""
    edges, share = _items(found)
    return float(np.dot(net.length_m[edges], share))


def build_route(net: RoadNetwork, found: Found) -> Route:
    """The full route for a found path: polyline, legs and totals."""
    edges, share = _items(found)
    length = net.length_m[edges] * share
    time = net.time_s[edges] * share
    names = net.edge_name[edges]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(names)) + 1])  # a new street begins
    leg_len = np.add.reduceat(length, starts)
    leg_time = np.add.reduceat(time, starts)
    legs = [
        Leg(str(net.names[nid]) if nid >= 0 else None, float(m), float(t))
        for nid, m, t in zip(names[starts].tolist(), leg_len, leg_time, strict=True)
    ]
    legs = [leg for leg in legs if leg.length_m > 0.05] or legs[:1]
    return Route(
        eta_s=found.cost_s,
        length_m=float(length.sum()),
        lonlat=_polyline(net, found),
        legs=tuple(legs),
        edges=found.edges,
    )


def _polyline(net: RoadNetwork, found: Found) -> F64:
    parts = [_piece_lonlat(net, found.first)]
    if found.edges.shape[0]:
        parts.append(_edges_lonlat(net, found.edges))
    if found.last is not None:
        parts.append(_piece_lonlat(net, found.last))
    pts = np.vstack(parts)
    keep = np.ones(pts.shape[0], dtype=bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)  # drop repeated joints
    return pts[keep]


def _edges_lonlat(net: RoadNetwork, edges: I32) -> F64:
    """Polyline through whole edges: tail of the first, then each edge's shape and head."""
    sizes = net.geom_indptr[edges + 1] - net.geom_indptr[edges]
    heads = net.node_lonlat[net.edge_head[edges]]
    start = net.node_lonlat[net.edge_tail[edges[:1]]]
    if not sizes.any():
        return np.vstack([start, heads])
    parts = [start]
    for e, head in zip(edges.tolist(), heads, strict=True):
        parts.append(net.geom_lonlat[net.geom_indptr[e] : net.geom_indptr[e + 1]])
        parts.append(head[None, :])
    return np.vstack(parts)


def _piece_lonlat(net: RoadNetwork, piece: Piece) -> F64:
    """The part of an edge's polyline between two fractions of its length."""
    ll = net.edge_lonlat(piece.edge)
    kx = math.cos(math.radians(float(ll[0, 1])))
    seg = np.hypot(np.diff(ll[:, 0]) * kx, np.diff(ll[:, 1]))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    if total <= 0:
        return ll[:1]
    a, b = piece.start * total, piece.end * total
    inner = ll[1:-1][(cum[1:-1] > a) & (cum[1:-1] < b)]
    ends = np.column_stack([np.interp([a, b], cum, ll[:, 0]), np.interp([a, b], cum, ll[:, 1])])
    return np.vstack([ends[:1], inner, ends[1:]])
