"""What happens (events, in) and what the engine concludes (decisions, out).

Events are facts in the past tense, each checked on construction (ranges, NaN, sizes), so a
malformed one never reaches the engine. They are what the durable log stores and replays.
Decisions are the engine's answers for the shell to publish; they are derived, never logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dispatch.core.model import (
    Capability,
    Complaint,
    IncidentId,
    Priority,
    Step,
    UnitId,
    UnitStatus,
)
from dispatch.core.recommend import Option, Swap
from dispatch.errors import InvalidEvent
from hospital_link import notice

MAX_TEXT = 200


def _check_point(lat: float, lon: float) -> None:
    ok = isinstance(lat, int | float) and isinstance(lon, int | float)
    if not (
        ok and math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180
    ):
        raise InvalidEvent(f"invalid coordinate lat={lat!r}, lon={lon!r}")


def _check_hash(value: str, what: str) -> None:
    if not (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    ):
        raise InvalidEvent(f"{what} must be 64 lower-case hex digits")


def _check_id(value: str, what: str) -> None:
    if not (isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable()):
        raise InvalidEvent(f"{what} must be 1-64 printable characters")


def _check_person(value: str | None) -> None:
    """`person`: the named account that caused an event (dispatch.users), None for the shared
    dispatcher token, a unit, the server itself, or a record older than named accounts."""
    if value is not None:
        _check_id(value, "person")


LOCATION_STATUSES = frozenset({"located", "off_road", "unlocated"})
CALL_SOURCES = frozenset({"app", "voice"})
MAX_SEALED = 4096  # a sealed number and notes, base64: a few hundred characters
_SEALED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _check_sealed(value: str) -> None:
    """Sealed personal fields: "" or "v1." and URL-safe base64, never clear text."""
    if not isinstance(value, str) or len(value) > MAX_SEALED:
        raise InvalidEvent(f"personal_sealed must be text of at most {MAX_SEALED} characters")
    if value and not (value.startswith("v1.") and set(value) <= _SEALED_CHARS):
        raise InvalidEvent("personal_sealed must be sealed (v1. and URL-safe base64)")


@dataclass(frozen=True)
class CallReceived:
    """A call opened an incident at a located place (the shell fused the location first)."""

    incident_id: IncidentId
    lat: float
    lon: float
    radius95_m: float
    complaint: Complaint | None = None
    caller_token_sha256: str = ""  # the caller's incident-scoped token, hashed: never in clear
    conflict: bool = False  # the location sources disagreed (the cockpit's location quality)
    phone_sha256: str = ""  # the phone's keyed hash (HMAC): a repeat finds its incident by it
    # "located"; "off_road": (lat, lon) is the caller's point, off every road; "unlocated":
    # nothing could be placed, (lat, lon) is the city's centre with a 100 km radius. Either is
    # held without a road position until a dispatcher places it (`IncidentLocated`).
    location_status: str = "located"
    source: str = "app"  # "app": the one-tap call; "voice": a phone call typed in by a call-taker
    callback_allowed: bool = True  # the caller may be called back on their number
    # The caller's number (and a call-taker's notes) sealed under the incident's own data key
    # (dispatch.service.personal): "" for none. A purge shreds the key, not this.
    personal_sealed: str = ""
    person: str | None = None  # the call-taker who typed it in (a named account), if any

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_point(self.lat, self.lon)
        _check_person(self.person)
        if self.source not in CALL_SOURCES:
            raise InvalidEvent(f"source must be one of {sorted(CALL_SOURCES)}")
        if not isinstance(self.callback_allowed, bool):
            raise InvalidEvent("callback_allowed must be a boolean")
        _check_sealed(self.personal_sealed)
        if self.location_status not in LOCATION_STATUSES:
            raise InvalidEvent(f"location_status must be one of {sorted(LOCATION_STATUSES)}")
        if not isinstance(self.conflict, bool):
            raise InvalidEvent("conflict must be a boolean")
        if not (math.isfinite(self.radius95_m) and 0 <= self.radius95_m <= 100_000):
            raise InvalidEvent("radius95_m must be in [0, 100 km]")
        if self.caller_token_sha256:
            _check_hash(self.caller_token_sha256, "caller_token_sha256")
        if self.phone_sha256:
            _check_hash(self.phone_sha256, "phone_sha256")


@dataclass(frozen=True)
class CallRepeated:
    """The phone of an open incident called again: counted on that incident, no new one."""

    incident_id: IncidentId
    phone_sha256: str  # the phone's keyed hash (HMAC), never the number
    lat: float  # where this call was located (a moved or tighter place is an IncidentLocated)
    lon: float
    radius95_m: float

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_hash(self.phone_sha256, "phone_sha256")
        _check_point(self.lat, self.lon)
        if not (math.isfinite(self.radius95_m) and 0 <= self.radius95_m <= 100_000):
            raise InvalidEvent("radius95_m must be in [0, 100 km]")


@dataclass(frozen=True)
class PhoneQuarantined:
    """A phone called faster than a person can: its calls go to the quarantine queue."""

    phone_sha256: str
    calls_per_min: int  # how many calls it made in the minute that tripped the limit

    def __post_init__(self) -> None:
        _check_hash(self.phone_sha256, "phone_sha256")
        if isinstance(self.calls_per_min, bool) or not isinstance(self.calls_per_min, int):
            raise InvalidEvent("calls_per_min must be an integer")


@dataclass(frozen=True)
class CallQuarantined:
    """A call from a quarantined phone: logged and answered, but no incident and no ranking."""

    phone_sha256: str
    lat: float
    lon: float
    radius95_m: float
    complaint: Complaint | None = None

    def __post_init__(self) -> None:
        _check_hash(self.phone_sha256, "phone_sha256")
        _check_point(self.lat, self.lon)
        if not (math.isfinite(self.radius95_m) and 0 <= self.radius95_m <= 100_000):
            raise InvalidEvent("radius95_m must be in [0, 100 km]")


@dataclass(frozen=True)
class PhoneReleased:
    """A dispatcher released a quarantined phone: its next call is an ordinary call again."""

    phone_sha256: str
    by: str  # who released it (the dispatcher's token subject)

    def __post_init__(self) -> None:
        _check_hash(self.phone_sha256, "phone_sha256")
        _check_id(self.by, "by")


@dataclass(frozen=True)
class IncidentLocated:
    """A better location for an incident (new fixes, the dispatcher's pin)."""

    incident_id: IncidentId
    lat: float
    lon: float
    radius95_m: float
    person: str | None = None  # who placed it, when a named person did

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        _check_point(self.lat, self.lon)
        if not (math.isfinite(self.radius95_m) and 0 <= self.radius95_m <= 100_000):
            raise InvalidEvent("radius95_m must be in [0, 100 km]")


@dataclass(frozen=True)
class IncidentTriaged:
    incident_id: IncidentId
    priority: Priority
    complaint: Complaint
    determinant: str = ""  # MPDS-style code, kept opaque
    person: str | None = None  # who triaged it, when a named person did
    # The call-taking protocol that produced it (dispatch.core.protocol), if one did: the set,
    # its version and the answers as "question=answer" in the order asked.
    protocol_id: str = ""
    protocol_version: str = ""
    answers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        if not isinstance(self.priority, Priority) or not isinstance(self.complaint, Complaint):
            raise InvalidEvent("priority and complaint must be known values")
        if len(self.determinant) > 16 or not self.determinant.isprintable():
            raise InvalidEvent("determinant must be at most 16 printable characters")
        _check_protocol(self.protocol_id, self.protocol_version, self.answers)


MAX_ANSWERS = 32  # questions on one protocol path (dispatch.core.protocol.MAX_DEPTH is less)


def _check_protocol(protocol_id: str, version: str, answers: tuple[str, ...]) -> None:
    """A protocol id and version go together, and answers only with them."""
    if not (isinstance(protocol_id, str) and isinstance(version, str)):
        raise InvalidEvent("protocol_id and protocol_version must be text")
    if not protocol_id:
        if version or answers:
            raise InvalidEvent("a protocol version or answers need a protocol_id")
        return
    _check_id(protocol_id, "protocol_id")
    if not (0 < len(version) <= 16 and version.isprintable()):
        raise InvalidEvent("protocol_version must be 1-16 printable characters")
    if not isinstance(answers, tuple) or len(answers) > MAX_ANSWERS:
        raise InvalidEvent(f"answers: at most {MAX_ANSWERS}")
    for answer in answers:
        if not (isinstance(answer, str) and answer.count("=") == 1):
            raise InvalidEvent('each answer is "question=answer"')
        _check_id(answer, "answer")


@dataclass(frozen=True)
class TcprStarted:
    """The call-taker started coaching the caller through CPR (telephone CPR) for a cardiac
    arrest; the log record's time is when."""

    incident_id: IncidentId
    person: str | None = None  # the call-taker, when a named one coached

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)


@dataclass(frozen=True)
class TcprStopped:
    """Telephone CPR coaching ended (the crew took over, the call dropped, ROSC)."""

    incident_id: IncidentId
    reason: str = ""
    person: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        if not isinstance(self.reason, str) or len(self.reason) > MAX_TEXT:
            raise InvalidEvent(f"reason longer than {MAX_TEXT} characters")


@dataclass(frozen=True)
class UnitRegistered:
    unit_id: UnitId
    capability: Capability
    lat: float  # home station
    lon: float
    devices: tuple[str, ...] = ("tablet", "doctor", "driver")

    def __post_init__(self) -> None:
        _check_id(self.unit_id, "unit_id")
        _check_point(self.lat, self.lon)
        if not self.devices or len(self.devices) > 8:
            raise InvalidEvent("a unit has 1-8 crew devices")
        for d in self.devices:
            _check_id(d, "device")


@dataclass(frozen=True)
class UnitPositionReported:
    unit_id: UnitId
    lat: float
    lon: float
    observed_at_s: float | None = None  # when the fix was taken; None: when it was received
    accuracy_m: float | None = None  # its 68 % radius, when the device says

    def __post_init__(self) -> None:
        _check_id(self.unit_id, "unit_id")
        _check_point(self.lat, self.lon)
        t = self.observed_at_s
        if t is not None and not (isinstance(t, int | float) and math.isfinite(t)):
            raise InvalidEvent("observed_at_s must be a finite number of seconds")
        a = self.accuracy_m
        if a is not None and not (isinstance(a, int | float) and math.isfinite(a) and a >= 0):
            raise InvalidEvent("accuracy_m must be a finite number of metres >= 0")


@dataclass(frozen=True)
class UnitAssigned:
    """A dispatcher (or the auto-dispatch setting) sends a unit to an incident."""

    incident_id: IncidentId
    unit_id: UnitId
    by: str = "dispatcher"  # what kind of actor: dispatcher, auto, mci, a policy's name
    person: str | None = None  # which person, when a named one sent it
    # False: the incident's one unit (refused if it has one already); True: one more unit
    # (ALS + BLS, a volunteer and an ambulance), with its own status track.
    additional: bool = False

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.unit_id, "unit_id")
        _check_id(self.by, "by")
        _check_person(self.person)
        if not isinstance(self.additional, bool):
            raise InvalidEvent("additional must be true or false")


def _check_reason(value: str) -> None:
    if not (isinstance(value, str) and len(value.strip()) > 0 and len(value) <= MAX_TEXT):
        raise InvalidEvent(f"a reason is required (1-{MAX_TEXT} characters)")


@dataclass(frozen=True)
class UnitUnassigned:
    """A dispatcher took a unit off an incident, with the reason; the incident goes back to
    the queue when it was its last unit."""

    incident_id: IncidentId
    unit_id: UnitId
    reason: str
    by: str = "dispatcher"
    person: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.unit_id, "unit_id")
        _check_reason(self.reason)
        _check_id(self.by, "by")
        _check_person(self.person)


@dataclass(frozen=True)
class UnitReassigned:
    """A unit taken off one incident and sent to another in one step; `divert`: on its way,
    to an incident of a higher priority (a P3's ambulance to a cardiac arrest)."""

    incident_id: IncidentId  # the incident it leaves
    unit_id: UnitId
    to_incident_id: IncidentId
    reason: str
    divert: bool = False
    by: str = "dispatcher"
    person: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.unit_id, "unit_id")
        _check_id(self.to_incident_id, "to_incident_id")
        if self.to_incident_id == self.incident_id:
            raise InvalidEvent("to_incident_id is the incident the unit leaves")
        _check_reason(self.reason)
        if not isinstance(self.divert, bool):
            raise InvalidEvent("divert must be true or false")
        _check_id(self.by, "by")
        _check_person(self.person)


@dataclass(frozen=True)
class OfferAcknowledged:
    """One crew device confirmed the job."""

    incident_id: IncidentId
    unit_id: UnitId
    device: str

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.unit_id, "unit_id")
        _check_id(self.device, "device")


@dataclass(frozen=True)
class UnitStatusReported:
    """The crew pressed a status button (en route, on scene, transporting, ...)."""

    unit_id: UnitId
    status: UnitStatus

    def __post_init__(self) -> None:
        _check_id(self.unit_id, "unit_id")
        if not isinstance(self.status, UnitStatus):
            raise InvalidEvent("unknown unit status")


@dataclass(frozen=True)
class HandoverCompleted:
    """The receiving hospital took over care (NEMSIS transfer of care)."""

    incident_id: IncidentId
    person: str | None = None  # the dispatcher who recorded it, when a named one did

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)


@dataclass(frozen=True)
class DestinationChosen:
    """The receiving hospital: chosen by the crew or a dispatcher (an override of the ranking
    when it is not the first choice, with the reason), or by the server when transport starts
    without one ("auto")."""

    incident_id: IncidentId
    hospital_id: str
    by: str = "dispatcher"
    reason: str = ""
    person: str | None = None  # which dispatcher, when a named one chose

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        _check_id(self.hospital_id, "hospital_id")
        if self.by not in ("dispatcher", "crew", "auto"):
            raise InvalidEvent("by is dispatcher, crew or auto")
        if len(self.reason) > MAX_TEXT:
            raise InvalidEvent(f"reason longer than {MAX_TEXT} characters")


#: What the crew or the call-taker may say of the patient: an age band and a sex, no more (the
#: hospital's pre-arrival notice, hospital_link.notice; never a name or a birth date).
AGE_BANDS = tuple(notice.AGE_BANDS)
SEXES = tuple(notice.GENDERS)


@dataclass(frozen=True)
class PatientDescribed:
    """The patient's age band and sex, as the crew or call-taker judged them (None: unknown)."""

    incident_id: IncidentId
    age_band: str | None = None
    sex: str | None = None
    person: str | None = None  # the call-taker or dispatcher, when a named one described it

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        if self.age_band is not None and self.age_band not in AGE_BANDS:
            raise InvalidEvent(f"age_band is one of {', '.join(AGE_BANDS)}")
        if self.sex is not None and self.sex not in SEXES:
            raise InvalidEvent(f"sex is one of {', '.join(SEXES)}")


@dataclass(frozen=True)
class HospitalAcknowledged:
    """The receiving hospital saw the pre-arrival notice (its team is told)."""

    incident_id: IncidentId
    hospital_id: str

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.hospital_id, "hospital_id")


@dataclass(frozen=True)
class IncidentCancelled:
    incident_id: IncidentId
    reason: str = ""
    person: str | None = None  # who cancelled it, when a named person did

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        if len(self.reason) > MAX_TEXT:
            raise InvalidEvent(f"reason longer than {MAX_TEXT} characters")


@dataclass(frozen=True)
class PersonalDataPurged:
    """A closed incident's personal fields were shredded: its data key is deleted, so what the
    log holds of them stays ciphertext for good. The tombstone of a retention purge."""

    incident_id: IncidentId
    reason: str = "retention"

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        if not (isinstance(self.reason, str) and 0 < len(self.reason) <= 64):
            raise InvalidEvent("reason must be 1-64 characters")


MAX_NOTE = 1000  # characters: a note on an incident


@dataclass(frozen=True)
class NoteAdded:
    """A call-taker or dispatcher wrote a note on an incident (shown to dispatchers and its
    crew, never to an agency); `key`: the request's idempotency key, so a retry adds none."""

    incident_id: IncidentId
    text: str
    key: str = ""
    person: str | None = None  # who wrote it, when a named person did

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_person(self.person)
        if self.key:
            _check_id(self.key, "key")
        ok = isinstance(self.text, str) and 0 < len(self.text.strip()) <= MAX_NOTE
        if not ok or not all(c.isprintable() or c == "\n" for c in self.text):
            raise InvalidEvent(f"text must be 1-{MAX_NOTE} printable characters (and newlines)")


@dataclass(frozen=True)
class IncidentLinked:
    """A dispatcher linked a possible duplicate into its primary: one incident, several
    callers. The duplicate closes as linked; its callers follow the primary's unit."""

    incident_id: IncidentId  # the duplicate
    primary_id: IncidentId
    person: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.primary_id, "primary_id")
        _check_person(self.person)
        if self.incident_id == self.primary_id:
            raise InvalidEvent("an incident cannot be linked to itself")


@dataclass(frozen=True)
class DuplicateKeptApart:
    """A dispatcher judged a possible duplicate to be a separate emergency."""

    incident_id: IncidentId
    other_id: IncidentId
    person: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.incident_id, "incident_id")
        _check_id(self.other_id, "other_id")
        _check_person(self.person)
        if self.incident_id == self.other_id:
            raise InvalidEvent("an incident cannot be kept apart from itself")


@dataclass(frozen=True)
class ClockTicked:
    """Nothing happened but time passed: offers may have timed out."""


Event = (
    CallReceived | IncidentLocated | IncidentTriaged | UnitRegistered | UnitPositionReported
    | UnitAssigned | OfferAcknowledged | UnitStatusReported | HandoverCompleted
    | DestinationChosen | HospitalAcknowledged | PatientDescribed | IncidentCancelled
    | ClockTicked | CallRepeated | PhoneQuarantined | CallQuarantined | PhoneReleased
    | PersonalDataPurged | UnitUnassigned | UnitReassigned | TcprStarted | TcprStopped
    | NoteAdded | IncidentLinked | DuplicateKeptApart
)  # fmt: skip


# --- decisions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentStepped:
    incident_id: IncidentId
    step: Step
    at_s: float


@dataclass(frozen=True)
class UnitChanged:
    unit_id: UnitId
    status: UnitStatus
    incident_id: IncidentId | None


@dataclass(frozen=True)
class Recommended:
    incident_id: IncidentId
    options: tuple[Option, ...]


@dataclass(frozen=True)
class OfferSent:
    """Push the job to every crew device of the unit, in the same instant."""

    incident_id: IncidentId
    unit_id: UnitId
    devices: tuple[str, ...]
    deadline_s: float
    by: str


@dataclass(frozen=True)
class OfferEscalated:
    """No acknowledgement in time: the console is alerted; the job went to the next unit."""

    incident_id: IncidentId
    unit_id: UnitId
    next_unit_id: UnitId | None


@dataclass(frozen=True)
class SwapSuggested:
    swap: Swap


@dataclass(frozen=True)
class DuplicateSuggested:
    incident_id: IncidentId
    candidates: tuple[IncidentId, ...]


@dataclass(frozen=True)
class HospitalAcked:
    """The receiving hospital acknowledged, `after_s` after the patient was routed to it."""

    incident_id: IncidentId
    hospital_id: str
    after_s: float


@dataclass(frozen=True)
class DeviceAcked:
    """One more crew device acknowledged the job; `devices`: every device of the unit that has
    so far, sorted (the console shows them; the first one stops the offer's clock)."""

    incident_id: IncidentId
    unit_id: UnitId
    device: str
    devices: tuple[str, ...]


@dataclass(frozen=True)
class HospitalAckOverdue:
    """No acknowledgement from the receiving hospital in time: the console is alerted (once
    per routing; the hospital may still acknowledge)."""

    incident_id: IncidentId
    hospital_id: str
    waited_s: float


@dataclass(frozen=True)
class UnitWithdrawn:
    """A unit was taken off an incident by a dispatcher (unassigned, reassigned or diverted to
    `to_incident_id`): its crew's offer or job is withdrawn."""

    incident_id: IncidentId
    unit_id: UnitId
    reason: str
    to_incident_id: IncidentId | None
    requeued: bool  # it was the incident's last unit: the incident is back in the queue


@dataclass(frozen=True)
class DivertSuggested:
    """An unassigned incident with no free unit within `target_s`: a unit on its way to a
    lower-priority incident would reach it `gain_s` sooner than the best free unit."""

    incident_id: IncidentId
    unit_id: UnitId
    from_incident_id: IncidentId
    from_priority: Priority
    eta_s: float  # the diverted unit's driving time to the incident
    free_eta_s: float | None  # the best free unit's effective ETA; None: no free unit at all
    gain_s: float | None  # free_eta_s - eta_s; None when no unit is free


@dataclass(frozen=True)
class NotePosted:
    """A note on an incident, for the consoles and its crew."""

    incident_id: IncidentId
    at_s: float
    person: str | None
    text: str


@dataclass(frozen=True)
class CallersLinked:
    """A duplicate was linked into its primary: `linked` is every incident linked into it."""

    incident_id: IncidentId  # the duplicate, now closed
    primary_id: IncidentId
    linked: tuple[IncidentId, ...]
    person: str | None


@dataclass(frozen=True)
class DuplicateSetApart:
    """A possible duplicate was kept apart from the other incident: the suggestion is done."""

    incident_id: IncidentId
    other_id: IncidentId
    person: str | None


Decision = (
    IncidentStepped | UnitChanged | Recommended | OfferSent | OfferEscalated | SwapSuggested
    | DuplicateSuggested | HospitalAcked | HospitalAckOverdue | DeviceAcked | UnitWithdrawn
    | DivertSuggested
    | NotePosted | CallersLinked | DuplicateSetApart
)  # fmt: skip
