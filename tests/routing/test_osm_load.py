"""Loading real OSM extracts: clipped files, the allow-list end to end, PBF, the summary."""

from __future__ import annotations

import bz2
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import osmium
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import Point, Polygon

from routing.load import load_network
from routing.network import RoadNetwork
from routing.osm_tags import refusal


def _strongly_connected(net: RoadNetwork) -> bool:
    n = net.n_nodes
    adj = csr_matrix((np.ones(net.n_edges), (net.edge_tail, net.edge_head)), shape=(n, n))
    return bool(connected_components(adj, directed=True, connection="strong")[0] == 1)


def _edges_by_osm_id(net: RoadNetwork) -> set[tuple[int, int]]:
    ids = net.node_osm_id
    return {(int(ids[u]), int(ids[v])) for u, v in zip(net.edge_tail, net.edge_head, strict=True)}


def _edges_by_osm_id_one(net: RoadNetwork, e: int) -> tuple[int, int]:
    return int(net.node_osm_id[net.edge_tail[e]]), int(net.node_osm_id[net.edge_head[e]])


# West Oakland's extract is bounded by lon -122.30258..-122.29825, lat 37.80615..37.80914 (its
# ways run on beyond); this diamond round the middle cuts six drivable streets at its sides.
CLIP = Polygon(
    [(-122.30042, 37.80600), (-122.29803, 37.80765), (-122.30042, 37.80929), (-122.30280, 37.80765)]
)


def _clip(source: Path, polygon: Polygon, out: Path) -> tuple[set[int], list[ET.Element]]:
    """Write the extract cut along `polygon`: its nodes inside, every way touching one of them
    with its full node list (so the ways dangle). Returns the kept node ids and the ways."""
    root = ET.fromstring(bz2.decompress(source.read_bytes()))
    kept = {
        int(n.attrib["id"])
        for n in root.iter("node")
        if polygon.contains(Point(float(n.attrib["lon"]), float(n.attrib["lat"])))
    }
    ways = [
        w for w in root.iter("way") if any(int(nd.attrib["ref"]) in kept for nd in w.iter("nd"))
    ]
    clipped = ET.Element("osm", version="0.6")
    clipped.extend(n for n in root.iter("node") if int(n.attrib["id"]) in kept)
    clipped.extend(ways)
    ET.ElementTree(clipped).write(out, encoding="utf-8", xml_declaration=True)
    return kept, ways


def test_clipped_extract_loads_with_ways_cut(test_data_dir: Path, tmp_path: Path) -> None:
    """West Oakland cut along a diamond: dangling ways are cut and counted, the graph is whole."""
    path = tmp_path / "west-oakland-clipped.osm"
    kept, ways = _clip(test_data_dir / "West-Oakland.osm.bz2", CLIP, path)
    tags = [{t.attrib["k"]: t.attrib["v"] for t in w.iter("tag")} for w in ways]
    dangling = [
        w
        for w, t in zip(ways, tags, strict=True)
        if "highway" in t
        and refusal(t) is None
        and any(int(nd.attrib["ref"]) not in kept for nd in w.iter("nd"))
    ]
    assert len(dangling) >= 4  # the clip really does leave roads running off the edge

    net, report = load_network(path, use_cache=False)
    summary = report.summary
    assert summary is not None
    assert summary.ways_cut == 6  # run on past the diamond: cut at the last node inside
    assert summary.ways_cut + summary.ways_outside == len(dangling)
    assert set(net.node_osm_id.tolist()) <= kept  # every edge's ends are nodes of the file
    assert all(CLIP.buffer(1e-9).contains(Point(x, y)) for x, y in net.geom_lonlat)
    assert _strongly_connected(net)
    assert summary.nodes_dropped == 3  # the cut leaves them outside the largest strong part
    assert summary.nodes_kept == net.n_nodes and summary.edges_kept == net.n_edges


TINY_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="30.2500" lon="120.1500"/>
  <node id="2" lat="30.2500" lon="120.1520"/>
  <node id="3" lat="30.2520" lon="120.1510"/>
  <node id="4" lat="30.2480" lon="120.1500"/>
  <node id="5" lat="30.2530" lon="120.1510"/>
  <node id="6" lat="30.2540" lon="120.1520"/>
  <node id="7" lat="30.2540" lon="120.1500"/>
  <node id="8" lat="30.2560" lon="120.1510"/>
  <node id="9" lat="30.2580" lon="120.1510"/>
  <node id="10" lat="30.2600" lon="120.1510"/>
  <node id="11" lat="30.2560" lon="120.1530"/>
  <node id="12" lat="30.2490" lon="120.1540"/>
  <way id="101"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
  <way id="102"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/>
    <tag k="oneway" v="yes"/></way>
  <way id="103"><nd ref="1"/><nd ref="3"/><tag k="highway" v="residential"/>
    <tag k="oneway" v="-1"/></way>
  <way id="104"><nd ref="3"/><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="3"/>
    <tag k="highway" v="tertiary"/><tag k="junction" v="roundabout"/></way>
  <way id="105"><nd ref="5"/><nd ref="8"/><tag k="highway" v="residential"/></way>
  <way id="106"><nd ref="1"/><nd ref="4"/><tag k="highway" v="residential"/>
    <tag k="access" v="no"/><tag k="emergency" v="yes"/></way>
  <way id="107"><nd ref="8"/><nd ref="9"/><tag k="highway" v="footway"/></way>
  <way id="108"><nd ref="9"/><nd ref="10"/><tag k="highway" v="trail"/></way>
  <way id="109"><nd ref="8"/><nd ref="11"/><tag k="highway" v="crossing"/></way>
  <way id="110"><nd ref="2"/><nd ref="12"/><tag k="highway" v="service"/>
    <tag k="access" v="private"/></way>
</osm>
"""


def test_allow_list_keeps_exactly_the_drivable_edges(tmp_path: Path) -> None:
    """Footway, trail, crossing and private service road go; one-ways and the roundabout run
    one way, the emergency-only road both: ten edges, each in its expected direction."""
    path = tmp_path / "tiny.osm"
    path.write_text(TINY_OSM)
    net, report = load_network(path, use_cache=False)
    assert _edges_by_osm_id(net) == {
        (1, 2), (2, 1),  # two-way residential
        (2, 3),  # oneway=yes
        (3, 1),  # oneway=-1: drawn 1 -> 3, driven 3 -> 1
        (3, 5), (5, 3),  # the roundabout, one way round 3 -> 5 -> 6 -> 7 -> 3
        (5, 8), (8, 5),  # the road off the roundabout
        (1, 4), (4, 1),  # access=no but emergency=yes
    }  # fmt: skip
    assert net.n_edges == 10
    back = next(e for e in range(net.n_edges) if _edges_by_osm_id_one(net, e) == (5, 3))
    shape = net.geom_lonlat[net.geom_indptr[back] : net.geom_indptr[back + 1]]
    assert np.allclose(shape, [[120.1520, 30.2540], [120.1500, 30.2540]])  # via nodes 6 and 7
    summary = report.summary
    assert summary is not None
    assert dict(summary.dropped_by_highway) == {
        "highway=footway": 1,
        "highway=trail": 1,
        "highway=crossing": 1,
    }
    assert dict(summary.dropped_by_access) == {"access=private": 1}
    assert summary.ways_read == 10 and summary.ways_kept == 6 and summary.ways_cut == 0


def test_maxspeed_sets_the_car_time(tmp_path: Path) -> None:
    """A 1 km-ish street tagged 30 mph is compiled at 48.3 km/h free flow (x1.2 for an
    ambulance in that band); untagged it would be the residential 25 km/h (x1.1)."""
    body = TINY_OSM.replace(
        '<way id="101"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>',
        '<way id="101"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>'
        '<tag k="maxspeed" v="30 mph"/>',
    )
    path = tmp_path / "tiny.osm"
    path.write_text(body)
    net, _ = load_network(path, use_cache=False)
    e = next(e for e in range(net.n_edges) if _edges_by_osm_id_one(net, e) == (1, 2))
    kph = net.length_m[e] / net.base_time_s[e] * 3.6
    assert kph == pytest.approx(30 * 1.609344 * 1.2, rel=1e-6)
    e4 = next(e for e in range(net.n_edges) if _edges_by_osm_id_one(net, e) == (1, 4))
    assert net.length_m[e4] / net.base_time_s[e4] * 3.6 == pytest.approx(25 * 1.1, rel=1e-6)


def test_pbf_loads_like_the_xml(test_data_dir: Path, tmp_path: Path) -> None:
    """West Oakland rewritten as .osm.pbf by pyosmium gives the very same network."""
    src = test_data_dir / "West-Oakland.osm.bz2"
    pbf = tmp_path / "west-oakland.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    xml_net, _ = load_network(src, use_cache=False)
    pbf_net, report = load_network(pbf, use_cache=False)
    assert report.summary is not None and report.summary.ways_read > 0
    assert np.array_equal(pbf_net.node_osm_id, xml_net.node_osm_id)
    assert np.array_equal(pbf_net.edge_tail, xml_net.edge_tail)
    assert np.allclose(pbf_net.length_m, xml_net.length_m)


def test_summary_survives_the_cache(test_data_dir: Path, tmp_path: Path) -> None:
    """A cached start reports the same load summary as the start that compiled the file."""
    src = test_data_dir / "West-Oakland.osm.bz2"
    _, first = load_network(src, cache=tmp_path)
    _, second = load_network(src, cache=tmp_path)
    assert not first.cached and second.cached
    assert first.summary is not None and first.summary.ways_read > 0
    assert second.summary == first.summary
    assert any("highway=footway" in line for line in second.summary.lines())


def test_broken_osm_file_is_a_load_error(tmp_path: Path) -> None:
    """A truncated OSM file raises NetworkLoadError, never a parser's own exception."""
    from routing.errors import NetworkLoadError

    path = tmp_path / "broken.osm"
    path.write_text(TINY_OSM[: len(TINY_OSM) // 2])
    with pytest.raises(NetworkLoadError):
        load_network(path, use_cache=False)
