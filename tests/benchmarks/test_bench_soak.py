"""The soak benchmark: its figures on hand-made samples, its targets' wiring, the CSV round
trip, and a ~30 s smoke run end to end (a real server on loopback). No timing is asserted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import bench_soak
from benchmarks.targets import Scorecard, load
from simulator.load.lifecycle import Pace
from simulator.load.soak import Sample, SoakPlan, read_csv, write_csv


def sample(minute: float, rss_mb: float = 300.0, wal_mb: float = 1.0, open_: int = 90) -> Sample:
    """One sample at `minute` with the given RSS, WAL and open incidents, the rest plain."""
    return Sample(minute * 60, rss_mb, 80, 10.0, wal_mb, open_, 300, 0, 0, 20.0, 10.0, 0, 0)


def quiet_card() -> Scorecard:
    return Scorecard(load("soak"), say=lambda _: None)


def test_warm_up_is_ten_percent_or_two_minutes_at_most_half_the_run() -> None:
    """2 h: 12 min; 10 min: 2 min; 2 min: 1 min (half the run)."""
    assert bench_soak.warmup_s(7200) == 720
    assert bench_soak.warmup_s(600) == 120
    assert bench_soak.warmup_s(120) == 60


def test_the_rss_slope_is_a_share_of_the_mean_per_hour() -> None:
    """RSS 300 MB at 0 h and 303 MB at 1 h: 3 MB/h over a mean of 301.5 MB, about 1 %/h;
    flat RSS is 0; one sample is NaN."""
    slope = bench_soak.rss_slope_share_per_h([sample(0, 300.0), sample(60, 303.0)])
    assert slope == pytest.approx(3 / 301.5)
    assert bench_soak.rss_slope_share_per_h([sample(m) for m in range(5)]) == pytest.approx(
        0, abs=1e-9
    )
    assert math.isnan(bench_soak.rss_slope_share_per_h([sample(0)]))


def test_quarter_p99s_pool_the_first_and_the_last_quarter() -> None:
    """Eight periods, the first two at 10 ms and the last two at 30 ms: p99s 10 and 30 ms."""
    periods = [[0.010] * 50] * 2 + [[0.020] * 50] * 4 + [[0.030] * 50] * 2
    first, last = bench_soak.quarter_p99s(periods)
    assert (first, last) == pytest.approx((10.0, 30.0))


def test_figures_leave_out_the_warm_up() -> None:
    """A 10-minute run sampled each minute: the samples of minutes 3-10 are after warm-up,
    the RSS spike of minute 1 does not count, the WAL maximum does (it is over all)."""
    samples = [sample(1, rss_mb=900.0, wal_mb=5.0)] + [sample(m) for m in range(2, 11)]
    latencies = [[0.02] * 10 for _ in samples]
    fig = bench_soak.figures(samples, latencies, 600)
    assert fig["settled_samples"] == 8
    assert fig["rss_slope_share"] == pytest.approx(0, abs=1e-9)
    assert fig["wal_mb"] == 5.0
    assert fig["p99_ratio"] == pytest.approx(1.0)


def test_a_steady_run_passes_and_each_target_missed_alone_fails() -> None:
    """A flat 2 h run passes; RSS rising 10 %/h, a 70 MB WAL, or the last quarter's p99 twice
    the first's each fail exactly that target."""
    steady = [sample(m) for m in range(0, 121, 5)]
    flat = [[0.02] * 20 for _ in steady]
    card = quiet_card()
    bench_soak.rows_of(bench_soak.figures(steady, flat, 7200), card)
    assert card.failed == []
    rising = [sample(s.elapsed_s / 60, rss_mb=300 * (1 + 0.1 * s.elapsed_s / 3600)) for s in steady]
    big_wal = [*steady[:-1], sample(120, wal_mb=70.0)]
    slower = flat[: len(flat) * 3 // 4] + [[0.04] * 20 for _ in flat[len(flat) * 3 // 4 :]]
    for samples, latencies, missed in (
        (rising, flat, "rss_slope_share_max"),
        (big_wal, flat, "wal_mb_max"),
        (steady, slower, "p99_ratio_max"),
    ):
        card = quiet_card()
        bench_soak.rows_of(bench_soak.figures(samples, latencies, 7200), card)
        assert card.failed == [missed]


def test_a_short_run_shows_the_slope_and_ratio_unjudged() -> None:
    """Four samples after warm-up: slope and ratio not judged, the WAL still is."""
    samples = [sample(m, rss_mb=300 + 10 * m) for m in range(1, 7)]
    card = quiet_card()
    bench_soak.rows_of(bench_soak.figures(samples, [[0.02]] * 6, 360), card)
    assert [c.passed for c in card.checks] == [None, True, None]


def test_the_soak_table_holds_the_three_targets() -> None:
    """[soak]: RSS slope under 5 %/h, WAL under 64 MiB, p99 ratio at most 1.5."""
    assert dict(load("soak").limits) == {
        "rss_slope_share_max": 0.05,
        "wal_mb_max": 64.0,
        "p99_ratio_max": 1.5,
    }


def test_the_csv_reads_back_its_samples(tmp_path: Path) -> None:
    """Two samples written and read back are equal (floats to 3 decimals)."""
    samples = [sample(1, rss_mb=300.125), sample(2, open_=7)]
    write_csv(tmp_path / "s.csv", samples)
    assert read_csv(tmp_path / "s.csv") == samples


@pytest.mark.slow
def test_a_30_second_soak_writes_its_csv_and_plot_and_the_open_set_stays_bounded(
    tmp_path: Path,
) -> None:
    """Wulin, 40 units, 5 calls/s for 30 s sampled every 5 s, lives at a quarter pace: the
    CSV has a row per sample and the PNG is written; incidents are closed as they come, so
    the open set never exceeds three times the steady state Little's law gives, far below
    the 150 calls posted, and all but that many of the incidents seen are closed; no call is
    refused."""
    plan = SoakPlan(
        network="wulin",
        units=40,
        consoles=2,
        rate=5.0,
        duration_s=30.0,
        sample_s=5.0,
        pace=Pace().scaled(0.25),
    )
    report = bench_soak.run(plan, tmp_path)
    rows = read_csv(tmp_path / "soak.csv")
    assert len(rows) == plan.periods == 6
    assert (tmp_path / "soak.png").stat().st_size > 0
    assert (tmp_path / "soak.md").exists() and (tmp_path / "soak.json").exists()
    bound = 3 * plan.pace.steady_open(plan.rate)
    assert max(r.open_incidents for r in rows) <= bound < 150
    tally = report["tally"]
    assert tally["seen"] > 0 and sum(tally["closed"].values()) >= tally["seen"] - bound
    assert sum(r.calls for r in rows) == 150 and sum(r.errors for r in rows) == 0
    assert report["failed"] == []
