"""A small simulated city for the fast-engine tests: the Wulin box, built once per session.

The world, calls and stations tests import `wulin_world` from here. The Wulin fixture network
(3,949 nodes, ~4 x 4 km) with 500 m zones, 4 stations and 8 units placed on the fly, and a
busy 600 calls a day so that two simulated hours exercise queues and hospitals.
"""

from __future__ import annotations

import functools

from hospital_link.registry import Registry
from routing.load import data_dir, load_network
from simulator.world.calls import DemandParams
from simulator.world.scenario import ScenarioParams, World, build_world
from simulator.world.stations import PlacementParams
from simulator.world.zones import ZoneParams

WULIN = ScenarioParams(
    network="wulin",
    demand=DemandParams(600.0),
    zones=ZoneParams(size_m=500.0),
    placement=PlacementParams(n_stations=4, n_units=8, threshold_s=180.0),
)


@functools.lru_cache(maxsize=1)
def wulin_world() -> World:
    net, _ = load_network("wulin")
    registry = Registry.load_csv(data_dir() / "hangzhou" / "hospitals.csv")
    return build_world(net, registry, None, WULIN)
