"""Replaying a named call log: `jijiu simulate --calls FILE --format sf|csv|nemsis`, the column
mapping, the clock shift, snapping to the road network, and the refusals of unusable logs."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime
from pathlib import Path

import pytest

from dispatch.core.model import Complaint, Priority
from routing.load import load_network
from simulator.fast.cli import main
from simulator.world.call_log import CallLogError, ColumnMap, LogCall, read_call_log
from simulator.world.log_replay import located, replay_log, sim_times_s
from simulator.world.replay import read_sf_log, sf_log_path
from tests.support.fast_world import wulin_world

SMALL_RUN = ["--seeds", "1", "--policy", "closest-idle", "--network", "wulin", "--units", "20"]


def _simulate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, *SMALL_RUN])
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_sf_week_replays_its_incidents_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled SF week given by path replays the same incidents as `--calls replay`."""
    week = read_sf_log()
    in_two_hours = sum(0 <= i.received_s < 7200 for i in week)
    code, out, err = _simulate(
        capsys, "--calls", str(sf_log_path()), "--format", "sf", "--hours", "2"
    )
    assert code == 0, err
    assert f"call log: {len(week)} calls; time 0 = 2016-12-31 00:00" in out
    assert f"{in_two_hours} fall in the 2 h run" in out
    assert f"{len(week)} outside it" in out  # San Francisco is not on the Wulin map
    row = next(line for line in out.splitlines() if line.startswith("| closest-idle"))
    assert row.split("|")[2].strip() == str(in_two_hours)


def test_sf_preset_keeps_the_bundled_replays_calls_and_priorities() -> None:
    """The `sf` preset reads the same incidents, times and priorities as the bundled replay."""
    log = read_call_log(sf_log_path(), "sf")
    week = read_sf_log()
    assert [c.call_id for c in log.calls] == [f"SF{i.incident_number}" for i in week]
    assert [c.priority for c in log.calls] == [i.priority for i in week]
    assert sim_times_s(log.calls).tolist() == [i.received_s for i in week]
    assert sum(c.lat is not None for c in log.calls) > 0.95 * len(log.calls)
    assert not log.bad


def test_generic_csv_with_a_column_mapping_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV with its own header names, mapped by --columns, replays; a call far off the map is
    counted outside the network."""
    net, _ = load_network("wulin")
    lon, lat = net.node_lonlat[100]
    rows = [
        ["A1", "05.03.2024 23:10", "P1", f"{lat:.6f}", f"{lon:.6f}", "chest pain"],
        ["A2", "06.03.2024 00:20", "2", f"{lat:.6f}", f"{lon:.6f}", ""],
        ["A3", "06.03.2024 01:05", "3", "48.8566", "2.3522", "trauma"],  # Paris
    ]
    path = _write(tmp_path / "calls.csv", ["Ref", "When", "Urgency", "Y", "X", "Kind"], rows)
    cols = "received=When,priority=Urgency,lat=Y,lon=X,complaint=Kind,id=Ref"
    code, out, err = _simulate(
        capsys,
        *("--calls", str(path), "--format", "csv", "--columns", cols),
        *("--time-format", "%d.%m.%Y %H:%M", "--hours", "2", "--replay-day", "1"),
    )
    assert code == 0, err
    assert "call log: 3 calls; time 0 = 2024-03-06 00:00" in out
    assert "2 fall in the 2 h run" in out  # A1 is in the warm-up hour before time 0
    assert "2 lie on the wulin road network, 1 outside it" in out


def test_replayed_log_calls_keep_time_of_day_place_and_complaint() -> None:
    """Calls keep their clock time and gaps, a logged point snaps to its node, a far one does
    not, and the log's priority and complaint are kept."""
    world = wulin_world()
    lon, lat = world.net.node_lonlat[100]
    calls = [
        LogCall("a", datetime(2024, 3, 5, 8, 0), Priority.P1, lat, lon, Complaint.STROKE),
        LogCall("b", datetime(2024, 3, 5, 9, 30), Priority.P3, 48.85, 2.35),
        LogCall("c", datetime(2024, 3, 6, 1, 0), Priority.P2, None, None, transported=False),
    ]
    specs = replay_log(calls, world.zones, world.net, 1, 0.0, 2 * 86_400.0)
    assert [s.at_s for s in specs] == [8 * 3600.0, 9.5 * 3600.0, 25 * 3600.0]
    assert (specs[0].lat, specs[0].lon) == (float(lat), float(lon))
    assert specs[0].complaint is Complaint.STROKE
    assert [s.priority for s in specs] == [Priority.P1, Priority.P3, Priority.P2]
    assert specs[2].transport is False
    assert located(calls, world.net).outside == 2
    next_day = replay_log(calls, world.zones, world.net, 1, 0.0, 86_400.0, first_day=1)
    assert [(s.incident_id, s.at_s) for s in next_day] == [("c", 3600.0)]
    morning = replay_log(calls, world.zones, world.net, 1, 0.0, 9 * 3600.0)
    assert [s.incident_id for s in morning] == ["a"]


def test_column_map_refuses_an_unknown_field() -> None:
    """A --columns entry naming no field is an error, not ignored."""
    assert ColumnMap.parse("received=T, lat=Y").lat == "Y"
    with pytest.raises(CallLogError, match="cannot read 'when=T'"):
        ColumnMap.parse("when=T")


def test_empty_file_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty file, and a header with no rows, are refused with exit 2."""
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = _simulate(capsys, "--calls", str(empty), "--format", "csv")
    assert code == 2 and "is empty" in err
    bare = _write(tmp_path / "bare.csv", ["received", "priority", "lat", "lon"], [])
    code, _, err = _simulate(capsys, "--calls", str(bare), "--format", "csv")
    assert code == 2 and "has no data rows" in err


def test_wrong_header_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file whose header lacks the layout's columns is refused, naming what is missing."""
    path = _write(tmp_path / "x.csv", ["time", "priority", "lat", "lon"], [["1", "1", "0", "0"]])
    code, _, err = _simulate(capsys, "--calls", str(path), "--format", "csv")
    assert code == 2 and "missing column(s) 'received'" in err
    code, _, err = _simulate(capsys, "--calls", str(path), "--format", "sf")
    assert code == 2 and "wrong header for --format sf" in err and "'Received DtTm'" in err


def test_mostly_bad_rows_exit_non_zero_showing_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """More than 5 % unreadable rows is refused, showing the first bad rows with line numbers."""
    good = ["2024-03-05T08:00:00", "1", "30.27", "120.16"]
    rows = [good] * 10 + [["yesterday", "1", "30.27", "120.16"], [*good[:1], "9", *good[2:]]]
    path = _write(tmp_path / "bad.csv", ["received", "priority", "lat", "lon"], rows)
    code, _, err = _simulate(capsys, "--calls", str(path), "--format", "csv")
    assert code == 2
    assert "2 of 12 rows cannot be read" in err
    assert "line 12: received time 'yesterday' does not match ISO 8601" in err
    assert "line 13: priority '9' is not 1-3 or P1-P3" in err


def test_a_few_bad_rows_are_skipped_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Up to 5 % bad rows replays the rest and says what was skipped."""
    good = ["2024-03-05T00:10:00", "2", "30.27", "120.16"]
    rows = [good] * 20 + [["2024-03-05T00:20:00", "2", "91", "120.16"]]
    path = _write(tmp_path / "few.csv", ["received", "priority", "lat", "lon"], rows)
    code, out, err = _simulate(capsys, "--calls", str(path), "--format", "csv", "--hours", "1")
    assert code == 0, err
    assert "1 of 21 rows of" in err and "line 22: lat/lon '91', '120.16' out of range" in err
    assert "call log: 20 calls" in out


def test_no_ambulance_call_and_a_wrong_layout_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SF-layout file without an ambulance gives no call: exit 2; read as NEMSIS it lacks
    the NEMSIS columns: exit 2."""
    with gzip.open(sf_log_path(), "rt", encoding="utf-8") as f:
        header = next(csv.reader(f))
    engine = dict.fromkeys(header, "")
    engine.update({"Unit Type": "ENGINE", "Incident Number": "1"})
    path = _write(tmp_path / "sf.csv", header, [[engine[h] for h in header]])
    code, _, err = _simulate(capsys, "--calls", str(path), "--format", "sf")
    assert code == 2 and "gave no call (1 rows read)" in err
    code, _, err = _simulate(capsys, "--calls", str(path), "--format", "nemsis")
    assert code == 2 and "eTimes.01" in err
    code, _, err = _simulate(capsys, "--calls", str(tmp_path / "none.csv"), "--format", "csv")
    assert code == 2 and "none.csv does not exist" in err
    code, _, err = _simulate(capsys, "--calls", str(path))
    assert code == 2 and "--format sf|csv|nemsis" in err


NEMSIS_HEADER = ["eResponse.03", "eTimes.01", "eResponse.23", "eScene.11", "eDisposition.30"]


def test_a_nemsis_export_is_read_by_element_number(tmp_path: Path) -> None:
    """Four NEMSIS records (v3.5 and v3.4 mode codes): the call time kept as the local clock,
    emergent P1, downgraded P2, non-emergent P3, upgraded P1, the scene point, transported by
    this unit or not; a record with no scene point is a bad row naming eScene.11."""
    rows = [
        ["N1", "2024-03-01T08:00:05-05:00", "4223001", "30.2803,120.1465", "4230001"],
        ["N2", "2024-03-01T08:01:00-05:00", "2223003", "30.2850,120.1400", "4230013"],
        ["N3", "2024-03-01T08:02:00-05:00", "4223005", "30.2790,120.1480", ""],
        ["N4", "2024-03-01T08:03:00-05:00", "4223007", "30.2950,120.1650", "4230003"],
        ["N5", "2024-03-01T08:04:00-05:00", "4223001", "", "4230001"],
    ]
    path = _write(tmp_path / "nemsis.csv", NEMSIS_HEADER, rows * 5)  # 25 rows: 5 bad = 20 %
    with pytest.raises(CallLogError):  # more bad rows than a log may have
        read_call_log(path, "nemsis")
    many = [[f"{r[0]}-{k}", *r[1:]] for k in range(6) for r in rows[:4]]  # 24 good, 1 bad
    path = _write(tmp_path / "nemsis.csv", NEMSIS_HEADER, many + rows[4:])
    log = read_call_log(path, "nemsis")
    by_id = {c.call_id: c for c in log.calls}
    first = [by_id[f"N{i}-0"] for i in (1, 2, 3, 4)]
    assert len(log.calls) == 24
    assert first[0].received == datetime(2024, 3, 1, 8, 0, 5)
    assert [c.priority for c in first] == [Priority.P1, Priority.P2, Priority.P3, Priority.P1]
    assert (first[0].lat, first[0].lon) == (30.2803, 120.1465)
    assert [c.transported for c in first] == [True, False, None, True]
    assert [b.line for b in log.bad] == [26] and "eScene.11" in log.bad[0].why
