"""The recent-calls grid finds every duplicate the full scan finds, and forgets by the window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.model import IncidentId
from dispatch.core.nearby import RecentIncidents
from location_fusion.geo import haversine_m

RADIUS_M, WINDOW_S = 150.0, 600.0

calls = st.lists(
    st.tuples(
        st.floats(-59.0, 59.0),  # lat
        st.floats(-179.0, 179.0),  # lon
        st.floats(0.0, 120.0),  # seconds after the previous call
        st.floats(-0.003, 0.003),  # a nudge towards the previous call's place (about 300 m)
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(calls)
def test_the_grid_finds_every_call_within_radius_and_window(rows: list[tuple[float, ...]]) -> None:
    """For each new call: every earlier call within 150 m and 600 s is among `near`."""
    recent = RecentIncidents(RADIUS_M, WINDOW_S)
    seen: list[tuple[IncidentId, float, float, float]] = []
    t = 0.0
    for i, (lat, lon, gap, nudge) in enumerate(rows):
        t += gap
        if seen and i % 2:  # every other call lands near the one before, to make duplicates
            lat, lon = seen[-1][1] + nudge, seen[-1][2] + nudge
        near = set(recent.near(lat, lon, t))
        for other, o_lat, o_lon, o_t in seen:
            close = float(haversine_m(lon, lat, o_lon, o_lat)) <= RADIUS_M
            if close and t - o_t <= WINDOW_S:
                assert other in near
            if t - o_t > WINDOW_S:
                assert other not in near  # expired
        incident = IncidentId(f"I{i}")
        recent.add(incident, lat, lon, t)
        seen.append((incident, lat, lon, t))


def test_calls_leave_once_older_than_the_window() -> None:
    """Three calls at one place, 0 s, 400 s, 700 s: at 700 s the first is gone."""
    recent = RecentIncidents(RADIUS_M, WINDOW_S)
    recent.add(IncidentId("A"), 30.28, 120.15, 0.0)
    recent.add(IncidentId("B"), 30.28, 120.15, 400.0)
    assert sorted(recent.near(30.28, 120.15, 599.0)) == ["A", "B"]
    recent.add(IncidentId("C"), 30.2801, 120.1501, 700.0)
    assert sorted(recent.near(30.28, 120.15, 700.0)) == ["B", "C"]
    assert len(recent) == 2
