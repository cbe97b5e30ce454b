"""Live congestion: a travel-time factor on edges, set and cleared in place.

A factor multiplies an edge's free-flow ambulance time (2.0 = twice as slow; a closed road is a
large factor, not a deleted edge, so a unit already on it can still get out). Setting writes the
live weights of the forward and the reverse CSR directly, so the next search sees it at once and
nothing is rebuilt. The last write to an edge wins.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import ArrayLike

from routing.errors import InvalidArgument, UnknownId
from routing.network import I32, RoadNetwork

MAX_FACTOR = 1000.0  # an effectively closed road; keeps every time finite


def set_factor(net: RoadNetwork, edges: ArrayLike, factor: float) -> int:
    """Set the travel-time factor of the given edge ids; return how many edges changed."""
    if not (isinstance(factor, int | float) and math.isfinite(factor)):
        raise InvalidArgument(f"factor must be a finite number, not {factor!r}")
    if not 0 < factor <= MAX_FACTOR:
        raise InvalidArgument(f"factor must be in (0, {MAX_FACTOR:g}], not {factor}")
    ids = _edge_ids(net, edges)
    net.factor[ids] = factor
    net.time_s[ids] = net.base_time_s[ids] * factor
    net.rev_time_s[net.edge_rev_pos[ids]] = net.time_s[ids]
    return int(ids.shape[0])


def clear(net: RoadNetwork, edges: ArrayLike | None = None) -> int:
    """Back to free flow on the given edges (all edges when None); return how many changed."""
    if edges is None:
        changed = int(np.count_nonzero(net.factor != 1.0))
        net.factor[:] = 1.0
        net.time_s[:] = net.base_time_s
        net.rev_time_s[:] = net.base_time_s[net.rev_edge]
        return changed
    return set_factor(net, edges, 1.0)


def edges_in_polygon(net: RoadNetwork, polygon: shapely.Polygon | shapely.MultiPolygon) -> I32:
    """Edge ids whose midpoint lies in a lon/lat polygon (the area a jam report covers)."""
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon) or polygon.is_empty:
        raise InvalidArgument("the congestion area must be a non-empty polygon")
    if not polygon.is_valid:
        raise InvalidArgument(f"the congestion area is not a valid polygon: {polygon.wkt[:80]}")
    mid = 0.5 * (net.node_lonlat[net.edge_tail] + net.node_lonlat[net.edge_head])
    inside = shapely.contains_xy(polygon, mid[:, 0], mid[:, 1])
    return np.nonzero(inside)[0].astype(np.int32)


def edges_named(net: RoadNetwork, name: str) -> I32:
    """Edge ids of the street with exactly this name; UnknownId when there is none."""
    hits = np.nonzero(net.names == name)[0]
    if hits.size == 0:
        raise UnknownId(f"no street named {name!r}")
    return np.nonzero(np.isin(net.edge_name, hits))[0].astype(np.int32)


def _edge_ids(net: RoadNetwork, edges: ArrayLike) -> I32:
    raw = np.atleast_1d(np.asarray(edges))
    if raw.size == 0:
        return np.zeros(0, dtype=np.int32)
    if raw.dtype.kind not in "iu":
        raise InvalidArgument("edge ids must be integers")
    bad = (raw < 0) | (raw >= net.n_edges)
    if bad.any():
        raise UnknownId(f"unknown edge id {int(raw[np.argmax(bad)])} (network has {net.n_edges})")
    return raw.astype(np.int32)
