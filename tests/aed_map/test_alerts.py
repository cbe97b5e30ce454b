"""A volunteer's alert: legal moves only, automatic end, and an address shown only when due."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aed_map.alerts import (
    LIVE,
    SHOWS_ADDRESS,
    TRANSITIONS,
    AlertIncident,
    EndReason,
    Role,
    VolunteerView,
    advance,
    alert,
    assign,
    end,
    end_all,
    lapse,
    volunteer_view,
)
from aed_map.alerts import VolunteerStatus as S
from aed_map.errors import IllegalTransition, InvalidArgument
from aed_map.registry import Aed, AedId
from aed_map.volunteers import VolunteerId

V = VolunteerId("v1")
HOME = AlertIncident("inc-1", 30.28, 120.16, "某小区 3 幢 2 单元 501", "门禁 0501")
AED = Aed(AedId("aed-1"), 30.281, 120.161, location="B 口内客服中心旁")


def test_the_fetcher_path() -> None:
    """alerted, accepted, fetch role, en_route, with_aed, on_scene; then the crew ends it."""
    a = alert(V, "inc-1", 0.0)
    a = advance(a, S.ACCEPTED, 10.0)
    a = assign(a, Role.FETCH_AED, AED.id, 11.0)
    for t, status in ((12.0, S.EN_ROUTE), (200.0, S.WITH_AED), (300.0, S.ON_SCENE)):
        a = advance(a, status, t)
    assert (a.status, a.role, a.aed_id) == (S.ON_SCENE, Role.FETCH_AED, AED.id)
    a = end(a, EndReason.AMBULANCE_ARRIVED, 400.0)
    assert (a.status, a.ended, a.updated_at_s) == (S.CANCELLED, EndReason.AMBULANCE_ARRIVED, 400)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), S.ON_SCENE),  # cannot arrive without accepting
        ((), S.EN_ROUTE),
        ((S.DECLINED,), S.ACCEPTED),  # declined is final
        ((S.ACCEPTED, S.EN_ROUTE), S.ACCEPTED),  # no going back
        ((S.ACCEPTED, S.ON_SCENE), S.EN_ROUTE),
        ((S.ACCEPTED, S.EN_ROUTE), S.WITH_AED),  # with_aed needs the fetch role
        ((S.ACCEPTED, S.CANCELLED), S.ACCEPTED),  # withdrawn is final
    ],
)
def test_illegal_moves_are_refused(path: tuple[S, ...], bad: S) -> None:
    """Moves outside the transition table raise IllegalTransition (reason illegal_transition)."""
    a = alert(V, "inc-1", 0.0)
    for i, status in enumerate(path, start=1):
        a = advance(a, status, float(i))
    with pytest.raises(IllegalTransition) as info:
        advance(a, bad, 100.0)
    assert info.value.reason == "illegal_transition" and isinstance(info.value, ValueError)


def test_time_cannot_run_backwards() -> None:
    """A move stamped before the alert's last update raises InvalidArgument."""
    a = advance(alert(V, "inc-1", 50.0), S.ACCEPTED, 60.0)
    with pytest.raises(InvalidArgument):
        advance(a, S.EN_ROUTE, 55.0)


def test_roles_only_after_acceptance() -> None:
    """A role is given only to an accepted (or en-route) volunteer; fetch needs an AED id."""
    with pytest.raises(IllegalTransition):
        assign(alert(V, "inc-1", 0.0), Role.CPR, None, 1.0)
    a = advance(alert(V, "inc-1", 0.0), S.ACCEPTED, 1.0)
    with pytest.raises(InvalidArgument):
        assign(a, Role.FETCH_AED, None, 2.0)
    with pytest.raises(InvalidArgument):
        assign(a, Role.CPR, AED.id, 2.0)


def test_end_all_is_idempotent() -> None:
    """When the incident is cancelled, live alerts end; declined ones stay declined."""
    alerts = (
        alert(VolunteerId("a"), "inc-1", 0.0),
        advance(alert(VolunteerId("b"), "inc-1", 0.0), S.DECLINED, 5.0),
        advance(alert(VolunteerId("c"), "inc-1", 0.0), S.ACCEPTED, 5.0),
    )
    ended = end_all(alerts, EndReason.INCIDENT_CANCELLED, 10.0)
    assert [a.status for a in ended] == [S.CANCELLED, S.DECLINED, S.CANCELLED]
    assert {a.ended for a in ended} == {EndReason.INCIDENT_CANCELLED, None}
    assert end_all(ended, EndReason.AMBULANCE_ARRIVED, 20.0) == ended


def test_unanswered_alerts_lapse() -> None:
    """An alert unanswered for 120 s ends with no_answer; an accepted one never lapses."""
    a = alert(V, "inc-1", 0.0)
    assert lapse(a, 119.0) is a
    assert lapse(a, 120.0).ended is EndReason.NO_ANSWER
    accepted = advance(a, S.ACCEPTED, 10.0)
    assert lapse(accepted, 1_000.0) is accepted


def test_withdrawal() -> None:
    """A volunteer who pulls out after accepting ends with reason withdrawn."""
    a = advance(advance(alert(V, "inc-1", 0.0), S.ACCEPTED, 1.0), S.CANCELLED, 2.0)
    assert a.ended is EndReason.WITHDRAWN


def test_address_only_after_acceptance_and_until_the_end() -> None:
    """Before accepting: distance only; after: address, entrance hint; after the end: nothing."""
    a = alert(V, "inc-1", 0.0)
    before = volunteer_view(a, HOME, distance_m=340.0)
    assert before.address is None and before.lat is None and before.access_hint is None
    assert before.distance_m == 400  # rounded up to 100 m
    accepted = advance(a, S.ACCEPTED, 5.0)
    during = volunteer_view(accepted, HOME, distance_m=340.0)
    assert (during.address, during.access_hint, during.lat) == (HOME.address, "门禁 0501", 30.28)
    after = volunteer_view(end(accepted, EndReason.AMBULANCE_ARRIVED, 9.0), HOME, 340.0)
    assert after.address is None and after.distance_m is None and after.lat is None


def test_fetcher_sees_the_aed() -> None:
    """Only the volunteer with the fetch role for that AED sees where it is."""
    a = assign(advance(alert(V, "inc-1", 0.0), S.ACCEPTED, 1.0), Role.FETCH_AED, AED.id, 2.0)
    assert volunteer_view(a, HOME, 300.0, AED).aed == ("B 口内客服中心旁", AED.lat, AED.lon)
    cpr = assign(advance(alert(V, "inc-1", 0.0), S.ACCEPTED, 1.0), Role.CPR, None, 2.0)
    assert volunteer_view(cpr, HOME, 300.0, AED).aed is None


def test_view_carries_no_medical_fields() -> None:
    """Neither the incident handed to volunteers nor the view has a field for medical details."""
    names = {f.name for f in dataclasses.fields(VolunteerView)}
    names |= {f.name for f in dataclasses.fields(AlertIncident)}
    medical = {
        "complaint",
        "chief_complaint",
        "diagnosis",
        "vitals",
        "notes",
        "medical",
        "patient",
        "age",
        "sex",
        "condition",
        "priority",
    }
    assert not names & medical
    with pytest.raises(InvalidArgument):
        volunteer_view(alert(V, "other", 0.0), HOME, 100.0)


@given(moves=st.lists(st.sampled_from(list(S)), max_size=8))
def test_random_move_sequences(moves: list[S]) -> None:
    """Any sequence: a move succeeds iff the table allows it, and the address shows iff due."""
    a = assign(advance(alert(V, "inc-1", 0.0), S.ACCEPTED, 0.0), Role.FETCH_AED, AED.id, 0.0)
    a = dataclasses.replace(a, status=S.ALERTED)  # start from the alert, role already known
    t = 0.0
    for status in moves:
        t += 1.0
        allowed = status in TRANSITIONS[a.status]
        try:
            a = advance(a, status, t)
            assert allowed
        except IllegalTransition:
            assert not allowed
        view = volunteer_view(a, HOME, 250.0, AED)
        assert (view.address is not None) == (a.status in SHOWS_ADDRESS)
        assert (view.distance_m is not None) == (a.status in LIVE)
