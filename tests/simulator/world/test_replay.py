"""Replaying the San Francisco week: parsing, priority and complaint mapping, the fitted
figures the synthetic scenario uses, and the replayed calls on the city."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.core.model import Complaint, Priority
from simulator.world import calls as synthetic
from simulator.world.replay import (
    ReplayDataMissing,
    fitted_intervals,
    hourly_profile,
    parse_rows,
    read_sf_log,
    replay_calls,
    sf_log_path,
    transport_share,
)
from simulator.world.rhythm import HOURLY_CALLS
from tests.support.fast_world import wulin_world


def _row(number: str, unit_type: str, dispatch: str, **more: str) -> dict[str, str]:
    row = {
        "Incident Number": number,
        "Unit Type": unit_type,
        "Call Type": "Medical Incident",
        "Call Type Group": "Potentially Life-Threatening",
        "Original Priority": "3",
        "Received DtTm": "12/31/2016 12:00:00 AM",
        "Dispatch DtTm": dispatch,
        "Response DtTm": "",
        "On Scene DtTm": "",
        "Transport DtTm": "",
        "Hospital DtTm": "",
        "Available DtTm": "",
    }
    row.update(more)
    return row


def test_first_ambulance_of_each_incident() -> None:
    """An engine row is ignored; of two ambulances the first dispatched gives the timeline;
    times are seconds since Saturday 31 Dec 2016 00:00."""
    scene = "On Scene DtTm"
    rows = [
        _row("1", "ENGINE", "12/31/2016 12:00:30 AM"),
        _row("1", "MEDIC", "12/31/2016 12:02:00 AM", **{scene: "12/31/2016 12:10:00 AM"}),
        _row("1", "PRIVATE", "12/31/2016 12:01:00 AM", **{scene: "12/31/2016 12:09:00 AM"}),
        _row("2", "ENGINE", "12/31/2016 01:00:00 AM"),
    ]
    [inc] = parse_rows(rows)
    assert inc.incident_number == "1"
    assert (inc.received_s, inc.dispatch_s, inc.on_scene_s) == (0.0, 60.0, 540.0)
    assert inc.transported is False


LIFE = "Potentially Life-Threatening"


@pytest.mark.parametrize(
    ("code", "group", "priority"),
    [
        ("3", LIFE, Priority.P1),
        ("E", LIFE, Priority.P1),
        ("2", LIFE, Priority.P2),
        ("3", "Alarm", Priority.P2),
        ("2", "Non Life-threatening", Priority.P3),
    ],
)
def test_priority_mapping(code: str, group: str, priority: Priority) -> None:
    """Emergency code on a life-threatening call is P1; one of the two is P2; neither P3."""
    row = _row(
        "9",
        "MEDIC",
        "12/31/2016 12:01:00 AM",
        **{"Original Priority": code, "Call Type Group": group},
    )
    assert parse_rows([row])[0].priority is priority


def test_complaint_from_call_type() -> None:
    """A collision is trauma, a structure fire breathing; a medical call is left to the draw."""

    def kind(call_type: str) -> Complaint | None:
        return parse_rows(
            [_row("9", "MEDIC", "12/31/2016 12:01:00 AM", **{"Call Type": call_type})]
        )[0].complaint

    assert kind("Traffic Collision") is Complaint.TRAUMA
    assert kind("Structure Fire") is Complaint.BREATHING
    assert kind("Medical Incident") is None


def test_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    """No file: ReplayDataMissing (a FileNotFoundError) that says where to put it."""
    with pytest.raises(ReplayDataMissing, match="data/sf_fire_calls"):
        read_sf_log(tmp_path / "nope.csv.gz")
    assert issubclass(ReplayDataMissing, FileNotFoundError)


@pytest.fixture(scope="module")
def log() -> list:
    return read_sf_log()


def test_bundled_log(log: list) -> None:
    """The bundled week: 2,861 incidents with an ambulance, 1,229 of them P1."""
    assert sf_log_path().name.endswith(".csv.gz")
    assert len(log) == 2861
    assert sum(i.priority is Priority.P1 for i in log) == 1229


def test_synthetic_constants_come_from_the_log(log: list) -> None:
    """simulator.world.calls' intervals and transport share, and the hourly profile in
    simulator.world.rhythm, are the log's fits (to their printed precision)."""
    fits = fitted_intervals(log)
    consts = {
        "call_processing_urgent": synthetic.CALL_PROCESSING_URGENT,
        "call_processing_routine": synthetic.CALL_PROCESSING_ROUTINE,
        "turnout_on_road": synthetic.TURNOUT_ON_ROAD,
        "on_scene_transported": synthetic.ON_SCENE_TRANSPORTED,
        "on_scene_treated": synthetic.ON_SCENE_TREATED,
        "at_hospital": synthetic.AT_HOSPITAL,
    }
    for name, dist in consts.items():
        assert fits[name] == pytest.approx((dist.mu, dist.sigma), abs=5e-4), name
    assert transport_share(log) == pytest.approx(synthetic.TRANSPORT_SHARE, abs=5e-3)
    assert hourly_profile(log) == pytest.approx(HOURLY_CALLS, abs=5e-3)


def test_replayed_calls_keep_the_logs_times_and_priorities(log: list) -> None:
    """Day 2's first three hours replayed: the log's calls of those hours, in order, at their
    times from that midnight, with their priorities; places on the city, seeded."""
    world = wulin_world()
    calls = replay_calls(log, world.zones, world.net, 1, 0.0, 3 * 3600.0, first_day=2)
    expect = [i for i in log if 2 * 86400 <= i.received_s < 2 * 86400 + 3 * 3600]
    assert [c.incident_id for c in calls] == [f"SF{i.incident_number}" for i in expect]
    assert [c.at_s for c in calls] == [i.received_s - 2 * 86400 for i in expect]
    assert [c.priority for c in calls] == [i.priority for i in expect]
    again = replay_calls(log, world.zones, world.net, 1, 0.0, 3 * 3600.0, first_day=2)
    assert [(c.lat, c.lon) for c in calls] == [(c.lat, c.lon) for c in again]
    with pytest.raises(ValueError, match="log ends"):
        replay_calls(log, world.zones, world.net, 1, 0.0, 3 * 86400.0, first_day=6)
