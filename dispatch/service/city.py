"""The city a dispatch service runs on: the road network's router and the caller locator.

Loaded from a bundled network (or an OSM file) with the bundled city data (places for the
gazetteer, the SYNTHETIC cell table), and warmed up before the first call rather than during it:
numba loads its kernels on a router's first search, and fusion has its own first-use cost.
"""

from __future__ import annotations

from location_fusion.cells import CellTable
from location_fusion.fixes import device_fix
from location_fusion.gazetteer import Gazetteer
from location_fusion.locate import CallEvidence, Locator
from routing.load import data_dir, load_network
from routing.router import Router


def build_world(network: str) -> tuple[Router, Locator]:
    """The router and locator of a bundled network (or an OSM file) with the bundled city data."""
    net, _ = load_network(network)
    router = Router(net)
    places = Gazetteer.load_places_csv(data_dir() / "hangzhou" / "hospitals.csv")
    cells = CellTable.load(data_dir() / "cells" / "hangzhou_cells_synthetic.csv")
    return router, Locator(Gazetteer.from_network(net, places), cells, router)


def warm_up(router: Router, locator: Locator) -> None:
    """Run the router's and the locator's first use now (numba compiles or loads its kernels)."""
    router.warm_up()
    lon, lat = (float(v) for v in router.net.node_lonlat[0])
    warm = device_fix(lat, lon, 20.0)
    locator.locate(CallEvidence((warm,) if warm else ()), 0.0)
