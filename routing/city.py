"""A city is a folder: its `city.toml` names the road network and the file of each data layer.

    [city]
    name = "West Oakland"
    locale = "en"                    # read-back templates: "zh-CN" or "en"
    timezone = "America/Los_Angeles" # the city's clock (AED opening hours)

    [layers]
    network = "roads.npz"            # compiled by `jijiu city init`; or an OSM file, a
                                     # *_nodes.csv[.gz] file or a bundled network name
    network_source = "roads.osm.bz2" # compiled again from this when roads.npz is stale
    hospitals = "hospitals.csv"      # hospital_link.registry layout
    stations = "stations.csv"        # simulator.world.stations layout
    fleet = "fleet.csv"              # unit_id, capability (ALS/BLS), lat, lon[, station_id]
    aeds = "aeds.csv"                # aed_map.registry layout (or .geojson)
    cells = "cells.csv"              # OpenCellID layout (location_fusion.cells)
    places = "places.csv"            # name (or name_zh), lat, lon[, kind]

Paths are relative to the folder. A layer left out is not configured: its field is None and
each feature that needs it says so rather than failing (docs/city.md). This module reads
`city.toml` and loads the road network; each other layer is read by its own package's loader
at the call site, since routing is the lowest layer and imports none of them.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing.errors import CityError, NetworkLoadError
from routing.load import BUNDLED, LoadReport, data_dir, load_network
from routing.load_summary import LoadSummary
from routing.network import RoadNetwork

CITY_FILE = "city.toml"
LOCALES = ("zh-CN", "en")
LAYERS = ("hospitals", "stations", "aeds", "cells", "places")
# Read when present, never "not configured": without it a new log gets a demo fleet.
OPTIONAL_LAYERS = ("fleet",)
BUNDLED_CITY = "hangzhou"  # the folder under the data directory that is the default city


@dataclass(frozen=True)
class City:
    """One city's folder: where each layer's file is (None: not configured) and its locale."""

    folder: Path
    name: str
    locale: str
    timezone: str
    network: str  # a bundled name, or the path of an OSM, *_nodes.csv[.gz] or .npz file
    network_source: str | None = None  # compiled again from this if `network` is stale
    hospitals: Path | None = None
    stations: Path | None = None
    fleet: Path | None = None
    aeds: Path | None = None
    cells: Path | None = None
    places: Path | None = None

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise CityError(f"{self.folder}: locale {self.locale!r} is not one of {LOCALES}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CityError(f"{self.folder}: unknown timezone {self.timezone!r}") from None
        if not self.network:
            raise CityError(f"{self.folder}: [layers] network is required")

    def missing(self) -> tuple[str, ...]:
        """The layers this city has no file for (each feature needing one says so)."""
        return tuple(name for name in LAYERS if getattr(self, name) is None)

    def with_network(self, network: str) -> City:
        """The same city on another road network (a bundled name or a file); its stations
        are left out, as they were placed for its own network."""
        return replace(self, network=network, network_source=None, stations=None)


def read_city(folder: str | Path) -> City:
    """The city described by `folder/city.toml`; CityError names what is wrong."""
    base = Path(folder)
    path = base / CITY_FILE
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CityError(f"{base}: no readable {CITY_FILE} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CityError(f"{path}: {exc}") from None
    head, layers = doc.get("city", {}), doc.get("layers", {})
    if not isinstance(head, dict) or not isinstance(layers, dict):
        raise CityError(f"{path}: [city] and [layers] must be tables")
    known = (*LAYERS, *OPTIONAL_LAYERS)
    unknown = sorted(set(layers) - {"network", "network_source", *known})
    if unknown:
        raise CityError(f"{path}: unknown layer(s) {unknown}; known: network, {known}")
    files = {name: _layer_file(base, layers, name) for name in known}
    network = str(layers.get("network", ""))
    if network and network not in BUNDLED:
        network = str(_layer_file(base, layers, "network"))
    source = _layer_file(base, layers, "network_source")
    return City(
        folder=base,
        name=str(head.get("name", base.name)),
        locale=str(head.get("locale", "zh-CN")),
        timezone=str(head.get("timezone", "UTC")),
        network=network,
        network_source=None if source is None else str(source),
        **files,
    )


def _layer_file(base: Path, layers: dict[str, object], name: str) -> Path | None:
    value = layers.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CityError(f"{base / CITY_FILE}: layer {name} must be a file name")
    path = base / value
    if not path.is_file():
        raise CityError(f"{base / CITY_FILE}: layer {name}: no such file {path}")
    return path


def bundled_city() -> City:
    """The bundled Hangzhou city (data/hangzhou/city.toml), the default."""
    return read_city(data_dir() / BUNDLED_CITY)


@cache
def _resolved(folder: str, network: str, data: Path) -> City:
    city = read_city(folder) if folder else read_city(data / BUNDLED_CITY)
    if folder == "" and network == BUNDLED_CITY:
        return city  # the bundled city on its own network, by its bundled name
    if network and network != city.network:
        city = city.with_network(network)
    return city


def resolve_city(folder: str = "", network: str = "") -> City:
    """The city of the `city` setting ("" is the bundled one), on `network` when that is given
    (a bundled name or a file; "" keeps the city's own). Read once per distinct argument."""
    return _resolved(folder, network, data_dir())


def load_city_network(city: City) -> tuple[RoadNetwork, LoadReport]:
    """The city's road network: the compiled file, or compiled (and cached) from its source
    when that file is missing or was written by an older jijiu."""
    if city.network.endswith(".npz"):
        t0 = time.perf_counter()
        try:
            net = RoadNetwork.load(Path(city.network))
        except NetworkLoadError:
            if city.network_source is None:
                raise
            return load_network(city.network_source)
        seconds = time.perf_counter() - t0
        summary = LoadSummary.from_meta(net.meta)
        return net, LoadReport(city.network, True, seconds, Path(city.network), summary)
    return load_network(city.network)
