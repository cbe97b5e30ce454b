"""The routing benchmark's quick mode runs end to end, so the benchmarks cannot rot.

The numbers of a quick run mean little (few repetitions, a 2 x 2 tiling); what is checked is
that every case runs, every peer answers and the report files are written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_routing, run


@pytest.fixture(scope="module")
def quick_report() -> dict[str, Any]:
    """One quick benchmark run (~20 s), shared by the tests below."""
    return bench_routing.run(quick=True)


def test_quick_run_times_every_case_against_its_peers(quick_report: dict[str, Any]) -> None:
    """Cases a-e all report, each timed case names at least one peer, and the table is built."""
    for case in ("a", "b", "c"):
        assert quick_report[case]["peers"], case
        assert quick_report[case]["ours"]["p50_ms"] > 0
    assert quick_report["d"] and quick_report["e"]["nbytes"] > 0
    assert quick_report["table"].startswith("| case |")


def test_report_files_are_written(quick_report: dict[str, Any], tmp_path: Path) -> None:
    """The report writer leaves routing.json (valid JSON), routing.md and routing.png."""
    paths = run.write_report(quick_report, tmp_path)
    assert [p.name for p in paths] == ["routing.json", "routing.md", "routing.png"]
    assert json.loads(paths[0].read_text())["quick"] is True
    assert paths[2].stat().st_size > 0
