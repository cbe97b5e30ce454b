"""The run's records and table: phases only move on, intervals are scaled to city time."""

from __future__ import annotations

from simulator.live.summary import CallRecord, Check, Tally, city_intervals, render


def test_a_call_never_moves_back_a_phase() -> None:
    """The tablet's ack confirmed before the assignment's answer is read: still acknowledged."""
    r = CallRecord("k", "stroke", 1)
    r.reached("created", 1.0)
    r.reached("acknowledged", 3.0)
    r.reached("assigned", 3.1)
    assert r.phase == "acknowledged" and r.at["assigned"] == 3.1


def test_intervals_are_wall_times_the_speed() -> None:
    """Posted at 0 s, on scene at 30 s wall at x20: a 10-minute response."""
    r = CallRecord("k", "trauma", 2, at={"posted": 0.0, "en_route": 12.0, "on_scene": 30.0})
    got = city_intervals([r], speed=20.0)
    assert got["call → on scene (response)"] == [600.0]
    assert got["en route → on scene"] == [360.0]
    assert got["call → dispatch"] == []


def test_the_table_says_none_or_names_the_errors() -> None:
    """No errors: "errors     none"; with some, each kind and its count."""
    r = CallRecord("k", "other", 3, at={"posted": 0.0, "on_scene": 30.0}, phase="on_scene")
    tally = Tally()
    text = render(
        [r],
        tally,
        Check(1, ()),
        wall_s=60.0,
        speed=20.0,
        units=4,
        hospitals=10,
        server_error_logs=0,
    )
    assert "errors     none" in text and "agree (1 incidents read back)" in text
    assert "1:00 wall at x20 = 0:20 h:mm" in text
    tally.error("HTTP 5xx")
    text = render(
        [r], tally, None, wall_s=60.0, speed=20.0, units=4, hospitals=10, server_error_logs=2
    )
    assert "HTTP 5xx 1" in text and "server ERROR log lines 2" in text
