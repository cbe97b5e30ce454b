"""Relative phrases: "X对面", "X旁边", "X往东走一百米", "X和Y之间" and their English twins.

A caller often names a place they are *beside*, not at. `parse_relation` reads the phrase's
grammar only (no names: the anchor texts go back to the gazetteer) and returns what relation
was said, to which anchor or anchors, in which direction and how far when it says so:

    opposite   X对面, X马路对面, opposite X, across (the street) from X
    near       X旁边, X附近, X边上, X隔壁, 靠近X, near X, next to X, close to X, beside X
    entrance   X门口, X大门, X正门, X入口, in front of X, outside X, at the entrance of X
    offset     X往东走一点, X向北一百米, X东边200米, 从X往南走, a bit east of X, 100 m north of X
    between    X和Y之间, X与Y中间, between X and Y

A phrase with none of these is not relative (None): "文三路和学院路口" stays a junction.
Pure: no I/O, no names, no numbers beyond those in the phrase.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from location_fusion.errors import InvalidInput

RELATIONS = frozenset({"opposite", "near", "entrance", "offset", "between"})
DEFAULT_OFFSET_M = 100.0  # "走一点", "a bit": a short walk, said without a number
VAGUE_TENS_M = 50.0  # "几十米", "a few dozen metres"
VAGUE_HUNDREDS_M = 300.0  # "几百米", "a few hundred metres"
BLOCK_M = 100.0  # "a block"

BEARINGS_ZH = {
    "东北": 45.0, "东南": 135.0, "西南": 225.0, "西北": 315.0,
    "东": 90.0, "南": 180.0, "西": 270.0, "北": 0.0,
}  # fmt: skip
BEARINGS_EN = {
    "northeast": 45.0, "southeast": 135.0, "southwest": 225.0, "northwest": 315.0,
    "east": 90.0, "south": 180.0, "west": 270.0, "north": 0.0,
}  # fmt: skip
UNITS_M = {
    "米": 1.0, "公尺": 1.0, "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "公里": 1000.0, "千米": 1000.0, "km": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0,
    "kilometre": 1000.0, "kilometres": 1000.0, "yard": 0.9144, "yards": 0.9144, "yd": 0.9144,
    "yds": 0.9144, "feet": 0.3048, "foot": 0.3048, "ft": 0.3048, "block": BLOCK_M,
    "blocks": BLOCK_M,
}  # fmt: skip
_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}  # fmt: skip
_POWERS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


@dataclass(frozen=True)
class Relation:
    """What a relative phrase says: the relation, its anchor texts, direction and distance."""

    kind: str  # one of RELATIONS
    anchors: tuple[str, ...]  # the text naming X (and Y for "between"), as said
    bearing_deg: float | None = None  # offset: compass bearing, 0 north, 90 east
    distance_m: float | None = None  # offset: as said; None when only "a bit" was said

    def __post_init__(self) -> None:
        if self.kind not in RELATIONS:
            raise InvalidInput(f"unknown relation {self.kind!r}")
        if len(self.anchors) != (2 if self.kind == "between" else 1) or not all(self.anchors):
            raise InvalidInput(f"{self.kind}: wrong anchors {self.anchors!r}")
        if (self.kind == "offset") != (self.bearing_deg is not None):
            raise InvalidInput("an offset, and only an offset, has a bearing")
        if self.distance_m is not None and not 0 < self.distance_m <= 5000:
            raise InvalidInput(f"offset distance {self.distance_m!r} m is not 0-5000 m")


def chinese_number(text: str) -> float | None:
    """The value of a Chinese numeral ("一百", "两百五十", "三十", "半", digit by digit "五八八");
    None if it is not one."""
    if text == "半":
        return 0.5
    if text.endswith("半") and len(text) > 1:  # "一公里半" is said, "一半" is not a distance
        whole = chinese_number(text[:-1])
        return None if whole is None else whole + 0.5
    if text and all(ch in _DIGITS for ch in text):  # "五八八": said digit by digit
        return float("".join(str(_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _POWERS:
            total += (1 if digit is None else digit) * _POWERS[ch]
            digit = None
        else:
            return None
    total += digit or 0
    return float(total) if text else None


_NUM = r"\d+(?:\.\d+)?|[零一二两三四五六七八九十百千万半]+|几十|几百"
_DIR_ZH = "东北|东南|西北|西南|东|西|南|北"
_TAIL_ZH = re.compile(r"(?:这里|这边|这儿|那里|那边|那儿|的地方|的位置|左右|吧|呢|啊|了)+$")
_LEAD_ZH = re.compile(r"^(?:我现在在|我们在|我在|现在在|在|从|离)")
_OFFSET_ZH = re.compile(
    rf"^(?P<anchor>.+?)(?:再|然后)?(?:(?:往|向|朝|以)(?P<dir>{_DIR_ZH})(?:边|面|侧|方向)?"
    rf"|(?P<dir2>{_DIR_ZH})(?:边|面|侧|头))"
    r"(?:走|开|行|过去|过来|去)?了?(?:大概|大约|约|差不多)?"
    rf"(?:(?P<num>{_NUM})\s*(?P<unit>米|公尺|公里|千米|m|km)(?P<half>半)?|(?P<vague>一点点|一点|一些|一段|点|些|不远))?$"
)
_BETWEEN_ZH = re.compile(r"^(?P<a>.+?)(?:和|与|跟|及|到)(?P<b>.+?)的?(?:之间|中间|当中)$")
_OPPOSITE_ZH = re.compile(r"^(?P<anchor>.+?)的?(?:马路)?(?:对面|对过)$")
_NEAR_ZH = re.compile(r"^(?P<anchor>.+?)的?(?:旁边|附近|边上|隔壁|周边|周围|一带|旁)$")
_NEAR_PREFIX_ZH = re.compile(r"^(?:靠近|挨着|紧挨着|临近)(?P<anchor>.+)$")
_ENTRANCE_ZH = re.compile(r"^(?P<anchor>.+?)的?(?:大门口|门口|大门|正门|门前|入口)$")

_LEAD_EN = re.compile(
    r"^(?:(?:i'm|im|i am|we're|we are)\s+)?(?:standing\s+)?(?:(?:at|on|in)\s+(?!front\b))?"
)
_DIR_EN = r"north[- ]?east|south[- ]?east|north[- ]?west|south[- ]?west|north|south|east|west"
_OFFSET_EN = re.compile(
    r"^(?:(?:about|around|roughly|some)\s+)?"
    r"(?:(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)"
    r"|(?P<vague>a (?:little |tiny |short )?(?:bit|way)|a little|slightly|just|a block"
    r"|a few (?:dozen|hundred) (?:meters|metres|yards|feet)))?\s*"
    rf"(?P<dir>{_DIR_EN})\s+of\s+(?P<anchor>.+)$"
)
_BETWEEN_EN = re.compile(r"^between\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$")
_OPPOSITE_EN = re.compile(
    r"^(?:opposite(?:\s+of)?|across\s+(?:the\s+(?:street|road)\s+)?from|facing)\s+(?P<anchor>.+)$"
)
_NEAR_EN = re.compile(
    r"^(?:near(?:\s+to)?|next\s+to|close\s+to|beside|by|around)\s+(?P<anchor>.+)$"
)
_ENTRANCE_EN = re.compile(
    r"^(?:in\s+front\s+of|outside(?:\s+of)?|at\s+the\s+(?:front\s+)?(?:entrance|gate|door)"
    r"\s+(?:of|to)|(?:the\s+)?(?:entrance|gate|door)\s+(?:of|to))\s+(?P<anchor>.+)$"
)


def _clean(text: str) -> str:
    out = unicodedata.normalize("NFKC", text).lower().strip()
    out = re.sub(r"[\s，,。.!！?？;；、]+$", "", out)
    return re.sub(r"\s+", " ", out)


def _distance(num: str | None, unit: str | None, vague: str | None) -> float | None:
    """Metres said ("一百米", "200 m", "几十米"); None when only "a bit" (or nothing) was said."""
    if num is None or unit is None:
        if vague is not None and "dozen" in vague:
            return VAGUE_TENS_M
        if vague is not None and "hundred" in vague:
            return VAGUE_HUNDREDS_M
        return BLOCK_M if vague == "a block" else None
    scale = UNITS_M.get(unit)
    if scale is None:
        return None
    value = {"几十": VAGUE_TENS_M, "几百": VAGUE_HUNDREDS_M}.get(num)
    if value is not None:
        return value * scale
    value = float(num) if num[0].isdigit() else chinese_number(num)
    if value is None or value <= 0:
        return None
    return min(value * scale, 5000.0)


def parse_relation(text: str) -> Relation | None:
    """The relation a location phrase states, or None when it states none (module docstring)."""
    clean = _clean(text)
    if not clean:
        return None
    if re.search(r"[\u3400-\u9fff]", clean):
        return _parse_zh(_LEAD_ZH.sub("", _TAIL_ZH.sub("", clean)).strip())
    return _parse_en(_LEAD_EN.sub("", clean).strip())


def _parse_zh(text: str) -> Relation | None:
    if m := _BETWEEN_ZH.match(text):
        return Relation("between", (m["a"].strip(), m["b"].strip()))
    if m := _OFFSET_ZH.match(text):
        direction = m["dir"] or m["dir2"]
        dist = _distance(m["num"], m["unit"], m["vague"])
        if dist is not None and m["half"]:  # "一公里半": one and a half kilometres
            dist = min(dist + 0.5 * UNITS_M[m["unit"]], 5000.0)
        return Relation("offset", (_LEAD_ZH.sub("", m["anchor"]),), BEARINGS_ZH[direction], dist)
    for kind, pattern in (
        ("opposite", _OPPOSITE_ZH),
        ("entrance", _ENTRANCE_ZH),
        ("near", _NEAR_ZH),
        ("near", _NEAR_PREFIX_ZH),
    ):
        if m := pattern.match(text):
            anchor = _TAIL_ZH.sub("", m["anchor"]).strip()
            return Relation(kind, (anchor,)) if anchor else None
    return None


def _parse_en(text: str) -> Relation | None:
    if m := _BETWEEN_EN.match(text):
        return Relation("between", (m["a"].strip(), m["b"].strip()))
    if m := _OFFSET_EN.match(text):
        unit = m["unit"]
        if unit is not None and unit not in UNITS_M:
            return None
        bearing = BEARINGS_EN[re.sub(r"[- ]", "", m["dir"])]
        return Relation("offset", (m["anchor"],), bearing, _distance(m["num"], unit, m["vague"]))
    for kind, pattern in (
        ("opposite", _OPPOSITE_EN),
        ("entrance", _ENTRANCE_EN),
        ("near", _NEAR_EN),
    ):
        if m := pattern.match(text):
            return Relation(kind, (m["anchor"].strip(),))
    return None
