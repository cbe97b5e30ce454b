"""Which OSM ways an ambulance may drive, in which direction, and how fast: tags to decisions.

Pure: a way's tags (a str -> str mapping) in, a decision out. Roads are chosen by an
allow-list of `highway` values, so a value nobody foresaw (`trail`, `crossing`, a typo) is
never routed as a road; access tags may then close a road to motor vehicles unless it is open
to emergency vehicles. `maxspeed` is parsed where it is readable and otherwise left to the
road class's default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: The highway values an ambulance drives on (OSM's road classes and their link roads).
#: `road` is OSM's "a road of unknown class", mapped before it is surveyed: still a road.
DRIVABLE_HIGHWAYS = frozenset(
    {
        "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
        "residential", "living_street", "service", "road",
        "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
    }
)  # fmt: skip

#: `service=*` kinds of a highway=service way that are not through roads for an ambulance:
#: the aisles of a car park and private drive-throughs (driveways lead to a door: kept).
SERVICE_REFUSED = frozenset({"parking_aisle", "parking", "drive-through"})

#: Access tags from the most specific to the most general; the first one present decides.
ACCESS_KEYS = ("motorcar", "motor_vehicle", "vehicle", "access")
ACCESS_CLOSED = frozenset({"no", "private", "agricultural", "forestry", "agricultural;forestry"})
#: An emergency vehicle may use a closed road that says so.
EMERGENCY_KEYS = ("emergency", "ambulance")
EMERGENCY_OPEN = frozenset({"yes", "designated"})

ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
#: Reversible and alternating roads run each way for part of the day: both are kept, as
#: osmnx does, since which way is open now is not in the file.
ROUNDABOUTS = frozenset({"roundabout", "circular"})

#: Free-flow km/h by OSM highway class where a way has no readable maxspeed (urban defaults).
HWY_SPEEDS_KPH = {
    "motorway": 90.0, "motorway_link": 50.0, "trunk": 70.0, "trunk_link": 40.0,
    "primary": 50.0, "primary_link": 35.0, "secondary": 45.0, "secondary_link": 30.0,
    "tertiary": 40.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0, "road": 30.0,
}  # fmt: skip
FALLBACK_KPH = 25.0

#: Implicit limits (`maxspeed=CN:urban`, `DE:rural`, ...) by the part after the colon, km/h.
#: Country rules differ; these are common values, used only when the tag gives no number.
ZONE_KPH = {"urban": 50.0, "rural": 80.0, "motorway": 100.0, "trunk": 80.0,
            "living_street": 10.0, "walk": 6.0, "school": 30.0, "bicycle_road": 30.0}  # fmt: skip
MPH_TO_KPH = 1.609344
KNOTS_TO_KPH = 1.852
MAX_PLAUSIBLE_KPH = 200.0
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)
_ZONE = re.compile(r"zone:?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class WayRule:
    """What the tags say of one way: refused (with the reason) or driven, and which way."""

    refused_by: str | None  # "highway=footway", "access=private", ... or None when drivable
    forward: bool = True  # drivable from the way's first node to its last
    backward: bool = True  # drivable from its last node to its first
    speed_kph: float = FALLBACK_KPH  # the tagged limit, else the class default


def refusal(tags: Mapping[str, str]) -> str | None:
    """Why an ambulance may not drive this way ("highway=track", "access=no"), or None."""
    highway = tags.get("highway")
    if highway is None:
        return "highway=(none)"
    if highway not in DRIVABLE_HIGHWAYS:
        return f"highway={highway}"
    if tags.get("area") == "yes":
        return f"highway={highway} area=yes"  # a square drawn as an area, not a street
    if highway == "service" and tags.get("service") in SERVICE_REFUSED:
        return f"highway=service service={tags['service']}"
    for key in ACCESS_KEYS:
        value = tags.get(key)
        if value is None:
            continue
        if value in ACCESS_CLOSED and not emergency_open(tags):
            return f"{key}={value}"
        break  # the most specific tag present decides
    return None


def is_access_refusal(reason: str) -> bool:
    """Whether a refusal came from an access tag rather than the kind of way."""
    return reason.split("=", 1)[0] in ACCESS_KEYS


def emergency_open(tags: Mapping[str, str]) -> bool:
    """Whether an emergency vehicle is let onto the way whatever the general access."""
    return any(tags.get(k) in EMERGENCY_OPEN for k in EMERGENCY_KEYS)


def directions(tags: Mapping[str, str]) -> tuple[bool, bool]:
    """(forward, backward): which ways along the node list a vehicle may drive."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in ONEWAY_FORWARD:
        return True, False
    if oneway in ONEWAY_BACKWARD:
        return False, True
    if oneway in {"no", "false", "0", "reversible", "alternating"}:
        return True, True
    if tags.get("junction") in ROUNDABOUTS:  # a roundabout is one-way unless tagged otherwise
        return True, False
    return True, True


def parse_maxspeed_kph(value: str | None) -> float | None:
    """A maxspeed tag in km/h: "50", "50 mph", "30 knots", "CN:urban"; None if unreadable.

    Several values ("50;60") give the first readable one; "none", "signals" and "variable"
    say nothing usable, and neither does a number above 200 km/h or not above zero.
    """
    if not value:
        return None
    for part in value.split(";"):
        kph = _one_maxspeed_kph(part.strip())
        if kph is not None:
            return kph
    return None


def _one_maxspeed_kph(text: str) -> float | None:
    match = _NUMBER.match(text)
    if match:
        number = float(match.group(1))
        unit = (match.group(2) or "").lower()
        kph = number * (MPH_TO_KPH if unit == "mph" else KNOTS_TO_KPH if unit == "knots" else 1)
    elif ":" in text:
        zone = text.split(":", 1)[1].strip().lower()
        numbered = _ZONE.search(zone)
        kph = float(numbered.group(1)) if numbered else ZONE_KPH.get(zone, 0.0)
    else:
        return None
    return kph if 0 < kph <= MAX_PLAUSIBLE_KPH else None


def way_rule(tags: Mapping[str, str]) -> WayRule:
    """The whole decision for one way's tags."""
    reason = refusal(tags)
    if reason is not None:
        return WayRule(refused_by=reason)
    forward, backward = directions(tags)
    speed = parse_maxspeed_kph(tags.get("maxspeed"))
    if speed is None:
        speed = HWY_SPEEDS_KPH.get(tags.get("highway", ""), FALLBACK_KPH)
    return WayRule(None, forward, backward, speed)
