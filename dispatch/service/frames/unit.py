"""A unit's socket, `/ws/units/{unit_id}` (its tablet, doctor and driver devices): a snapshot,
the frames of topic "unit:<id>", and the replies to the unit's own frames.

The tablet also sends in-vehicle pictures as binary JPEG frames (no JSON, so no schema here);
each is answered with `UnitAcceptedVideo` or an error."""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from dispatch.core.model import Complaint, Step, UnitStatus
from dispatch.service.frames.common import CLOSED, Place, UnitChanged, UnitView


@with_config(CLOSED)
class JobDestination(TypedDict):
    """The hospital the patient is routed to, as `destination.chosen` named it."""

    hospital_id: str
    name: str
    name_en: str
    address: str


@with_config(CLOSED)
class Job(TypedDict):
    """The offer or order a unit holds: its incident's place, read-back and triage."""

    incident_id: str
    place: Place
    priority: int
    complaint: Complaint
    determinant: str
    deadline_s: float | None
    step: Step
    destination: JobDestination | None  # None until a hospital is chosen
    notes: str  # the dispatchers' notes, a line each ("+m:ss who: text"); "" for none


@with_config(CLOSED)
class UnitSnapshot(TypedDict):
    """The first frame: the unit and its job (None without one)."""

    type: Literal["snapshot"]
    last_seq: int
    unit: UnitView
    job: Job | None


@with_config(CLOSED)
class UnitOfferSent(TypedDict):
    """The unit is offered a job: acknowledge it from any device before `deadline_s`."""

    type: Literal["offer.sent"]
    devices: list[str]
    incident_id: str
    place: Place
    priority: int
    complaint: Complaint
    determinant: str
    deadline_s: float | None
    step: Step
    destination: JobDestination | None
    notes: str
    by: str


@with_config(CLOSED)
class UnitOfferWithdrawn(TypedDict):
    """The offer went to another unit (escalated away) or the incident was cancelled."""

    type: Literal["offer.withdrawn"]
    incident_id: str
    reason: NotRequired[str]  # a dispatcher's, when one took the unit off


@with_config(CLOSED)
class UnitDestinationChosen(TypedDict):
    """Where to take the patient, and why."""

    type: Literal["destination.chosen"]
    incident_id: str
    hospital_id: str
    by: str
    reason: str
    name: str
    name_en: str
    address: str
    lat: float
    lon: float


@with_config(CLOSED)
class UnitIncidentLocated(TypedDict):
    """The unit's incident moved: its new place."""

    type: Literal["incident.located"]
    incident_id: str
    place: Place


@with_config(CLOSED)
class UnitJobNotes(TypedDict):
    """A note was added to the unit's job: all its notes, a line each."""

    type: Literal["job.notes"]
    incident_id: str
    notes: str


UnitFrame = (
    UnitOfferSent | UnitOfferWithdrawn | UnitDestinationChosen | UnitIncidentLocated | UnitChanged
    | UnitJobNotes
)  # fmt: skip


# --- replies to the unit's frames ---------------------------------------------------------
@with_config(CLOSED)
class UnitAcceptedAck(TypedDict):
    """The acknowledgement is logged."""

    type: Literal["accepted"]
    frame: Literal["ack"]
    incident_id: str | None


@with_config(CLOSED)
class UnitAcceptedStatus(TypedDict):
    """The status report is logged."""

    type: Literal["accepted"]
    frame: Literal["status"]
    status: UnitStatus


@with_config(CLOSED)
class UnitAcceptedPatient(TypedDict):
    """The patient's description is logged."""

    type: Literal["accepted"]
    frame: Literal["patient"]
    incident_id: str


@with_config(CLOSED)
class UnitAcceptedVitals(TypedDict):
    """One second of vitals is on disk (`duplicate`: a retry of a second logged before)."""

    type: Literal["accepted"]
    frame: Literal["vitals"]
    seq: int
    duplicate: NotRequired[bool]


@with_config(CLOSED)
class UnitAcceptedVideo(TypedDict):
    """A picture was relayed at Unix time `at_s`."""

    type: Literal["accepted"]
    frame: Literal["video"]
    at_s: float


UnitAccepted = (
    UnitAcceptedAck
    | UnitAcceptedStatus
    | UnitAcceptedPatient
    | UnitAcceptedVitals
    | UnitAcceptedVideo
)


# --- what the unit sends ------------------------------------------------------------------
@with_config(CLOSED)
class UnitAck(TypedDict):
    """Acknowledge the offer from one device (becomes `OfferAcknowledged`)."""

    type: Literal["ack"]
    incident_id: str
    # A device token's ack is its own device's (a different name here is refused); with the
    # unit's shared token: one of the unit's devices, or absent for "default".
    device: NotRequired[str]


@with_config(CLOSED)
class UnitStatusReport(TypedDict):
    """A crew status button (becomes `UnitStatusReported`)."""

    type: Literal["status"]
    status: UnitStatus


@with_config(CLOSED)
class UnitPosition(TypedDict):
    """The vehicle's position, once a second (becomes `UnitPositionReported`); no reply."""

    type: Literal["position"]
    lat: float
    lon: float
    # When the fix was taken (Unix seconds, the device's clock) and its accuracy (metres):
    # a position older than JIJIU_UNIT_STALE_S shows the unit as stale.
    observed_at: NotRequired[float]
    accuracy_m: NotRequired[float]


@with_config(CLOSED)
class Numerics(TypedDict, total=False):
    """The monitor's numbers of one second; any may be absent."""

    hr: float | None
    spo2: float | None
    nibp_sys: float | None
    nibp_dia: float | None
    rr: float | None
    etco2: float | None
    temp_c: float | None
    gcs: float | None


@with_config(CLOSED)
class EcgChunk(TypedDict):
    """A run of ECG samples of one lead, in microvolts."""

    seq: int
    at_s: float
    lead: str
    rate_hz: float
    samples_uv: list[float]


@with_config(CLOSED)
class UnitVitals(TypedDict):
    """One second of the patient's vitals (`seq` per unit, `at_s` Unix seconds)."""

    type: Literal["vitals"]
    seq: int
    at_s: float
    numerics: NotRequired[Numerics | None]
    ecg: NotRequired[list[EcgChunk] | None]


@with_config(CLOSED)
class UnitPatient(TypedDict):
    """Describe the patient (becomes `PatientDescribed`); either field may be null."""

    type: Literal["patient"]
    age_band: Literal["0-4", "5-14", "15-44", "45-64", "65-79", "80+"] | None
    sex: Literal["male", "female", "other", "unknown"] | None


UnitSends = UnitAck | UnitStatusReport | UnitPosition | UnitVitals | UnitPatient
