"""A receiving hospital's socket, `/ws/hospitals/{hospital_id}`: a snapshot, the frames of
topic "hospital:<id>" (every one with FHIR R4 inside, durable and resumable), and the replies to
its acknowledgements."""

from __future__ import annotations

from typing import Literal

from pydantic import with_config
from typing_extensions import TypedDict

from dispatch.service.frames.common import CLOSED, Inbound, JsonObject


@with_config(CLOSED)
class HospitalSnapshot(TypedDict):
    """The first frame: the open incidents routed here and not yet handed over."""

    type: Literal["snapshot"]
    last_seq: int
    inbound: list[Inbound]


@with_config(CLOSED)
class PatientInbound(Inbound):
    """A patient is routed here; again when triage, the description or the team changes."""

    type: Literal["patient.inbound"]


@with_config(CLOSED)
class PatientEta(TypedDict):
    """The transporting unit's road ETA to the door and its position."""

    type: Literal["patient.eta"]
    incident_id: str
    unit_id: str
    eta_s: int
    lat: float
    lon: float
    fhir: JsonObject


@with_config(CLOSED)
class Vitals(TypedDict):
    """One second of the patient's vitals as a FHIR R4 Bundle of type collection."""

    type: Literal["vitals"]
    incident_id: str
    unit_id: str
    sample_seq: int
    bundle: JsonObject


@with_config(CLOSED)
class PatientAcknowledged(TypedDict):
    """This hospital acknowledged the notice, `after_s` after the patient was routed here."""

    type: Literal["patient.acknowledged"]
    incident_id: str
    after_s: float


@with_config(CLOSED)
class PatientDiverted(TypedDict):
    """Re-routed elsewhere: nothing more of this patient follows."""

    type: Literal["patient.diverted"]
    incident_id: str
    fhir: JsonObject


@with_config(CLOSED)
class PatientClosed(TypedDict):
    """Handed over, or closed before arrival."""

    type: Literal["patient.closed"]
    incident_id: str
    reason: Literal["handed_over", "cancelled", "closed"]
    fhir: JsonObject


HospitalFrame = (
    PatientInbound | PatientEta | Vitals | PatientAcknowledged | PatientDiverted | PatientClosed
)


@with_config(CLOSED)
class HospitalAccepted(TypedDict):
    """The acknowledgement is logged (`first`: False for a repeat)."""

    type: Literal["accepted"]
    frame: Literal["ack"]
    incident_id: str | None
    first: bool


@with_config(CLOSED)
class HospitalAck(TypedDict):
    """Acknowledge a patient's notice (becomes `HospitalAcknowledged`)."""

    type: Literal["ack"]
    incident_id: str
