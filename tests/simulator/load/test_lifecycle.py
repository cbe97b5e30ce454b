"""The lifecycle driver's plan (simulator.load.lifecycle): the lives, their stages in NEMSIS
order, the requests each stage makes, and the steady open set the pace implies. Pure: no
server, no socket."""

from __future__ import annotations

from collections import Counter

import pytest

from simulator.load.lifecycle import (
    STAGES,
    Fate,
    Job,
    Pace,
    fate_of,
    request_for,
    stage_after,
    transient,
)


def test_every_life_starts_with_the_assignment_and_en_route() -> None:
    """Each of the three lives is assigned by the dispatcher, then the crew goes en route."""
    for stages in STAGES.values():
        assert stages[:2] == ("assign", "en_route")


def test_a_transported_patient_goes_through_the_crew_statuses_in_nemsis_order() -> None:
    """on scene, transporting, at hospital, the handover, back in service: in that order."""
    assert STAGES[Fate.TRANSPORTED][2:] == (
        "on_scene",
        "transporting",
        "at_hospital",
        "handover",
        "available_on_road",
    )
    assert STAGES[Fate.TREATED][2:] == ("on_scene", "available_on_road")
    assert STAGES[Fate.CANCELLED][2:] == ("cancel",)


def test_fates_follow_the_shares_and_the_same_id_always_gets_the_same() -> None:
    """Over 10,000 ids the shares are 10 % cancelled, 30 % treated, 60 % transported (within
    2 points); an id asked twice gets the same life; another seed gives other lives."""
    pace = Pace()
    ids = [f"I{i:010x}" for i in range(10_000)]
    counts = Counter(fate_of(i, pace) for i in ids)
    assert counts[Fate.CANCELLED] / 10_000 == pytest.approx(0.1, abs=0.02)
    assert counts[Fate.TREATED] / 10_000 == pytest.approx(0.3, abs=0.02)
    assert counts[Fate.TRANSPORTED] / 10_000 == pytest.approx(0.6, abs=0.02)
    assert all(fate_of(i, pace) == fate_of(i, pace) for i in ids[:100])
    assert [fate_of(i, pace, 1) for i in ids[:100]] != [fate_of(i, pace, 2) for i in ids[:100]]


def test_all_cancelled_when_the_cancelled_share_is_one() -> None:
    """cancelled_share 1: every incident is cancelled."""
    pace = Pace(cancelled_share=1.0, treated_share=0.0)
    assert {fate_of(f"I{i}", pace) for i in range(100)} == {Fate.CANCELLED}


def test_requests_go_to_the_dispatcher_and_the_crew_routes() -> None:
    """Assign and cancel are the dispatcher's; a status and the handover the unit's own."""
    assert request_for("assign", "I1", "ALS01") == (
        "/api/v1/incidents/I1/assignment",
        {"unit_id": "ALS01", "confirm_conflict": True},
        "dispatcher",
    )
    assert request_for("cancel", "I1", "ALS01")[2] == "dispatcher"
    assert request_for("on_scene", "I1", "ALS01") == (
        "/api/v1/units/ALS01/status",
        {"status": "on_scene"},
        "unit",
    )
    assert request_for("handover", "I1", "ALS01") == ("/api/v1/incidents/I1/handover", {}, "unit")
    with pytest.raises(ValueError, match="needs the incident's unit"):
        request_for("en_route", "I1", None)


def test_a_life_lasts_the_sum_of_its_stages_and_scaling_scales_it() -> None:
    """Transported with the default pace: 2+1+6+4+6+2+2 = 23 s; at a quarter, 5.75 s."""
    assert Pace().life_s(Fate.TRANSPORTED) == 23.0
    assert Pace().life_s(Fate.CANCELLED) == 6.0
    assert Pace().scaled(0.25).life_s(Fate.TRANSPORTED) == 5.75
    assert Pace().scaled(0.25).treated_share == 0.3


def test_the_steady_open_set_is_rate_times_the_mean_life() -> None:
    """Mean life 0.1*6 + 0.3*11 + 0.6*23 = 17.7 s; at 5 calls/s, with half the 2 s poll
    period, about 5 * 18.7 = 93.5 incidents are open at once."""
    assert Pace().life_s(Fate.TREATED) == 11.0
    assert Pace().mean_life_s() == pytest.approx(17.7)
    assert Pace().steady_open(5.0) == pytest.approx(93.5)


def test_a_pace_refuses_shares_that_do_not_add_up_and_negative_delays() -> None:
    """Shares over one in total, or a negative delay, are refused."""
    with pytest.raises(ValueError, match="at most 1"):
        Pace(cancelled_share=0.6, treated_share=0.6)
    with pytest.raises(ValueError, match="non-negative"):
        Pace(on_scene_s=-1.0)


def test_a_job_names_its_next_stage() -> None:
    """A transported job at stage 3 is due to report transporting."""
    assert Job("I1", Fate.TRANSPORTED, 0.0, stage=3).next_stage == "transporting"


def test_the_step_a_poll_shows_moves_a_job_past_what_was_done() -> None:
    """Notified (eTimes.03): en_route is next; on scene (eTimes.06): a transported job's next
    is transporting, a treated one's available_on_road; a cancelled life has no on_scene."""
    assert STAGES[Fate.TRANSPORTED][stage_after(Fate.TRANSPORTED, "eTimes.03") or 0] == "en_route"
    assert STAGES[Fate.TRANSPORTED][stage_after(Fate.TRANSPORTED, "eTimes.06") or 0] == (
        "transporting"
    )
    assert STAGES[Fate.TREATED][stage_after(Fate.TREATED, "eTimes.06") or 0] == (
        "available_on_road"
    )
    assert stage_after(Fate.CANCELLED, "eTimes.06") is None
    assert stage_after(Fate.TRANSPORTED, "eTimes.01") is None


def test_no_answer_429_and_5xx_are_tried_again_other_refusals_count() -> None:
    """0, 429, 500 and 503 are transient; 404 and 409 are not."""
    assert [transient(s) for s in (0, 429, 500, 503, 404, 409)] == [True] * 4 + [False] * 2
