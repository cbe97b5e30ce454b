"""Compile a road graph (an osmnx-style networkx MultiDiGraph, or edge arrays) into a RoadNetwork.

Steps: read the edges, apply the ambulance speed model, keep the largest strongly connected
component (a unit must be able to get in *and* out), and lay the arrays out as CSR. Pure:
numpy/scipy on what it is given; reading files is `routing.load`'s job.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.errors import NetworkLoadError
from routing.landmarks import fastest_parallel
from routing.network import F64, I32, I64, RoadNetwork, from_edge_list
from routing.params import SpeedModel


def ambulance_time_s(length_m: F64, car_time_s: F64, model: SpeedModel) -> F64:
    """Seconds an ambulance needs per edge, from length and free-flow car time.

    Speeds are km/h: m/s * 3.6. An edge with no usable car time keeps the car time.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        car_kph = np.where(car_time_s > 0, length_m / car_time_s * 3.6, 0.0)
    band = np.searchsorted(np.asarray(model.band_floor_kph), car_kph, side="right") - 1
    speedup = np.asarray(model.speedup)[np.clip(band, 0, len(model.speedup) - 1)]
    amb_kph = np.minimum(car_kph * speedup, model.max_kph)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(amb_kph > 0, length_m / (amb_kph / 3.6), car_time_s)
    out: F64 = np.maximum(np.nan_to_num(t, nan=model.min_edge_s), model.min_edge_s)
    return out


def compile_edges(
    node_lonlat: F64,
    node_osm_id: I64,
    tail: I32,
    head: I32,
    length_m: F64,
    car_time_s: F64,
    edge_name: I32,
    names: list[str],
    model: SpeedModel,
    geom: list[F64] | None = None,
    meta: dict[str, Any] | None = None,
) -> RoadNetwork:
    """Speed model, largest strongly connected component, CSR; `meta` gains the drop counts."""
    n = node_lonlat.shape[0]
    if n == 0 or tail.shape[0] == 0:
        raise NetworkLoadError("the road graph is empty")
    adj = csr_matrix((np.ones(tail.shape[0]), (tail, head)), shape=(n, n))
    _, label = connected_components(adj, directed=True, connection="strong")
    keep_label = np.bincount(label).argmax()
    keep = label == keep_label
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    ekeep = keep[tail] & keep[head] & (tail != head)  # a self-loop never shortens a path
    kept_edges = np.nonzero(ekeep)[0]
    info = dict(meta or {})
    info.update(
        nodes_in=int(n),
        edges_in=int(tail.shape[0]),
        nodes_dropped=int(n - keep.sum()),
        edges_dropped=int(tail.shape[0] - ekeep.sum()),
        speed_model=repr(model),
    )
    return from_edge_list(
        node_lonlat=node_lonlat[keep],
        node_osm_id=node_osm_id[keep],
        tail=new_id[tail[ekeep]].astype(np.int32),
        head=new_id[head[ekeep]].astype(np.int32),
        length_m=length_m[ekeep],
        time_s=ambulance_time_s(length_m[ekeep], car_time_s[ekeep], model),
        edge_name=edge_name[ekeep],
        names=names,
        geom=[geom[i] for i in kept_edges] if geom is not None else None,
        meta=info,
    )


def compile_graph(graph: nx.MultiDiGraph[Any], model: SpeedModel, source: str) -> RoadNetwork:
    """Compile an osmnx-style graph: nodes with x/y, edges with length and travel_time.

    Edges may carry `name` (a string or, after osmnx simplification, a list), and `geometry`
    (a shapely LineString from tail to head) whose inner points become the edge's shape.
    """
    if graph.number_of_edges() == 0:
        raise NetworkLoadError(f"{source}: no roads in the graph")
    nodes = list(graph.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    lonlat = np.array([[graph.nodes[v]["x"], graph.nodes[v]["y"]] for v in nodes], np.float64)
    osm_id = np.array([v if isinstance(v, int) else i for i, v in enumerate(nodes)], np.int64)
    names: list[str] = []
    name_index: dict[str, int] = {}
    tail, head, length, car_time, name_ids = [], [], [], [], []
    geom: list[F64] = []
    any_geom = False
    for u, v, data in graph.edges(data=True):
        tail.append(index[u])
        head.append(index[v])
        length.append(float(data.get("length", 0.0)))
        car_time.append(float(data.get("travel_time", 0.0)))
        name = _first_name(data.get("name"))
        if name is None:
            name_ids.append(-1)
        else:
            name_ids.append(name_index.setdefault(name, len(names)))
            if name_ids[-1] == len(names):
                names.append(name)
        shape = data.get("geometry")
        if shape is not None:
            coords = np.asarray(shape.coords, dtype=np.float64)[1:-1, :2]
            any_geom = any_geom or coords.shape[0] > 0
            geom.append(coords)
        else:
            geom.append(np.zeros((0, 2), np.float64))
    return compile_edges(
        node_lonlat=lonlat,
        node_osm_id=osm_id,
        tail=np.array(tail, np.int32),
        head=np.array(head, np.int32),
        length_m=np.array(length, np.float64),
        car_time_s=np.array(car_time, np.float64),
        edge_name=np.array(name_ids, np.int32),
        names=names,
        model=model,
        geom=geom if any_geom else None,
        meta={"source": source},
    )


def _first_name(value: object) -> str | None:
    """osmnx merges names into a list when it simplifies; keep the first non-empty one."""
    if isinstance(value, list):
        value = next((x for x in value if isinstance(x, str) and x), None)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def to_networkx(net: RoadNetwork) -> nx.DiGraph[int]:
    """The compiled network as a networkx DiGraph weighted by live `time_s` (min over parallels).

    For tests and benchmarks: the same graph our searches run on, in the peer's own structure.
    """
    g: nx.DiGraph[int] = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    best: dict[tuple[int, int], float] = {}
    pairs = zip(net.edge_tail.tolist(), net.edge_head.tolist(), net.time_s.tolist(), strict=True)
    for u, v, t in pairs:
        if t < best.get((u, v), np.inf):
            best[(u, v)] = t
    g.add_weighted_edges_from((u, v, t) for (u, v), t in best.items())
    return g


def unique_pairs(net: RoadNetwork) -> tuple[I32, I32, NDArray[np.float64]]:
    """(tail, head, live time) with parallel edges reduced to their minimum, for CSR peers."""
    sel = fastest_parallel(net.n_nodes, net.edge_tail, net.edge_head, net.time_s)
    return net.edge_tail[sel], net.edge_head[sel], net.time_s[sel]
