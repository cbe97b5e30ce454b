"""The evaluation's truth: what the generator planted, measured without any fusion code."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from location_fusion.cells import Cell
from location_fusion.gazetteer import Gazetteer
from location_fusion.geo import haversine_m
from location_fusion.planted import (
    DISAGREE_M,
    PlantedSource,
    StreetLines,
    has_biased_gnss,
    is_clean,
    truly_conflicting,
)
from location_fusion.scenario import CallMaker, ScenarioMix
from routing.load import load_network
from routing.network import RoadNetwork

PACKAGE = Path(__file__).resolve().parents[2] / "location_fusion"


@pytest.fixture(scope="module")
def wulin(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadNetwork, Gazetteer, list[Cell]]:
    """The small Wulin network, its gazetteer, and three omni cells over it (one 2 km off, for
    far-cell draws)."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    gaz = Gazetteer.from_network(net, [])
    lon, lat = (float(v) for v in net.node_lonlat.mean(axis=0))
    cells = [
        Cell("LTE", 460, 0, 1, 1, lon, lat, 1500.0, 10),
        Cell("LTE", 460, 0, 1, 2, lon + 0.004, lat, 1500.0, 10),
        Cell("LTE", 460, 0, 1, 3, lon, lat + 0.02, 800.0, 10),  # about 2.2 km north
    ]
    return net, gaz, cells


def maker(wulin: tuple[RoadNetwork, Gazetteer, list[Cell]], **mix: object) -> CallMaker:
    net, gaz, cells = wulin
    return CallMaker(net, gaz, cells, [], ScenarioMix(**mix))  # type: ignore[arg-type]


def calls(m: CallMaker, n: int = 40) -> list:  # type: ignore[type-arg]
    return [m.make(np.random.default_rng(k)) for k in range(n)]


def test_labels_follow_the_planted_error_and_the_stated_distance() -> None:
    """A source counts as disagreeing only when planted wrong and more than 250 m off; a
    call conflicts only with a second source beside it."""
    assert DISAGREE_M == 250.0
    honest_far = PlantedSource("cell", 400.0)
    canyon_near, canyon_far = (
        PlantedSource("gnss", 240.0, "canyon"),
        PlantedSource("gnss", 260.0, "canyon"),
    )
    assert not honest_far.disagrees and not canyon_near.disagrees and canyon_far.disagrees
    assert not truly_conflicting((canyon_far,))  # alone: nothing to disagree with
    assert truly_conflicting((canyon_far, PlantedSource("wifi", 10.0)))
    assert not truly_conflicting((canyon_near, honest_far))
    assert is_clean((honest_far,)) and not is_clean((canyon_near,))
    assert has_biased_gnss((canyon_near,)) and not has_biased_gnss((honest_far,))
    with pytest.raises(ValueError):
        PlantedSource("gnss", 1.0, "made_up")


def test_good_sky_calls_are_clean_and_their_errors_are_the_fixes_distances(wulin) -> None:  # type: ignore[no-untyped-def]
    """Good sky, honest cell and words: nothing planted, and each fix's recorded error is its
    distance from the true spot (a few metres)."""
    m = maker(
        wulin, good_sky=1.0, urban_canyon=0.0, indoor=0.0, wrong_street_p=0.0, cell_neighbor_p=0.0
    )
    for call in calls(m):
        assert is_clean(call.planted) and not truly_conflicting(call.planted)
        for fix, p in zip(call.fixes, call.planted, strict=False):
            d = float(haversine_m(fix.lon, fix.lat, call.true_lon, call.true_lat))
            assert p.kind == fix.source and abs(p.error_m - d) < 0.5 and d < 60


def test_a_canyon_bias_of_300_m_is_planted_and_conflicts(wulin) -> None:  # type: ignore[no-untyped-def]
    """Every GNSS fix biased 300 m (x0.85-1.15) is labelled canyon, 240-360 m off, and every
    call with a second source truly conflicts."""
    m = maker(
        wulin,
        good_sky=0.0,
        urban_canyon=1.0,
        indoor=0.0,
        canyon_bias_m=(300.0, 300.0),
        speech_p=1.0,
        cell_p=1.0,
    )
    for call in calls(m):
        gnss = [p for p in call.planted if p.kind == "gnss"]
        assert gnss and all(p.plant == "canyon" and 230 < p.error_m < 370 for p in gnss)
        assert truly_conflicting(call.planted) == any(p.error_m > DISAGREE_M for p in gnss)


def test_stale_and_unconverted_gcj02_fixes_are_planted_with_their_distance(wulin) -> None:  # type: ignore[no-untyped-def]
    """A stale fix from 600 m away is 600 m off (a few metres of noise); a GCJ-02 position
    sent as WGS-84 is several hundred metres off, one sent as GCJ-02 converts back to a few
    metres."""
    m = maker(
        wulin,
        good_sky=1.0,
        urban_canyon=0.0,
        indoor=0.0,
        stale_fix_p=1.0,
        stale_moved_m=(600.0, 600.0),
        stale_alone_p=0.0,
    )
    for call in calls(m, 20):
        stale = [p for p in call.planted if p.plant == "stale"]
        assert len(stale) == 1 and 560 < stale[0].error_m < 640 and stale[0].disagrees
        assert call.fixes[0].observed_at_s < call.now_s - 150  # the old one comes first
    raw = maker(
        wulin, gcj02_p=1.0, gcj02_unlabelled_p=1.0, good_sky=1.0, urban_canyon=0.0, indoor=0.0
    )
    for call in calls(raw, 10):
        assert all(
            p.plant == "gcj02_unlabelled" and 300 < p.error_m < 800
            for p in call.planted
            if p.kind == "gnss"
        )
    ok = maker(wulin, gcj02_p=1.0, good_sky=1.0, urban_canyon=0.0, indoor=0.0)
    for call in calls(ok, 10):
        assert set(call.crs) == {"gcj02"}
        for fix, p in zip(call.wgs84_fixes(), call.planted, strict=False):
            d = float(haversine_m(fix.lon, fix.lat, call.true_lon, call.true_lat))
            assert p.plant == "" and abs(p.error_m - d) < 1.0 and d < 60


def test_a_wrong_street_is_as_far_as_the_network_says(wulin) -> None:  # type: ignore[no-untyped-def]
    """Words planted wrong name a street or junction elsewhere; a wrong street's recorded
    error is the true spot's distance to it, recomputed here from the network's edges."""
    net, gaz, _ = wulin
    lines = StreetLines(net)
    m = maker(wulin, wrong_street_p=1.0, speech_p=1.0, noise_level=0.0, off_road_m=0.0)
    checked = 0
    for call in calls(m):
        words = [p for p in call.planted if p.kind == "speech"]
        assert len(words) == 1 and words[0].plant in ("wrong_street", "wrong_junction")
        assert call.intent is not None and call.intent.wrong
        assert words[0].disagrees == (words[0].error_m > DISAGREE_M)
        if words[0].plant == "wrong_street":
            said = max((n for n in gaz.street_names() if n in (call.spoken or "")), key=len)
            assert said not in call.intent.names
            d = lines.distance_m(said, call.true_lat, call.true_lon)
            assert abs(words[0].error_m - d) < 1.0
            checked += 1
    assert checked > 0
    assert lines.distance_m("no such street", 30.0, 120.0) == math.inf


def test_the_truth_never_imports_the_code_it_grades() -> None:
    """The generator and the truth import no fusion, conflict or locator code, and the
    evaluation takes conflict truth from `planted` only (no `find_conflict`)."""
    graded = {
        "location_fusion.fuse",
        "location_fusion.conflict",
        "location_fusion.locate",
        "location_fusion.sources",
        "location_fusion.trust",
    }
    for name in ("planted.py", "scenario.py", "scenario_words.py", "eval_settings.py"):
        assert not _imports(PACKAGE / name) & graded, name
    evaluate = _imports(PACKAGE / "evaluate.py")
    assert "location_fusion.fuse" not in evaluate and "location_fusion.conflict" not in evaluate
    import location_fusion.evaluate as ev

    assert not hasattr(ev, "find_conflict") and not hasattr(ev, "_true_conflict")
    assert ev.truly_conflicting.__module__ == "location_fusion.planted"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out
