"""The failover benchmark's wiring: its targets, and one kill end to end (two real servers on a
real Redis) in which no call is lost or logged twice and the standby takes calls."""

from __future__ import annotations

from benchmarks import bench_failover as fo
from benchmarks.targets import load


def test_the_targets_are_a_5_s_p95_and_no_call_lost_or_doubled() -> None:
    """targets.toml [failover]: 5.1 s misses the p95, one lost or doubled call fails."""
    targets = load("failover")
    assert targets.check("takeover_p95_s_max", 5.1).passed is False
    assert targets.check("takeover_p95_s_max", 4.9).passed is True
    assert targets.check("lost_calls_max", 1).passed is False
    assert targets.check("duplicated_calls_max", 1).passed is False


def test_one_kill_loses_no_call_and_the_standby_takes_over() -> None:
    """One run: calls before and after the kill all answered, each logged once, and the
    standby answered calls after the kill."""
    report = fo.run(quick=True, runs=1)
    [result] = report["results"]
    assert result["calls"] > 50 and result["unanswered"] == 0
    assert result["lost"] == 0 and result["duplicated"] == 0
    # The standby took over (how fast is the benchmark's to judge, not a unit test's).
    assert result["takeover_s"] is not None
    assert report["failed"] == []
