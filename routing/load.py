"""Read a road network from disk: the bundled Hangzhou CSVs or any OpenStreetMap file.

The I/O shell of the routing core. The CSV pair becomes a networkx MultiDiGraph compiled by
`routing.compile`; an OSM file (.osm, .osm.bz2, .osm.pbf) is read by `routing.osm` and built by
`routing.osm_graph` (allow-listed roads, ways cut at the extract's edge). Either is cached as
`.npz`, keyed by the source file's identity, the reader and the speed model, so the second
start skips parsing and compiling; the load summary travels in the cached metadata.
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
from routing.load_summary import LoadSummary
from routing.network import FORMAT_VERSION, RoadNetwork
from routing.osm import FORMATS, osm_format, read_osm_ways
from routing.osm_graph import build_network
from routing.params import SpeedModel

#: Bundled networks by name: (nodes CSV, edges CSV) under the data directory.
BUNDLED = {
    "hangzhou": ("hangzhou/hangzhou_nodes.csv.gz", "hangzhou/hangzhou_edges.csv.gz"),
    "wulin": ("hangzhou/wulin_fixture_nodes.csv.gz", "hangzhou/wulin_fixture_edges.csv.gz"),
}

#: Bumped when reading a source changes what it yields, so caches built by an older reader
#: are rebuilt (v2: the allow-list OSM loader that cuts ways at the extract's edge).
READER_VERSION = 2


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
    """How a network was obtained: from the cache or compiled, how long it took, what it kept."""

    source: str
    cached: bool
    seconds: float
    cache_path: Path | None
    summary: LoadSummary | None = None  # what was kept and dropped (the same when cached)


def load_network(
    source: str | Path = "hangzhou",
    model: SpeedModel | None = None,
    *,
    use_cache: bool = True,
    cache: Path | None = None,
) -> tuple[RoadNetwork, LoadReport]:
    """Load a bundled network by name ("hangzhou", "wulin") or an OSM file by path."""
    model = model or SpeedModel()
    t0 = time.perf_counter()
    files = _source_files(source)
    cache_path = None
    if use_cache:
        cache_path = (cache or cache_dir()) / f"{_stem(files[0])}-{_cache_key(files, model)}.npz"
        if cache_path.exists():
            try:
                net = RoadNetwork.load(cache_path)
                seconds = time.perf_counter() - t0
                summary = LoadSummary.from_meta(net.meta)
                return net, LoadReport(str(source), True, seconds, cache_path, summary)
            except NetworkLoadError:
                pass  # stale or torn cache: rebuild below and overwrite it
    net = read_network(files, model, str(source))
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        net.save(cache_path)
    seconds = time.perf_counter() - t0
    summary = LoadSummary.from_meta(net.meta)
    return net, LoadReport(str(source), False, seconds, cache_path, summary)


def read_network(files: tuple[Path, ...], model: SpeedModel, source: str) -> RoadNetwork:
    """Parse and compile the source files: the CSV pair, or one OSM file."""
    if len(files) == 2:
        return compile_graph(read_csv_graph(files[0], files[1]), model, source=source)
    ways, counts = read_osm_ways(files[0])
    net, _ = build_network(ways, counts, model, source)
    return net


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


def _source_files(source: str | Path) -> tuple[Path, ...]:
    if isinstance(source, str) and source in BUNDLED:
        nodes, edges = BUNDLED[source]
        files: tuple[Path, ...] = (data_dir() / nodes, data_dir() / edges)
    else:
        path = Path(source)
        if path.name.endswith(("_nodes.csv", "_nodes.csv.gz")):
            files = (path, path.with_name(path.name.replace("_nodes.csv", "_edges.csv")))
        elif osm_format(path) is not None:
            files = (path,)
        else:
            raise NetworkLoadError(
                f"{source}: not a bundled network ({', '.join(BUNDLED)}), an OSM file "
                f"({', '.join(FORMATS)}) or a *_nodes.csv[.gz] file"
            )
    for f in files:
        if not f.is_file():
            raise NetworkLoadError(f"{f}: no such file")
    return files


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _cache_key(files: tuple[Path, ...], model: SpeedModel) -> str:
    """Identity of the sources (path, size, mtime) and of the parameters that shape the arrays."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}|r{READER_VERSION}|{model!r}".encode())
    for f in files:
        st = f.stat()
        h.update(f"|{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]
