"""Read-back templates per locale: the words put around street and place names.

A city's `city.toml` names its locale ("zh-CN" or "en"); the gazetteer names the places it
finds with it (an intersection, a street near a place) and the locator describes a spot with it
for the dispatcher to read back. Street and place names go in as they are, never translated.
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

    def __post_init__(self) -> None:
        for name, fields in (
            ("junction", ("a", "b")),
            ("street_near_place", ("street", "place")),
            ("near_junction", ("a", "b", "d_m")),
            ("near_street", ("street", "d_m")),
            ("coordinates", ("lat", "lon")),
            ("stale_fix", ("age_s",)),
        ):
            pattern = getattr(self, name)
            try:
                pattern.format(**{f: 0 for f in fields})
            except (KeyError, IndexError, ValueError) as exc:
                raise InvalidInput(f"read-back {self.locale} {name}: bad pattern ({exc})") from None

    def describe_junction(self, a: str, b: str, d_m: float) -> str:
        return self.near_junction.format(a=a, b=b, d_m=round(d_m))

    def describe_street(self, street: str, d_m: float) -> str:
        return self.near_street.format(street=street, d_m=round(d_m))

    def describe_point(self, lat: float, lon: float) -> str:
        return self.coordinates.format(lat=lat, lon=lon)

    def describe_stale(self, age_s: float) -> str:
        return self.stale_fix.format(age_s=round(age_s))


ZH_CN = ReadBack(
    "zh-CN",
    junction="{a}与{b}",
    street_near_place="{street}近{place}",
    near_junction="{a}与{b}交叉口附近，约 {d_m} 米",
    near_street="{street}附近，约 {d_m} 米",
    coordinates="北纬 {lat:.5f}，东经 {lon:.5f}",
    stale_fix="；{age_s} 秒前的旧定位未采用",
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
