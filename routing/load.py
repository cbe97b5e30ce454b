"""Read a road network from disk: the bundled Hangzhou CSVs or any OpenStreetMap XML file.

The I/O shell of the routing core. Both sources become an osmnx-compatible networkx
MultiDiGraph (the OSM file through `osmnx.graph_from_xml`), are compiled to a RoadNetwork and
cached as `.npz`, keyed by the source file's identity and the speed model, so the second start
skips parsing and compiling.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from routing.compile import compile_graph
from routing.errors import NetworkLoadError
from routing.network import FORMAT_VERSION, RoadNetwork
from routing.params import SpeedModel

#: Bundled networks by name: (nodes CSV, edges CSV) under the data directory.
BUNDLED = {
    "hangzhou": ("hangzhou/hangzhou_nodes.csv.gz", "hangzhou/hangzhou_edges.csv.gz"),
    "wulin": ("hangzhou/wulin_fixture_nodes.csv.gz", "hangzhou/wulin_fixture_edges.csv.gz"),
}

#: OSM highway values an ambulance cannot drive on; dropped from OSM files.
NOT_DRIVABLE = frozenset(
    {
        "footway", "path", "cycleway", "steps", "pedestrian", "bridleway", "corridor",
        "elevator", "escalator", "proposed", "construction", "platform", "raceway",
        "abandoned", "bus_guideway", "busway", "via_ferrata", "track",
    }
)  # fmt: skip


#: Free-flow km/h by OSM highway class where a way has no maxspeed tag (urban defaults);
#: osmnx uses a tagged maxspeed first, then the mean of its class in the file, then these.
HWY_SPEEDS_KPH = {
    "motorway": 90.0, "motorway_link": 50.0, "trunk": 70.0, "trunk_link": 40.0,
    "primary": 50.0, "primary_link": 35.0, "secondary": 45.0, "secondary_link": 30.0,
    "tertiary": 40.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0, "road": 30.0,
}  # fmt: skip
FALLBACK_KPH = 25.0


def data_dir() -> Path:
    """The project's data folder (override with JIJIU_DATA_DIR)."""
    env = os.environ.get("JIJIU_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def cache_dir() -> Path:
    """Where compiled networks are cached (override with JIJIU_CACHE_DIR)."""
    env = os.environ.get("JIJIU_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base if env else base / "jijiu"


@dataclass(frozen=True)
class LoadReport:
    """How a network was obtained: from the cache or compiled, and how long it took."""

    source: str
    cached: bool
    seconds: float
    cache_path: Path | None


def load_network(
    source: str | Path = "hangzhou",
    model: SpeedModel | None = None,
    *,
    use_cache: bool = True,
    cache: Path | None = None,
) -> tuple[RoadNetwork, LoadReport]:
    """Load a bundled network by name ("hangzhou", "wulin") or an OSM XML file by path."""
    model = model or SpeedModel()
    t0 = time.perf_counter()
    files = _source_files(source)
    cache_path = None
    if use_cache:
        cache_path = (cache or cache_dir()) / f"{_stem(files[0])}-{_cache_key(files, model)}.npz"
        if cache_path.exists():
            try:
                net = RoadNetwork.load(cache_path)
                return net, LoadReport(str(source), True, time.perf_counter() - t0, cache_path)
            except NetworkLoadError:
                pass  # stale or torn cache: rebuild below and overwrite it
    graph = read_graph(files)
    net = compile_graph(graph, model, source=str(source))
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        net.save(cache_path)
    return net, LoadReport(str(source), False, time.perf_counter() - t0, cache_path)


def read_graph(files: tuple[Path, ...]) -> nx.MultiDiGraph[Any]:
    """Parse source files into an osmnx-compatible MultiDiGraph (x/y, length, travel_time)."""
    if len(files) == 2:
        return read_csv_graph(files[0], files[1])
    return read_osm_graph(files[0])


def read_csv_graph(nodes_csv: Path, edges_csv: Path) -> nx.MultiDiGraph[Any]:
    """The bundled CSV pair as a graph; `osrm_duration_s` is the free-flow car time."""
    import pandas as pd

    try:
        nodes = pd.read_csv(nodes_csv, dtype={"osm_node_id": np.int64})
        edges = pd.read_csv(
            edges_csv,
            dtype={"u_osm": np.int64, "v_osm": np.int64, "name": str, "ref": str},
            keep_default_na=False,
            na_values={"length_m": [""], "osrm_duration_s": [""]},
        )
    except (OSError, ValueError) as exc:
        raise NetworkLoadError(f"{nodes_csv.parent}: {exc}") from exc
    graph: nx.MultiDiGraph[int] = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_nodes_from(
        (int(i), {"x": float(x), "y": float(y)})
        for i, x, y in zip(nodes["osm_node_id"], nodes["lon"], nodes["lat"], strict=True)
    )
    known = set(graph.nodes)
    graph.add_edges_from(
        (
            int(u),
            int(v),
            {
                "length": float(length),
                "travel_time": float(t),
                "name": name or None,
                "ref": ref or None,
                "oneway": bool(int(oneway)),
            },
        )
        for u, v, length, t, name, ref, oneway in zip(
            edges["u_osm"],
            edges["v_osm"],
            edges["length_m"],
            edges["osrm_duration_s"],
            edges["name"],
            edges["ref"],
            edges["oneway"],
            strict=True,
        )
        if int(u) in known and int(v) in known
    )
    return graph


def read_osm_graph(path: Path) -> nx.MultiDiGraph[Any]:
    """An OSM XML file through osmnx, kept to drivable ways, with imputed speeds and times."""
    import osmnx as ox

    try:
        graph = ox.graph_from_xml(path, simplify=True, retain_all=True)
    except (OSError, ValueError, KeyError) as exc:
        raise NetworkLoadError(f"{path}: {exc}") from exc
    drop = []
    for u, v, k, data in graph.edges(keys=True, data=True):
        hw: object = data.get("highway")
        if hw is None or _highways(hw) <= NOT_DRIVABLE:  # no highway tag: not a road
            drop.append((u, v, k))
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([v for v in list(graph.nodes) if graph.degree(v) == 0])
    if graph.number_of_edges() == 0:
        raise NetworkLoadError(f"{path}: no drivable roads")
    graph = ox.add_edge_speeds(graph, hwy_speeds=dict(HWY_SPEEDS_KPH), fallback=FALLBACK_KPH)
    return ox.add_edge_travel_times(graph)


def _highways(value: object) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value}
    return {str(value)}


def _source_files(source: str | Path) -> tuple[Path, ...]:
    if isinstance(source, str) and source in BUNDLED:
        nodes, edges = BUNDLED[source]
        files: tuple[Path, ...] = (data_dir() / nodes, data_dir() / edges)
    else:
        path = Path(source)
        if path.name.endswith(("_nodes.csv", "_nodes.csv.gz")):
            files = (path, path.with_name(path.name.replace("_nodes.csv", "_edges.csv")))
        elif path.name.endswith((".osm", ".osm.bz2", ".xml", ".osm.xml")):
            files = (path,)
        else:
            raise NetworkLoadError(
                f"{source}: not a bundled network ({', '.join(BUNDLED)}), an OSM XML file "
                "(.osm, .osm.bz2) or a *_nodes.csv[.gz] file"
            )
    for f in files:
        if not f.is_file():
            raise NetworkLoadError(f"{f}: no such file")
    return files


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _cache_key(files: tuple[Path, ...], model: SpeedModel) -> str:
    """Identity of the sources (path, size, mtime) and of the parameters that shape the arrays."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{model!r}".encode())
    for f in files:
        st = f.stat()
        h.update(f"|{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]
