"""The grammar of relative phrases (location_fusion.phrases): relation, anchors, direction,
distance, in Chinese and English; no names, no network, so every case is checked by hand."""

from __future__ import annotations

import pytest

from location_fusion.errors import InvalidInput
from location_fusion.phrases import Relation, chinese_number, parse_relation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("石祥西路往东走一点", Relation("offset", ("石祥西路",), 90.0, None)),
        ("我在武林广场往北走两百米", Relation("offset", ("武林广场",), 0.0, 200.0)),
        ("从文三路向西200米", Relation("offset", ("文三路",), 270.0, 200.0)),
        ("黄龙体育中心东南边一公里半", Relation("offset", ("黄龙体育中心",), 135.0, 1500.0)),
        ("杭州东站西边几十米这里", Relation("offset", ("杭州东站",), 270.0, 50.0)),
        ("浙江展览馆以南", Relation("offset", ("浙江展览馆",), 180.0, None)),
        ("武林广场对面", Relation("opposite", ("武林广场",))),
        ("省人民医院的马路对面", Relation("opposite", ("省人民医院",))),
        ("西湖文化广场旁边", Relation("near", ("西湖文化广场",))),
        ("在大关苑附近", Relation("near", ("大关苑",))),
        ("浙江展览馆边上", Relation("near", ("浙江展览馆",))),
        ("靠近杭州东站", Relation("near", ("杭州东站",))),
        ("大关苑门口", Relation("entrance", ("大关苑",))),
        ("省人民医院大门这里", Relation("entrance", ("省人民医院",))),
        ("武林广场和西湖文化广场之间", Relation("between", ("武林广场", "西湖文化广场"))),
        ("在文三路与文二路中间", Relation("between", ("文三路", "文二路"))),
    ],
)
def test_chinese_relations(text: str, expected: Relation) -> None:
    """Each Chinese form gives its relation, the anchor as said, the bearing (0 north, 90
    east) and the distance said (None for "一点", "以南" without a number)."""
    assert parse_relation(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("opposite Shorey House", Relation("opposite", ("shorey house",))),
        ("I'm across the street from Bertha Port Park",
         Relation("opposite", ("bertha port park",))),
        ("near Revolution Cafe", Relation("near", ("revolution cafe",))),
        ("we are next to the Prescott School.", Relation("near", ("the prescott school",))),
        ("in front of the post office", Relation("entrance", ("the post office",))),
        ("at the entrance of Campbell Village", Relation("entrance", ("campbell village",))),
        ("between Revolution Cafe and Shorey House",
         Relation("between", ("revolution cafe", "shorey house"))),
        ("a bit east of Prescott School", Relation("offset", ("prescott school",), 90.0, None)),
        ("100 m north of Bertha Port Park",
         Relation("offset", ("bertha port park",), 0.0, 100.0)),
        ("about 200 yards south-west of Shorey House",
         Relation("offset", ("shorey house",), 225.0, 182.88)),
        ("a block west of 7th Street", Relation("offset", ("7th street",), 270.0, 100.0)),
    ],
)  # fmt: skip
def test_english_relations(text: str, expected: Relation) -> None:
    """Each English form gives its relation and anchor (lower case, as normalised); yards are
    converted to metres, "a block" is 100 m."""
    found = parse_relation(text)
    assert found is not None
    assert (found.kind, found.anchors, found.bearing_deg) == (
        expected.kind,
        expected.anchors,
        expected.bearing_deg,
    )
    assert found.distance_m == pytest.approx(expected.distance_m)


@pytest.mark.parametrize(
    "text",
    [
        "文三路和学院路口",  # a junction, not "between"
        "文三路与莫干山路交叉口",
        "莫干山这边",  # 这边 is a filler, not a relation
        "杭州东站",  # 东 inside a name is not a direction
        "上塘路上，靠近省人民医院",  # "靠近" after a street: the gazetteer's street near place
        "7th street and wood street",
        "West Grand Avenue",  # "west" in a name, no "of"
        "",
        "   ",
    ],
)
def test_not_relative(text: str) -> None:
    """Phrases that name a place directly state no relation."""
    assert parse_relation(text) is None


def test_chinese_numbers() -> None:
    """Chinese numerals as callers say them: 两百 is 200, 一百五十 150, 三十 30, 半 0.5, and
    五八八 (digit by digit) 588."""
    assert chinese_number("两百") == 200
    assert chinese_number("一百五十") == 150
    assert chinese_number("三十") == 30
    assert chinese_number("十") == 10
    assert chinese_number("半") == 0.5
    assert chinese_number("五八八") == 588  # a house number, digit by digit
    assert chinese_number("米") is None


def test_bad_relation_refused() -> None:
    """A relation with an unknown kind, a missing anchor or an offset without a bearing is
    InvalidInput."""
    with pytest.raises(InvalidInput):
        Relation("behind", ("X",))
    with pytest.raises(InvalidInput):
        Relation("between", ("X",))
    with pytest.raises(InvalidInput):
        Relation("offset", ("X",))
    with pytest.raises(InvalidInput):
        Relation("offset", ("X",), 90.0, 0.0)


def test_readback_says_each_relation() -> None:
    """Each relation read back in both locales; a bearing of 100 degrees reads as east."""
    from location_fusion.readback import EN, ZH_CN

    assert ZH_CN.describe_relation("offset", ("石祥西路",), 100.0, None) == "石祥西路往东一点"
    assert ZH_CN.describe_relation("offset", ("武林广场",), 0.0, 200.0) == "武林广场往北约 200 米"
    assert ZH_CN.describe_relation("between", ("甲", "乙")) == "甲和乙之间"
    assert [ZH_CN.describe_relation(k, ("甲",)) for k in ("opposite", "near", "entrance")] == [
        "甲对面",
        "甲附近",
        "甲门口",
    ]
    assert EN.describe_relation("offset", ("X",), 225.0, 50.0) == "about 50 m south-west of X"
    assert EN.describe_relation("between", ("X", "Y")) == "between X and Y"
    assert EN.describe_heard("near X") == "; caller said: near X"
    with pytest.raises(InvalidInput):
        EN.describe_relation("behind", ("X",))
