"""The simulated city: road network, demand zones, stations and fleet, hospitals, traffic.

`build_world` is pure: it takes a loaded network, hospital registry and stations and computes
what every run shares (zones, the fleet as `UnitRegistered` events, one reach table per traffic
period). `load_world` is the thin file-reading shell in front of it: a city folder
(`routing.city`; the bundled Hangzhou by default, with its SYNTHETIC station file) gives the
network, the hospitals and the stations, or stations are placed on the fly for a city without
a stations layer, another network or another fleet size.

A world is built once and then driven by many runs (seeds x policies); a run owns the only
mutable part, the router's live congestion factors, and sets them itself as its clock moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dispatch.core.events import UnitRegistered
from dispatch.core.model import Capability, UnitId
from hospital_link.registry import Registry
from routing.network import I32, I64, RoadNetwork
from routing.router import Router
from routing.snap import RoadPosition
from simulator.world.calls import DemandParams
from simulator.world.reach import ReachTable, build_table
from simulator.world.rhythm import FREE_FLOW, Rhythm, apply_period, road_classes
from simulator.world.stations import PlacementParams, Station, stations_for
from simulator.world.zones import ZoneParams, Zones, build_zones


@dataclass(frozen=True)
class ScenarioParams:
    """Everything that defines a simulated city, apart from the seed."""

    network: str = "hangzhou"  # for the bundled city; a city folder names its own
    city: str = ""  # a city folder (routing.city); "": the bundled Hangzhou
    demand: DemandParams = field(default_factory=DemandParams)
    zones: ZoneParams = field(default_factory=ZoneParams)
    rhythm: Rhythm = field(default_factory=Rhythm)
    # Stations: a CSV file; None takes the city's stations layer (the bundled SYNTHETIC file
    # for Hangzhou) and places stations on the fly (with `placement`) without one.
    stations_csv: Path | None = None
    placement: PlacementParams = field(default_factory=PlacementParams)
    map_threshold_s: float = 480.0  # "covered": an idle unit can drive there within this
    zone_limit_s: float = 900.0  # reach tables to zones stop here (coverage needs no more)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.map_threshold_s) and self.map_threshold_s > 0):
            raise ValueError("map_threshold_s must be positive")
        if not (self.zone_limit_s >= self.map_threshold_s):
            raise ValueError("zone_limit_s must be at least map_threshold_s")


@dataclass(frozen=True)
class Home:
    """A unit's home station."""

    unit_id: UnitId
    station: int


@dataclass
class World:
    """What all runs on one city share (read-only during a run, bar the router's factors)."""

    params: ScenarioParams
    net: RoadNetwork
    router: Router
    classes: I32  # road class per edge
    zones: Zones
    stations: list[Station]
    station_pos: list[RoadPosition]
    station_node: I64
    registry: Registry
    hospital_ids: list[str]  # the hospitals on the network, in registry order
    hospital_node: I64
    fleet: list[UnitRegistered]
    homes: dict[UnitId, int]  # unit -> index into stations
    tables: dict[str, ReachTable]  # traffic period -> reach table

    def set_period(self, period: str) -> None:
        """Put the router's live weights in the traffic of `period`."""
        apply_period(self.router, self.classes, self.params.rhythm.factors(period))

    @property
    def n_units(self) -> int:
        return len(self.fleet)


def make_fleet(stations: list[Station]) -> tuple[list[UnitRegistered], dict[UnitId, int]]:
    """The units of every station, ALS first: ids like S03-ALS1, S03-BLS2."""
    fleet, homes = [], {}
    for k, s in enumerate(stations):
        for i in range(s.units):
            cap = Capability.ALS if i < s.als_units else Capability.BLS
            uid = UnitId(f"{s.station_id}-{cap.value.upper()}{i + 1}")
            fleet.append(UnitRegistered(uid, cap, s.lat, s.lon))
            homes[uid] = k
    return fleet, homes


def build_world(
    net: RoadNetwork,
    registry: Registry,
    stations: list[Station] | None,
    params: ScenarioParams,
) -> World:
    """Zones, fleet and reach tables for a loaded city; stations placed here when None."""
    router = Router(net)
    classes = road_classes(net)
    zones = build_zones(net, params.zones)
    rhythm = params.rhythm
    if stations is None:
        apply_period(router, classes, rhythm.factors("day" if rhythm.congestion else FREE_FLOW))
        stations = stations_for(router, zones, params.placement)
    station_pos = [router.snap(s.lat, s.lon) for s in stations]
    station_node = np.array([net.edge_head[p.edge] for p in station_pos], dtype=np.int64)
    found = router.snapper.road_positions(
        [h.lat for h in registry.hospitals], [h.lon for h in registry.hospitals]
    )
    on_net = [(h.id, p) for h, p in zip(registry.hospitals, found, strict=True) if p is not None]
    if not on_net:
        why = "lies on the network" if registry.hospitals else "is configured (docs/city.md)"
        raise ValueError(f"the simulator needs hospitals, and no hospital {why}")
    hospital_node = np.array([net.edge_head[p.edge] for _, p in on_net], dtype=np.int64)
    tables = {}
    for period in rhythm.period_names():
        apply_period(router, classes, rhythm.factors(period))
        tables[period] = build_table(
            net, zones.rep_node, hospital_node, station_node, params.zone_limit_s
        )
    router.clear_congestion()
    fleet, homes = make_fleet(stations)
    return World(
        params,
        net,
        router,
        classes,
        zones,
        stations,
        station_pos,
        station_node,
        registry,
        [hid for hid, _ in on_net],
        hospital_node,
        fleet,
        homes,
        tables,
    )


def load_world(params: ScenarioParams | None = None) -> World:
    """Read the network, hospitals and stations of the city folder and build the world."""
    from routing.city import load_city_network, resolve_city
    from simulator.world.stations import read_stations

    params = params or ScenarioParams()
    city = resolve_city(params.city, "" if params.city else params.network)
    net, _ = load_city_network(city)
    registry = Registry.load_csv(city.hospitals) if city.hospitals is not None else Registry(())
    path = params.stations_csv
    if path is None and city.stations is not None and params.placement == PlacementParams():
        path = city.stations
    stations = read_stations(path) if path is not None else None
    return build_world(net, registry, stations, params)
