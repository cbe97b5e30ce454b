"""The flood benchmark: its bookkeeping on hand-made runs, its targets' wiring, and its quick mode
end to end (real servers on loopback). No timing is asserted."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_flood, run
from benchmarks.targets import Scorecard, Targets, load, parse

A, B = "I000000000a", "I000000000b"


def genuine(p99_ms: float, errors: int = 0, missing: int = 0) -> dict[str, Any]:
    """A `summarise_calls` record reduced to what the judge reads."""
    p = {"n": 40, "p50_ms": p99_ms / 2, "p99_ms": p99_ms}
    return {"errors": errors, "missing": missing, "recommended": p, "created": p}


def runs(flood_p99_ms: float, open_ids: list[str], queue: int) -> tuple[dict[str, Any], ...]:
    """A quiet run at p99 10 ms and a flooded one, as `run_once` records them."""
    quiet = {"genuine": genuine(10.0), "quarantine": []}
    flooded = {
        "genuine": genuine(flood_p99_ms),
        "quarantine": [{"calls": 90}] * queue,
        "flood": {"sent": 100, "statuses": {"201": 1}, "opened": [A, B], "open": open_ids},
    }
    return quiet, flooded


def quiet_card() -> Scorecard:
    return Scorecard(load("flood"), say=lambda _: None)


def test_flood_answers_count_statuses_and_only_201s_open_incidents() -> None:
    """Four calls answered 201, 200, 202 and not at all: one of each status, one incident."""
    calls = [(A, 0.0, 0.1, 201), (None, 0.1, 0.2, 200), (None, 0.2, 0.3, 202), (None, 0.3, 0.3, 0)]
    got = bench_flood.flood_answers(calls)
    assert got == {"sent": 4, "statuses": {"0": 1, "200": 1, "201": 1, "202": 1}, "opened": [A]}


def test_open_of_keeps_the_opened_incidents_the_api_lists_as_open() -> None:
    """Of A and B, only A is in the open list (B closed, C someone else's): [A]."""
    listed = [{"incident_id": A, "open": True}, {"incident_id": "I000000000c", "open": True}]
    assert bench_flood.open_of([A, B], listed) == [A]


def test_the_ratio_is_flood_over_quiet_and_nan_without_samples() -> None:
    """p99 12 ms beside 10 ms is 1.2; a run with no console sample gives NaN (a failed check)."""
    assert bench_flood.p99_ratio(genuine(10.0), genuine(12.0)) == pytest.approx(1.2)
    empty = {**genuine(10.0), "recommended": {"n": 0, "p50_ms": math.nan, "p99_ms": math.nan}}
    assert math.isnan(bench_flood.p99_ratio(genuine(10.0), empty))


def test_the_flood_table_has_the_three_targets_and_run_knows_it() -> None:
    """[flood] holds the ratio ceiling 1.2, at most one open incident, at least one quarantine
    entry; `benchmarks.run` lists the benchmark and its report writer."""
    assert dict(load("flood").limits) == {
        "p99_ratio_max": 1.2,
        "flood_open_incidents_max": 1.0,
        "quarantine_entries_min": 1.0,
    }
    assert "flood" in run.NAMES and run.WRITERS["flood"] is run.write_flood_report


def test_a_full_run_within_every_target_passes() -> None:
    """p99 11 ms beside 10 ms, one open incident, one quarantine entry: no target missed."""
    card = quiet_card()
    rows = bench_flood.rows_of(bench_flood.FULL, *runs(11.0, [A], 1), card)
    assert card.failed == [] and rows[0].passed is True


@pytest.mark.parametrize(
    ("flood_p99_ms", "open_ids", "queue", "missed"),
    [
        (13.0, [A], 1, ["p99_ratio_max"]),
        (11.0, [A, B], 1, ["flood_open_incidents_max"]),
        (11.0, [A], 0, ["quarantine_entries_min"]),
    ],
)
def test_each_target_missed_alone_fails_the_full_run(
    flood_p99_ms: float, open_ids: list[str], queue: int, missed: list[str]
) -> None:
    """A p99 1.3x the quiet one, two open incidents of the flooding phone, or no quarantine
    entry: exactly that target fails."""
    card = quiet_card()
    bench_flood.rows_of(bench_flood.FULL, *runs(flood_p99_ms, open_ids, queue), card)
    assert card.failed == missed


def test_a_quick_run_shows_the_ratio_unjudged_but_judges_the_counts() -> None:
    """Quick: a 3x ratio is not judged, two open incidents still fail."""
    card = quiet_card()
    bench_flood.rows_of(bench_flood.QUICK, *runs(30.0, [A, B], 1), card)
    assert card.failed == ["flood_open_incidents_max"]
    assert card.checks[0].key == "p99_ratio_max" and card.checks[0].passed is None


def test_a_genuine_call_not_answered_201_fails_the_ratio_row() -> None:
    """A ratio within target with one genuine call missing on a console: the row fails."""
    quiet, flooded = runs(11.0, [A], 1)
    flooded["genuine"] = genuine(11.0, missing=1)
    rows = bench_flood.rows_of(bench_flood.FULL, quiet, flooded, quiet_card())
    assert rows[0].passed is False


def test_a_targets_file_without_the_flood_table_is_refused() -> None:
    """A targets file with no [flood] table cannot be used by the benchmark."""
    with pytest.raises(ValueError, match=r"no \[flood\] table"):
        parse({"server": {}}, "flood")
    assert isinstance(parse({"flood": {"p99_ratio_max": 1.5}}, "flood"), Targets)


@pytest.mark.slow
def test_quick_flood_run_quarantines_the_phone_and_times_every_genuine_call(
    tmp_path: Path,
) -> None:
    """The quick mode (~25 s, two fresh servers): 200 calls from one phone open one incident,
    one quarantine entry; every genuine call is answered 201 and reaches every console in both
    runs; the quiet run has no quarantine entry; flood.json and flood.md are written."""
    report = bench_flood.run(quick=True)
    flood = report["flood"]["flood"]
    assert flood["sent"] == 200 and flood["statuses"]["201"] == 1
    assert len(flood["opened"]) == 1 and len(flood["open"]) <= 1
    assert len(report["flood"]["quarantine"]) == 1 and report["quiet"]["quarantine"] == []
    for name in ("quiet", "flood"):
        rec = report[name]["genuine"]
        assert rec["calls"] == 20 and rec["errors"] == 0 and rec["missing"] == 0
        assert rec["recommended"]["n"] == 20 * 5
    assert report["failed"] == []
    paths = run.write_flood_report(report, tmp_path)
    assert [p.name for p in paths] == ["flood.json", "flood.md"]
    assert json.loads(paths[0].read_text())["quick"] is True
