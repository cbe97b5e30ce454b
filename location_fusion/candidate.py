"""A candidate answer to "where is the caller?" from their words: the gazetteer's `Place`.

The gazetteer (`gazetteer.py`) finds them, relative phrases (`relative.py`) move or widen them,
fusion (`sources.SpeechSource`) weighs them: a street with its line as a corridor, anything else
as a point with a radius. A candidate carries what was understood, so the read-back can say it:
the relation ("near", "offset", ...) and the names it was said relative to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from location_fusion.corridor import Corridor
from location_fusion.errors import InvalidInput
from location_fusion.geo import check_lat_lon
from location_fusion.phrases import RELATIONS

F64 = NDArray[np.float64]
#: street: on a street (its line is the corridor); intersection: at a junction; place: at a
#: named place; street_near_place: on a street near a place; relative: a point moved from
#: the named anchor(s) ("100 m north of X", "between X and Y").
KINDS = frozenset({"street", "intersection", "place", "street_near_place", "relative"})


@dataclass(frozen=True)
class Place:
    """One candidate answer to "where is the caller?" from their words alone.

    The point (lon, lat) is, by kind: intersection, the junction (the centroid of the pair's
    junction nodes within the gazetteer's JUNCTION_CLUSTER_M); place, its position; street, the
    street's centre (the street point from which its farthest part is nearest: `radius_m`
    covers the whole corridor); street_near_place, the street point nearest the place;
    relative, the anchor moved as the phrase says.
    """

    kind: str  # one of KINDS
    name: str  # display name: 文三路, 文三路与学院路, 浙江省人民医院, 石祥西路往东一点
    lon: float
    lat: float  # the representative point (see above)
    radius_m: float  # how far the true spot may be from (lon, lat) given only this phrase
    confidence: float  # 0..1 from the match score; candidates come sorted by it, descending
    streets: tuple[str, ...]  # canonical street names involved: (a,), (a, b) or ()
    line_lonlat: F64 | None = field(default=None, compare=False, repr=False)  # street: (p, 2)
    relation: str = ""  # "" or one of phrases.RELATIONS: how the words placed it
    anchors: tuple[str, ...] = ()  # relative: the names it was said relative to (X, or X and Y)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(f"unknown place kind {self.kind!r}")
        check_lat_lon(self.lat, self.lon, self.name)
        if not (math.isfinite(self.radius_m) and self.radius_m >= 0):
            raise InvalidInput(f"radius_m must be >= 0, got {self.radius_m!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise InvalidInput(f"confidence must be in [0, 1], got {self.confidence!r}")
        if self.relation and (self.relation not in RELATIONS or not self.anchors):
            raise InvalidInput(f"relation {self.relation!r} needs a known name and its anchors")

    @cached_property
    def corridor(self) -> Corridor | None:
        """A street's extent (its line buffered), None for a point candidate."""
        if self.kind != "street" or self.line_lonlat is None or not len(self.line_lonlat):
            return None
        return Corridor(self.line_lonlat)
