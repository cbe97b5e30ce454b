"""The city's traffic model and its feed: seeded, peaks slower than night, incidents 20-60 min,
and posts a real server accepts.

Model tests run on the Wulin fixture network (pure, no sockets). The last test starts the
dispatch server the dispatch tests run (uvicorn in a thread, SQLite in tmp_path, loopback) and
lets the feed post to it for a few wall seconds at x600.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from dispatch.settings import Settings
from routing.load import load_network
from routing.network import RoadNetwork
from routing.router import Router
from simulator.errors import InvalidArgument
from simulator.live.context import Endpoints, LiveContext
from simulator.live.traffic_feed import ACCEPTED, REFUSED, FeedPlan, body, run_traffic_feed
from simulator.world.rhythm import Rhythm, RoadClass
from simulator.world.traffic_model import Report, TrafficModel, TrafficParams
from tests.support.server import auth, start

H = 3600.0


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    """The Wulin fixture network (a few hundred edges of central Hangzhou)."""
    return load_network("wulin")[0]


def snapshot(model: TrafficModel, t_s: float) -> list[tuple[str, list[int], float, float]]:
    return [(r.key, r.edges.tolist(), r.factor, r.expires_in_s) for r in model.reports(t_s)]


def test_same_seed_same_reports_whatever_was_asked_before(net: RoadNetwork) -> None:
    """Seed 3 asked at 08:10 then 17:40 equals a fresh seed-3 model asked the other way
    round; seed 4 draws other incidents over the day."""
    a, b = TrafficModel(net, Rhythm(), 3), TrafficModel(net, Rhythm(), 3)
    first = [snapshot(a, 8.17 * H), snapshot(a, 17.67 * H)]
    later = snapshot(b, 17.67 * H)
    assert first == [snapshot(b, 8.17 * H), later]
    day = [i.incident_id + str(i.edges.tolist()) for h in range(24) for i in a.incidents_at(h * H)]
    other = TrafficModel(net, Rhythm(), 4)
    assert day and day != [
        i.incident_id + str(i.edges.tolist()) for h in range(24) for i in other.incidents_at(h * H)
    ]


def test_peaks_are_slower_than_night_and_arterials_slower_than_lanes(net: RoadNetwork) -> None:
    """03:00 is free flow on every class; 08:00 and 18:00 are slower, arterials most."""
    model = TrafficModel(net, Rhythm(), 1)
    for cls in RoadClass:
        assert model.class_factor(cls, 3 * H) == 1.0
        assert model.class_factor(cls, 8 * H) > 1.0 and model.class_factor(cls, 18 * H) > 1.0
    peak = [model.class_factor(cls, 8 * H) for cls in RoadClass]
    assert peak == sorted(peak) and peak[RoadClass.ARTERIAL] > peak[RoadClass.LOCAL]
    off = TrafficModel(net, Rhythm(congestion=False), 1)
    assert off.class_factor(RoadClass.ARTERIAL, 8 * H) == 1.0
    classes = [r for r in model.reports(8 * H) if not r.is_incident]
    covered = np.concatenate([r.edges for r in classes])
    assert sorted(covered.tolist()) == list(range(net.n_edges))  # every edge, once


def test_incidents_last_20_to_60_minutes_and_crowd_the_peaks(net: RoadNetwork) -> None:
    """Over ten days every incident lasts 20-60 min with a factor of 2-4 on a run of real
    edges, and the peak hours (07-09, 17-19) see more incidents per hour than the night."""
    model = TrafficModel(net, Rhythm(), 11)
    per_hour: dict[str, list[int]] = {"peak": [], "night": []}
    for day in range(10):
        for hour in range(24):
            drawn = model.incidents_of_hour(day * 24 + hour)
            period = Rhythm().period(hour * H)
            if period in per_hour:
                per_hour[period].append(len(drawn))
            for inc in drawn:
                assert 1200.0 <= inc.end_s - inc.start_s <= 3600.0
                assert 2.0 <= inc.factor <= 4.0
                assert inc.edges.size >= 1 and inc.edges.max() < net.n_edges
                assert day * 24 * H + hour * H <= inc.start_s < day * 24 * H + (hour + 1) * H
    assert np.mean(per_hour["peak"]) > 2 * np.mean(per_hour["night"])
    t = 8.5 * H
    for inc in model.incidents_at(t):  # what is reported: in force, expiring at its end
        assert inc.start_s <= t < inc.end_s
    assert all(0 < r.expires_in_s <= 3600 for r in model.reports(t) if r.is_incident)


def test_bad_traffic_parameters_are_refused() -> None:
    """A block larger than the server's body limit allows, or min above max, is an error."""
    with pytest.raises(InvalidArgument):
        TrafficParams(block_edges=20_000)
    with pytest.raises(InvalidArgument):
        TrafficParams(duration_min_s=4000.0)


def test_the_plan_posts_what_changed_and_keeps_incidents_on_top() -> None:
    """First look: everything. Again at once: nothing. A class factor changes: that class,
    then every incident in force again. A new incident alone: just it. Half a class report's
    validity later: it is re-sent."""
    edges = np.array([1, 2], dtype=np.int64)
    cls = Report("class/arterial/0", edges, 1.2, 1800.0)
    inc = Report("incident/R8.0", edges[:1], 3.0, 1500.0)
    plan = FeedPlan()
    assert [r.key for r in plan.due([cls, inc], 0.0)] == [cls.key, inc.key]
    assert plan.due([cls, inc], 10.0) == []
    peak = Report(cls.key, edges, 1.35, 1800.0)
    assert [r.key for r in plan.due([peak, inc], 20.0)] == [cls.key, inc.key]
    new = Report("incident/R8.1", edges, 2.0, 2000.0)
    assert [r.key for r in plan.due([peak, inc, new], 30.0)] == [new.key]
    assert [r.key for r in plan.due([peak], 20.0 + 901.0)] == [cls.key]
    assert body(peak, 30.0) == {"factor": 1.35, "expires_in_s": 60.0, "edges": [1, 2]}


def test_a_real_server_accepts_every_post_of_the_feed(tmp_path: Path) -> None:
    """At x600 from 06:54 (so the 07:00 peak begins within the run), the feed posts every
    class block, again when the peak begins, and the incidents in force; every post is a 201,
    GET /traffic lists the peak's factors, and the simulator's own router has them too."""
    settings = Settings(
        network="wulin",
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        tokens_file=tmp_path / "tokens.json",
        port=0,
        ws_port=0,
        seed_fleet=2,
    )
    live = start(settings)
    try:
        endpoints = Endpoints(live.http, f"ws://127.0.0.1:{live.ws_port}", live.tokens)
        router = Router(load_network("wulin")[0])
        model = TrafficModel(router.net, Rhythm(), 5)

        async def feed() -> LiveContext:
            ctx = LiveContext(endpoints, router, 600.0, 6.9 * H)
            task = asyncio.create_task(run_traffic_feed(ctx, model, period_s=0.5))
            await asyncio.sleep(4.0)
            ctx.stop.set()
            await task
            await ctx.close()
            return ctx

        ctx = asyncio.run(feed())
        listed = httpx.get(f"{live.http}/api/v1/traffic", headers=auth(live.tokens["traffic"]))
    finally:
        live.stop()
    blocks = len([r for r in model.reports(0.0) if not r.is_incident])
    assert ctx.tally.counts[ACCEPTED] >= 2 * blocks  # before and after 07:00 at least
    assert ctx.tally.counts[REFUSED] == 0 and dict(ctx.tally.errors) == {}
    entries = listed.json()
    assert listed.status_code == 200 and entries
    assert {e["source"] for e in entries} == {"feed"}
    assert model.class_factor(RoadClass.ARTERIAL, 6.9 * H) < model.class_factor(
        RoadClass.ARTERIAL, 7.5 * H
    )
    assert {model.class_factor(cls, 7.5 * H) for cls in RoadClass} <= {e["factor"] for e in entries}
    for cls in RoadClass:  # the city's own router drives in the same traffic (the tablets' routes)
        on = router.net.factor[model.classes == cls]
        assert on.size == 0 or np.median(on) == model.class_factor(cls, 7.5 * H)
