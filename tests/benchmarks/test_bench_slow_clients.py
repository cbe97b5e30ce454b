"""The slow-clients benchmark's wiring: its targets, and its quick mode end to end (a real
`jijiu serve` on loopback). No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_slow_clients as bs
from benchmarks import run
from benchmarks.targets import load


def test_the_targets_are_100_ms_and_no_client_left_open() -> None:
    """targets.toml [slow_clients]: a 101 ms p99 misses, 99 ms passes; one slow client still
    open or one failed call fails."""
    targets = load("slow_clients")
    assert targets.check("answer_p99_ms_max", 101).passed is False
    assert targets.check("answer_p99_ms_max", 99).passed is True
    assert targets.check("slow_left_open_max", 1).passed is False
    assert targets.check("failed_calls_max", 1).passed is False


@pytest.mark.slow
def test_the_quick_run_cuts_every_slow_client_and_writes_its_report(tmp_path: Path) -> None:
    """The quick run (100 slow clients, 2 s) leaves none open, fails no call, judges both counts
    and writes slow_clients.json and slow_clients.md."""
    report = bs.run(quick=True)
    assert report["loaded"]["left_open"] == 0
    assert report["loaded"]["failed"] == 0 and report["quiet"]["failed"] == 0
    assert report["failed"] == []
    assert report["loaded"]["answers"]["n"] > 0
    paths = run.write_slow_clients_report(report, tmp_path)
    assert sorted(p.name for p in paths) == ["slow_clients.json", "slow_clients.md"]
