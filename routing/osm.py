"""Read an OpenStreetMap file (.osm, .osm.bz2, .osm.gz, .osm.pbf) into its drivable ways.

The I/O shell of the OSM loader: pyosmium streams the file and looks up each way's node
positions (a node the extract does not hold has none), `routing.osm_tags` judges each way's
tags, and what is refused is only counted. Building the graph is `routing.osm_graph`'s job.
"""

from __future__ import annotations

from pathlib import Path

from routing.errors import NetworkLoadError
from routing.osm_graph import OsmWay, WayCounts
from routing.osm_tags import is_access_refusal, way_rule

#: File name endings pyosmium reads, and the format name it is told (".xml" is OSM XML too).
FORMATS = {
    ".osm.pbf": "pbf",
    ".pbf": "pbf",
    ".osm.bz2": "osm.bz2",
    ".osm.gz": "osm.gz",
    ".osm.xml": "osm",
    ".osm": "osm",
    ".xml": "osm",
}


def osm_format(path: Path) -> str | None:
    """pyosmium's name for the file's format, from its name; None when it is not OSM."""
    name = path.name.lower()
    return next((fmt for end, fmt in FORMATS.items() if name.endswith(end)), None)


def read_osm_ways(path: Path) -> tuple[list[OsmWay], WayCounts]:
    """The drivable ways of an OSM file, and the counts of what was refused and why."""
    import osmium

    fmt = osm_format(path)
    if fmt is None:
        raise NetworkLoadError(f"{path}: not an OSM file ({', '.join(FORMATS)})")
    counts = WayCounts()
    ways: list[OsmWay] = []
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            counts.ways_read += 1
            tags = {tag.k: tag.v for tag in way.tags}
            rule = way_rule(tags)
            if rule.refused_by is not None:
                bucket = counts.dropped_by_access
                if not is_access_refusal(rule.refused_by):
                    bucket = counts.dropped_by_highway
                bucket[rule.refused_by] += 1
                continue
            ids, lonlat = [], []
            for nd in way.nodes:
                ids.append(int(nd.ref))
                loc = nd.location
                lonlat.append((loc.lon, loc.lat) if loc.valid() else None)
            ways.append(OsmWay(int(way.id), tuple(ids), tuple(lonlat), rule, tags.get("name")))
    except (RuntimeError, OSError, ValueError) as exc:  # libosmium's parse and I/O errors
        raise NetworkLoadError(f"{path}: {exc}") from exc
    return ways, counts
