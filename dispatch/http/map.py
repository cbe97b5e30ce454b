"""The console's base map, `GET /api/v1/map` (dispatchers only): the loaded road network as
polylines, with the hospitals and the AEDs, encoded once per process.

The console draws its map from this answer alone: no tiles, nothing from another origin.
Roads are the network's own edges, a two-way street once (an edge and its `twin` share their
ground), chained into polylines through the nodes where nothing else of the same street joins,
one list per road class. The compiled network keeps no OSM highway tag, so the class is the
ambulance free-flow speed (`length_m / base_time_s`, routing's speed model): a named street
takes the length-weighted speed of all its edges, so one street is one class; an unnamed edge
its own.

Coordinates are integers: quanta of `QUANTUM_DEG` (1e-5 degrees: 0.96 m east-west and 1.11 m
north-south in Hangzhou) from the bounding box's south-west corner. A polyline is
`[name, x0, y0, dx1, dy1, dx2, dy2, ...]`: its street's index in `names` (-1: unnamed), the first
point, then the step to each next point (consecutive points closer than a quantum are merged).
The console labels the streets from these alone (console.js `drawStreetNames`: one anchor per
named polyline, half-way along it), so the names cost nothing beyond the `names` list.
The answer also lists the ambulance stations (`stations`): the homes of the fleet the server
seeded (`dispatch.core.fleet`, the units based at each that the server still has) and the rows of
the SYNTHETIC station file (`data/stations/`, the simulator's planned sites) inside the map.
The bundled Hangzhou network (39,059 nodes, 73,720 edges: 11,083 polylines) with its hospitals
and AEDs is 484 kB of JSON, 166 kB gzipped; the body is built on the first request on a worker
thread (~0.5 s) and kept, JSON and gzip, with an ETag. The answer is gzipped when the client
accepts it (no middleware compresses anything else here); `If-None-Match` with the ETag
answers 304.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import json
import math
import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from numpy.typing import NDArray

from dispatch.core.fleet import demo_fleet
from dispatch.http.common import ERRORS, Svc, dispatcher_only
from dispatch.service.city import city_fleet, city_of
from dispatch.service.service import DispatchService
from routing.load import data_dir
from routing.network import RoadNetwork

router = APIRouter(prefix="/api/v1", dependencies=[Depends(dispatcher_only)])

QUANTUM_DEG = 1e-5
#: Road classes, fastest first, by the lowest ambulance free-flow km/h that earns them. With
#: the default speed model the bundled data's free-flow bands 64/54/40/25/15 km/h become 80,
#: 67.5, 48, 27.5 and 15 km/h (routing.params.SpeedModel): one class each.
ROAD_CLASSES: tuple[tuple[str, float], ...] = (
    ("motorway", 75.0),
    ("arterial", 58.0),
    ("collector", 38.0),
    ("street", 21.0),
    ("lane", 0.0),
)
VERSION = 1
STATIONS_CSV = Path("stations") / "hangzhou_stations_synthetic.csv"  # under data/


@dataclass(frozen=True)
class EncodedMap:
    """One map answer, ready to send: the JSON bytes, the same gzipped, and their ETag."""

    body: bytes
    gzipped: bytes
    etag: str


def road_class(net: RoadNetwork) -> NDArray[np.intp]:
    """(m,) index into ROAD_CLASSES of each edge, by its street's ambulance free-flow speed."""
    length_m = net.length_m
    time_s = np.maximum(net.base_time_s, 1e-9)
    kph = length_m / time_s * 3.6  # m/s to km/h
    named = net.edge_name >= 0
    if named.any():
        streets = net.edge_name[named]
        total_m = np.bincount(streets, weights=length_m[named])
        total_s = np.bincount(streets, weights=time_s[named])
        street_kph = total_m / np.maximum(total_s, 1e-9) * 3.6
        kph = np.where(named, street_kph[np.maximum(net.edge_name, 0)], kph)
    floors = np.array([low for _, low in ROAD_CLASSES])
    # floors fall: the first class whose floor the speed reaches
    found: NDArray[np.intp] = np.argmax(kph[:, None] >= floors[None, :], axis=1)
    return found


def _chains(tail: list[int], head: list[int]) -> list[list[tuple[int, bool]]]:
    """Undirected edges (given by their ends) chained through nodes of degree 2: each chain is
    a list of (edge index, walked tail to head)."""
    at: defaultdict[int, list[int]] = defaultdict(list)
    for i, (u, v) in enumerate(zip(tail, head, strict=True)):
        at[u].append(i)
        at[v].append(i)
    used = [False] * len(tail)
    chains: list[list[tuple[int, bool]]] = []

    def walk(node: int, first: int) -> list[tuple[int, bool]]:
        chain: list[tuple[int, bool]] = []
        edge: int | None = first
        while edge is not None:
            used[edge] = True
            forward = tail[edge] == node
            chain.append((edge, forward))
            node = head[edge] if forward else tail[edge]
            around = at[node]
            edge = None
            if len(around) == 2:  # a node only this street passes: go on through it
                edge = next((e for e in around if not used[e]), None)
        return chain

    for node, around in at.items():  # chains start and end where streets meet or end
        if len(around) != 2:
            for e in around:
                if not used[e]:
                    chains.append(walk(node, e))
    for e in range(len(tail)):  # what is left are loops: start anywhere
        if not used[e]:
            chains.append(walk(tail[e], e))
    return chains


def road_polylines(net: RoadNetwork, origin: NDArray[np.float64]) -> list[list[list[int]]]:
    """Per road class, the encoded polylines `[name, x0, y0, dx1, dy1, ...]` (module docstring)."""
    m = net.n_edges
    ids = np.arange(m)
    once = (net.twin < 0) | (ids < net.twin)  # a two-way street drawn once
    node_q = np.rint((net.node_lonlat - origin) / QUANTUM_DEG).astype(np.int64)
    geom_q = np.rint((net.geom_lonlat - origin) / QUANTUM_DEG).astype(np.int64)
    classes = road_class(net)
    groups: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    for e, c, name in zip(
        ids[once].tolist(), classes[once].tolist(), net.edge_name[once].tolist(), strict=True
    ):
        groups[(c, name)].append(e)
    tails, heads, ptr = net.edge_tail, net.edge_head, net.geom_indptr
    out: list[list[list[int]]] = [[] for _ in ROAD_CLASSES]
    for (c, name), edges in sorted(groups.items()):
        tail = tails[edges].tolist()
        head = heads[edges].tolist()
        for chain in _chains(tail, head):
            first, forward = chain[0]
            parts = [node_q[tail[first] if forward else head[first]][None, :]]
            for i, forward in chain:
                e = edges[i]
                inner = geom_q[ptr[e] : ptr[e + 1]]
                parts.append(inner if forward else inner[::-1])
                parts.append(node_q[head[i] if forward else tail[i]][None, :])
            points = np.vstack(parts)
            steps = np.diff(points, axis=0)
            steps = steps[(steps != 0).any(axis=1)]  # closer than a quantum: one point
            if len(steps) == 0:
                continue
            out[c].append([name, *points[0].tolist(), *steps.ravel().tolist()])
    return out


def fleet_stations(svc: DispatchService) -> list[dict[str, Any]]:
    """The fleet's home stations (the city's own fleet layer, else the same `demo_fleet` the
    service registers), each with the units based there that the server holds; none when no
    fleet was registered."""
    own = city_fleet(city_of(svc.settings))
    source = "city_fleet" if own is not None else "demo_fleet"
    based: dict[tuple[float, float], list[str]] = {}
    for unit in own if own is not None else demo_fleet(svc.router.net, svc.settings.seed_fleet):
        if unit.unit_id in svc.engine.units:
            based.setdefault((unit.lat, unit.lon), []).append(unit.unit_id)
    return [
        {
            "station_id": f"H{i + 1:02d}",
            "lat": lat,
            "lon": lon,
            "units": len(ids),
            "unit_ids": ids,
            "source": source,
        }
        for i, ((lat, lon), ids) in enumerate(based.items())
    ]


def file_stations(path: Path, bbox: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """The station file's rows (station_id, lat, lon, units, als_units, source) inside the
    map's bbox (west, south, east, north); none when there is no file."""
    if not path.is_file():
        return []
    west, south, east, north = bbox
    out: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lat, lon = float(row["lat"]), float(row["lon"])
            if west <= lon <= east and south <= lat <= north:
                out.append(
                    {
                        "station_id": row["station_id"],
                        "lat": lat,
                        "lon": lon,
                        "units": int(row["units"]),
                        "als_units": int(row["als_units"]),
                        "unit_ids": [],
                        "source": row["source"],
                    }
                )
    return out


def encode_map(svc: DispatchService) -> EncodedMap:
    """The whole answer for this service's network, hospitals and AEDs (pure; ~0.5 s on
    Hangzhou, so it runs on a worker thread, once)."""
    net = svc.router.net
    low = net.node_lonlat.min(axis=0)
    high = net.node_lonlat.max(axis=0)
    # the origin as published (5 decimals), so a client adding up steps from it lands on the
    # very integers quantised here
    origin = np.round(np.floor(low / QUANTUM_DEG) * QUANTUM_DEG, 5)
    mid_lat = float(low[1] + high[1]) / 2
    hospitals = [
        {
            "hospital_id": h.id,
            "name": h.name_zh,
            "name_en": h.name_en,
            "lat": h.lat,
            "lon": h.lon,
            "on_network": svc.hospitals.door(h.id) is not None,
        }
        for h in svc.hospitals.registry.hospitals
    ]
    aeds = [
        {"aed_id": a.id, "lat": a.lat, "lon": a.lon, "indoor": a.indoor, "location": a.location}
        for a in svc.aeds.index.aeds
    ]
    answer: dict[str, Any] = {
        "version": VERSION,
        "quantum_deg": QUANTUM_DEG,
        "origin": [float(origin[0]), float(origin[1])],
        "bbox": [float(low[0]), float(low[1]), float(high[0]), float(high[1])],
        # metres per quantum east and north at the middle latitude, for drawing to scale
        "quantum_m": [
            round(QUANTUM_DEG * _DEG_M * math.cos(math.radians(mid_lat)), 6),
            round(QUANTUM_DEG * _DEG_M, 6),
        ],
        "classes": [name for name, _ in ROAD_CLASSES],
        "names": net.names.tolist(),
        "roads": road_polylines(net, origin),
        "hospitals": hospitals,
        "aeds": aeds,
        "stations": fleet_stations(svc)
        + file_stations(
            data_dir() / STATIONS_CSV,
            (float(low[0]), float(low[1]), float(high[0]), float(high[1])),
        ),
    }
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return EncodedMap(body, gzip.compress(body, compresslevel=9, mtime=0), etag)


_DEG_M = 6_371_008.8 * math.pi / 180  # metres per degree of latitude (mean Earth radius)
_built: weakref.WeakKeyDictionary[DispatchService, EncodedMap] = weakref.WeakKeyDictionary()
_building = threading.Lock()


def map_of(svc: DispatchService) -> EncodedMap:
    """The service's encoded map, built by the first caller (others wait for it)."""
    with _building:
        found = _built.get(svc)
        if found is None:
            found = _built[svc] = encode_map(svc)
        return found


def accepts_gzip(accept_encoding: str) -> bool:
    """True when an Accept-Encoding header takes gzip (by name or `*`) with a q above 0."""
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        return q > 0
    return False


@router.get(
    "/map",
    tags=["map"],
    responses={
        200: {"content": {"application/json": {}}, "description": "the base map"},
        304: {"description": "not modified (If-None-Match)"},
        **ERRORS,
    },
)
async def base_map(request: Request, svc: Svc) -> Response:
    """The road network as quantised polylines per road class, the hospitals, the AEDs and the
    stations, to draw the console's map (docs/wire-protocol.md); gzipped when the client
    accepts it."""
    encoded = _built.get(svc)
    if encoded is None:
        encoded = await asyncio.to_thread(map_of, svc)
    headers = {
        "ETag": encoded.etag,
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding, Authorization",
    }
    if request.headers.get("if-none-match") == encoded.etag:
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(encoded.gzipped, media_type="application/json", headers=headers)
    return Response(encoded.body, media_type="application/json", headers=headers)
