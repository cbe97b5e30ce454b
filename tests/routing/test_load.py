"""Loading networks: bundled CSVs, an OSM XML file, the cache, and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.errors import NetworkLoadError
from routing.load import load_network
from routing.network import RoadNetwork


def _strongly_connected(net: RoadNetwork) -> bool:
    n = net.n_nodes
    adj = csr_matrix((np.ones(net.n_edges), (net.edge_tail, net.edge_head)), shape=(n, n))
    return connected_components(adj, directed=True, connection="strong")[0] == 1


def test_wulin_fixture_loads_whole(wulin: RoadNetwork, data_dir: Path) -> None:
    """The Wulin fixture is already one strongly connected part: 3,949 nodes, 7,887 edges."""
    assert wulin.n_nodes == 3949
    raw = pd.read_csv(data_dir / "hangzhou" / "wulin_fixture_edges.csv.gz")
    self_loops = int((raw["u_osm"] == raw["v_osm"]).sum())
    assert wulin.meta["edges_dropped"] == self_loops  # nothing but self-loops is dropped
    assert wulin.n_edges == 7887 - self_loops
    assert wulin.meta["nodes_dropped"] == 0
    assert _strongly_connected(wulin)


def test_csr_layouts_agree(wulin: RoadNetwork) -> None:
    """Every edge sits in its tail's forward slots and its head's reverse slot."""
    e = np.arange(wulin.n_edges)
    assert np.all(wulin.fwd_indptr[wulin.edge_tail] <= e)
    assert np.all(e < wulin.fwd_indptr[wulin.edge_tail + 1])
    pos = wulin.edge_rev_pos
    assert np.array_equal(wulin.rev_edge[pos], e)
    assert np.array_equal(wulin.rev_tail[pos], wulin.edge_tail)
    assert np.all(wulin.rev_indptr[wulin.edge_head] <= pos)
    assert np.all(pos < wulin.rev_indptr[wulin.edge_head + 1])
    assert np.array_equal(wulin.rev_time_s[pos], wulin.time_s)


def test_twins_are_reverse_edges(wulin: RoadNetwork) -> None:
    """A twin runs the other way between the same nodes, and twinning is symmetric."""
    has = np.nonzero(wulin.twin >= 0)[0]
    tw = wulin.twin[has]
    assert has.size > wulin.n_edges // 2  # most city streets are two-way
    assert np.array_equal(wulin.edge_tail[tw], wulin.edge_head[has])
    assert np.array_equal(wulin.edge_head[tw], wulin.edge_tail[has])
    assert np.array_equal(wulin.twin[tw], has)


def test_hangzhou_drops_what_cannot_reach_the_core(cache_path: Path) -> None:
    """The full city keeps its largest strongly connected part (39,059 of 42,133 nodes)."""
    net, report = load_network("hangzhou", cache=cache_path)
    assert net.n_nodes == 39059
    assert net.meta["nodes_in"] == 42133
    assert net.meta["nodes_dropped"] == 42133 - 39059
    assert net.meta["edges_dropped"] > 0
    assert net.nbytes < 100 * 2**20
    again, report2 = load_network("hangzhou", cache=cache_path)
    assert report2.cached and report2.cache_path == report.cache_path
    assert np.array_equal(again.time_s, net.time_s)
    assert list(again.names) == list(net.names)
    assert again.meta["nodes_dropped"] == net.meta["nodes_dropped"]


def test_torn_cache_is_rebuilt(tmp_path: Path) -> None:
    """A cache file cut short is not trusted: the network is compiled again and rewritten."""
    net, report = load_network("wulin", cache=tmp_path)
    assert report.cache_path is not None and not report.cached
    data = report.cache_path.read_bytes()
    report.cache_path.write_bytes(data[: len(data) // 3])
    again, report2 = load_network("wulin", cache=tmp_path)
    assert not report2.cached
    assert np.array_equal(again.time_s, net.time_s)
    assert load_network("wulin", cache=tmp_path)[1].cached


def test_osm_xml_file_loads(test_data_dir: Path) -> None:
    """West Oakland's OSM extract gives a drivable, strongly connected graph with names."""
    net, report = load_network(test_data_dir / "West-Oakland.osm.bz2", use_cache=False)
    assert not report.cached
    assert 10 < net.n_nodes < net.meta["nodes_in"]  # footways and dead ends are gone
    assert _strongly_connected(net)
    assert "Willow Street" in set(net.names.tolist())
    assert np.all(net.time_s > 0) and np.all(np.isfinite(net.time_s))
    # Untagged residential streets run at 25 km/h; nothing in the file reaches 100 km/h.
    kph = net.length_m / net.time_s * 3.6
    assert kph.max() < 100


@pytest.mark.parametrize("source", ["atlantis", "/no/such/file.osm", "notes.txt"])
def test_unknown_sources_are_refused(source: str) -> None:
    """A name that is neither bundled nor a readable OSM/CSV file raises NetworkLoadError."""
    with pytest.raises(NetworkLoadError):
        load_network(source, use_cache=False)


def test_empty_osm_file_is_refused(tmp_path: Path) -> None:
    """An OSM file without drivable ways is a load error, not an empty network."""
    path = tmp_path / "empty.osm"
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?><osm version='0.6'>"
        "<node id='1' lat='30.0' lon='120.0'/><node id='2' lat='30.001' lon='120.0'/>"
        "<way id='9'><nd ref='1'/><nd ref='2'/><tag k='highway' v='footway'/></way></osm>"
    )
    with pytest.raises(NetworkLoadError):
        load_network(path, use_cache=False)
