"""The console's base map: chaining, road classes, gzip negotiation, and `GET /api/v1/map`.

The pure parts run on hand-made data with no loop; the endpoint runs on the live Wulin server
(`live` fixture) and is checked against the network it was drawn from: every road of the
network, once, and nothing else.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import numpy as np
import pytest

from dispatch.http.map import QUANTUM_DEG, ROAD_CLASSES, _chains, accepts_gzip, road_class
from routing.load import load_network
from routing.network import from_edge_list
from tests.support.server import HERE, Running, auth, new_call


def test_chains_run_through_nodes_only_one_street_passes() -> None:
    """A path 0-1-2-3 with a spur 1-4 is three chains (0-1, 1-2-3, 1-4); a triangle 5-6-7 one."""
    tail = [0, 1, 2, 1, 5, 6, 7]
    head = [1, 2, 3, 4, 6, 7, 5]
    chains = _chains(tail, head)
    assert sorted(len(c) for c in chains) == [1, 1, 2, 3]
    assert sorted(i for c in chains for i, _ in c) == list(range(7))  # every edge, once
    loop = next(c for c in chains if len(c) == 3)
    assert sorted(i for i, _ in loop) == [4, 5, 6]


def test_a_chain_walked_against_an_edge_says_so() -> None:
    """Edges 0->1 and 2->1 chain through node 1; one of them is walked head to tail."""
    [chain] = _chains([0, 2], [1, 1])
    assert [forward for _, forward in chain].count(False) == 1


def test_a_street_is_one_class_from_its_length_weighted_speed() -> None:
    """Street A: 900 m at 80 km/h and 100 m at 20 km/h is 66.7 km/h overall: arterial, both
    edges; an unnamed edge at 15 km/h is a lane."""
    lonlat = np.array([[120.0, 30.0], [120.01, 30.0], [120.02, 30.0], [120.03, 30.0]])
    length = np.array([900.0, 100.0, 50.0])
    kph = np.array([80.0, 20.0, 15.0])
    net = from_edge_list(
        lonlat,
        np.arange(4, dtype=np.int64),
        np.array([0, 1, 2], np.int32),
        np.array([1, 2, 3], np.int32),
        length,
        length / (kph / 3.6),
        np.array([0, 0, -1], np.int32),
        ["A"],
    )
    names = [ROAD_CLASSES[c][0] for c in road_class(net)]
    assert names == ["arterial", "arterial", "lane"]


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*", True),
        ("", False),
        ("gzip;q=oops", False),
    ],
)
def test_gzip_is_sent_only_to_clients_that_take_it(header: str, gzip_ok: bool) -> None:
    """Accept-Encoding is read by coding name and q value; q=0 or garbage means no."""
    assert accepts_gzip(header) is gzip_ok


# --- the endpoint ----------------------------------------------------------------------------
def decoded(body: dict[str, Any]) -> set[tuple[tuple[int, int], tuple[int, int]]]:
    """Every drawn segment as an unordered pair of quantised points."""
    segments = set()
    for lines in body["roads"]:
        for line in lines:
            x, y = line[1], line[2]
            for dx, dy in zip(line[3::2], line[4::2], strict=True):
                a, b = (x, y), (x + dx, y + dy)
                segments.add((min(a, b), max(a, b)))
                x, y = x + dx, y + dy
    return segments


def test_the_map_draws_every_road_of_the_network_once(live: Running) -> None:
    """Wulin's map holds exactly the network's road segments (quantised to 1e-5 degrees, two-way
    streets once), each class's lines decode from the bbox origin, the names are the network's,
    and the hospitals and AEDs are the server's."""
    r = httpx.get(f"{live.http}/api/v1/map", headers=auth(live.tokens["dispatcher"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    net, _ = load_network("wulin")
    origin = np.array(body["origin"])
    q = np.rint((net.node_lonlat - origin) / QUANTUM_DEG).astype(int)
    assert (q >= 0).all()  # the origin is the south-west corner
    expected = set()
    for u, v in zip(net.edge_tail.tolist(), net.edge_head.tolist(), strict=True):
        a, b = tuple(q[u].tolist()), tuple(q[v].tolist())
        if a != b:
            expected.add((min(a, b), max(a, b)))
    assert net.geom_lonlat.shape[0] == 0  # straight edges: node to node
    assert decoded(body) == expected
    assert body["classes"] == [name for name, _ in ROAD_CLASSES]
    assert body["names"] == net.names.tolist()
    assert all(-1 <= line[0] < len(body["names"]) for lines in body["roads"] for line in lines)
    assert sum(len(lines) for lines in body["roads"]) < net.n_edges / 2  # chained, not per edge
    svc = live.server.config.app.state.service  # type: ignore[union-attr]
    registry = svc.hospitals.registry
    assert [h["hospital_id"] for h in body["hospitals"]] == [h.id for h in registry.hospitals]
    assert any(h["on_network"] for h in body["hospitals"])
    assert len(body["aeds"]) == len(svc.aeds.index.aeds) > 0
    low, high = net.node_lonlat.min(axis=0), net.node_lonlat.max(axis=0)
    assert body["bbox"] == [*low.tolist(), *high.tolist()]


def test_the_map_is_gzipped_for_clients_that_accept_it_and_revalidates(live: Running) -> None:
    """With Accept-Encoding gzip the body is gzip of the very JSON sent otherwise; the ETag
    answers 304 (still only to a dispatcher)."""
    headers = auth(live.tokens["dispatcher"])
    with httpx.Client() as client:
        plain = client.get(
            f"{live.http}/api/v1/map", headers={**headers, "Accept-Encoding": "identity"}
        )
        assert "content-encoding" not in plain.headers
        packed = client.send(
            client.build_request(
                "GET", f"{live.http}/api/v1/map", headers={**headers, "Accept-Encoding": "gzip"}
            ),
            stream=True,
        )
        raw = b"".join(packed.iter_raw())
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 2
    assert packed.headers["etag"] == plain.headers["etag"]
    assert "Accept-Encoding" in plain.headers["vary"]
    again = httpx.get(
        f"{live.http}/api/v1/map", headers={**headers, "If-None-Match": plain.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content
    stranger = httpx.get(
        f"{live.http}/api/v1/map", headers={"If-None-Match": plain.headers["etag"]}
    )
    assert stranger.status_code == 401
    json.loads(plain.content)  # one JSON document


def test_the_map_is_for_dispatchers_only(live: Running) -> None:
    """No token 401; a unit's, a caller's, a hospital's or a made-up token 401/403."""
    caller = new_call(live, "map-caller", HERE).json()["caller_token"]
    url = f"{live.http}/api/v1/map"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=auth("no-such-token-0123456789")).status_code == 401
    for token in (
        live.tokens["units"]["ALS01"],
        caller,
        live.tokens["hospitals"]["zjpph"],
        live.tokens["traffic"],
    ):
        r = httpx.get(url, headers=auth(token))
        assert r.status_code == 403 and r.json()["reason"] == "forbidden"


def test_the_map_lists_the_fleets_stations_and_the_station_files_inside_it(live: Running) -> None:
    """Four seeded units live at two demo-fleet stations (every unit at one, each station's
    units listed); the SYNTHETIC station file's rows inside the map's bbox come with their
    counts, and none outside it."""
    r = httpx.get(f"{live.http}/api/v1/map", headers=auth(live.tokens["dispatcher"]))
    stations = r.json()["stations"]
    bbox = r.json()["bbox"]
    fleet = [s for s in stations if s["source"] == "demo_fleet"]
    assert len(fleet) == 2
    assert sorted(u for s in fleet for u in s["unit_ids"]) == ["ALS01", "ALS04", "BLS02", "BLS03"]
    assert all(s["units"] == len(s["unit_ids"]) for s in fleet)
    planned = [s for s in stations if s["source"] == "synthetic"]
    assert planned and all(s["station_id"].startswith("S") and s["units"] >= 1 for s in planned)
    for s in stations:
        assert bbox[0] <= s["lon"] <= bbox[2] and bbox[1] <= s["lat"] <= bbox[3]
