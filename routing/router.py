"""The routing facade: one object that snaps, ranks, routes and takes congestion.

Everything else in jijiu (dispatch, hospital choice, AED walking, the simulator) asks a
`Router`. It owns one network, its snapping index and a search workspace per thread: searches
may run on several threads at once (the server ranks on a worker thread), while congestion
changes and everything else belong to one thread (the server's event loop).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike

from routing import congestion
from routing.errors import InvalidArgument
from routing.network import F64, RoadNetwork
from routing.params import SnapParams
from routing.rank import RankedUnit, rank_units
from routing.route import Route, build_route, path_length_m
from routing.search import Direction, SearchSpace
from routing.snap import Positions, RoadPosition, Snapper


@dataclass(frozen=True)
class Matrix:
    """Driving ETA (s) and distance (m) from each origin (rows) to each destination (columns).

    Unreachable pairs (only possible with a bound) are inf.
    """

    eta_s: F64
    length_m: F64


class Router:
    """Snap, rank, route and congestion over one road network."""

    def __init__(self, net: RoadNetwork, snap: SnapParams | None = None) -> None:
        self.net = net
        self.snapper = Snapper(net, snap)
        self._spaces = threading.local()  # a search's scratch arrays: one set per thread

    @property
    def space(self) -> SearchSpace:
        """This thread's search space (a server ranks on a worker thread too): the arrays a
        search writes are per thread, the network it reads is shared."""
        space: SearchSpace | None = getattr(self._spaces, "space", None)
        if space is None:
            space = self._spaces.space = SearchSpace(self.net)
        return space

    # --- placing points -------------------------------------------------------------------
    def snap(self, lat: float, lon: float) -> RoadPosition:
        return self.snapper.snap(lat, lon)

    def snap_many(self, lat: ArrayLike, lon: ArrayLike) -> Positions:
        return self.snapper.snap_many(lat, lon)

    # --- questions --------------------------------------------------------------------------
    def rank(
        self, units: Positions, incident: RoadPosition, k: int = 5, max_eta_s: float = np.inf
    ) -> list[RankedUnit]:
        """The k units that reach the incident first, by live road ETA."""
        return rank_units(self.space, units, incident, k, max_eta_s)

    def route(self, origin: RoadPosition, destination: RoadPosition) -> Route | None:
        """The fastest route; None when the destination cannot be reached."""
        found = self.space.route_one(Positions.of([origin]), Positions.of([destination]))
        return build_route(self.net, found) if found else None

    def matrix(
        self, origins: Positions, destinations: Positions, max_eta_s: float = np.inf
    ) -> Matrix:
        """ETA and distance for every origin-destination pair (small matrices: one search/row)."""
        if len(origins) * len(destinations) > 1_000_000:
            raise InvalidArgument("matrix too large (over 1,000,000 pairs)")
        eta = np.full((len(origins), len(destinations)), np.inf)
        length = np.full_like(eta, np.inf)
        for i in range(len(origins)):
            one = Positions(
                origins.edge[i : i + 1],
                origins.fraction[i : i + 1],
                origins.snap_distance_m[i : i + 1],
            )
            for f in self.space.run(
                Direction.FORWARD, one, destinations, len(destinations), max_eta_s
            ):
                eta[i, f.target] = f.cost_s
                length[i, f.target] = path_length_m(self.net, f)
        return Matrix(eta, length)

    def warm_up(self) -> None:
        """Run each search kernel once, so the first real call does not pay for loading them.

        numba loads a cached kernel on its first call (about 0.5 s measured on Hangzhou): a
        server calls this at start-up, before it says it is ready, not on a cardiac arrest.
        """
        net = self.net
        tail, head = int(net.edge_tail[0]), int(net.edge_head[0])
        a = self.snap(float(net.node_lonlat[tail, 1]), float(net.node_lonlat[tail, 0]))
        b = self.snap(float(net.node_lonlat[head, 1]), float(net.node_lonlat[head, 0]))
        self.rank(Positions.of([a, b]), b, 1)
        self.route(a, b)
        self.matrix(Positions.of([a]), Positions.of([b]))

    # --- live congestion --------------------------------------------------------------------
    def set_congestion(self, edges: ArrayLike, factor: float) -> int:
        return congestion.set_factor(self.net, edges, factor)

    def set_congestion_area(self, polygon: shapely.Polygon, factor: float) -> int:
        return congestion.set_factor(
            self.net, congestion.edges_in_polygon(self.net, polygon), factor
        )

    def set_congestion_street(self, name: str, factor: float) -> int:
        return congestion.set_factor(self.net, congestion.edges_named(self.net, name), factor)

    def clear_congestion(self, edges: ArrayLike | None = None) -> int:
        return congestion.clear(self.net, edges)
