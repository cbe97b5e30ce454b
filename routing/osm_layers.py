"""What an OpenStreetMap file holds besides roads: hospitals, ambulance stations, AEDs, places.

One pyosmium pass over nodes and ways (a way stands at the mean of its nodes present in the
extract; relations are skipped). `layers_of` judges one object's tags and is pure; the
reading shell is `read_osm_layers`. What `jijiu city init` writes from them is
`routing.city_init`.

    hospital  amenity=hospital or healthcare=hospital, unless emergency=no
    station   emergency=ambulance_station
    aed       emergency=defibrillator
    place     a named POI (amenity, shop, tourism, leisure, office, healthcare, building,
              public_transport), a named landuse=residential (a 小区) or place=*, or an
              address (addr:housenumber with addr:street)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from routing.errors import NetworkLoadError
from routing.osm import osm_format

POI_KEYS = (
    "amenity", "shop", "tourism", "leisure", "office", "healthcare", "building",
    "public_transport", "place",
)  # fmt: skip
#: Keys an object needs one of to be looked at at all (the reader's filter).
WANTED_KEYS = ("amenity", "healthcare", "emergency", "landuse", "addr:housenumber", "name")


@dataclass(frozen=True)
class OsmObject:
    """One tagged OSM node or way, where it stands and its tags."""

    osm_id: str  # "n123" for a node, "w456" for a way
    lat: float
    lon: float
    tags: Mapping[str, str] = field(compare=False)


@dataclass
class OsmLayers:
    """The objects found per layer, and how many were skipped and why."""

    hospitals: list[OsmObject] = field(default_factory=list)
    stations: list[OsmObject] = field(default_factory=list)
    aeds: list[OsmObject] = field(default_factory=list)
    places: list[OsmObject] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def layers_of(tags: Mapping[str, str]) -> tuple[str, ...]:
    """The layers an object with these tags belongs to (several, or none)."""
    out: list[str] = []
    emergency = tags.get("emergency", "")
    is_hospital = "hospital" in (tags.get("amenity"), tags.get("healthcare"))
    if is_hospital and emergency != "no":
        out.append("hospitals")
    if emergency == "ambulance_station":
        out.append("stations")
    if emergency == "defibrillator":
        out.append("aeds")
    named_poi = any(k in tags for k in POI_KEYS) or tags.get("landuse") == "residential"
    address = bool(tags.get("addr:housenumber") and tags.get("addr:street"))
    if (tags.get("name") and named_poi) or address:
        out.append("places")
    return tuple(out)


def read_osm_layers(path: Path) -> OsmLayers:
    """Every hospital, station, AED and named place of an OSM file, in one pass."""
    import osmium

    fmt = osm_format(path)
    if fmt is None:
        raise NetworkLoadError(f"{path}: not an OSM file")
    found = OsmLayers()
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter(*WANTED_KEYS))
    )
    try:
        for obj in processor:
            tags = {tag.k: tag.v for tag in obj.tags}
            kinds = layers_of(tags)
            if not kinds:
                continue
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    found.skipped["node without a position"] += 1
                    continue
                item = OsmObject(f"n{obj.id}", obj.location.lat, obj.location.lon, tags)
            elif isinstance(obj, osmium.osm.Way):
                present = [
                    (n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()
                ]
                if not present:
                    found.skipped["way with no node in the extract"] += 1
                    continue
                lon = sum(p[0] for p in present) / len(present)
                lat = sum(p[1] for p in present) / len(present)
                item = OsmObject(f"w{obj.id}", lat, lon, tags)
            else:
                continue
            for kind in kinds:
                getattr(found, kind).append(item)
    except (RuntimeError, OSError, ValueError) as exc:  # libosmium's parse and I/O errors
        raise NetworkLoadError(f"{path}: {exc}") from exc
    return found
