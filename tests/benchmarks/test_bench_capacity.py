"""The capacity benchmark's bookkeeping: the ratio of highest passing rates, the per-rate profile,
its target wiring, and one quick run end to end against this tree as its own baseline."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import bench_capacity as cap
from benchmarks.targets import load
from simulator.load.report import KindRow, Pcts, Step


def test_the_ratio_is_after_over_before_and_says_when_one_passed_none() -> None:
    """180 over 90 is 2; after passing nothing is 0 (a miss); before passing nothing is inf."""
    assert cap.ratio(90.0, 180.0) == 2.0
    assert cap.ratio(90.0, None) == 0.0
    assert math.isinf(cap.ratio(None, 60.0))


def _step(rate: float, p99_ms: float, split: tuple[float, float, float] | None) -> Step:
    lat = Pcts(10, p99_ms / 2, p99_ms * 0.9, p99_ms)
    row = KindRow("call -> incident.recommended on consoles", 10, lat, 0, rate)
    return Step(rate, 2.0, (row,), rate, cpu_share=0.5, cpu_ms_per_call=split)


def test_the_profile_has_a_line_per_rate_run_and_none_for_a_skipped_one() -> None:
    """Two rates run and one skipped: two profile lines with p99 and CPU per call by place,
    and the table has a line per version and rate."""
    steps = [
        _step(60, 20.0, (2.0, 1.0, 0.5)),
        _step(90, 150.0, None),
        Step(120, 2.0, skipped="overloaded at 90 calls/s"),
    ]
    rows = cap.profile_rows(steps)
    assert [r["rate"] for r in rows] == [60, 90]
    assert rows[0]["p99_ms"] == 20.0 and rows[0]["loop_ms_per_call"] == 2.0
    assert rows[1]["workers_ms_per_call"] is None
    table = cap.profile_table({"before": rows, "after": rows[:1]})
    assert table.count("| before |") == 2 and table.count("| after |") == 1
    assert "| 2.00 | 1.00 | 0.50 |" in table


def test_the_target_is_a_2x_floor_on_the_ratio() -> None:
    """targets.toml [capacity] asks for twice the baseline's rate: 1.9x misses, 2x passes."""
    targets = load("capacity")
    assert targets.check("rate_ratio_min", 1.9).passed is False
    assert targets.check("rate_ratio_min", 2.0).passed is True


def test_a_quick_run_serves_both_versions_and_reports_a_profile(tmp_path: Path) -> None:
    """Quick mode against this tree as its own baseline: all three ladders ran every rate,
    each with a loop-thread CPU figure; the ratio is shown and not judged."""
    report = cap.run(quick=True, baseline=cap.ROOT)
    for name in ("before", "after", "off_loop"):  # rates passed are timing: not asserted here
        assert [r["rate"] for r in report[name]["profile"]] == list(cap.QUICK.rates)
        assert all(r["loop_ms_per_call"] > 0 for r in report[name]["profile"])
    assert report["failed"] == []
    assert "| after |" in report["profile_table"]
    assert report["off_loop"]["env"] == cap.OFF_LOOP


def test_a_baseline_that_is_not_a_source_tree_is_refused(tmp_path: Path) -> None:
    """--baseline on an empty folder exits 2 with a clear message before serving anything."""
    with pytest.raises(SystemExit) as exc:
        cap.main(["--quick", "--baseline", str(tmp_path)])
    assert exc.value.code == 2
