"""HL7 FHIR R4 for the pre-arrival notices: patient inbound, diverted, new ETA, as Bundles.

Every message jijiu sends a hospital carries FHIR its systems can file: a "collection" Bundle
of plain R4 JSON (dicts), with the conventions of the vitals stream (`hospital_link.fhir`): the
Patient is the pseudonym `ctx.patient_id`, times are `ctx.iso`, hospitals and units are named
by identifier (systems `<ctx.system>:hospital`, `<ctx.system>:unit`).

Ids are name-based uuids of (incident, hospital, kind): a repeat notice for the same patient
and hospital updates the same Encounter, age Observation and team request. The incident id only
enters those hashes, keyed by the pseudonym, so it is never in clear; identifiers name the
incident by its pseudonym ("<patient>/<hospital>/<kind>"), as the stream's "incident-unit" one
does. No name, phone or address is ever sent.

The hospital's side of the transport is one Encounter: "planned" until the patient arrives,
"cancelled" on diversion; class EMER, priority from v3-ActPriority, the complaint as `reasonCode`
(SNOMED CT where a well-known code exists; text only for "paediatric" and "other"), the hospital
as its "planned" `location` with `period.start` the expected arrival, as in the stream. The unit
is its `hospitalization.origin`, "the location from which the patient came": FHIR's place for a
vehicle is a Location (type "ve", as in the stream); `participant` takes only people
(Practitioner, PractitionerRole, RelatedPerson), and an identifier would make the unit part of
the Encounter's identity, which it is not (a unit can hand over to another).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import TypeVar

from hospital_link.activation import Team
from hospital_link.errors import InvalidArgument

# Private helpers of the stream, imported rather than duplicated: the uuid namespace keeps one
# id space for everything jijiu sends, `_coding` and `_quantity` one JSON shape.
from hospital_link.fhir import (
    _NAMESPACE,
    LOINC,
    Approach,
    Json,
    StreamContext,
    _coding,
    _quantity,
    approach_resources,
)

SNOMED = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
AGE = (LOINC, "30525-0", "Age")

# jijiu complaint -> (SNOMED CT coding or None, text). The same keys as dispatch's Complaint.
COMPLAINTS: Mapping[str, tuple[tuple[str, str, str] | None, str]] = {
    "cardiac_arrest": ((SNOMED, "410429000", "Cardiac arrest"), "cardiac arrest"),
    "chest_pain": ((SNOMED, "29857009", "Chest pain"), "chest pain"),
    "stroke": ((SNOMED, "230690007", "Cerebrovascular accident"), "stroke"),
    "trauma": ((SNOMED, "417746004", "Traumatic injury"), "trauma"),
    "breathing": ((SNOMED, "267036007", "Dyspnea"), "breathing difficulty"),
    "obstetric": ((SNOMED, "77386006", "Patient currently pregnant"), "obstetric emergency"),
    "paediatric": (None, "paediatric emergency"),  # an age group, not a finding: no code
    "other": (None, "other"),
}
# Priority -> v3-ActPriority for the Encounter, request-priority for the team request.
ACT_PRIORITIES: Mapping[int, tuple[str, str]] = {
    1: ("EM", "emergency"),
    2: ("UR", "urgent"),
    3: ("R", "routine"),
}
REQUEST_PRIORITIES: Mapping[int, str] = {1: "stat", 2: "urgent", 3: "routine"}
# Age band -> (low, high) in completed years, both inclusive as in FHIR's Range; None: open.
AGE_BANDS: Mapping[str, tuple[int, int | None]] = {
    "0-4": (0, 4), "5-14": (5, 14), "15-44": (15, 44), "45-64": (45, 64), "65-79": (65, 79),
    "80+": (80, None),
}  # fmt: skip
# jijiu's sex -> FHIR administrative-gender (the same words; the table makes the mapping explicit).
GENDERS: Mapping[str, str] = {
    "male": "male",
    "female": "female",
    "other": "other",
    "unknown": "unknown",
}
TEAM_TEXT: Mapping[Team, str] = {
    Team.STROKE: "stroke team",
    Team.STEMI: "STEMI team (cath lab)",
    Team.TRAUMA: "trauma team",
}


def inbound_bundle(
    ctx: StreamContext,
    *,
    incident_id: str,
    hospital_id: str,
    unit_id: str | None,
    at_s: float,
    priority: int,
    complaint: str,
    eta_s: float | None,
    age_band: str | None,
    sex: str | None,
    activation_team: str | None,
    activation_reasons: Sequence[str],
) -> Json:
    """`patient.inbound`: Patient, age-band Observation, planned Encounter, team request.

    The Patient carries only the pseudonym and the gender. The age band is an Observation
    (LOINC 30525-0, `valueRange` in UCUM "a"; "80+" has no high), status "preliminary": it is
    the caller's or crew's estimate. A suggested team activation is a ServiceRequest with intent
    "proposal": it asks the hospital for a service (the team, `performerType`, ready at the
    expected arrival, `occurrenceDateTime`) and "proposal" says it only suggests, as
    `hospital_link.activation` does; the reasons are its `reasonCode`. A Flag is a standing
    warning about a patient with no performer or time; a CommunicationRequest asks for a
    message to be passed on, not for a team.
    """
    _check_time(at_s, eta_s)
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in (1, 2, 3):
        raise InvalidArgument(f"priority {priority!r} must be 1, 2 or 3")
    coding, text = _known(COMPLAINTS, complaint, "complaint")
    band = None if age_band is None else _known(AGE_BANDS, age_band, "age band")
    gender = None if sex is None else _known(GENDERS, sex, "sex")
    teams = {t.value: t for t in Team}
    team = None if activation_team is None else _known(teams, activation_team, "activation team")
    reasons = _reasons(activation_reasons)
    if unit_id is not None:
        _check_id(unit_id, "unit id")

    patient: Json = {
        "resourceType": "Patient",
        "id": ctx.patient_id,
        "identifier": [_subject(ctx)["identifier"]],
    }
    if gender is not None:
        patient["gender"] = gender
    enc = _encounter(ctx, incident_id, hospital_id, "planned")
    code, display = ACT_PRIORITIES[priority]
    enc["priority"] = {
        "coding": [{"system": ACT_PRIORITY, "code": code, "display": display}],
        "text": f"P{priority}",
    }
    enc["subject"] = _subject(ctx)
    enc["reasonCode"] = [{"coding": [_coding(coding)], "text": text} if coding else {"text": text}]
    if unit_id is not None:
        enc["hospitalization"] = {"origin": _unit(ctx, unit_id)}
    enc["location"] = [_planned(ctx, hospital_id, at_s, eta_s)]
    enc_ref = {"reference": f"urn:uuid:{enc['id']}"}
    resources = [patient, enc]

    if band is not None:
        low, high = band
        rid, ident = _notice_ref(ctx, incident_id, hospital_id, "age")
        value: Json = {"low": _quantity(low, "years", "a")}
        if high is not None:
            value["high"] = _quantity(high, "years", "a")
        resources.append(
            {
                "resourceType": "Observation",
                "id": rid,
                "identifier": [ident],
                "status": "preliminary",
                "code": {"coding": [_coding(AGE)], "text": "Age band"},
                "subject": _subject(ctx),
                "encounter": enc_ref,
                "effectiveDateTime": _iso(ctx, at_s),
                "valueRange": value,
            }
        )
    if team is not None and team is not Team.NONE:
        rid, ident = _notice_ref(ctx, incident_id, hospital_id, "activation")
        request: Json = {
            "resourceType": "ServiceRequest",
            "id": rid,
            "identifier": [ident],
            "status": "active",
            "intent": "proposal",
            "priority": REQUEST_PRIORITIES[priority],
            "code": {"text": f"{TEAM_TEXT[team]} activation"},
            "subject": _subject(ctx),
            "encounter": enc_ref,
        }
        if eta_s is not None:
            request["occurrenceDateTime"] = _iso(ctx, at_s + eta_s)
        request["authoredOn"] = _iso(ctx, at_s)
        request["performerType"] = {"text": TEAM_TEXT[team]}
        if reasons:
            request["reasonCode"] = [{"text": r} for r in reasons]
        resources.append(request)
    return _bundle(ctx, incident_id, hospital_id, "inbound", at_s, resources)


def diverted_bundle(ctx: StreamContext, *, incident_id: str, hospital_id: str, at_s: float) -> Json:
    """`patient.diverted`: the inbound Encounter (same id) "cancelled", and no clinical detail.

    The team request (same id as the inbound's) is "revoked" so a team assembled for this
    patient stands down; it names no team or reason, and is harmless if none was proposed.
    """
    _check_time(at_s, None)
    enc = _encounter(ctx, incident_id, hospital_id, "cancelled")
    enc["subject"] = _subject(ctx)
    rid, ident = _notice_ref(ctx, incident_id, hospital_id, "activation")
    request: Json = {
        "resourceType": "ServiceRequest",
        "id": rid,
        "identifier": [ident],
        "status": "revoked",
        "intent": "proposal",
        "subject": _subject(ctx),
        "encounter": {"reference": f"urn:uuid:{enc['id']}"},
    }
    return _bundle(ctx, incident_id, hospital_id, "diverted", at_s, [enc, request])


def closed_bundle(
    ctx: StreamContext, *, incident_id: str, hospital_id: str, at_s: float, handed_over: bool
) -> Json:
    """`patient.closed`: the inbound Encounter (same id) at its end as a notice.

    Handed over, it is "arrived" (R4: the patient is present, not yet seen by a practitioner:
    the ED's own encounter takes over from here), with the hospital as its "active" location
    since `at_s`; otherwise (the incident closed before arrival) "cancelled", as on diversion.
    """
    _check_time(at_s, None)
    enc = _encounter(ctx, incident_id, hospital_id, "arrived" if handed_over else "cancelled")
    enc["subject"] = _subject(ctx)
    if handed_over:
        here = _planned(ctx, hospital_id, at_s, None)
        enc["location"] = [{**here, "status": "active", "period": {"start": _iso(ctx, at_s)}}]
    return _bundle(ctx, incident_id, hospital_id, "closed", at_s, [enc])


def eta_bundle(
    ctx: StreamContext,
    *,
    incident_id: str,
    hospital_id: str,
    unit_id: str,
    at_s: float,
    eta_s: float,
    lat: float,
    lon: float,
) -> Json:
    """`patient.eta`: the vehicle's Location and the inbound Encounter with the new arrival time.

    The Encounter stays "planned": it is the hospital's encounter, which starts when the patient
    arrives; "in-progress" would tell the hospital the patient is in its ED. The transport under
    way is the vehicle, the Encounter's `hospitalization.origin`, and the ambulance's own
    "in-progress" transport Encounter belongs to the vitals stream. The Encounter holds only
    what this notice knows (no priority or complaint): re-send `inbound_bundle` to restate all.
    """
    _check_time(at_s, eta_s)
    _check_id(unit_id, "unit id")
    approach = Approach(hospital_id, lat, lon, eta_s)  # refuses a bad position
    # The stream's vehicle Location, re-keyed: its ids are per stream second (the seq is unused
    # here), a notice's are per (incident, hospital), so a new ETA moves the same Location.
    vehicle = approach_resources(ctx, unit_id, 0, at_s, approach)[0]
    vid, vident = _notice_ref(ctx, incident_id, hospital_id, "vehicle")
    vehicle = {**vehicle, "id": vid, "identifier": [vident, _unit(ctx, unit_id)["identifier"]]}
    enc = _encounter(ctx, incident_id, hospital_id, "planned")
    enc["subject"] = _subject(ctx)
    enc["hospitalization"] = {"origin": {"reference": f"urn:uuid:{vid}", **_unit(ctx, unit_id)}}
    enc["location"] = [_planned(ctx, hospital_id, at_s, eta_s)]
    return _bundle(ctx, incident_id, hospital_id, "eta", at_s, [vehicle, enc])


def _notice_ref(
    ctx: StreamContext, incident_id: str, hospital_id: str, kind: str
) -> tuple[str, Json]:
    """A resource's uuid from (incident, hospital, kind); its identifier "patient/hospital/kind"."""
    if not isinstance(incident_id, str) or not incident_id:
        raise InvalidArgument(f"incident id {incident_id!r} must be a non-empty string")
    _check_id(hospital_id, "hospital id")
    key = f"{ctx.patient_id}/{hospital_id}/{kind}"
    rid = str(uuid.uuid5(_NAMESPACE, f"{ctx.system}|notice|{incident_id}|{key}"))
    return rid, {"system": f"{ctx.system}:notice", "value": key}


def _encounter(ctx: StreamContext, incident_id: str, hospital_id: str, status: str) -> Json:
    rid, ident = _notice_ref(ctx, incident_id, hospital_id, "encounter")
    return {
        "resourceType": "Encounter",
        "id": rid,
        "identifier": [ident],
        "status": status,
        "class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
    }


def _subject(ctx: StreamContext) -> Json:
    """The Patient reference, as the stream's Observations give it."""
    return {
        "reference": f"Patient/{ctx.patient_id}",
        "identifier": {"system": f"{ctx.system}:patient", "value": ctx.patient_id},
    }


def _unit(ctx: StreamContext, unit_id: str) -> Json:
    """The unit as a logical reference to its vehicle Location (by the unit identifier)."""
    return {
        "type": "Location",
        "identifier": {"system": f"{ctx.system}:unit", "value": unit_id},
        "display": f"unit {unit_id}",
    }


def _planned(ctx: StreamContext, hospital_id: str, at_s: float, eta_s: float | None) -> Json:
    """The hospital as the Encounter's planned location; `period.start` the expected arrival."""
    hospital = {
        "type": "Location",
        "identifier": {"system": f"{ctx.system}:hospital", "value": hospital_id},
    }
    planned: Json = {"location": hospital, "status": "planned"}
    if eta_s is not None:
        planned["period"] = {"start": _iso(ctx, at_s + eta_s)}
    return planned


def _bundle(
    ctx: StreamContext,
    incident_id: str,
    hospital_id: str,
    message: str,
    at_s: float,
    resources: list[Json],
) -> Json:
    """The "collection" Bundle of one notice: its own id per message and millisecond."""
    bid, ident = _notice_ref(ctx, incident_id, hospital_id, f"{message}/{round(at_s * 1000)}")
    entries = [{"fullUrl": _full_url(ctx, r), "resource": r} for r in resources]
    return {
        "resourceType": "Bundle",
        "id": bid,
        "identifier": ident,
        "type": "collection",
        "timestamp": _iso(ctx, at_s),
        "entry": entries,
    }


def _full_url(ctx: StreamContext, resource: Json) -> str:
    """urn:uuid:<id>; the Patient's id is the pseudonym, not a uuid, so a uuid made from it."""
    if resource["resourceType"] != "Patient":
        return f"urn:uuid:{resource['id']}"
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{ctx.system}|patient|{ctx.patient_id}')}"


def _iso(ctx: StreamContext, at_s: float) -> str:
    try:
        return ctx.iso(at_s)
    except (OverflowError, OSError, ValueError):
        raise InvalidArgument(f"time {at_s} s is outside the calendar") from None


def _check_time(at_s: float, eta_s: float | None) -> None:
    if not isinstance(at_s, int | float) or not math.isfinite(at_s):
        raise InvalidArgument(f"at_s {at_s!r} must be a finite number")
    if eta_s is not None and not (isinstance(eta_s, int | float) and 0 <= eta_s < math.inf):
        raise InvalidArgument(f"eta_s {eta_s!r} must be a finite number >= 0, or None")


def _check_id(value: str, what: str) -> None:
    """The stream's rule for ids inside identifiers (fhir._ref): no '/' and no spaces."""
    if not isinstance(value, str) or not value or "/" in value or any(c.isspace() for c in value):
        raise InvalidArgument(f"{what} {value!r} must be non-empty, without '/' or spaces")


T = TypeVar("T")


def _known(table: Mapping[str, T], key: str, what: str) -> T:
    try:
        return table[key]
    except (KeyError, TypeError):
        raise InvalidArgument(f"unknown {what} {key!r}; expected one of {sorted(table)}") from None


def _reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    if isinstance(reasons, str) or not all(isinstance(r, str) and r.strip() for r in reasons):
        raise InvalidArgument("activation_reasons must be a sequence of non-empty strings")
    return tuple(reasons)
