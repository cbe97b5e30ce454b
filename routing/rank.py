"""Rank units by road ETA to an incident, in one reverse search that stops at the k-th unit.

The search runs backwards from the incident over the reverse graph, so one search prices every
unit at once, and it stops the moment k units are final: the bound grows exactly as far as the
k-th unit's ETA and no further, so a far-away incident still gets its k answers. Each result
keeps the path the search found, so the unit's route needs no second search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from routing.network import RoadNetwork
from routing.route import Route, build_route, path_length_m
from routing.search import Direction, Found, SearchSpace
from routing.snap import Positions, RoadPosition


@dataclass(frozen=True)
class RankedUnit:
    """One unit's place in the ranking: index into the given positions, ETA and distance."""

    unit: int
    eta_s: float
    found: Found
    net: RoadNetwork = field(repr=False, compare=False)

    @cached_property
    def distance_m(self) -> float:
        """The route's length, walked from the search's path on first use: a ranking asks
        for 20 candidates and shows 5, so most are never measured."""
        return path_length_m(self.net, self.found)

    def route(self, net: RoadNetwork) -> Route:
        """The unit-to-incident route from the ranking search itself."""
        return build_route(net, self.found)


def rank_units(
    space: SearchSpace,
    units: Positions,
    incident: RoadPosition,
    k: int = 5,
    max_eta_s: float = np.inf,
) -> list[RankedUnit]:
    """The k units with the lowest driving time to the incident, best first.

    Fewer come back only when fewer units exist or can arrive within `max_eta_s`.
    """
    source = Positions.of([incident])
    found = space.run(Direction.REVERSE, source, units, k, max_eta_s)
    return [RankedUnit(f.target, f.cost_s, f, space.net) for f in found]
