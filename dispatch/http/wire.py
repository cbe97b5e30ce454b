"""The HTTP API's request and response bodies (pydantic): what OpenAPI shows, with examples.

Every input model refuses unknown fields, NaN and infinity, and bounds every number and size,
so a malformed body is a 422 before any route runs. Rules across fields are checked here too and
said in the model's OpenAPI description; a broken one is 422 `invalid_request` whose error
`type` names the rule (`fix_in_future`, `details_without_point`, `time_given_twice`,
`duplicate_entries`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from dispatch.core.events import AGE_BANDS, SEXES
from dispatch.core.model import Complaint, Priority, UnitStatus
from location_fusion.cells import CellObservation
from location_fusion.crs import to_wgs84
from location_fusion.fixes import DeviceFix, device_fix
from location_fusion.locate import CallEvidence


def strict(*examples: dict[str, Any]) -> ConfigDict:
    """Unknown fields refused, NaN and infinity refused, and the examples OpenAPI shows."""
    return ConfigDict(
        extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": list(examples)}
    )


MAX_CALL_FIXES = 20  # the handset's recent history; more is a malformed call
MAX_FIX_AGE_S = 86_400.0  # a day; fusion ignores fixes far younger than this anyway
# A handset's clock may run ahead of ours by this much (NTP-less phones drift minutes); a fix
# stamped later than that is refused, not taken as fresh.
MAX_CLOCK_SKEW_S = 300.0


def broken(rule: str, message: str) -> PydanticCustomError:
    """A cross-field rule broken: 422 `invalid_request` whose error `type` is `rule`; the
    message is fixed text, never the values sent."""
    return PydanticCustomError(rule, message)


class FixIn(BaseModel):
    """One handset fix: point, claimed radius and its confidence, when, and in which CRS.

    Rules across fields (422 `invalid_request`, the error's `type` in brackets): `observed_at`
    or `age_s`, not both (`time_given_twice`); `observed_at` at most 300 s ahead of the
    server's clock (`fix_in_future`); 0,0 is "no fix", so it takes no `confidence`, time or
    `crs` other than wgs84: they would describe a point that is not there
    (`details_without_point`).
    """

    model_config = strict(
        {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12, "source": "gnss"},
        {
            "lat": 30.2803,
            "lon": 120.1465,
            "accuracy_m": 12,
            "confidence": 0.68,
            "source": "gnss",
            "observed_at": "2026-12-06T08:15:30Z",
        },
        {
            "lat": 30.2779,
            "lon": 120.1512,
            "accuracy_m": 30,
            "confidence": 95,
            "age_s": 45,
            "crs": "gcj02",
            "source": "wifi",
        },
    )
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(gt=0, le=100_000, description="radius holding `confidence`")
    confidence: float | None = Field(
        None,
        ge=0.01,  # below 1 % a radius means nothing (and 5e-324 overflowed the fusion: 500)
        lt=100,
        description="share of fixes inside `accuracy_m`: a fraction (ELS: 0.68, 0.95) or "
        "percent (AML: 68, 95); absent means 0.68 (Android getAccuracy)",
    )
    source: Literal["gnss", "wifi", "cell", "fused"] = "gnss"
    observed_at: AwareDatetime | None = Field(
        None, description="when the handset took the fix (ISO-8601 with offset); or `age_s`"
    )
    age_s: float | None = Field(
        None, ge=0, le=MAX_FIX_AGE_S, description="seconds before sending; or `observed_at`"
    )
    crs: Literal["wgs84", "gcj02"] = Field(
        "wgs84", description="gcj02: a Chinese map SDK's position, converted to WGS-84 here"
    )

    @model_validator(mode="after")
    def _one_time(self) -> FixIn:
        if self.observed_at is not None and self.age_s is not None:
            raise broken("time_given_twice", "give observed_at or age_s, not both")
        if self.observed_at is not None:
            ahead_s = self.observed_at.timestamp() - time.time()
            if ahead_s > MAX_CLOCK_SKEW_S:
                raise broken(
                    "fix_in_future",
                    f"observed_at is more than {MAX_CLOCK_SKEW_S:.0f} s in the future",
                )
        no_point = self.lat == 0.0 and self.lon == 0.0
        timed = self.observed_at is not None or self.age_s is not None
        if no_point and (self.confidence is not None or timed or self.crs != "wgs84"):
            raise broken(
                "details_without_point",
                "0,0 is no fix: it takes no confidence, time or crs",
            )
        return self

    def age_at(self, wall_s: float) -> float:
        """Seconds between the fix and `wall_s` (Unix); 0 when no time was given or the
        handset's clock runs ahead (a fix from the future is taken as fresh)."""
        if self.age_s is not None:
            return self.age_s
        if self.observed_at is None:
            return 0.0
        return min(max(0.0, wall_s - self.observed_at.timestamp()), MAX_FIX_AGE_S)

    def to_fix(self, observed_at_s: float, wall_s: float | None = None) -> DeviceFix | None:
        """The validated device fix in WGS-84 (None for "no fix": a report at 0,0).

        `observed_at_s` is the engine time the request arrived at and `wall_s` the Unix time
        then (default: now); the fix's own time is that minus its age.
        """
        age = self.age_at(time.time() if wall_s is None else wall_s)
        lat, lon = self.lat, self.lon
        if self.crs != "wgs84" and not (lat == 0.0 and lon == 0.0):
            lat, lon = to_wgs84(lat, lon, self.crs)
        return device_fix(
            lat,
            lon,
            self.accuracy_m,
            confidence=self.confidence,
            source=self.source,
            observed_at_s=observed_at_s - age,
        )


class CellIn(BaseModel):
    model_config = strict({"mcc": 460, "mnc": 0, "area": 22547, "cell": 123456789})
    mcc: int = Field(ge=100, le=999)
    mnc: int = Field(ge=0, le=999)
    area: int = Field(ge=0, le=2**32)
    cell: int = Field(ge=0, lt=2**36)
    radio: Literal["GSM", "UMTS", "LTE", "NR", "CDMA"] = "LTE"
    timing_advance: int | None = Field(None, ge=0, le=1282)


class CallIn(BaseModel):
    model_config = strict(
        {
            "phone": "+8613800000000",
            "consent_location": True,
            "complaint": "chest_pain",
            "fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12},
            "spoken": "文三路学院路口",
        },
        {
            "phone": "+8613800000000",
            "consent_location": True,
            "fixes": [
                {"lat": 30.2801, "lon": 120.1463, "accuracy_m": 25, "age_s": 60},
                {"lat": 30.2779, "lon": 120.1512, "accuracy_m": 12, "age_s": 2, "crs": "gcj02"},
            ],
            "cell": {"mcc": 460, "mnc": 0, "area": 22547, "cell": 123456789},
        },
    )
    phone: str = Field(min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")
    fix: FixIn | None = None
    fixes: list[FixIn] = Field(
        default_factory=list,
        max_length=MAX_CALL_FIXES,
        description="the handset's recent fixes (with `fix`, if given, all are fused)",
    )
    cell: CellIn | None = None
    spoken: str | None = Field(None, max_length=200)
    complaint: Complaint | None = None
    consent_location: bool = Field(description="without it the device fix is not used")


class ConflictOut(BaseModel):
    sources: list[str]
    distance_m: float
    message: str


class EstimateOut(BaseModel):
    lat: float
    lon: float
    radius95_m: float
    description: str
    conflict: ConflictOut | None


class CallOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "incident_id": "I3f2a9c01b4",
                    "estimate": {
                        "lat": 30.2803,
                        "lon": 120.1465,
                        "radius95_m": 23.5,
                        "description": "文三路与学院路交叉口附近，约 20 米",
                        "conflict": None,
                    },
                    "caller_token": "4kq0mJ2n8rCk1c3mXg7W9A",
                    "stream_url": "ws://127.0.0.1:8001/ws/calls/I3f2a9c01b4",
                }
            ]
        }
    )
    incident_id: str
    estimate: EstimateOut
    caller_token: str = Field(description="bearer token for this incident only (128-bit)")
    stream_url: str = Field(description="the caller's websocket; add ?token=<caller_token>")
    location_status: Literal["located", "off_road", "unlocated"] = Field(
        "located",
        description="off_road: the caller's point is kept but is beyond the road network; "
        "unlocated: nothing could be placed (a placeholder estimate). Either way the incident "
        "is open and waits for a dispatcher to place it (docs/wire-protocol.md)",
    )
    located: bool = Field(True, description="location_status == 'located'")


class EndpointsOut(BaseModel):
    websocket: str = Field(
        description="base URL of the websockets (/ws/console, /ws/units/{id}, /ws/calls/{id})",
        examples=["ws://127.0.0.1:8001"],
    )


class AssignmentIn(BaseModel):
    model_config = strict({"unit_id": "ALS01"}, {"unit_id": "ALS01", "confirm_conflict": True})
    unit_id: str = Field(min_length=1, max_length=64)
    confirm_conflict: bool = Field(
        False,
        description="send the unit although the incident's location sources disagree (an "
        "unresolved conflict): without it such an assignment is 409 "
        "location_conflict_unconfirmed",
    )


class NoteIn(BaseModel):
    model_config = strict({"text": "caller says the patient is on the 3rd floor, lift broken"})
    text: str = Field(min_length=1, max_length=1000, description="the note (personal data)")


class NoteOut(BaseModel):
    incident_id: str
    at_s: float = Field(description="engine time the note was logged")
    person: str | None
    text: str


class LinkIn(BaseModel):
    model_config = strict({"primary_id": "I00012"})
    primary_id: str = Field(
        min_length=1, max_length=64, description="the incident the duplicate is linked into"
    )


class KeepApartIn(BaseModel):
    model_config = strict({"other_id": "I00012"})
    other_id: str = Field(
        min_length=1, max_length=64, description="the incident it was suggested to duplicate"
    )


class UnitAddIn(BaseModel):
    model_config = strict({"unit_id": "BLS02"}, {"unit_id": "BLS02", "confirm_conflict": True})
    unit_id: str = Field(min_length=1, max_length=64)
    confirm_conflict: bool = Field(
        False, description="send the unit although the location sources disagree"
    )


class UnassignIn(BaseModel):
    model_config = strict(
        {"reason": "crew reported a flat tyre"},
        {"reason": "closer unit free", "to_incident": "I-2026-000042"},
    )
    reason: str = Field(min_length=1, max_length=200, pattern=r"\S")
    to_incident: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="reassign: send the unit to this incident in the same step",
    )


class DivertIn(BaseModel):
    model_config = strict({"to_incident": "I-2026-000042", "reason": "P1 cardiac arrest nearby"})
    to_incident: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=200, pattern=r"\S")


class AssignmentOut(BaseModel):
    incident_id: str
    unit_id: str
    deadline_s: float | None = Field(description="engine time by which the crew must ack")


class TriageIn(BaseModel):
    model_config = strict({"priority": 1, "complaint": "cardiac_arrest", "determinant": "09E01"})
    priority: Priority
    complaint: Complaint
    determinant: str = Field("", max_length=16)


# A question set, question or answer id (dispatch/core/protocols/schema.json).
ProtocolName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class ProtocolAnswerIn(BaseModel):
    model_config = strict({"question": "awake", "answer": "no"})
    question: ProtocolName
    answer: ProtocolName


class ProtocolIn(BaseModel):
    """A question set's answers in the order asked (GET /api/v1/protocols lists the sets)."""

    model_config = strict(
        {
            "set_id": "arrest",
            "version": "2026.1",
            "answers": [
                {"question": "awake", "answer": "no"},
                {"question": "breathing", "answer": "no"},
            ],
        }
    )
    set_id: ProtocolName
    version: str = Field(min_length=1, max_length=16, pattern=r"^[0-9]{4}\.[0-9]{1,3}$")
    answers: list[ProtocolAnswerIn] = Field(min_length=1, max_length=12)


class TcprIn(BaseModel):
    model_config = strict({"action": "start"}, {"action": "stop", "reason": "crew on scene"})
    action: Literal["start", "stop"]
    reason: str = Field("", max_length=200, description="why coaching stopped (stop only)")


class CancelIn(BaseModel):
    model_config = strict({"reason": "duplicate"})
    reason: str = Field("", max_length=200)


class DestinationIn(BaseModel):
    model_config = strict({"hospital_id": "zjpph", "reason": "family asked; 2 min further"})
    hospital_id: str = Field(min_length=1, max_length=64)
    reason: str = Field("", max_length=200)


class PatientIn(BaseModel):
    model_config = strict({"age_band": "65-79", "sex": "female"})
    # Checked by the event (events.AGE_BANDS, events.SEXES); the lists shown in the OpenAPI.
    age_band: str | None = Field(None, max_length=8, json_schema_extra={"enum": [*AGE_BANDS]})
    sex: str | None = Field(None, max_length=8, json_schema_extra={"enum": [*SEXES]})


class HospitalStatusIn(BaseModel):
    """A hospital's status for `expires_in_s`; `diverted` lists each capability once
    (`duplicate_entries`)."""

    model_config = strict(
        {"diverted": ["pci"], "ed_occupancy": 1.2, "offload_wait_min": 25, "expires_in_s": 3600}
    )
    diverted: list[str] = Field(default_factory=list, max_length=8)
    ed_occupancy: float | None = Field(None, ge=0, le=5)
    offload_wait_min: float | None = Field(None, ge=0, le=24 * 60)
    expires_in_s: float = Field(gt=0, le=86_400)

    @model_validator(mode="after")
    def _each_once(self) -> HospitalStatusIn:
        if len(set(self.diverted)) != len(self.diverted):
            raise broken("duplicate_entries", "diverted lists a capability twice")
        return self


class StatusIn(BaseModel):
    model_config = strict({"status": "en_route"})
    status: UnitStatus


class AckIn(BaseModel):
    model_config = strict({"incident_id": "I3f2a9c01b4"})
    incident_id: str = Field(min_length=1, max_length=64)
    # A device token acks as itself; the unit's shared token may name one of its devices.
    device: str | None = Field(default=None, min_length=1, max_length=64)


class DeviceIn(BaseModel):
    model_config = strict({"name": "doctor-tablet"})
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class ErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "unit_unavailable", "detail": "unit ALS01 is en_route"}]
        }
    )
    reason: str
    detail: Any = None


def evidence_of(body: CallIn, now_s: float, wall_s: float | None = None) -> CallEvidence:
    """The call's location evidence, fixes oldest first; fixes only with the caller's consent.

    `now_s` is engine time, `wall_s` the Unix time at the same moment (default: now).
    """
    fixes: list[DeviceFix] = []
    if body.consent_location:
        wall = time.time() if wall_s is None else wall_s
        given = [*body.fixes, *([body.fix] if body.fix is not None else [])]
        fixes = [f for f in (g.to_fix(now_s, wall) for g in given) if f is not None]
        fixes.sort(key=lambda f: f.observed_at_s)  # stable: same time keeps the body's order
    cell = None
    if body.cell is not None:
        c = body.cell
        cell = CellObservation(c.mcc, c.mnc, c.area, c.cell, c.radio, c.timing_advance, now_s)
    return CallEvidence(tuple(fixes), cell, body.spoken)
