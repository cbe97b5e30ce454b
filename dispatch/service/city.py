"""The city a dispatch service runs on: its router, caller locator, hospitals and AEDs.

The city is a folder (`routing.city`: the `city` setting, "" for the bundled Hangzhou); here
its layers are loaded for the server, each missing one as an empty registry or None, so the
features needing it say "not configured" rather than fail. The router and the locator are
warmed up before the first call rather than during it: numba loads its kernels on a router's
first search, and fusion has its own first-use cost.
"""

from __future__ import annotations

import csv

from aed_map.registry import Registry as AedRegistry
from dispatch.core.events import UnitRegistered
from dispatch.core.fleet import fleet_from_rows
from dispatch.settings import Settings
from hospital_link.registry import Registry
from location_fusion.cells import CellTable
from location_fusion.fixes import device_fix
from location_fusion.gazetteer import Gazetteer
from location_fusion.locate import CallEvidence, Locator
from location_fusion.readback import readback_for
from routing.city import City, load_city_network, resolve_city
from routing.errors import CityError
from routing.router import Router


def city_of(settings: Settings) -> City:
    """The city these settings name: the `city` folder (or the bundled one) on `network`."""
    return resolve_city(settings.city, "" if settings.city else settings.network)


def build_world(source: Settings | str) -> tuple[Router, Locator]:
    """The router and locator of the settings' city (a str: the bundled city on that network),
    with the city's places, cell table and read-back locale; a missing layer is left out."""
    city = city_of(source) if isinstance(source, Settings) else resolve_city("", source)
    net, _ = load_city_network(city)
    router = Router(net)
    places = Gazetteer.load_places_csv(city.places) if city.places is not None else []
    cells = CellTable.load(city.cells) if city.cells is not None else None
    gazetteer = Gazetteer.from_network(net, places, readback_for(city.locale))
    return router, Locator(gazetteer, cells, router)


def hospital_registry(city: City) -> Registry:
    """The city's hospitals; none (an empty registry) when it has no hospitals layer."""
    return Registry.load_csv(city.hospitals) if city.hospitals is not None else Registry(())


def aed_registry(city: City) -> AedRegistry:
    """The city's public AEDs (CSV, or GeoJSON by its suffix); none without an AED layer."""
    if city.aeds is None:
        return AedRegistry(())
    if city.aeds.suffix.lower() in (".geojson", ".json"):
        return AedRegistry.load_geojson(city.aeds)
    return AedRegistry.load_csv(city.aeds)


def city_fleet(city: City) -> list[UnitRegistered] | None:
    """The city's own fleet (its `fleet` layer), None when it has none (the server then seeds
    a demo fleet); CityError names a bad row."""
    if city.fleet is None:
        return None
    try:
        with city.fleet.open(newline="", encoding="utf-8") as f:
            return fleet_from_rows(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CityError(f"{city.fleet}: {exc}") from None


def warm_up(router: Router, locator: Locator) -> None:
    """Run the router's and the locator's first use now (numba compiles or loads its kernels)."""
    router.warm_up()
    lon, lat = (float(v) for v in router.net.node_lonlat[0])
    warm = device_fix(lat, lon, 20.0)
    locator.locate(CallEvidence((warm,) if warm else ()), 0.0)
