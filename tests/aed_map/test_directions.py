"""Directions text: compass words, merged legs, floors in Chinese usage, the final sentence."""

from __future__ import annotations

import numpy as np
import pytest

from aed_map.directions import Piece, compass, describe_walk, level_text, merge
from aed_map.registry import Aed, AedId

NAMES = np.array(["文三路", "学院路"], dtype=np.str_)
START = (120.15, 30.28)  # lon, lat
DLAT_100M = 100 / 111_195  # degrees of latitude in 100 m


def north(m: float, start: tuple[float, float] = START) -> tuple[float, float]:
    return (start[0], start[1] + m / 100 * DLAT_100M)


def east(m: float, start: tuple[float, float] = START) -> tuple[float, float]:
    return (start[0] + m / 100 * DLAT_100M / np.cos(np.radians(start[1])), start[1])


@pytest.mark.parametrize(
    ("end", "word"),
    [(north(100), "北"), (east(100), "东"), ((START[0], START[1] - 1e-3), "南"),
     ((START[0] - 1e-3, START[1]), "西"), (north(100, east(100)), "东北")],
)  # fmt: skip
def test_compass(end: tuple[float, float], word: str) -> None:
    """Bearings map to the nearest of eight Chinese compass words."""
    assert compass(START, end) == word


def test_merge_joins_a_street_and_drops_crossings() -> None:
    """Two pieces of 文三路 become one leg; a 5 m unnamed crossing between them disappears."""
    a, b, c = east(60), east(65), east(125)
    legs = merge([Piece(0, 60, START, a), Piece(-1, 5, a, b), Piece(0, 60, b, c)])
    assert legs == [Piece(0, 120, START, c)]


@pytest.mark.parametrize(
    ("level", "text"),
    [("0", "一层"), ("1", "二层"), ("-1", "地下一层"), ("-2", "地下二层"), ("0;1", "一层"),
     ("0.5", "楼层 0.5"), ("M", "楼层 M"), ("", ""), ("12", "13层")],
)  # fmt: skip
def test_level_text(level: str, text: str) -> None:
    """OSM level 0 is the ground floor, 一层 in Chinese usage; odd values are shown raw."""
    assert level_text(level) == text


def test_describe_walk() -> None:
    """Legs by street, direction and rounded metres, then the AED's place, indoor and floor."""
    a = Aed(AedId("x"), 30.28, 120.15, indoor=True, level="0", location="地铁站 B 口内")
    turn = east(120)
    pieces = [Piece(0, 118, START, turn), Piece(1, 83, turn, north(80, turn))]
    text = describe_walk(NAMES, pieces, a, aed_offroad_m=5)
    assert text == "沿文三路向东约 120 米，再沿学院路向北约 80 米；AED 在地铁站 B 口内，室内，一层"


def test_describe_walk_unnamed_far_and_many_turns() -> None:
    """Unnamed roads read 小路; past four legs the rest is summed; an AED off the road says so."""
    a = Aed(AedId("x"), 30.28, 120.15, description="户外 AED 柜", indoor=False)
    pts = [START]
    for i in range(6):
        pts.append(east(50, pts[-1]) if i % 2 == 0 else north(50, pts[-1]))
    pieces = [Piece(i % 2 - 1, 50, pts[i], pts[i + 1]) for i in range(6)]
    text = describe_walk(NAMES, pieces, a, aed_offroad_m=42)
    assert text.startswith("沿小路向东约 50 米，再沿文三路向北约 50 米")
    assert "再走约 100 米；AED 在户外 AED 柜，室外（离路边约 40 米）" in text


def test_describe_walk_at_the_door() -> None:
    """No road to walk: the AED is right here."""
    a = Aed(AedId("x"), 30.28, 120.15)
    assert describe_walk(NAMES, [Piece(0, 2, START, START)], a, 0) == "AED 就在附近；AED 无位置说明"
