"""What the scenario generator planted in a SYNTHETIC call: each source's true error, its label.

The evaluation's truth about conflicts comes only from here, never from the fusion code: a
source is *planted to disagree* when the generator deliberately made it wrong (a multipath-
biased, stale, over- or under-claiming or unconverted GCJ-02 fix, a far or neighbour cell, a
wrong or misheard street, a wrong junction) and its true error exceeds `DISAGREE_M`. A call *truly
conflicts* when it carries such a source beside at least one other (a conflict needs two
parties: a lone wrong fix contradicts nothing the system can see). A call is *clean* when
nothing in it was planted wrong at all. Errors are measured from the true spot: to a fix's
reported point (after the boundary's CRS conversion), to the serving sector's wedge, to the
named street's line or the named junction or place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from location_fusion.geo import DEG_M, F64, LocalFrame
from location_fusion.spoken_text import canonical_street
from routing.network import RoadNetwork

DISAGREE_M = 250.0  # a planted source this far from the truth makes a call truly conflicting

#: The ways the generator makes a source wrong ("" is an honest source).
PLANTS = frozenset(
    {
        "",
        "canyon",  # GNSS biased by multipath while claiming a small accuracy
        "stale",  # an old fix from where the caller was minutes ago
        "claim_low",  # claimed accuracy 3x too small (error follows the true accuracy)
        "claim_high",  # claimed accuracy 3x too large
        "gcj02_unlabelled",  # a GCJ-02 position sent as WGS-84: never converted
        "far_cell",  # the carrier reports a cell whose site is kilometres away
        "neighbor_cell",  # the handset is still on the runner-up site's cell (no handover yet)
        "wrong_street",  # the caller names a street they are not on
        "misheard_street",  # the recogniser turns the name into another real street's
        "wrong_junction",  # the caller names a junction elsewhere
        "partial_name",  # the street said without suffix or direction ("石祥" for 石祥西路)
    }
)


@dataclass(frozen=True)
class PlantedSource:
    """One piece of a call's evidence as generated: kind, true error (m) and how it was made."""

    kind: str  # "gnss" | "wifi" | "fused" | "cell" | "speech"
    error_m: float  # metres from the true spot (see the module docstring)
    plant: str = ""  # one of PLANTS; "" for an honest source

    def __post_init__(self) -> None:
        if self.plant not in PLANTS:
            raise ValueError(f"unknown plant {self.plant!r}")
        if not self.error_m >= 0:
            raise ValueError(f"error_m must be >= 0, got {self.error_m!r}")

    @property
    def disagrees(self) -> bool:
        """Planted wrong, and farther than DISAGREE_M from the truth."""
        return self.plant != "" and self.error_m > DISAGREE_M


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Metres between two nearby points (equirectangular: exact enough within a city)."""
    kx = DEG_M * math.cos(math.radians(lat1))
    return math.hypot((lat2 - lat1) * DEG_M, (lon2 - lon1) * kx)


def truly_conflicting(planted: tuple[PlantedSource, ...]) -> bool:
    """A planted source disagrees by more than DISAGREE_M, and some other source is present."""
    return len(planted) >= 2 and any(p.disagrees for p in planted)


def is_clean(planted: tuple[PlantedSource, ...]) -> bool:
    """Nothing in the call was planted wrong."""
    return all(p.plant == "" for p in planted)


def has_biased_gnss(planted: tuple[PlantedSource, ...]) -> bool:
    """The call carries a GNSS fix biased by multipath (the "+5 points over GPS-only" subset)."""
    return any(p.kind == "gnss" and p.plant == "canyon" for p in planted)


class StreetLines:
    """Each named street of a network as points every ~10 m, for true distances to a street.

    Built from the road network itself (edge ends, canonical names), not from the gazetteer:
    the truth must not lean on the geocoder it grades.
    """

    STEP_M = 10.0

    def __init__(self, net: RoadNetwork) -> None:
        ll = net.node_lonlat
        centre = ll.mean(axis=0) if len(ll) else np.zeros(2)
        self.frame = LocalFrame(float(centre[0]), float(centre[1]))
        canon = [canonical_street(str(n)) for n in net.names]
        named = np.nonzero(net.edge_name >= 0)[0]
        xs, ys = self.frame.to_xy(ll[:, 0], ll[:, 1])
        parts: dict[str, list[F64]] = {}
        for e in named:
            name = canon[int(net.edge_name[e])]
            if not name:
                continue
            a, b = int(net.edge_tail[e]), int(net.edge_head[e])
            n = max(2, int(math.hypot(xs[b] - xs[a], ys[b] - ys[a]) / self.STEP_M) + 1)
            t = np.linspace(0.0, 1.0, n)
            pts = np.c_[xs[a] + t * (xs[b] - xs[a]), ys[a] + t * (ys[b] - ys[a])]
            parts.setdefault(name, []).append(pts)
        self._trees = {name: cKDTree(np.vstack(p)) for name, p in parts.items()}

    def distance_m(self, name: str, lat: float, lon: float) -> float:
        """Metres from (lat, lon) to the street's line; inf for a name the network lacks."""
        tree = self._trees.get(name)
        if tree is None:
            return math.inf
        x, y = self.frame.to_xy(lon, lat)
        d, _ = tree.query([float(x), float(y)])
        return float(d)
