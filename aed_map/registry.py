"""The AED registry: where each public defibrillator is, who may use it and when it is reachable.

The fields are OpenStreetMap's `emergency=defibrillator` tags, so a registry can come from an
OSM extract (GeoJSON, as Overpass exports it) or from our own CSV with the same names. Values
are kept raw where the meaning needs interpretation later (`opening_hours`, `level`): the
registry refuses what cannot be trusted (a position off the globe, a duplicated id, an access
value outside the OSM vocabulary) but does not guess what a free-text field means.

An AED with `access=private` or `access=no` stays in the registry (an operator may still want
to see it) but is never offered to a bystander: `Registry.public()` leaves it out.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, NewType

from aed_map.errors import (
    DuplicateAed,
    RegistryError,
    RegistryLoadError,
    RegistryTooLarge,
    UnknownAed,
)

AedId = NewType("AedId", str)


class Access(StrEnum):
    """OSM `access` values that make sense on an AED; UNKNOWN when the tag is absent."""

    YES = "yes"
    PUBLIC = "public"
    PERMISSIVE = "permissive"
    CUSTOMERS = "customers"  # in a shop or mall: in an emergency, usable during opening hours
    PRIVATE = "private"
    NO = "no"
    UNKNOWN = ""


NOT_PUBLIC = frozenset({Access.PRIVATE, Access.NO})

#: Our CSV columns, in file order; the OSM tag each holds is the same name.
CSV_COLUMNS = (
    "id", "lat", "lon", "indoor", "level", "opening_hours", "access", "operator",
    "description", "defibrillator:location", "source",
)  # fmt: skip
TEXT_TAGS = ("level", "opening_hours", "operator", "description", "defibrillator:location")


@dataclass(frozen=True)
class Limits:
    """What a loader accepts: a national registry fits well under these; a dump of junk does not."""

    max_aeds: int = 200_000
    max_bytes: int = 64 * 1024 * 1024
    max_text_chars: int = 1_000  # one tag value; OSM itself caps values at 255 characters


@dataclass(frozen=True)
class Aed:
    """One defibrillator, its OSM tags (raw text where the meaning is decided elsewhere)."""

    id: AedId
    lat: float
    lon: float
    indoor: bool | None = None  # None: the `indoor` tag is absent
    level: str = ""  # OSM `level`: "0" is the ground floor, "-1" the first basement
    opening_hours: str = ""  # raw OSM `opening_hours`; aed_map.opening_hours reads it
    access: Access = Access.UNKNOWN
    operator: str = ""
    description: str = ""
    location: str = ""  # OSM `defibrillator:location`: where in the building ("B 口客服中心旁")
    source: str = ""  # provenance, e.g. "osm" or "synthetic"

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip():
            raise RegistryError(f"AED id {self.id!r} is empty or padded with spaces")
        if not (_finite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise RegistryError(f"{self.id}: latitude {self.lat!r} is not in -90..90")
        if not (_finite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise RegistryError(f"{self.id}: longitude {self.lon!r} is not in -180..180")
        if not isinstance(self.access, Access):
            raise RegistryError(f"{self.id}: access {self.access!r} is not an Access value")

    @property
    def public_use(self) -> bool:
        """True unless the owner said private or no: such an AED is never sent for."""
        return self.access not in NOT_PUBLIC


@dataclass
class Registry:
    """The AEDs by id; immutable after construction."""

    aeds: tuple[Aed, ...]
    _by_id: dict[AedId, Aed] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {}
        for a in self.aeds:
            if a.id in self._by_id:
                raise DuplicateAed(f"AED {a.id!r} appears twice")
            self._by_id[a.id] = a

    def __len__(self) -> int:
        return len(self.aeds)

    def __contains__(self, aed_id: object) -> bool:
        return aed_id in self._by_id

    def aed(self, aed_id: str) -> Aed:
        try:
            return self._by_id[AedId(aed_id)]
        except KeyError:
            raise UnknownAed(f"unknown AED {aed_id!r}") from None

    def public(self) -> tuple[Aed, ...]:
        """The AEDs a bystander may be sent to (access is not private or no)."""
        return tuple(a for a in self.aeds if a.public_use)

    @classmethod
    def load_csv(cls, path: Path | str, limits: Limits | None = None) -> Registry:
        """Read our CSV layout (CSV_COLUMNS; only id, lat, lon are required)."""
        return cls(tuple(read_csv(_read_text(path, limits or Limits()), limits)))

    @classmethod
    def load_geojson(cls, path: Path | str, limits: Limits | None = None) -> Registry:
        """Read a GeoJSON FeatureCollection of Points tagged as OSM defibrillators."""
        return cls(tuple(read_geojson(_read_text(path, limits or Limits()), limits)))


def _read_text(path: Path | str, limits: Limits) -> str:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > limits.max_bytes:
            raise RegistryTooLarge(f"{p}: {size} bytes, more than {limits.max_bytes}")
        text = p.read_text(encoding="utf-8-sig")  # tolerate the BOM spreadsheet exports add
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryLoadError(f"cannot read AED file {p}: {exc}") from exc
    if not text.strip():
        raise RegistryLoadError(f"AED file {p} is empty")
    return text


def read_csv(text: str, limits: Limits | None = None) -> Iterator[Aed]:
    """AEDs from CSV text in our layout; a bad row raises with its line number."""
    lim = limits or Limits()
    if len(text.encode("utf-8")) > lim.max_bytes:
        raise RegistryTooLarge(f"AED CSV is more than {lim.max_bytes} bytes")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise RegistryError(f"unknown AED CSV column(s) {unknown}")
    missing = [c for c in ("id", "lat", "lon") if c not in header]
    if missing:
        raise RegistryError(f"AED CSV lacks column(s) {missing}")
    seen: set[str] = set()
    for n, row in enumerate(reader, start=1):
        if n > lim.max_aeds:
            raise RegistryTooLarge(f"AED CSV holds more than {lim.max_aeds} rows")
        where = f"line {reader.line_num}"
        if None in row or None in row.values():
            raise RegistryError(f"{where}: row has the wrong number of fields")
        tags = {k: (v or "").strip() for k, v in row.items()}
        try:
            lat, lon = float(tags["lat"]), float(tags["lon"])
        except ValueError:
            raise RegistryError(f"{where}: lat or lon is not a number") from None
        aed = _with_where(where, tags["id"], lat, lon, tags, lim)
        if aed.id in seen:
            raise DuplicateAed(f"{where}: AED {aed.id!r} appears twice")
        seen.add(aed.id)
        yield aed


def read_geojson(text: str, limits: Limits | None = None) -> Iterator[Aed]:
    """AEDs from a FeatureCollection of Points; OSM tags are the properties.

    The id is the feature's `id`, else its `@id` or `id` property (Overpass writes
    "node/123"). Other properties are ignored: an OSM node carries many tags we do not use.
    A feature tagged `emergency` with another value is refused, not skipped.
    """
    lim = limits or Limits()
    if len(text.encode("utf-8")) > lim.max_bytes:
        raise RegistryTooLarge(f"AED GeoJSON is more than {lim.max_bytes} bytes")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise RegistryError(f"AED GeoJSON is not valid JSON: {exc}") from None
    if not (isinstance(doc, dict) and doc.get("type") == "FeatureCollection"):
        raise RegistryError("AED GeoJSON is not a FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise RegistryError("AED GeoJSON has no features list")
    if len(features) > lim.max_aeds:
        raise RegistryTooLarge(f"AED GeoJSON holds {len(features)} features, over {lim.max_aeds}")
    seen: set[str] = set()
    for i, feature in enumerate(features):
        aed = _from_feature(f"feature {i}", feature, lim)
        if aed.id in seen:
            raise DuplicateAed(f"feature {i}: AED {aed.id!r} appears twice")
        seen.add(aed.id)
        yield aed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _from_feature(where: str, feature: object, lim: Limits) -> Aed:
    if not (isinstance(feature, dict) and feature.get("type") == "Feature"):
        raise RegistryError(f"{where}: not a GeoJSON Feature")
    geom = feature.get("geometry")
    if not (isinstance(geom, dict) and geom.get("type") == "Point"):
        raise RegistryError(f"{where}: geometry is not a Point")
    coords = geom.get("coordinates")
    if not (isinstance(coords, list) and len(coords) in (2, 3) and all(map(_number, coords))):
        raise RegistryError(f"{where}: coordinates are not [lon, lat]")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise RegistryError(f"{where}: properties is not an object")
    if props.get("emergency", "defibrillator") != "defibrillator":
        raise RegistryError(f"{where}: emergency={props['emergency']!r}, not a defibrillator")
    raw_id = feature.get("id", props.get("@id", props.get("id")))
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise RegistryError(f"{where}: no usable id")
    tags: dict[str, str] = {}
    for key in ("indoor", "access", "source", *TEXT_TAGS):
        value = props.get(key, "")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise RegistryError(f"{where}: tag {key} is not text")
        tags[key] = str(value).strip()
    return _with_where(where, str(raw_id), float(coords[1]), float(coords[0]), tags, lim)


def _with_where(
    where: str, aed_id: str, lat: float, lon: float, tags: Mapping[str, str], lim: Limits
) -> Aed:
    """Build one Aed from its tags, prefixing any refusal with the row or feature."""
    try:
        for key in (*TEXT_TAGS, "source"):
            if len(tags.get(key, "")) > lim.max_text_chars:
                raise RegistryTooLarge(f"tag {key} is longer than {lim.max_text_chars} chars")
        return Aed(
            id=AedId(aed_id),
            lat=lat,
            lon=lon,
            indoor=_parse_indoor(tags.get("indoor", "")),
            level=tags.get("level", ""),
            opening_hours=tags.get("opening_hours", ""),
            access=_parse_access(tags.get("access", "")),
            operator=tags.get("operator", ""),
            description=tags.get("description", ""),
            location=tags.get("defibrillator:location", ""),
            source=tags.get("source", ""),
        )
    except RegistryError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _parse_indoor(text: str) -> bool | None:
    if text in ("", "yes", "no"):
        return None if not text else text == "yes"
    raise RegistryError(f"indoor must be yes or no, not {text!r}")


def _parse_access(text: str) -> Access:
    try:
        return Access(text)
    except ValueError:
        raise RegistryError(f"access {text!r} is not one of {[a.value for a in Access]}") from None


def write_csv(aeds: Iterable[Aed], out: IO[str]) -> None:
    """Write AEDs in our CSV layout (LF line ends, so a regenerated file is byte-identical)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in aeds:
        indoor = "" if a.indoor is None else ("yes" if a.indoor else "no")
        writer.writerow(
            [
                a.id,
                f"{a.lat:.6f}",
                f"{a.lon:.6f}",
                indoor,
                a.level,
                a.opening_hours,
                a.access.value,
                a.operator,
                a.description,
                a.location,
                a.source,
            ]
        )


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
