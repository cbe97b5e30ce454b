"""A relative phrase applied: the anchor's candidates moved or widened, never a junction.

"石祥西路往东走一点" is 石祥西路, a little east: a region about the named anchor, not the
junction of 石祥西路 with a street the caller never said. `apply_relation` takes the relation
(`phrases.Relation`) and the gazetteer's candidates for each anchor and returns candidates that
carry the relation and the anchor names (the read-back says them):

    opposite  X's point; a place's radius grows by OPPOSITE_MARGIN_M (the other side of the
              road); a street's corridor already holds both sides
    near      X's point; a place's radius grows by NEAR_MARGIN_M; a junction, a street or
              "street near place" is already "near" (their radii hold it) and stays as it is
    entrance  X itself: the entrance is on X's edge, inside X's radius
    offset    a point anchor moved by the distance said (DEFAULT_OFFSET_M for "a bit") in
              that direction, its radius growing by OFFSET_SPREAD (VAGUE_SPREAD) of it; on a
              street, the street point that far along in that direction from its centre, the
              radius still covering the street (where the caller started from is unknown)
    between   the midpoint of X and Y (a street's point nearest the other anchor), radius half
              their distance plus BETWEEN_MARGIN_M

Pure: geometry in a local metric frame, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import product

import numpy as np

from location_fusion.candidate import Place
from location_fusion.geo import LocalFrame, haversine_m
from location_fusion.phrases import DEFAULT_OFFSET_M, Relation
from location_fusion.readback import ReadBack

NEAR_MARGIN_M = 120.0  # "X旁边/附近": next door, across a car park
OPPOSITE_MARGIN_M = 60.0  # "X对面": across a road of two to four lanes and its pavements
BETWEEN_MARGIN_M = 50.0  # "X和Y之间": not exactly halfway, and X and Y have a size
OFFSET_SPREAD = 0.5  # a said distance: about +-50 % and +-30 degrees of direction
VAGUE_SPREAD = 0.8  # "a bit": the distance itself is a guess
MAX_PAIRS = 4  # "between": candidate pairs tried (the two best of each anchor)


def apply_relation(
    relation: Relation, anchors: list[list[Place]], readback: ReadBack
) -> list[Place]:
    """Candidates for the relative phrase, from each anchor's candidates (best first);
    [] when an anchor has none."""
    if len(anchors) != len(relation.anchors) or not all(anchors):
        return []
    if relation.kind == "between":
        pairs = list(product(anchors[0][:2], anchors[1][:2]))[:MAX_PAIRS]
        return [_between(a, b, readback) for a, b in pairs if a.name != b.name]
    out = []
    for anchor in anchors[0]:
        if relation.kind == "offset":
            out.append(_offset(anchor, relation, readback))
        else:
            out.append(_widened(anchor, relation.kind, readback))
    return out


def _is_point_place(anchor: Place) -> bool:
    return anchor.kind in ("place", "relative")


def _widened(anchor: Place, kind: str, readback: ReadBack) -> Place:
    grow = 0.0
    if kind == "near" and _is_point_place(anchor):
        grow = NEAR_MARGIN_M
    elif kind == "opposite" and anchor.kind != "street":
        grow = OPPOSITE_MARGIN_M
    return replace(
        anchor,
        name=readback.describe_relation(kind, (anchor.name,)),
        radius_m=anchor.radius_m + grow,
        relation=kind,
        anchors=(anchor.name,),
    )


def _offset(anchor: Place, relation: Relation, readback: ReadBack) -> Place:
    said = relation.distance_m
    d = DEFAULT_OFFSET_M if said is None else said
    bearing = relation.bearing_deg if relation.bearing_deg is not None else 0.0
    ux, uy = math.sin(math.radians(bearing)), math.cos(math.radians(bearing))
    frame = LocalFrame(anchor.lon, anchor.lat)
    name = readback.describe_relation("offset", (anchor.name,), bearing, said)
    corridor = anchor.corridor
    if corridor is not None and anchor.line_lonlat is not None:
        line = anchor.line_lonlat
        lx, ly = frame.to_xy(line[:, 0], line[:, 1])
        k = int(np.argmin(np.hypot(lx - d * ux, ly - d * uy)))  # the street point nearest
        lon, lat = (float(v) for v in line[k])  # "d metres that way" from its centre
        radius = corridor.covering_radius_m(lon, lat)
        kind = "street"
    else:
        lon_a, lat_a = frame.to_lonlat(d * ux, d * uy)
        lon, lat = float(lon_a), float(lat_a)
        radius = anchor.radius_m + (OFFSET_SPREAD if said is not None else VAGUE_SPREAD) * d
        kind = "relative"
    return replace(
        anchor,
        kind=kind,
        name=name,
        lon=lon,
        lat=lat,
        radius_m=radius,
        relation="offset",
        anchors=(anchor.name,),
    )


def _towards(place: Place, lon: float, lat: float) -> tuple[float, float]:
    """A street's point nearest (lon, lat); any other candidate's own point."""
    corridor = place.corridor
    return corridor.nearest(lon, lat) if corridor is not None else (place.lon, place.lat)


def _between(a: Place, b: Place, readback: ReadBack) -> Place:
    a_lon, a_lat = _towards(a, b.lon, b.lat)
    b_lon, b_lat = _towards(b, a_lon, a_lat)
    a_lon, a_lat = _towards(a, b_lon, b_lat)  # two streets: settle on their closest points
    gap = float(haversine_m(a_lon, a_lat, b_lon, b_lat))
    streets = tuple(dict.fromkeys(a.streets + b.streets))
    return Place(
        "relative",
        readback.describe_relation("between", (a.name, b.name)),
        (a_lon + b_lon) / 2,
        (a_lat + b_lat) / 2,
        gap / 2 + BETWEEN_MARGIN_M,
        (a.confidence + b.confidence) / 2,
        streets,
        relation="between",
        anchors=(a.name, b.name),
    )
