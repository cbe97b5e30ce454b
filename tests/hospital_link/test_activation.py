"""Team activation: stroke on the complaint, STEMI on ST elevation, trauma on red criteria."""

from __future__ import annotations

import pytest

from hospital_link.activation import Team, suggest_activation
from hospital_link.errors import InvalidArgument
from hospital_link.vitals import Numerics


def vitals(**readings: float) -> Numerics:
    return Numerics("A1", 0, 0.0, **readings)  # type: ignore[arg-type]


def test_stroke_activates_stroke_team() -> None:
    """A stroke complaint alone pre-alerts the stroke team."""
    a = suggest_activation("stroke")
    assert a.team is Team.STROKE and a.criteria == ("condition:stroke",)


@pytest.mark.parametrize(
    ("condition", "ste", "team", "code"),
    [
        ("chest_pain", True, Team.STEMI, "ecg:ste"),
        ("chest_pain", None, Team.STEMI, "ecg:not_read"),
        ("chest_pain", False, Team.NONE, None),
        ("cardiac_arrest", True, Team.STEMI, "ecg:ste"),
        ("cardiac_arrest", None, Team.NONE, None),
        ("breathing", True, Team.NONE, None),
    ],
)
def test_stemi(condition: str, ste: bool | None, team: Team, code: str | None) -> None:
    """Chest pain or ROSC with ST elevation: STEMI; chest pain unread: STEMI, flagged unread."""
    a = suggest_activation(condition, st_elevation=ste)
    assert a.team is team
    assert (code in a.criteria) if code else a.criteria == (f"condition:{condition}",)


@pytest.mark.parametrize(
    ("readings", "code"),
    [
        ({"nibp_sys": 85.0, "nibp_dia": 50.0}, "sbp<90"),
        ({"nibp_sys": 100.0, "nibp_dia": 60.0, "hr": 110.0}, "hr>sbp"),
        ({"gcs": 13}, "gcs<=13"),
        ({"rr": 9.0}, "rr<10|rr>29"),
        ({"rr": 30.0}, "rr<10|rr>29"),
        ({"spo2": 88.0}, "spo2<90"),
    ],
)
def test_trauma_red_criteria(readings: dict[str, float], code: str) -> None:
    """Trauma with SBP 85, HR 110 > SBP 100, GCS 13, RR 9 or 30, or SpO2 88: trauma team."""
    a = suggest_activation("trauma", vitals(**readings))
    assert a.team is Team.TRAUMA and code in a.criteria
    assert a.reasons[0] == "trauma meeting field-triage red criteria"


def test_trauma_at_the_thresholds_is_not_activated() -> None:
    """SBP 90, HR 90 = SBP, GCS 14, RR 10 and 29, SpO2 90 meet no criterion."""
    for readings in (
        {"nibp_sys": 90.0, "nibp_dia": 60.0, "hr": 90.0, "gcs": 14, "rr": 10.0, "spo2": 90.0},
        {"rr": 29.0},
    ):
        assert suggest_activation("trauma", vitals(**readings)).team is Team.NONE


def test_trauma_without_vitals() -> None:
    """Trauma before any vitals: no suggestion, and it says there are no vitals yet."""
    a = suggest_activation("trauma")
    assert a.team is Team.NONE and "no vitals yet" in a.summary


def test_several_criteria_all_listed() -> None:
    """SBP 70 with HR 130 and RR 34 lists all three criteria."""
    a = suggest_activation("trauma", vitals(nibp_sys=70.0, nibp_dia=40.0, hr=130.0, rr=34.0))
    assert a.criteria == ("condition:trauma", "sbp<90", "hr>sbp", "rr<10|rr>29")
    assert len(a.reasons) == 4


def test_other_conditions_and_unknown() -> None:
    """Obstetric: no team; an unknown condition is refused."""
    assert suggest_activation("obstetric", vitals(nibp_sys=80.0, nibp_dia=40.0)).team is Team.NONE
    with pytest.raises(InvalidArgument):
        suggest_activation("headache")
