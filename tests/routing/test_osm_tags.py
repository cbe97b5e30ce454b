"""The tag rules of the OSM loader: which ways are roads, which way they run, how fast."""

from __future__ import annotations

import pytest

from routing.osm_tags import directions, parse_maxspeed_kph, refusal, way_rule


@pytest.mark.parametrize(
    ("value", "kph"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("30 mph", 30 * 1.609344),
        ("30mph", 30 * 1.609344),
        ("10 knots", 18.52),
        ("CN:urban", 50.0),
        ("DE:rural", 80.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("RU:living_street", 10.0),
        ("40;60", 40.0),
        ("signals;50", 50.0),
    ],
)
def test_readable_maxspeeds(value: str, kph: float) -> None:
    """Numbers, units, country zones and lists are read in km/h (30 mph = 48.28 km/h)."""
    assert parse_maxspeed_kph(value) == pytest.approx(kph)


@pytest.mark.parametrize(
    "value", [None, "", "none", "signals", "variable", "fast", "0", "999", "XX:moon"]
)
def test_unreadable_maxspeeds_give_none(value: str | None) -> None:
    """A tag that names no usable limit gives None, so the road class's default applies."""
    assert parse_maxspeed_kph(value) is None


def test_unreadable_maxspeed_falls_back_to_the_class_default() -> None:
    """A residential street tagged maxspeed=walkish runs at the residential default, 25 km/h."""
    assert way_rule({"highway": "residential", "maxspeed": "walkish"}).speed_kph == 25.0
    assert way_rule({"highway": "residential", "maxspeed": "20 mph"}).speed_kph == pytest.approx(
        32.18688
    )


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"oneway": "yes"}, (True, False)),
        ({"oneway": "true"}, (True, False)),
        ({"oneway": "1"}, (True, False)),
        ({"oneway": "-1"}, (False, True)),
        ({"oneway": "no"}, (True, True)),
        ({"oneway": "reversible"}, (True, True)),
        ({"junction": "roundabout"}, (True, False)),
        ({"junction": "roundabout", "oneway": "no"}, (True, True)),
        ({}, (True, True)),
    ],
)
def test_directions(tags: dict[str, str], expected: tuple[bool, bool]) -> None:
    """oneway and junction=roundabout say which ways along the node list are driven."""
    assert directions({"highway": "residential", **tags}) == expected


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"highway": "residential"}, None),
        ({"highway": "motorway_link"}, None),
        ({"highway": "service"}, None),
        ({"highway": "track"}, "highway=track"),
        ({"highway": "trail"}, "highway=trail"),
        ({"highway": "crossing"}, "highway=crossing"),
        ({"highway": "footway"}, "highway=footway"),
        ({"highway": "proposed"}, "highway=proposed"),
        (
            {"highway": "service", "service": "parking_aisle"},
            "highway=service service=parking_aisle",
        ),
        ({"highway": "service", "access": "private"}, "access=private"),
        ({"highway": "residential", "access": "no"}, "access=no"),
        ({"highway": "residential", "motor_vehicle": "no"}, "motor_vehicle=no"),
        ({"highway": "residential", "vehicle": "private"}, "vehicle=private"),
        ({"highway": "residential", "access": "no", "emergency": "yes"}, None),
        ({"highway": "residential", "access": "private", "ambulance": "designated"}, None),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, None),
        ({"highway": "residential", "access": "destination"}, None),
    ],
)
def test_allow_list_and_access(tags: dict[str, str], reason: str | None) -> None:
    """Only allow-listed highway values are roads; closed access refuses unless emergency opens."""
    assert refusal(tags) == reason
