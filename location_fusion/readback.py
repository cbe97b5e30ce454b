"""Read-back templates per locale: the words put around street and place names.

A city's `city.toml` names its locale ("zh-CN" or "en"); the gazetteer names the places it
finds with it (an intersection, a street near a place) and the locator describes a spot with it
for the dispatcher to read back. A relative phrase is named as it was understood ("石祥西路往东
一点", "near Revolution Cafe") and the read-back ends with it. Street and place names go in as
they are, never translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from location_fusion.errors import InvalidInput


@dataclass(frozen=True)
class ReadBack:
    """The templates of one locale; fields are str.format patterns over the names given."""

    locale: str
    junction: str  # a place's name: {a}, {b} streets
    street_near_place: str  # a place's name: {street}, {place}
    near_junction: str  # read-back: {a}, {b}, {d_m} metres from the junction
    near_street: str  # read-back: {street}, {d_m}
    coordinates: str  # read-back when no street is known: {lat}, {lon}
    stale_fix: str = "; a fix from {age_s} s ago set aside as stale"  # {age_s}, appended
    # relative phrases (location_fusion.phrases): a candidate's name says what was understood
    opposite: str = "opposite {anchor}"
    near: str = "near {anchor}"
    entrance: str = "at the entrance of {anchor}"
    offset: str = "about {d_m} m {direction} of {anchor}"  # {direction}: one of `directions`
    offset_vague: str = "a little {direction} of {anchor}"  # no distance said
    between: str = "between {a} and {b}"
    heard: str = "; caller said: {what}"  # appended to the read-back: the relation understood
    directions: tuple[str, ...] = (
        "north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west",
    )  # fmt: skip

    def __post_init__(self) -> None:
        for name, fields in (
            ("junction", ("a", "b")),
            ("street_near_place", ("street", "place")),
            ("near_junction", ("a", "b", "d_m")),
            ("near_street", ("street", "d_m")),
            ("coordinates", ("lat", "lon")),
            ("stale_fix", ("age_s",)),
            ("opposite", ("anchor",)),
            ("near", ("anchor",)),
            ("entrance", ("anchor",)),
            ("offset", ("d_m", "direction", "anchor")),
            ("offset_vague", ("direction", "anchor")),
            ("between", ("a", "b")),
            ("heard", ("what",)),
        ):
            pattern = getattr(self, name)
            try:
                pattern.format(**{f: 0 for f in fields})
            except (KeyError, IndexError, ValueError) as exc:
                raise InvalidInput(f"read-back {self.locale} {name}: bad pattern ({exc})") from None
        if len(self.directions) != 8:
            raise InvalidInput(f"read-back {self.locale}: 8 compass directions, N first")

    def describe_junction(self, a: str, b: str, d_m: float) -> str:
        return self.near_junction.format(a=a, b=b, d_m=round(d_m))

    def describe_street(self, street: str, d_m: float) -> str:
        return self.near_street.format(street=street, d_m=round(d_m))

    def describe_point(self, lat: float, lon: float) -> str:
        return self.coordinates.format(lat=lat, lon=lon)

    def describe_stale(self, age_s: float) -> str:
        return self.stale_fix.format(age_s=round(age_s))

    def direction(self, bearing_deg: float) -> str:
        """The compass word nearest a bearing (0 north, 90 east)."""
        return self.directions[round((bearing_deg % 360.0) / 45.0) % 8]

    def describe_relation(
        self,
        relation: str,
        anchors: tuple[str, ...],
        bearing_deg: float | None = None,
        distance_m: float | None = None,
    ) -> str:
        """What a relative phrase was understood as ("石祥西路往东约 100 米", "near X")."""
        if relation == "between":
            return self.between.format(a=anchors[0], b=anchors[1])
        if relation == "offset" and bearing_deg is not None:
            way = self.direction(bearing_deg)
            if distance_m is None:
                return self.offset_vague.format(direction=way, anchor=anchors[0])
            return self.offset.format(d_m=round(distance_m), direction=way, anchor=anchors[0])
        pattern = {"opposite": self.opposite, "near": self.near, "entrance": self.entrance}
        if relation not in pattern:
            raise InvalidInput(f"unknown relation {relation!r}")
        return pattern[relation].format(anchor=anchors[0])

    def describe_heard(self, what: str) -> str:
        return self.heard.format(what=what)


ZH_CN = ReadBack(
    "zh-CN",
    junction="{a}与{b}",
    street_near_place="{street}近{place}",
    near_junction="{a}与{b}交叉口附近，约 {d_m} 米",
    near_street="{street}附近，约 {d_m} 米",
    coordinates="北纬 {lat:.5f}，东经 {lon:.5f}",
    stale_fix="；{age_s} 秒前的旧定位未采用",
    opposite="{anchor}对面",
    near="{anchor}附近",
    entrance="{anchor}门口",
    offset="{anchor}往{direction}约 {d_m} 米",
    offset_vague="{anchor}往{direction}一点",
    between="{a}和{b}之间",
    heard="；来电者说：{what}",
    directions=("北", "东北", "东", "东南", "南", "西南", "西", "西北"),
)
EN = ReadBack(
    "en",
    junction="{a} and {b}",
    street_near_place="{street} near {place}",
    near_junction="near the junction of {a} and {b}, about {d_m} m",
    near_street="near {street}, about {d_m} m",
    coordinates="latitude {lat:.5f}, longitude {lon:.5f}",
)
LOCALES = {r.locale: r for r in (ZH_CN, EN)}


def readback_for(locale: str) -> ReadBack:
    """The templates of a locale ("zh-CN", "en"); InvalidInput names the known ones."""
    try:
        return LOCALES[locale]
    except KeyError:
        known = sorted(LOCALES)
        raise InvalidInput(f"no read-back for locale {locale!r}; known: {known}") from None
