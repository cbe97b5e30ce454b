"""OSM ways to a road network: cut at the extract's edge, split at junctions, compiled.

Pure: the ways an OSM reader found (node ids, their positions or None where the extract does
not hold the node, and the tags' verdict) in, a RoadNetwork and its load summary out. A way
that runs past the extract's edge keeps each run of nodes the file holds (cut at the last node
present), so a clipped extract loads like any other. Graph nodes are the junctions and way
ends; the nodes between them become the edge's shape, as osmnx's simplification does.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from routing.compile import compile_edges
from routing.errors import NetworkLoadError
from routing.load_summary import LoadSummary
from routing.network import EARTH_RADIUS_M, F64, RoadNetwork
from routing.osm_tags import WayRule
from routing.params import SpeedModel


@dataclass(frozen=True)
class OsmWay:
    """One drivable way: node ids, their lon/lat (None for a node missing from the file)."""

    way_id: int
    node_ids: tuple[int, ...]
    lonlat: tuple[tuple[float, float] | None, ...]
    rule: WayRule
    name: str | None = None


@dataclass
class WayCounts:
    """What the reader saw of the ways before any graph was built."""

    ways_read: int = 0  # ways with a highway tag
    dropped_by_highway: Counter[str] = field(default_factory=Counter)
    dropped_by_access: Counter[str] = field(default_factory=Counter)


def present_runs(way: OsmWay) -> list[tuple[int, int]]:
    """[start, stop) index ranges of the way's consecutive nodes the file holds, >= 2 long."""
    runs, start = [], None
    for i, point in enumerate((*way.lonlat, None)):
        if point is not None and start is None:
            start = i
        elif point is None and start is not None:
            if i - start >= 2:
                runs.append((start, i))
            start = None
    return runs


def segment_lengths_m(lonlat: F64) -> F64:
    """Great-circle metres between consecutive (lon, lat) points of a polyline."""
    rad = np.radians(lonlat)
    dlon = np.diff(rad[:, 0])
    dlat = np.diff(rad[:, 1])
    lat0, lat1 = rad[:-1, 1], rad[1:, 1]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat0) * np.cos(lat1) * np.sin(dlon / 2) ** 2
    out: F64 = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return out


def _cut_points(ids: tuple[int, ...], ends: set[int], uses: Counter[int]) -> list[int]:
    """Indices where a run is split into edges: its ends and junctions, and a ring's middle.

    A ring entered at one node (a roundabout with one road in) would be a single edge from
    that node to itself, which the compiler drops; a node halfway round keeps it drivable.
    """
    last = len(ids) - 1
    cuts = [i for i, v in enumerate(ids) if i in (0, last) or v in ends or uses[v] > 1]
    out = [cuts[0]]
    for i, j in itertools.pairwise(cuts):
        if ids[i] == ids[j] and j - i >= 2:
            out.append((i + j) // 2)
        out.append(j)
    return out


def build_network(
    ways: list[OsmWay], counts: WayCounts, model: SpeedModel, source: str
) -> tuple[RoadNetwork, LoadSummary]:
    """Cut, split and compile the ways; the summary counts every way, node and edge dropped."""
    pieces: list[tuple[OsmWay, int, int]] = []  # (way, start, stop): runs of present nodes
    cut = outside = 0
    for way in ways:
        runs = present_runs(way)
        if not runs:
            outside += 1
            continue
        if runs != [(0, len(way.node_ids))]:
            cut += 1
        pieces.extend((way, a, b) for a, b in runs)
    if not pieces:
        raise NetworkLoadError(f"{source}: no drivable roads")
    # A node is a graph node where a run ends or where it is used more than once (a junction,
    # or a way that loops back on itself); between graph nodes lie an edge's shape points.
    uses: Counter[int] = Counter()
    ends: set[int] = set()
    for way, a, b in pieces:
        uses.update(way.node_ids[a:b])
        ends.update((way.node_ids[a], way.node_ids[b - 1]))
    index: dict[int, int] = {}
    lonlat_rows: list[tuple[float, float]] = []
    names: list[str] = []
    name_index: dict[str, int] = {}
    tail, head, length, car_time, name_ids = [], [], [], [], []
    geom: list[F64] = []
    for way, a, b in pieces:
        ids = way.node_ids[a:b]
        pts = np.array(way.lonlat[a:b], np.float64)
        cum = np.concatenate([[0.0], np.cumsum(segment_lengths_m(pts))])
        name_id = -1
        if way.name:
            name_id = name_index.setdefault(way.name, len(names))
            if name_id == len(names):
                names.append(way.name)
        cuts = _cut_points(ids, ends, uses)
        for i, j in itertools.pairwise(cuts):
            u, v = ids[i], ids[j]
            for node, row in ((u, i), (v, j)):
                if node not in index:
                    index[node] = len(lonlat_rows)
                    lonlat_rows.append((float(pts[row, 0]), float(pts[row, 1])))
            metres = float(cum[j] - cum[i])
            seconds = metres / (way.rule.speed_kph / 3.6)  # km/h to m/s
            inner = pts[i + 1 : j]
            for go, (t, h, shape) in (
                (way.rule.forward, (u, v, inner)),
                (way.rule.backward, (v, u, inner[::-1])),
            ):
                if go:
                    tail.append(index[t])
                    head.append(index[h])
                    length.append(metres)
                    car_time.append(seconds)
                    name_ids.append(name_id)
                    geom.append(np.ascontiguousarray(shape))
    if not tail:
        raise NetworkLoadError(f"{source}: no drivable roads")
    net = compile_edges(
        node_lonlat=np.array(lonlat_rows, np.float64),
        node_osm_id=np.array(list(index), np.int64),
        tail=np.array(tail, np.int32),
        head=np.array(head, np.int32),
        length_m=np.array(length, np.float64),
        car_time_s=np.array(car_time, np.float64),
        edge_name=np.array(name_ids, np.int32),
        names=names,
        model=model,
        geom=geom,
        meta={"source": source},
    )
    summary = LoadSummary.from_counts(
        net.meta,
        ways_read=counts.ways_read,
        ways_kept=len(ways) - outside,
        ways_cut=cut,
        ways_outside=outside,
        dropped_by_highway=dict(counts.dropped_by_highway),
        dropped_by_access=dict(counts.dropped_by_access),
    )
    net.meta["load_summary"] = summary.to_meta()
    return net, summary
