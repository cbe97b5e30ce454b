"""The benchmarks' quick modes run end to end, so the benchmarks cannot rot.

The numbers of a quick run mean little (few repetitions, a 2 x 2 tiling, 100 fused calls);
what is checked is that every case runs, every peer answers, no query of ours fails and the
report files are written. Whether a missed target fails the run: `test_bench_targets.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_aed, bench_fusion, bench_routing, run


@pytest.fixture(scope="module")
def quick_report() -> dict[str, Any]:
    """One quick benchmark run (~20 s), shared by the tests below."""
    return bench_routing.run(quick=True)


def test_quick_routing_run_times_every_case_against_its_peers(quick_report: dict[str, Any]) -> None:
    """Cases a-e all report, each timed case names at least one peer, and the table is built."""
    for case in ("a", "b", "c"):
        assert quick_report[case]["peers"], case
        assert quick_report[case]["ours"]["p50_ms"] > 0
    assert quick_report["d"] and quick_report["e"]["nbytes"] > 0
    assert quick_report["table"].startswith("| case |")


def test_quick_routing_run_has_no_failed_query(quick_report: dict[str, Any]) -> None:
    """Every timed ranking (a, b) has k units with finite ETAs and every route (c) answers
    with a finite ETA: the report counts 0 failed queries, per case and in total."""
    per_case = [quick_report[case]["failed_queries"] for case in ("a", "b", "c")]
    assert per_case == [0, 0, 0]
    assert quick_report["failed_queries"] == 0
    assert quick_report["targets"]["figures"]["failed_queries_max"] == 0


def test_report_files_are_written(quick_report: dict[str, Any], tmp_path: Path) -> None:
    """The report writer leaves routing.json (valid JSON), routing.md and routing.png."""
    paths = run.write_report(quick_report, tmp_path)
    assert [p.name for p in paths] == ["routing.json", "routing.md", "routing.png"]
    assert json.loads(paths[0].read_text())["quick"] is True
    assert paths[2].stat().st_size > 0


@pytest.fixture(scope="module")
def quick_fusion() -> dict[str, Any]:
    """One quick fusion benchmark run (~5 s), shared by the tests below."""
    return bench_fusion.run(quick=True)


def test_quick_fusion_run_times_ours_and_the_grid_and_scores_every_method(
    quick_fusion: dict[str, Any], tmp_path: Path
) -> None:
    """Fuse, the grid peer, locate and geocode are timed, the grid answers every call, every
    method is scored, and fusion.json and fusion.md are written."""
    fuse = quick_fusion["fuse"]
    assert fuse["ours"]["n"] == 100 and fuse["ours"]["p50_ms"] > 0
    grid = fuse["peers"]["dense 10 m grid posterior"]
    assert grid["n"] == fuse["ours"]["n"] and grid["ratio"] > 0
    agree = fuse["agreement"]
    assert agree["grid_answered"] == agree["calls"] == 100
    assert 0 <= agree["delta_median_m"] <= agree["delta_p90_m"]
    assert quick_fusion["locate"]["ours"]["p50_ms"] > 0
    assert quick_fusion["locate"]["geocode"]["n"] > 0
    methods = quick_fusion["figures"]["methods"]
    assert set(methods) == {"fused", "gps_only", "cell_only", "average"}
    assert all(m["answered"] > 0 for m in methods.values())
    assert quick_fusion["table"].startswith("| case |")
    assert quick_fusion["figures_table"].startswith("| method |")
    paths = run.write_fusion_report(quick_fusion, tmp_path)
    assert [p.name for p in paths] == ["fusion.json", "fusion.md"]
    assert json.loads(paths[0].read_text())["quick"] is True


def test_quick_server_run_measures_calls_and_fan_out_against_bare_broadcast(
    tmp_path: Path,
) -> None:
    """The server benchmark's quick mode (~25 s, real processes on loopback): every call is
    answered 201 and reaches every console, the fan-out runs ours and bare broadcast with no
    client lost, and server.json and server.md are written. No timing is asserted."""
    from benchmarks import bench_server

    report = bench_server.run(quick=True)
    rec = report["calls"]["sqlite"]["rates"][5]
    assert rec["calls"] == 10 and rec["errors"] == 0 and rec["missing"] == 0
    assert rec["created"]["n"] == 10 and rec["recommended"]["n"] == 10 * 20
    assert rec["floor"]["n"] > 0
    fan = report["fanout"][100]
    for phase in ("saturated", "paced"):
        for side in ("ours", "bare"):
            got = fan[phase][side]
            assert got["connected"] == 100 and got["clients_lost"] == 0, (phase, side)
            assert got["deliveries"] > 0 and got["latency"]["n"] == got["deliveries"]
    assert report["table"].startswith("| case |")
    paths = run.write_server_report(report, tmp_path)
    assert [p.name for p in paths] == ["server.json", "server.md"]
    assert json.loads(paths[0].read_text())["quick"] is True


def test_quick_vitals_run_relays_every_sample_and_writes_its_report(tmp_path: Path) -> None:
    """The vitals benchmark's quick mode (~30 s, `jijiu serve` in its own process): 20 tablets'
    samples all reach their 10 hospitals with no loss, duplicate or error reply in phase 1 and,
    for the nine that keep reading, in phase 2; vitals.json and vitals.md are written. No
    timing is asserted."""
    from benchmarks import bench_vitals

    report = bench_vitals.run(quick=True)
    assert report["units"] == 20 and len(report["hospitals"]) == 10
    for got in (report["phase1"]["all"], report["phase2"]["others"]):
        assert got["sent"] > 0 and got["received"] == got["sent"] == got["latency"]["n"]
        assert got["lost"] == got["duplicated"] == got["misrouted"] == 0
    assert report["tablet_errors"] == {}
    assert report["table"].startswith("| case |")
    paths = run.write_vitals_report(report, tmp_path)
    assert [p.name for p in paths] == ["vitals.json", "vitals.md"]
    assert json.loads(paths[0].read_text())["quick"] is True


def test_quick_aed_run_times_ours_and_brute_force_and_they_agree(tmp_path: Path) -> None:
    """The AED benchmark's quick mode (~10 s): a 10,000-AED registry is indexed, ours and the
    networkx brute force are both timed, they give the same AEDs in the same order at every
    incident, and aed.json and aed.md are written. No timing is asserted."""
    report = bench_aed.run(quick=True)
    assert report["registry"]["aeds"] == 10_000 and report["registry"]["indexed"] > 8_000
    rec = report["nearest"]
    assert rec["ours"]["n"] == 100 and rec["ours"]["p50_ms"] > 0
    peer = rec["peers"]["networkx brute force"]
    assert peer["n"] == 30 and peer["ratio"] > 0
    agree = rec["agreement"]
    assert agree["same_answer"] == agree["incidents"] == 30
    assert agree["max_delta_walk_s"] < 1e-6 and agree["options"] > 0
    assert report["table"].startswith("| case |") and report["failed"] == []
    paths = run.write_aed_report(report, tmp_path)
    assert [p.name for p in paths] == ["aed.json", "aed.md"]
    assert json.loads(paths[0].read_text())["quick"] is True


def test_quick_startup_run_places_fleets_like_the_brute_force(tmp_path: Path) -> None:
    """The start-up benchmark's quick mode (~10 s): 20, 200 and 1000 units are placed, the old
    brute force at 20 and 200 puts every station on the same node, a fresh process starts from
    the cache, and startup.json and startup.md are written. No timing is asserted."""
    from benchmarks import bench_startup

    report = bench_startup.run(quick=True)
    assert set(report["placement"]) == {20, 200, 1000}
    assert report["placement"][1000]["peer"] is None  # too slow for a quick run
    for units in (20, 200):
        peer = report["placement"][units]["peer"]
        assert peer["differing"] == 0 and peer["ratio"] > 0
    assert report["cached_start_s"] > 0 and len(report["starts_s"]) == 1
    assert report["targets"]["figures"]["placement_stations_differing_max"] == 0
    assert report["table"].startswith("| case |") and report["failed"] == []
    paths = run.write_startup_report(report, tmp_path)
    assert [p.name for p in paths] == ["startup.json", "startup.md"]
    assert json.loads(paths[0].read_text())["quick"] is True
