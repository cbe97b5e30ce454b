"""Team activation: whether the receiving hospital should call its stroke, STEMI or trauma team.

A pre-alert lets the hospital assemble the team before the ambulance arrives (door-to-needle,
door-to-balloon and trauma-bay times all start at the door). This only suggests: the crew or
the dispatcher decides, and the suggestion carries its criteria so they can see why.

Trauma uses the mental-status and vital-sign ("red") criteria of the field triage guideline:
Newgard CD et al., National Guideline for the Field Triage of Injured Patients:
Recommendations of the National Expert Panel on Field Triage, 2021. J Trauma Acute Care Surg
2022;93(2):e49-e60 (the successor, under ACS-COT, of the CDC's 2011 guideline, Sasser SM et al.,
MMWR Recomm Rep 2012;61(RR-1)). Adult (10-64 y) thresholds, as age is not known here: SBP < 90
mmHg or HR > SBP; RR < 10 or > 29 /min; SpO2 < 90 % (the guideline says room air; we cannot
tell, so any reading counts). The 2021 guideline's mental-status criterion is motor GCS < 6;
monitors give only the total, so the 2011 criterion total GCS <= 13 stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hospital_link.destination import required_capability
from hospital_link.vitals import Numerics


class Team(StrEnum):
    STROKE = "stroke"
    STEMI = "stemi"
    TRAUMA = "trauma"
    NONE = "none"


@dataclass(frozen=True)
class Activation:
    """A suggested team activation with its criteria as codes and as text."""

    team: Team
    criteria: tuple[str, ...]  # machine codes: "condition:stroke", "sbp<90", "ecg:ste", ...
    reasons: tuple[str, ...]  # the same, for people

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)


def trauma_criteria(v: Numerics) -> list[tuple[str, str]]:
    """The field-triage red criteria that `v` meets, as (code, text) pairs."""
    met = []
    if v.nibp_sys is not None and v.nibp_sys < 90:
        met.append(("sbp<90", f"systolic {v.nibp_sys:.0f} mmHg < 90"))
    if v.nibp_sys is not None and v.hr is not None and v.hr > v.nibp_sys:
        met.append(("hr>sbp", f"heart rate {v.hr:.0f} above systolic {v.nibp_sys:.0f}"))
    if v.gcs is not None and v.gcs <= 13:
        met.append(("gcs<=13", f"GCS {v.gcs} <= 13"))
    if v.rr is not None and (v.rr < 10 or v.rr > 29):
        met.append(("rr<10|rr>29", f"respiratory rate {v.rr:.0f} /min outside 10-29"))
    if v.spo2 is not None and v.spo2 < 90:
        met.append(("spo2<90", f"SpO2 {v.spo2:.0f} % < 90"))
    return met


def suggest_activation(
    condition: str, vitals: Numerics | None = None, st_elevation: bool | None = None
) -> Activation:
    """The team to pre-alert for `condition`, given the latest vitals and 12-lead finding.

    Stroke: the condition alone (the call-taker's stroke screen made it "stroke").
    STEMI: chest pain or a resuscitated arrest with ST elevation on the 12-lead; chest pain
    with no 12-lead read yet (`st_elevation` None) is suggested on the complaint and says so;
    a 12-lead read without ST elevation suggests none. Trauma: a trauma patient meeting any
    red vital-sign criterion (see the module docstring). Everything else: none.
    """
    required_capability(condition)  # refuses an unknown condition
    code = f"condition:{condition}"
    if condition == "stroke":
        return Activation(Team.STROKE, (code,), ("stroke: pre-alert the stroke team",))
    if condition in ("chest_pain", "cardiac_arrest"):
        if st_elevation:
            return Activation(
                Team.STEMI, (code, "ecg:ste"), (f"{condition} with ST elevation on the 12-lead",)
            )
        if st_elevation is None and condition == "chest_pain":
            return Activation(
                Team.STEMI,
                (code, "ecg:not_read"),
                ("chest pain, no 12-lead read yet: suggested on the complaint, confirm by ECG",),
            )
        said = "no ST elevation on the 12-lead" if st_elevation is False else "no 12-lead read"
        return Activation(Team.NONE, (code,), (f"{condition}: {said}",))
    if condition == "trauma":
        met = trauma_criteria(vitals) if vitals is not None else []
        if met:
            return Activation(
                Team.TRAUMA,
                (code, *(c for c, _ in met)),
                ("trauma meeting field-triage red criteria", *(t for _, t in met)),
            )
        said = "no vitals yet" if vitals is None else "no red vital-sign criterion met"
        return Activation(Team.NONE, (code,), (f"trauma: {said}",))
    return Activation(Team.NONE, (code,), (f"{condition}: no team activation",))
