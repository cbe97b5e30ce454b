"""The demo fleet: N units at stations spread over a road network, as UnitRegistered events.

Pure and seeded: the same network, N and seed give the same fleet. Stations are the centres of
a few rounds of k-means over the network's node positions (so they follow where the roads are),
each moved onto its nearest node so it snaps to a road. scipy's `kmeans2` runs the rounds in C
without an n x k distance array, and a k-d tree finds the nodes: 1000 units on Hangzhou's 39k
nodes are placed in well under a second (`benchmarks/bench_startup.py`). Every third unit is
ALS, the rest BLS; units are dealt to stations in turn. The server registers them when its
event log is empty, unless the city lists its own fleet (`fleet_from_rows`, the city's `fleet`
layer: docs/city.md).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree

from dispatch.core.events import UnitRegistered
from dispatch.core.model import Capability, UnitId
from routing.network import RoadNetwork

KMEANS_ROUNDS = 12
UNITS_PER_STATION = 2


def station_lonlat(net: RoadNetwork, k: int, seed: int = 0) -> np.ndarray:
    """(k, 2) lon/lat of k stations: k-means centres over the nodes, each moved onto a node."""
    pts = net.node_lonlat
    n = pts.shape[0]
    if n == 0 or k < 1:
        return np.zeros((0, 2))
    k = min(k, n)
    rng = np.random.default_rng(seed)
    # Degrees of longitude are shorter than of latitude: scale x so distances are isotropic.
    scale = np.array([math.cos(math.radians(float(pts[:, 1].mean()))), 1.0])
    xy = pts * scale
    start = xy[rng.choice(n, size=k, replace=False)]  # k distinct nodes, drawn from the seed
    with warnings.catch_warnings():
        # A cluster left empty keeps its previous centre, which is all we need of it.
        warnings.filterwarnings("ignore", message="One of the clusters is empty")
        centres, _ = kmeans2(xy, start, iter=KMEANS_ROUNDS, minit="matrix", missing="warn")
    _, nodes = cKDTree(xy).query(centres)
    out: np.ndarray = pts[nodes]
    return out


def demo_fleet(net: RoadNetwork, n_units: int, seed: int = 0) -> list[UnitRegistered]:
    """n_units units (ids ALS01, BLS02, BLS03, ALS04, ...) at ceil(n/2) seeded stations."""
    if n_units <= 0:
        return []
    stations = station_lonlat(net, math.ceil(n_units / UNITS_PER_STATION), seed)
    out = []
    for i in range(n_units):
        cap = Capability.ALS if i % 3 == 0 else Capability.BLS
        lon, lat = stations[i % len(stations)]
        unit_id = UnitId(f"{cap.value.upper()}{i + 1:02d}")
        out.append(UnitRegistered(unit_id, cap, float(lat), float(lon)))
    return out


def fleet_from_rows(rows: Iterable[Mapping[str, str]]) -> list[UnitRegistered]:
    """A city's own fleet (its `fleet` layer: `unit_id,capability,lat,lon[,station_id]` rows)
    as UnitRegistered events; ValueError names the first bad row (1 = the first after the
    header): a missing or repeated unit id, a capability other than ALS or BLS, a point off
    the globe."""
    out: list[UnitRegistered] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        unit_id = (row.get("unit_id") or "").strip()
        if not unit_id or len(unit_id) > 32 or not unit_id.isprintable():
            raise ValueError(f"fleet row {n}: unit_id is required (1-32 printable characters)")
        if unit_id in seen:
            raise ValueError(f"fleet row {n}: unit_id {unit_id!r} is listed twice")
        seen.add(unit_id)
        try:
            cap = Capability((row.get("capability") or "").strip().lower())
        except ValueError:
            raise ValueError(f"fleet row {n}: capability is ALS or BLS") from None
        try:
            lat, lon = float(row.get("lat") or ""), float(row.get("lon") or "")
        except ValueError:
            raise ValueError(f"fleet row {n}: lat and lon are numbers") from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError(f"fleet row {n}: lat and lon are finite numbers")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"fleet row {n}: lat/lon out of range")
        out.append(UnitRegistered(UnitId(unit_id), cap, lat, lon))
    return out
