"""The volunteer study: its timing arithmetic by hand, its walking times against aed_map's own,
its statistics against scipy, and small seeded runs on the Wulin network (3,949 nodes, 68 of
the SYNTHETIC Hangzhou AEDs), kept to a few dozen arrests so the whole file runs in seconds.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from aed_map.footways import Reach
from aed_map.registry import Aed, AedId, Registry
from aed_map.volunteers import Acceptor, VolunteerId, VolunteerParams, assign_roles
from aed_map.walking import AedIndex, WalkParams, walk_times_s
from routing.load import data_dir, load_network
from routing.network import RoadNetwork
from simulator.errors import InvalidArgument
from simulator.stats import median_ci, seed_interval, share, wilson
from simulator.studies.volunteer import respond, run_study, summarise, timeline, walk_s
from simulator.studies.volunteer_world import StudyParams, World, road_m_from

V = VolunteerId
A = AedId


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private network cache, shared with the CLI test through JIJIU_CACHE_DIR."""
    return tmp_path_factory.mktemp("jijiu-sim-cache")


@pytest.fixture(scope="module")
def wulin(cache: Path) -> RoadNetwork:
    """The bundled Wulin Square network: small enough for many arrests in a second."""
    net, _ = load_network("wulin", cache=cache)
    return net


@pytest.fixture(scope="module")
def aeds() -> tuple[Aed, ...]:
    """The bundled SYNTHETIC registry's public AEDs (the index keeps those near Wulin)."""
    return Registry.load_csv(data_dir() / "aed" / "hangzhou_aeds_synthetic.csv").public()


@pytest.fixture(scope="module")
def world(wulin: RoadNetwork, aeds: tuple[Aed, ...]) -> World:
    """The study's world on Wulin with the default assumptions."""
    return World(wulin, aeds)


# --- timing arithmetic, by hand ------------------------------------------------------------


def test_timeline_of_a_fetcher_and_a_runner() -> None:
    """Call 75 s, turnout 60, drive 300, crew 120: kerb 435, crew 555; a runner at 75 + 80 =
    155 is first and the fetcher's AED (50 + 40 = 90 after the alert) is there at 165."""
    acceptors = [Acceptor(V("a"), 100.0, {A("X"): 50.0}), Acceptor(V("b"), 80.0, {})]
    plan = assign_roles(acceptors, {A("X"): 40.0}, 360.0, VolunteerParams(crew_to_patient_s=120))
    tl = timeline(75.0, 60.0, 300.0, 120.0, acceptors, plan)
    assert (tl.alert_at_s, tl.kerb_at_s, tl.crew_at_s) == (75.0, 435.0, 555.0)
    assert tl.first_volunteer_at_s == 155.0
    assert tl.volunteer_aed_at_s == 165.0 and tl.aed_at_s == 165.0
    assert tl.volunteer_first and tl.volunteer_before_kerb and tl.volunteer_aed_first
    assert tl.aed_within(240.0) and not tl.aed_within(160.0)


def test_timeline_without_volunteers_is_the_crew() -> None:
    """Nobody accepted: no volunteer ever, and the first AED is the crew's at 90+60+200+120."""
    plan = assign_roles([], {}, 260.0)
    tl = timeline(90.0, 60.0, 200.0, 120.0, [], plan)
    assert math.isinf(tl.first_volunteer_at_s) and math.isinf(tl.volunteer_aed_at_s)
    assert tl.aed_at_s == tl.crew_at_s == 470.0
    assert not tl.volunteer_first and not tl.volunteer_aed_first


def test_timeline_volunteer_between_kerb_and_crew() -> None:
    """A volunteer at 80 + 400 = 480 s: after the ambulance stops (440) but before the crew
    is at the patient (560): first by the study's reading, not by the stricter one."""
    acceptors = [Acceptor(V("a"), 400.0, {})]
    plan = assign_roles(acceptors, {}, 360.0)
    tl = timeline(80.0, 60.0, 300.0, 120.0, acceptors, plan)
    assert tl.volunteer_first and not tl.volunteer_before_kerb


def test_walk_s_adds_both_offroad_legs_with_the_detour() -> None:
    """100 m of road + (10 + 20) m off road x 1.5 = 145 m; at 1.45 m/s that is 100 s."""
    assert walk_s(100.0, 10.0, 20.0, 1.5, 1.45) == pytest.approx(100.0)
    assert math.isinf(float(walk_s(np.inf, 0.0, 0.0, 1.3, 1.8)))


# --- statistics ----------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (10, 10), (3, 250)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    """Our Wilson interval is scipy's (binomtest(...).proportion_ci(method="wilson"))."""
    ref = binomtest(k, n).proportion_ci(method="wilson")
    assert wilson(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_median_ci_by_hand() -> None:
    """For 1..10 the median is 5.5 and the interval [x(2), x(9)] = [2, 9] (P(B <= 1) = 1 %)."""
    m = median_ci([float(v) for v in range(10, 0, -1)])
    assert (m.value, m.lo, m.hi, m.n) == (5.5, 2.0, 9.0, 10)


def test_seed_interval_and_share_clamp() -> None:
    """Shares 0.1, 0.2, 0.3: mean 0.2 +- t(0.975, 2) 4.303 * 0.1 / sqrt(3); a share's
    interval is clamped to 0..1; one seed gives no interval."""
    lo, hi = seed_interval([0.1, 0.2, 0.3]) or (0.0, 0.0)
    assert (lo, hi) == pytest.approx((0.2 - 0.24841, 0.2 + 0.24841), abs=1e-4)
    s = share(2, 30, [0.1, 0.2, 0.3])
    assert s.seed_lo == 0.0 and s.seed_hi == pytest.approx(0.44841, abs=1e-4)
    assert share(1, 3).seed_lo is None and seed_interval([0.5]) is None


# --- walking agrees with aed_map -------------------------------------------------------------


def test_road_m_from_matches_reach_to(world: World) -> None:
    """Metres from an AED by the kept field equal `footways.Reach.to` from the same point,
    for random road points and for points on the AED's own road (both directions)."""
    net, idx = world.net, world.index
    rng = np.random.default_rng(5)
    for j in (0, 7, 30):
        o = idx.point(j)
        own = [e for e in (o.edge, int(net.twin[o.edge])) if e >= 0]
        edge = np.concatenate([rng.integers(0, net.n_edges, 200), own]).astype(np.int32)
        fraction = np.concatenate([rng.random(200), np.full(len(own), 0.5)])
        reach = Reach(net, idx.graph, o, world.params.aed_reach_m)
        ref, _ = reach.to(edge, fraction)
        assert np.allclose(world.volunteer_to_aed_m(j, edge, fraction), ref)
        assert np.allclose(road_m_from(net, reach.dist, o.edge, o.fraction, edge, fraction), ref)


def test_walking_times_match_aed_map(world: World, aeds: tuple[Aed, ...]) -> None:
    """The study's AED -> patient and volunteer -> AED seconds are `walk_times_s` at the
    volunteer's speed (same snapping, off-road detour and building time)."""
    fast = AedIndex(world.net, aeds, WalkParams(speed_mps=world.params.volunteer.travel_speed_mps))
    rng = np.random.default_rng(11)
    arrest = world.draw_arrest(rng)
    scene = world.scene(arrest)
    ref = walk_times_s(fast, arrest.lat, arrest.lon, max_walk_s=3000.0)
    ids = [a.id for a in world.index.aeds]
    open_ = [j for j in range(len(ids)) if np.isfinite(scene.aed_back_s[j]) and ids[j] in ref]
    assert len(open_) >= 3
    for j in open_:
        assert scene.aed_back_s[j] == pytest.approx(ref[ids[j]])
    pool = world.draw_pool(arrest, 20.0, rng)
    v = pool.volunteers[0]
    ref_v = walk_times_s(fast, v.lat, v.lon, max_walk_s=2000.0)
    for j, aed_id in enumerate(ids):
        if aed_id in ref_v:
            road = world.volunteer_to_aed_m(j, pool.edge[:1], pool.fraction[:1])
            s = walk_s(
                road,
                pool.offroad_m[:1],
                world.index.offroad_m[j],
                world.index.params.detour_factor,
                fast.params.speed_mps,
            )
            assert float(s[0]) + world.index.building_s[j] == pytest.approx(ref_v[aed_id])


# --- the Monte Carlo -----------------------------------------------------------------------


def test_same_seed_same_outcomes(wulin: RoadNetwork, aeds: tuple[Aed, ...]) -> None:
    """Two worlds, one seed: the same outcomes, arrest by arrest; another seed differs."""
    a = run_study(World(wulin, aeds), [0.0, 10.0], 12, seed=3)
    b = run_study(World(wulin, aeds), [0.0, 10.0], 12, seed=3)
    c = run_study(World(wulin, aeds), [0.0, 10.0], 12, seed=4)
    assert a == b
    assert [o.timeline for o in a] != [o.timeline for o in c]


def test_zero_density_never_has_a_volunteer(world: World) -> None:
    """At 0 volunteers per km² nobody is alerted, nobody is first, the AED is the crew's."""
    out = run_study(world, [0.0], 25, seed=9)
    assert all(o.alerted == 0 and o.accepted == 0 for o in out)
    assert not any(o.timeline.volunteer_first for o in out)
    assert all(o.timeline.aed_at_s == o.timeline.crew_at_s for o in out)
    assert summarise(out)[0].volunteer_first.k == 0


def test_more_volunteers_are_first_more_often(world: World) -> None:
    """From 0 to 30 per km² the volunteer-first share rises beyond both Wilson intervals, and
    the same arrests meet both densities (identical ambulance times)."""
    out = run_study(world, [0.0, 30.0], 40, seed=7)
    low, high = summarise(out)
    assert high.volunteer_first.lo > low.volunteer_first.hi
    assert low.crew_s == high.crew_s
    assert high.mean_alerted > 0 and high.mean_accepted <= high.mean_alerted


def test_lower_densities_are_subsets(world: World) -> None:
    """The volunteers present at 5 per km² are among those present at 10, and 0 has none."""
    rng = np.random.default_rng(2)
    arrest = world.draw_arrest(rng)
    pool = world.draw_pool(arrest, 20.0, rng)
    assert set(pool.present(5.0)) <= set(pool.present(10.0)) <= set(pool.present(20.0))
    assert pool.present(0.0) == [] and len(pool.present(20.0)) == len(pool.volunteers)


def test_respond_alerts_at_most_max_alerted(world: World) -> None:
    """A crowd of 200 per km² still alerts at most max_alerted (15), nearest first."""
    rng = np.random.default_rng(4)
    arrest = world.draw_arrest(rng)
    pool = world.draw_pool(arrest, 200.0, rng)
    o = respond(world, arrest, world.scene(arrest), pool, 200.0)
    assert o.alerted == world.params.volunteer.max_alerted and o.radius_m == 500.0


def test_params_are_validated() -> None:
    """A share outside 0..1, an inverted range or a Sunday week start are refused."""
    with pytest.raises(InvalidArgument):
        StudyParams(p_accept=1.5)
    with pytest.raises(InvalidArgument):
        StudyParams(turnout_s=(120.0, 60.0))
    with pytest.raises(ValueError):
        StudyParams(week_monday=StudyParams().week_monday.replace(day=1))


# --- the command line ----------------------------------------------------------------------


def test_cli_writes_csv_and_png(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jijiu volunteer-study` prints the table and writes one CSV row per density and a PNG."""
    from dispatch.cli import main

    monkeypatch.setenv("JIJIU_CACHE_DIR", str(cache))
    out_csv, out_png = tmp_path / "study.csv", tmp_path / "study.png"
    code = main(
        [
            "volunteer-study",
            "--network",
            "wulin",
            "--densities",
            "0,10",
            "--arrests",
            "6",
            "--seeds",
            "2",
            "--csv",
            str(out_csv),
            "--plot",
            str(out_png),
        ]
    )
    assert code == 0
    assert "| volunteers /km² |" in capsys.readouterr().out
    with out_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["density_per_km2"]) for r in rows] == [0.0, 10.0]
    assert {int(r["arrests"]) for r in rows} == {12} and rows[0]["volunteer_first_k"] == "0"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
