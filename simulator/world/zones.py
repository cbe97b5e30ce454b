"""Demand zones: the city cut into square cells, each with a share of the calls and a point.

Where calls come from, by place. A cell's weight is the number of road nodes in it (street
density stands in for population, which the bundled data does not have) times a downtown boost
that falls off as a Gaussian of the distance from Wulin Square, stronger by day (offices, shops,
visitors) than by night (people at home). Each zone has a representative node, the one nearest
its nodes' centroid, for travel times to and from the zone; a call in the zone happens at one of
its nodes, drawn uniformly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing.network import F64, I64, RoadNetwork

M_PER_DEG_LAT = 111_320.0
DAY_HOURS = range(8, 20)  # when the daytime downtown boost applies


@dataclass(frozen=True)
class ZoneParams:
    """How the city is cut and weighted (distances in metres)."""

    size_m: float = 1000.0
    min_nodes: int = 5  # a cell with fewer road nodes is not a zone (calls there are too rare)
    downtown_lat: float = 30.2716  # Wulin Square
    downtown_lon: float = 120.1637
    downtown_sigma_m: float = 3000.0
    boost_day: float = 3.0  # weight x (1 + boost) at the centre
    boost_night: float = 1.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.size_m) and 50.0 <= self.size_m <= 20_000.0):
            raise ValueError("size_m must be in 50..20000 m")
        if not (isinstance(self.min_nodes, int) and self.min_nodes >= 1):
            raise ValueError("min_nodes must be an integer >= 1")
        if not (math.isfinite(self.downtown_sigma_m) and self.downtown_sigma_m > 0):
            raise ValueError("downtown_sigma_m must be positive")
        if not (0 <= self.boost_day <= 100 and 0 <= self.boost_night <= 100):
            raise ValueError("boosts must be in 0..100")


@dataclass(frozen=True)
class Zones:
    """The demand zones of one network (arrays indexed by zone unless said otherwise)."""

    rep_node: I64  # (z,) representative node
    lonlat: F64  # (z, 2) the representative node's lon/lat
    members_indptr: I64  # (z+1,) nodes of zone i: members[indptr[i]:indptr[i+1]]
    members: I64
    weight_day: F64  # (z,) share of the calls by day (sums to 1)
    weight_night: F64  # (z,) and by night
    size_m: float

    def __len__(self) -> int:
        return int(self.rep_node.shape[0])

    def weights(self, hour: int) -> F64:
        """The zones' shares of the calls at this hour of day."""
        return self.weight_day if hour in DAY_HOURS else self.weight_night

    def mean_weights(self) -> F64:
        """The shares over a whole day (day and night hours in proportion)."""
        day = len(DAY_HOURS) / 24
        out: F64 = day * self.weight_day + (1 - day) * self.weight_night
        return out

    def area_km2(self) -> float:
        return len(self) * (self.size_m / 1000.0) ** 2


def build_zones(net: RoadNetwork, params: ZoneParams | None = None) -> Zones:
    """Cut the network's nodes into square cells and weight them (see the module docstring)."""
    params = params or ZoneParams()
    lon, lat = net.node_lonlat[:, 0], net.node_lonlat[:, 1]
    kx = M_PER_DEG_LAT * math.cos(math.radians(float(lat.mean())))
    x_m = (lon - lon.min()) * kx
    y_m = (lat - lat.min()) * M_PER_DEG_LAT
    col = (x_m // params.size_m).astype(np.int64)
    row = (y_m // params.size_m).astype(np.int64)
    cell = row * (int(col.max()) + 1) + col
    order = np.argsort(cell, kind="stable")
    _, starts, counts = np.unique(cell[order], return_index=True, return_counts=True)
    keep = counts >= params.min_nodes
    reps, groups = [], []
    for s, c in zip(starts[keep].tolist(), counts[keep].tolist(), strict=True):
        nodes = order[s : s + c]
        cx, cy = x_m[nodes].mean(), y_m[nodes].mean()
        reps.append(int(nodes[np.argmin((x_m[nodes] - cx) ** 2 + (y_m[nodes] - cy) ** 2)]))
        groups.append(np.sort(nodes))
    if not reps:
        raise ValueError("no cell holds enough road nodes to be a zone")
    rep = np.array(reps, dtype=np.int64)
    sizes = np.array([g.shape[0] for g in groups], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ll = net.node_lonlat[rep]
    dx = (ll[:, 0] - params.downtown_lon) * kx
    dy = (ll[:, 1] - params.downtown_lat) * M_PER_DEG_LAT
    bump = np.exp(-(dx**2 + dy**2) / (2 * params.downtown_sigma_m**2))
    day = sizes * (1 + params.boost_day * bump)
    night = sizes * (1 + params.boost_night * bump)
    return Zones(
        rep_node=rep,
        lonlat=ll.copy(),
        members_indptr=indptr,
        members=np.concatenate(groups).astype(np.int64),
        weight_day=day / day.sum(),
        weight_night=night / night.sum(),
        size_m=params.size_m,
    )


def node_zone(zones: Zones, n_nodes: int) -> I64:
    """The zone of every node (-1 for nodes in no zone)."""
    out = np.full(n_nodes, -1, dtype=np.int64)
    sizes = np.diff(zones.members_indptr)
    out[zones.members] = np.repeat(np.arange(len(zones), dtype=np.int64), sizes)
    return out
