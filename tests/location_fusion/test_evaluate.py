"""The per-setting evaluation: every setting scored with every baseline, on seeds it names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from location_fusion.cells import CellTable
from location_fusion.cli import build
from location_fusion.eval_report import checks, evaluate_settings, markdown
from location_fusion.eval_settings import HELD_OUT_SEEDS, SETTINGS, TUNING_SEEDS, setting_names
from location_fusion.evaluate import METHODS, AlarmSummary, Summary, run_calls
from location_fusion.locate import Locator
from location_fusion.scenario import CallMaker

CALLS = 12  # per setting: enough to fill every table, far too few to judge a target


@pytest.fixture(scope="module")
def world() -> tuple[CallMaker, Locator, CellTable]:
    """The bundled Hangzhou evaluation world (network, gazetteer, SYNTHETIC cells)."""
    return build()


def test_tuning_and_held_out_seeds_do_not_overlap() -> None:
    """The seed ranges the parameters were tuned on and the report uses are disjoint."""
    assert TUNING_SEEDS.stop <= HELD_OUT_SEEDS.start
    assert setting_names("all") == list(SETTINGS) and setting_names("baseline") == ["baseline"]
    assert {
        "baseline",
        "heavy_tail",
        "stale_fixes",
        "wrong_claimed_accuracy",
        "gcj02_input",
        "speech_errors",
        "independent",
    } <= set(SETTINGS)
    with pytest.raises(KeyError):
        setting_names("sunny")


def test_a_seed_names_its_calls(world: tuple[CallMaker, Locator, CellTable]) -> None:
    """Call k of a run from seed s is the call made from seed s + k, whatever the run's size."""
    maker, locator, cells = world
    short = run_calls(maker, locator, cells, 2, 500)
    long = run_calls(maker, locator, cells, 4, 499)
    assert short[0].error_m == long[1].error_m and short[1].error_m == long[2].error_m
    a, b = maker.make(np.random.default_rng(7)), maker.make(np.random.default_rng(7))
    assert a == b


def test_every_setting_gets_every_baseline_and_a_report(
    world: tuple[CallMaker, Locator, CellTable], tmp_path: Path
) -> None:
    """A small seeded run of every setting: fused, GPS-only, cell-only and average figures,
    the alarm against planted truth, and a Markdown report naming each setting."""
    maker, locator, cells = world
    names = setting_names("all")
    results = evaluate_settings(maker, locator, cells, names, CALLS, HELD_OUT_SEEDS.start)
    assert list(results) == names
    for name, (r, outcomes) in results.items():
        assert len(outcomes) == CALLS
        for m in METHODS:
            assert isinstance(r[m], Summary) and 0 <= r[m].within_50m <= 1  # type: ignore[attr-defined]
        assert isinstance(r["alarm"], AlarmSummary)
        assert all(c.name for c in checks(r, name))
    text = markdown({n: r for n, (r, _) in results.items()}, CALLS, HELD_OUT_SEEDS.start)
    for name in names:
        assert f"`{name}`" in text
    for m in METHODS:
        assert f"| {m} |" in text
    assert "GPS-only holds" in text and "false alarms" in text


def test_eval_location_all_settings_writes_report_and_plot(tmp_path: Path) -> None:
    """`jijiu eval-location --setting all` prints each setting, writes the report and a PNG."""
    from dispatch.cli import main

    md, png = tmp_path / "eval.md", tmp_path / "eval.png"
    argv = ["eval-location", "--setting", "all", "--calls", "6", "--report", str(md)]
    assert main([*argv, "--plot", str(png)]) == 0
    assert all(f"`{n}`" in md.read_text(encoding="utf-8") for n in SETTINGS)
    assert png.read_bytes()[:4] == b"\x89PNG"
