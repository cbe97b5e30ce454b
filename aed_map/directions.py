"""Walking directions to an AED, short enough for a dispatcher to read to a bystander.

Built only from what the data says: the street names along the path (OSM `name`, absent on
about two thirds of the bundled roads, which then read "小路"), the compass direction of
each stretch from its start to its end, its length rounded to 10 m, and the AED's own
`defibrillator:location` / `description` and `level` tags. No landmark is invented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from aed_map.registry import Aed

COMPASS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
MIN_LEG_M = 10.0  # shorter stretches (crossing a junction) are folded into the walk
MAX_LEGS = 4  # past this, the rest is "再走约 N 米": nobody remembers a fifth turn


@dataclass(frozen=True)
class Piece:
    """A stretch of one road on the path: name index (-1 unnamed), metres, start and end."""

    name: int
    length_m: float
    start: tuple[float, float]  # lon, lat
    end: tuple[float, float]


def compass(start: tuple[float, float], end: tuple[float, float]) -> str:
    """The 8-point compass direction (Chinese) from one lon/lat to another."""
    east = (end[0] - start[0]) * math.cos(math.radians((start[1] + end[1]) / 2))
    north = end[1] - start[1]
    bearing = math.degrees(math.atan2(east, north)) % 360.0
    return COMPASS[round(bearing / 45.0) % 8]


def merge(pieces: Sequence[Piece]) -> list[Piece]:
    """Consecutive pieces on the same road as one leg; too-short legs folded into the next."""
    legs: list[Piece] = []
    for p in pieces:
        if legs and legs[-1].name == p.name:
            last = legs[-1]
            legs[-1] = Piece(p.name, last.length_m + p.length_m, last.start, p.end)
        else:
            legs.append(p)
    kept = [leg for leg in legs if leg.length_m >= MIN_LEG_M]
    if len(kept) == len(legs):
        return legs
    return merge(kept) if kept else legs[:0]


def level_text(level: str) -> str:
    """OSM `level` in Chinese usage: level 0 is 一层 (the ground floor), -1 is 地下一层."""
    try:
        n = float(level.split(";")[0])
    except ValueError:
        return f"楼层 {level}" if level else ""
    if not n.is_integer():
        return f"楼层 {level}"
    k = int(n)
    if k < 0:
        return f"地下{_count(-k)}层"
    return f"{_count(k + 1)}层"


def _count(n: int) -> str:
    digits = "零一二三四五六七八九十"
    return digits[n] if n <= 10 else str(n)


def _metres(m: float) -> str:
    return f"约 {max(10, round(m / 10.0) * 10)} 米"


def describe_walk(
    names: NDArray[np.str_], pieces: Sequence[Piece], aed: Aed, aed_offroad_m: float
) -> str:
    """One sentence: the legs by street and direction, then where the AED is."""
    legs = merge(pieces)
    parts = []
    for leg in legs[:MAX_LEGS]:
        road = str(names[leg.name]) if leg.name >= 0 else "小路"
        parts.append(f"沿{road}向{compass(leg.start, leg.end)}{_metres(leg.length_m)}")
    rest = sum(leg.length_m for leg in legs[MAX_LEGS:])
    if rest >= MIN_LEG_M:
        parts.append(f"走{_metres(rest)}")
    route = "，再".join(parts) if parts else "AED 就在附近"
    place = " ".join(t for t in (aed.description, aed.location) if t)  # "派出所 值班室"
    where = [f"AED 在{place}" if place else "AED 无位置说明"]
    if aed.indoor is not None:
        where.append("室内" if aed.indoor else "室外")
    if aed.level:
        where.append(level_text(aed.level))
    off = f"（离路边{_metres(aed_offroad_m)}）" if aed_offroad_m >= 30.0 else ""
    return f"{route}；{'，'.join(where)}{off}"
