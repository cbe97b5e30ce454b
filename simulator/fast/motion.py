"""Units on the move between jobs: the path an idle unit drives and where it is on the way.

The fast engine moves units at event times only, but an idle unit driving back to a station
can be sent to a new call halfway. Its trip keeps the nodes of its path with the time each is
passed, so the unit's position at any moment is the last node it passed (or where it set off).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing.network import F64, I64, RoadNetwork
from routing.router import Router
from routing.snap import Positions, RoadPosition


@dataclass(frozen=True)
class Trip:
    """One drive of an idle unit to a station."""

    start_s: float
    end_s: float
    station: int  # index of the station it drives to
    nodes: I64  # nodes passed, in order
    passed_at_s: F64  # when each is passed (absolute seconds)

    def node_at(self, t_s: float) -> int | None:
        """The last node passed by t_s; None while still on the first road."""
        k = int(np.searchsorted(self.passed_at_s, t_s, side="right"))
        return int(self.nodes[k - 1]) if k > 0 else None


def plan_trip(
    router: Router,
    origin: RoadPosition,
    destination: RoadPosition,
    station: int,
    start_s: float,
    noise: float,
) -> Trip:
    """The fastest path under the live weights, its times stretched by `noise` (actual/ETA)."""
    net: RoadNetwork = router.net
    found = router.space.route_one(Positions.of([origin]), Positions.of([destination]))
    if found is None:  # cannot happen on a strongly connected network; stay put, arrive now
        return Trip(start_s, start_s, station, np.zeros(0, np.int64), np.zeros(0))
    first = found.first
    lead = (first.end - first.start) * float(net.time_s[first.edge])
    edges = found.edges
    if found.last is None:  # along one road: no node passed
        nodes, times = np.zeros(0, np.int64), np.zeros(0)
    else:
        nodes = np.concatenate([[net.edge_head[first.edge]], net.edge_head[edges]]).astype(np.int64)
        times = lead + np.concatenate([[0.0], np.cumsum(net.time_s[edges])])
    return Trip(start_s, start_s + found.cost_s * noise, station, nodes, start_s + times * noise)
