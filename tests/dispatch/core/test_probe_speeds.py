"""Probe speeds: factors learned from units' road positions, and how they meet the feed's jams.

Pure tests on a three-node road A - B - C (two-way, each way 100 m in 10 s at free flow,
36 km/h), built by hand so every expected factor can be checked on paper. Edge ids, from the
CSR order (by tail, then head): 0 A->B, 1 B->A, 2 B->C, 3 C->B; 0/1 and 2/3 are twins.
The last test runs the real server (Wulin, real sockets): a tablet creeps along a road.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import numpy as np
import pytest

from dispatch.core.probe_speeds import Learned, ProbeLearner, ProbeParams
from dispatch.core.traffic import TrafficBook
from dispatch.errors import InvalidEvent
from dispatch.settings import Settings
from routing.load import load_network
from routing.network import RoadNetwork, from_edge_list
from routing.router import Router
from simulator.live.drive import along
from tests.support.server import Running, auth, new_call, start

AB, BA, BC, CB = 0, 1, 2, 3


@pytest.fixture(scope="module")
def road() -> RoadNetwork:
    """A - B - C along a parallel, 100 m and 10 s per edge each way."""
    lonlat = np.array([[120.0, 30.0], [120.00104, 30.0], [120.00208, 30.0]])
    return from_edge_list(
        lonlat,
        np.arange(3, dtype=np.int64),
        np.array([0, 1, 1, 2], dtype=np.int32),
        np.array([1, 0, 2, 1], dtype=np.int32),
        np.full(4, 100.0),
        np.full(4, 10.0),
        np.zeros(4, dtype=np.int32),
        ["文三路"],
    )


def drive(
    learner: ProbeLearner,
    track: list[tuple[int, float]],
    dt_s: float = 1.0,
    t0_s: float = 0.0,
    unit: str = "ALS01",
    driving: bool = True,
) -> list[Learned]:
    """Feed one unit's (edge, fraction) reports, one every dt_s; what each batch taught."""
    return [
        learner.observe([unit], [e], [f], [driving], t0_s + i * dt_s)
        for i, (e, f) in enumerate(track)
    ]


def last_factor(learned: list[Learned], edge: int) -> float | None:
    found = [float(x.factors[x.edges == edge][0]) for x in learned if edge in x.edges]
    return found[-1] if found else None


def test_half_the_free_flow_speed_gives_factor_two(road: RoadNetwork) -> None:
    """5 m/s on A->B (free flow 10 m/s): each 1 s report moves 5 m, the factor comes out 2."""
    learner = ProbeLearner(road)
    out = drive(learner, [(AB, 0.05 * i) for i in range(12)])
    assert last_factor(out, AB) == pytest.approx(2.0)
    assert learner.factor(AB) == pytest.approx(2.0)
    assert learner.factor(BA) == 1.0  # the other direction learned nothing


def test_free_flow_teaches_nothing_and_too_few_samples_give_nothing(road: RoadNetwork) -> None:
    """10 m/s (free flow) hands out no factor; two slow samples are below min_samples (3)."""
    learner = ProbeLearner(road)
    assert all(x.edges.size == 0 for x in drive(learner, [(AB, 0.1 * i) for i in range(9)]))
    slow = ProbeLearner(road)
    assert all(x.edges.size == 0 for x in drive(slow, [(AB, 0.0), (AB, 0.05), (AB, 0.10)]))


def test_crossing_onto_the_next_edge_and_the_twin_direction(road: RoadNetwork) -> None:
    """Moves across B (A->B into B->C) count on both edges; a unit snapped to B->A while its
    fraction falls is driving A->B: the same factor 2 lands on A->B."""
    learner = ProbeLearner(road)
    track = [(AB, 0.70 + 0.05 * i) for i in range(6)] + [(BC, 0.05 * i) for i in range(6)]
    out = drive(learner, track)
    assert last_factor(out, AB) == pytest.approx(2.0)
    assert last_factor(out, BC) == pytest.approx(2.0)
    twin = ProbeLearner(road)
    out = drive(twin, [(BA, 1.0 - 0.05 * i) for i in range(8)])
    assert last_factor(out, AB) == pytest.approx(2.0) and twin.factor(BA) == 1.0


def test_a_wait_at_a_light_counts_once_the_unit_moves_on(road: RoadNetwork) -> None:
    """5 m in 1 s, a 10 s stop, then 5 m more, repeated: 10 m (1 s at free flow) in 12 s each
    time, factor 12; the stop counts, in the sample that ends it."""
    learner = ProbeLearner(road)
    track = []
    for k in range(4):
        track += [(AB, 0.1 * k + 0.05)] * 11 + [(AB, 0.1 * k + 0.1)]
    out = drive(learner, [(AB, 0.0), *track])
    assert last_factor(out, AB) == pytest.approx(12.0, rel=0.05)


def test_parked_units_and_units_not_driving_are_ignored(road: RoadNetwork) -> None:
    """A unit on scene creeping, or one parked for 10 minutes then driving off at free flow,
    teaches nothing."""
    learner = ProbeLearner(road)
    assert all(
        x.edges.size == 0
        for x in drive(learner, [(AB, 0.05 * i) for i in range(12)], driving=False)
    )
    parked = ProbeLearner(road)
    track = [(AB, 0.5)] * 600 + [(AB, 0.5 + 0.1 * i) for i in range(1, 5)]
    assert all(x.edges.size == 0 for x in drive(parked, track))


def test_jumps_off_road_and_long_gaps_are_ignored(road: RoadNetwork) -> None:
    """A jump of 100 m in a second (10x free flow), a hop from A->B to C->B and back, a report
    off the road, and slow moves 10 minutes apart make no sample."""
    learner = ProbeLearner(road)
    track = [(AB, 0.0), (AB, 1.0), (AB, 0.0), (CB, 0.0), (AB, 0.0), (-1, 0.0), (AB, 0.05)]
    assert all(x.edges.size == 0 for x in drive(learner, track))
    silent = ProbeLearner(road)
    out = drive(silent, [(AB, 0.0), (AB, 0.05), (AB, 0.1), (AB, 0.15)], dt_s=600.0)
    assert all(x.edges.size == 0 for x in out)


def test_the_estimate_follows_the_fleet_and_forgets_old_evidence(road: RoadNetwork) -> None:
    """Slow (factor 4) then, 20 minutes later (over max_age_s), free flow: the factor goes
    back to 1.0 (handed out, so the book drops the probe entry)."""
    learner = ProbeLearner(road)
    slow = drive(learner, [(AB, 0.025 * i) for i in range(12)])
    assert last_factor(slow, AB) == pytest.approx(4.0)
    fast = drive(learner, [(AB, 0.1 * i) for i in range(9)], t0_s=1200.0, unit="BLS02")
    assert last_factor(fast, AB) == 1.0


def test_probe_entries_expire_and_the_slower_source_wins() -> None:
    """Feed x3 on edges 1-2, probe x5 on 2 and x2 on 3: 1 -> 3, 2 -> 5, 3 -> 2. The probe on 2
    expires at 600: edge 2 back to the feed's 3; a feed x8 on 3 then beats the probe's 2."""
    book = TrafficBook()
    feed = book.add("edges", np.array([1, 2]), 3.0, 0.0, 3600.0)
    assert [(list(w.edges), w.factor) for w in book.written(feed)] == [([1, 2], 3.0)]
    writes = book.set_probe(np.array([2, 3]), np.array([5.0, 2.0]), 10.0, 590.0)
    assert sorted((list(w.edges), w.factor) for w in writes) == [([2], 5.0), ([3], 2.0)]
    assert list(book.factors(np.array([1, 2, 3, 4]))) == [3.0, 5.0, 2.0, 1.0]
    views = {v["id"]: v for v in book.views()}
    assert views["P2"]["source"] == "probe" and views["P2"]["edge_ids"] == [2]
    assert views["T1"]["source"] == "feed"
    book.set_probe(np.array([3]), np.array([2.0]), 500.0, 590.0)  # refreshed: lives to 1090
    assert [(list(r.edges), r.factor) for r in book.expire(600.0)] == [([2], 3.0)]
    late = book.add("edges", np.array([3]), 8.0, 700.0, 60.0)
    assert [(list(w.edges), w.factor) for w in book.written(late)] == [([3], 8.0)]
    assert [(list(r.edges), r.factor) for r in book.expire(760.0)] == [([3], 2.0)]
    assert [
        (list(r.edges), r.factor)
        for r in book.set_probe(np.array([3]), np.array([1.0]), 800.0, 590.0)
    ] == [([3], 1.0)]
    assert [v["id"] for v in book.views()] == ["T1"]


def test_bad_parameters_and_probe_factors_are_refused() -> None:
    """A zero half-life, a NaN factor or mismatched arrays are errors, not silent no-ops."""
    with pytest.raises(InvalidEvent):
        ProbeParams(half_life_s=0.0)
    book = TrafficBook()
    with pytest.raises(InvalidEvent):
        book.set_probe(np.array([1]), np.array([np.nan]), 0.0, 10.0)
    with pytest.raises(InvalidEvent):
        book.set_probe(np.array([1, 2]), np.array([2.0]), 0.0, 10.0)


# --- over real sockets ------------------------------------------------------------------------
def recommended_etas(live: Running, iid: str) -> dict[str, float]:
    r = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/recommendations",
        headers=auth(live.tokens["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    return {o["unit_id"]: o["eta_s"] for o in r.json()}


def probe_entries(live: Running) -> list[dict[str, Any]]:
    r = httpx.get(f"{live.http}/api/v1/traffic", headers=auth(live.tokens["traffic"]))
    assert r.status_code == 200, r.text
    return [e for e in r.json() if e["source"] == "probe"]


def test_a_tablet_creeping_along_a_road_slows_the_etas_from_there(settings: Settings) -> None:
    """Unit P, on the road, reports 4 positions a second creeping at a third of free flow along
    the first metres of the best unit B's route to a call: the server lists probe entries on
    those edges (factor > 1.5) and B's ETA to the call grows, though B never moved."""
    live = start(dataclasses.replace(settings, position_flush_s=0.25))
    try:
        iid = new_call(live, "probe-1").json()["incident_id"]
        before = recommended_etas(live, iid)
        best = min(before, key=lambda u: before[u])
        probe = next(u for u in live.tokens["units"] if u != best)
        with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
            snap = json.loads(console.recv(timeout=10))
        where = {u["unit_id"]: (u["lat"], u["lon"]) for u in snap["units"]}
        incident = next(i for i in snap["incidents"] if i["incident_id"] == iid)
        router = Router(load_network("wulin")[0])
        place = incident["place"]
        route = router.route(router.snap(*where[best]), router.snap(place["lat"], place["lon"]))
        assert route is not None and route.eta_s > 30
        path = along(route)
        learned: list[dict[str, Any]] = []
        with live.ws(f"/ws/units/{probe}", live.tokens["units"][probe]) as tablet:
            json.loads(tablet.recv(timeout=10))  # the snapshot
            tablet.send(json.dumps({"type": "status", "status": "available_on_road"}))
            assert json.loads(tablet.recv(timeout=10))["status"] == "available_on_road"
            t0 = time.monotonic()
            while not learned and time.monotonic() - t0 < 60:  # ~10 s; a guard, not a timing
                for _ in range(8):
                    lat, lon = path.at((time.monotonic() - t0) / 3.0)  # a third of free flow
                    tablet.send(json.dumps({"type": "position", "lat": lat, "lon": lon}))
                    time.sleep(0.25)
                learned = probe_entries(live)
        assert learned, "no probe entry learned in 60 s"
        on_route = set(route.edges.tolist())
        assert all(
            e["edge_ids"][0] in on_route and e["id"] == f"P{e['edge_ids'][0]}" for e in learned
        )
        assert max(e["factor"] for e in learned) > 1.5
        assert all(e["expires_at_s"] > e["added_at_s"] for e in learned)
        after = recommended_etas(live, iid)
        assert after[best] > before[best]
    finally:
        live.stop()


def test_a_city_wide_expiry_gives_the_same_factors_as_a_few_edges() -> None:
    """Three overlapping feed entries and probes over 10 000 edges: asking all at once (the
    dense pass an expiry takes) agrees with asking 100 at a time (the binary searches)."""
    book = TrafficBook()
    book.add("edges", np.arange(0, 8000), 1.2, 0.0, 60.0)
    book.add("edges", np.arange(5000, 10_000, 3), 1.5, 1.0, 60.0)
    book.add("edges", np.arange(7000, 7100), 0.9, 2.0, 60.0)
    book.set_probe(np.array([3, 5003, 7050, 9999]), np.array([2.0, 1.1, 4.0, 3.0]), 3.0, 60.0)
    every = np.arange(12_000)
    whole = book.factors(every)
    pieces = np.concatenate([book.factors(every[i : i + 100]) for i in range(0, 12_000, 100)])
    assert np.array_equal(whole, pieces)
    assert (whole[3], whole[5003], whole[7050], whole[7051], whole[9999], whole[11_000]) == (
        2.0,
        1.5,
        4.0,
        0.9,
        3.0,
        1.0,
    )
