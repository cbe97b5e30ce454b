"""Named places people say: POIs, 小区 (residential compounds), landmarks and house numbers.

A city's places layer (docs/city.md) is a CSV of `name,lat,lon[,kind][,radius_m][,approximate]`
(a hospitals-style file with `name_zh` is read too). `kind` says what the place is and sets how
far from its point a caller who names it may stand, unless the row gives `radius_m`:

    kind          radius   what
    poi           80 m     a shop, a school, a church, a station entrance
    hospital      120 m    a campus, with its gates and car parks
    landmark      200 m    a square, a campus, a station: big, named as a whole
    residential   200 m    a 小区: a walled compound of several blocks
    address       40 m     a house number ("文一西路588号", "12 Wood Street")

`approximate` (1/true) marks a hand-placed position, not a surveyed one; its radius must hold
the error. House numbers are read back into (street, number) by `house_number`, so a number
the layer does not list is placed between the numbers it does (`locate_number`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from location_fusion.errors import InvalidInput
from location_fusion.geo import check_lat_lon, haversine_m

KIND_RADIUS_M = {
    "poi": 80.0,
    "hospital": 120.0,
    "landmark": 200.0,
    "residential": 200.0,
    "address": 40.0,
}
DEFAULT_KIND = "hospital"  # a bare (name, lat, lon): the bundled places were hospitals
SAME_PLACE_M = 300.0  # rows of one name closer than this are one place (a way and its node)
NUMBER_STEP_M = 4.0  # metres of street per house number, one side (Chinese and US numbering)
MAX_NUMBER_GAP = 80  # a known number farther than this says little about the one asked
_ZH_NUMBER = re.compile(r"^(?P<street>.+?[路街巷弄道])(?P<num>\d+)号")
_EN_NUMBER = re.compile(r"^(?P<num>\d+)\s+(?P<street>\D.+)$")


@dataclass(frozen=True)
class NamedPlace:
    """One row of a places layer: a name, where it is and how far a caller may be from it."""

    name: str
    lat: float
    lon: float
    kind: str = DEFAULT_KIND
    radius_m: float = KIND_RADIUS_M[DEFAULT_KIND]
    approximate: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("a place needs a name")
        check_lat_lon(self.lat, self.lon, self.name)
        if self.kind not in KIND_RADIUS_M:
            raise InvalidInput(f"{self.name}: unknown place kind {self.kind!r}")
        if not (math.isfinite(self.radius_m) and 0 < self.radius_m <= 5000):
            raise InvalidInput(f"{self.name}: radius_m must be in (0, 5000], got {self.radius_m}")


def named_place(row: NamedPlace | tuple[str, float, float]) -> NamedPlace:
    """A NamedPlace as it is, or made from a bare (name, lat, lon) (kind hospital, 120 m)."""
    if isinstance(row, NamedPlace):
        return row
    name, lat, lon = row
    return NamedPlace(str(name), float(lat), float(lon))


def place_from_row(row: dict[str, str]) -> NamedPlace | None:
    """A CSV row as a place; None for a row without a name. InvalidInput for a bad value."""
    name = (row.get("name") or row.get("name_zh") or "").strip()
    if not name:
        return None
    kind = (row.get("kind") or "").strip() or ("hospital" if "hospital_id" in row else "poi")
    radius = (row.get("radius_m") or "").strip()
    approximate = (row.get("approximate") or "").strip().lower() in ("1", "true", "yes")
    try:
        return NamedPlace(
            name,
            float(row["lat"]),
            float(row["lon"]),
            kind,
            float(radius) if radius else KIND_RADIUS_M.get(kind, KIND_RADIUS_M["poi"]),
            approximate,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"place {name!r}: {exc}") from None


def read_places_csv(path: str | Path) -> list[NamedPlace]:
    """Every named row of a places CSV (the module docstring's layout); the only I/O here."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        return [p for p in map(place_from_row, csv.DictReader(fh)) if p is not None]


def merge_places(rows: Iterable[NamedPlace]) -> dict[str, NamedPlace]:
    """One place per name: rows of one name within SAME_PLACE_M merge at their mean (a way
    and its node); farther ones keep the first row (two shops of one chain: we cannot tell)."""
    groups: dict[str, list[NamedPlace]] = {}
    for p in rows:
        groups.setdefault(p.name, []).append(p)
    out: dict[str, NamedPlace] = {}
    for name, group in groups.items():
        first = group[0]
        near = [
            p
            for p in group
            if float(haversine_m(first.lon, first.lat, p.lon, p.lat)) <= SAME_PLACE_M
        ]
        lat = sum(p.lat for p in near) / len(near)
        lon = sum(p.lon for p in near) / len(near)
        out[name] = NamedPlace(name, lat, lon, first.kind, first.radius_m, first.approximate)
    return out


def house_number(text: str) -> tuple[str, int] | None:
    """(street, number) of an address said or written ("文一西路588号", "12 Wood Street")."""
    text = text.strip()
    m = _ZH_NUMBER.match(text) or _EN_NUMBER.match(text)
    if m is None:
        return None
    return m["street"].strip(), int(m["num"])


def locate_number(
    number: int, known: Sequence[tuple[int, NamedPlace]]
) -> tuple[float, float, float] | None:
    """(lon, lat, radius_m) for a house number from the street's known (number, place): the
    nearest known number of the same side (parity), its radius grown by NUMBER_STEP_M per
    number between; None when no known number is within MAX_NUMBER_GAP."""
    same_side = [k for k in known if k[0] % 2 == number % 2] or list(known)
    if not same_side:
        return None
    n, place = min(same_side, key=lambda k: abs(k[0] - number))
    gap = abs(n - number)
    if gap > MAX_NUMBER_GAP:
        return None
    return place.lon, place.lat, place.radius_m + NUMBER_STEP_M * gap
