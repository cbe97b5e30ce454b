"""The Locator end to end on the Wulin network: words, cell and fixes in; estimate out."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from location_fusion.cells import Cell, CellObservation, CellTable
from location_fusion.errors import InvalidInput, TextTooLong
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer
from location_fusion.geo import DEG_M, haversine_m
from location_fusion.locate import MAX_FIXES, CallEvidence, Locator
from routing.load import load_network
from routing.router import Router


@pytest.fixture(scope="module")
def locator(tmp_path_factory: pytest.TempPathFactory) -> Locator:
    """Wulin network, its gazetteer, and one hand-made sector cell over 文三路 x 莫干山路."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    gaz = Gazetteer.from_network(net, [("浙江省人民医院", 30.2938, 120.1562)])
    top = gaz.geocode("文三路与莫干山路交叉口")[0]
    lon, lat = top.lon, top.lat
    site_lon = lon - 400 / (DEG_M * math.cos(math.radians(lat)))  # 400 m west, facing east
    cell = Cell("LTE", 460, 0, 1, 77, site_lon, lat, 900.0, 10, azimuth_deg=90.0)
    return Locator(gaz, CellTable.from_cells([cell]), Router(net))


def junction(locator: Locator) -> tuple[str, str, float, float]:
    """文三路 x 莫干山路, a junction the Wulin fixture has once, and where it is."""
    top = locator.gazetteer.geocode("文三路与莫干山路交叉口")[0]
    return "文三路", "莫干山路", top.lon, top.lat


def test_words_and_cell_place_the_caller_at_the_junction(locator: Locator) -> None:
    """No fix: the spoken junction inside the serving sector is the estimate, read back by name."""
    a, b, lon, lat = junction(locator)
    est = locator.locate(
        CallEvidence(cell=CellObservation(460, 0, 1, 77), spoken=f"我在{a}和{b}的路口"), now_s=0.0
    )
    assert est is not None
    assert float(haversine_m(est.lon, est.lat, lon, lat)) < 30
    # Read back by the junction's two longest streets (文三路, 文晖路 and 莫干山路 meet here).
    assert "莫干山路" in est.description and "交叉口" in est.description
    assert est.road is not None and est.road.snap_distance_m < 60
    assert est.conflict is None
    assert {s.source for s in est.sources} == {"cell_sector", "speech"}


def test_biased_fix_is_outvoted_and_flagged(locator: Locator) -> None:
    """A GNSS fix 300 m east claiming 10 m loses to words and cell, and is named."""
    a, b, lon, lat = junction(locator)
    fix = DeviceFix(lat, lon + 300 / (DEG_M * math.cos(math.radians(lat))), 10.0, 0.68, "gnss", 0)
    est = locator.locate(
        CallEvidence((fix,), CellObservation(460, 0, 1, 77), f"{a}{b}路口"), now_s=5.0
    )
    assert est is not None
    assert float(haversine_m(est.lon, est.lat, lon, lat)) < 40
    assert est.conflict is not None and est.conflict.sources == ("gnss",)
    assert 250 < est.conflict.distance_m < 320


def test_unknown_cell_and_gibberish_still_answer_from_the_fix(locator: Locator) -> None:
    """An unknown cell and words that match nothing leave the fix alone to speak."""
    fix = DeviceFix(30.2820, 120.1535, 8.0, 0.68, "gnss", 0.0)
    est = locator.locate(CallEvidence((fix,), CellObservation(460, 0, 9, 9), "啊啊啊"), now_s=1.0)
    assert est is not None
    assert float(haversine_m(est.lon, est.lat, fix.lon, fix.lat)) < 10
    assert [s.source for s in est.sources] == ["gnss"]


def test_no_evidence_is_none(locator: Locator) -> None:
    """A call with nothing usable gives no estimate rather than a made-up point."""
    assert locator.locate(CallEvidence(), now_s=0.0) is None
    assert locator.locate(CallEvidence(spoken="   "), now_s=0.0) is None


def test_bad_calls_are_refused(locator: Locator) -> None:
    """Too many fixes, a 10 MB phrase and a NaN clock are typed errors, not crashes."""
    fix = DeviceFix(30.2820, 120.1535, 8.0, 0.68, "gnss", 0.0)
    with pytest.raises(InvalidInput):
        CallEvidence(fixes=(fix,) * (MAX_FIXES + 1))
    with pytest.raises(TextTooLong):
        locator.locate(CallEvidence(spoken="文" * 10_000_000), now_s=0.0)
    with pytest.raises(InvalidInput):
        locator.locate(CallEvidence((fix,)), now_s=float("nan"))


def test_eval_location_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`jijiu eval-location` on 40 synthetic calls prints every method and draws the CDFs."""
    from dispatch.cli import main

    png = tmp_path / "cdf.png"
    assert main(["eval-location", "--calls", "40", "--seed", "3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out
    for method in ("fused", "gps_only", "cell_only", "average"):
        assert method in out
    assert "conflict alarm" in out and "spoken words alone" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    fused = next(line for line in out.splitlines() if line.startswith("fused"))
    share = float(fused.split()[1].rstrip("%"))
    assert 0 <= share <= 100 and not np.isnan(share)
