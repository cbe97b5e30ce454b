"""An incident as one FHIR R4 "collection" Bundle, built with the hospital link's conventions.

The Bundle holds the Patient (the per-incident pseudonym and, if known, the gender; the age
band as an Observation, as in `patient.inbound`), the Encounter of the whole response (class
EMER, priority and complaint coded as `hospital_link.notice` codes them, period from the call to
the close, the scene and the destination as its locations, with the times the crew was at each),
the scene as a Location (its point; its read-back only with personal fields), the receiving
hospital as a Location managed by an Organization, and the vital signs the unit streamed to that
hospital: the Observations `hospital_link.fhir` built and the log kept, thinned by `thin_vitals`
to the first of each code in each minute and tied to the Encounter.

Personal fields, only when the reader may see them: the caller as a RelatedPerson with the
number, the call-taker's notes as a Communication. Without them the Bundle's `meta.security`
carries HL7's REDACTED label and its `meta.tag` says they were left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dispatch.core.export_record import ExportRecord
from dispatch.core.model import Step

# The hospital link's private helpers, imported rather than duplicated (as notice.py does):
# one uuid namespace, one shape of coding, quantity, subject and fullUrl for all jijiu sends.
from hospital_link.fhir import _NAMESPACE, StreamContext, _coding, _quantity
from hospital_link.notice import (
    ACT_CODE,
    ACT_PRIORITIES,
    ACT_PRIORITY,
    AGE,
    AGE_BANDS,
    COMPLAINTS,
    GENDERS,
    _full_url,
    _subject,
)

Json = dict[str, Any]
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
VITALS_EVERY_S = 60  # one Observation per code per minute of the stream


def context_of(record: ExportRecord, system: str = "urn:jijiu") -> StreamContext:
    """The pseudonym and the city's UTC offset at the call, as the stream names a patient."""
    first = record.times[0][1] if record.times else None
    offset = first.utcoffset() if first is not None else None
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return StreamContext(record.patient_id, utc_offset_min=minutes, system=system)


def fhir_bundle(record: ExportRecord, system: str = "urn:jijiu") -> Json:
    """The record as a FHIR R4 "collection" Bundle (plain JSON dicts)."""
    ctx = context_of(record, system)
    enc_id = _id(ctx, record, "encounter")
    resources: list[Json] = [_patient(ctx, record)]
    if record.age_band is not None:
        resources.append(_age(ctx, record, enc_id))
    scene = _scene(ctx, record)
    hospital = _hospital(ctx, record)
    resources.append(_encounter(ctx, record, enc_id, scene["id"], hospital))
    resources.append(scene)
    resources += hospital
    resources += [
        {**obs, "encounter": {"reference": f"urn:uuid:{enc_id}"}} for obs in record.vitals
    ]
    resources += _personal(ctx, record, enc_id)
    included = record.personal is not None
    meta: Json = {
        "tag": [
            {
                "system": f"{system}:export",
                "code": "personal-included" if included else "personal-omitted",
                "display": "personal fields " + ("included" if included else "left out"),
            }
        ]
    }
    if not included:
        meta["security"] = [
            {"system": OBSERVATION_VALUE, "code": "REDACTED", "display": "redacted"}
        ]
    last = record.times[-1][1] if record.times else None
    bundle: Json = {
        "resourceType": "Bundle",
        "id": _id(ctx, record, "bundle"),
        "meta": meta,
        "identifier": {"system": f"{system}:export", "value": record.incident_id},
        "type": "collection",
    }
    if last is not None:
        bundle["timestamp"] = _iso(last)
    bundle["entry"] = [{"fullUrl": _full_url(ctx, r), "resource": r} for r in resources]
    return bundle


def thin_vitals(
    observations: Iterable[Mapping[str, Any]], every_s: int = VITALS_EVERY_S
) -> list[Mapping[str, Any]]:
    """The first Observation of each code in each `every_s` window, in the order given; an
    Observation without a code or a readable effectiveDateTime is left out."""
    seen: set[tuple[str, int]] = set()
    kept = []
    for obs in observations:
        try:
            code = str(obs["code"]["coding"][0]["code"])
            at = datetime.fromisoformat(str(obs["effectiveDateTime"]))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        key = (code, int(at.timestamp() // every_s))
        if key not in seen:
            seen.add(key)
            kept.append(obs)
    return kept


def _id(ctx: StreamContext, record: ExportRecord, kind: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{ctx.system}|export|{record.incident_id}|{kind}"))


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def _patient(ctx: StreamContext, record: ExportRecord) -> Json:
    patient: Json = {
        "resourceType": "Patient",
        "id": ctx.patient_id,
        "identifier": [_subject(ctx)["identifier"]],
    }
    if record.sex is not None and record.sex in GENDERS:
        patient["gender"] = GENDERS[record.sex]
    return patient


def _age(ctx: StreamContext, record: ExportRecord, enc_id: str) -> Json:
    """The age band as the notices give it: LOINC 30525-0, a Range in years, preliminary."""
    low, high = AGE_BANDS[record.age_band or ""]
    value: Json = {"low": _quantity(low, "years", "a")}
    if high is not None:
        value["high"] = _quantity(high, "years", "a")
    obs: Json = {
        "resourceType": "Observation",
        "id": _id(ctx, record, "age"),
        "status": "preliminary",
        "code": {"coding": [_coding(AGE)], "text": "Age band"},
        "subject": _subject(ctx),
        "encounter": {"reference": f"urn:uuid:{enc_id}"},
    }
    called = record.at(Step.CALL_RECEIVED)
    if called is not None:
        obs["effectiveDateTime"] = _iso(called)
    obs["valueRange"] = value
    return obs


def _period(record: ExportRecord, start: Step, *ends: Step) -> Json | None:
    began = record.at(start)
    if began is None:
        return None
    period = {"start": _iso(began)}
    ended = next((at for at in map(record.at, ends) if at is not None), None)
    if ended is not None:
        period["end"] = _iso(ended)
    return period


def _encounter(
    ctx: StreamContext, record: ExportRecord, enc_id: str, scene_id: str, hospital: list[Json]
) -> Json:
    status = "finished" if record.closed else "in-progress"
    status = "cancelled" if record.cancelled else status
    code, display = ACT_PRIORITIES[int(record.priority)]
    coding, text = COMPLAINTS[record.complaint.value]
    enc: Json = {
        "resourceType": "Encounter",
        "id": enc_id,
        "identifier": [{"system": f"{ctx.system}:incident", "value": record.incident_id}],
        "status": status,
        "class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
        "priority": {
            "coding": [{"system": ACT_PRIORITY, "code": code, "display": display}],
            "text": f"P{int(record.priority)}",
        },
        "subject": _subject(ctx),
    }
    period = _period(record, Step.CALL_RECEIVED, Step.CLOSED)
    if period is not None:
        enc["period"] = period
    enc["reasonCode"] = [{"coding": [_coding(coding)], "text": text} if coding else {"text": text}]
    locations = []
    at_scene = _period(record, Step.ON_SCENE, Step.LEFT_SCENE, Step.CLOSED)
    if at_scene is not None:
        done = "end" in at_scene
        locations.append(
            {
                "location": {"reference": f"urn:uuid:{scene_id}"},
                "status": "completed" if done else "active",
                "period": at_scene,
            }
        )
    if hospital:
        place = hospital[-1]
        enc["hospitalization"] = {"destination": {"reference": f"urn:uuid:{place['id']}"}}
        at_door = _period(record, Step.AT_DESTINATION, Step.TRANSFER_OF_CARE)
        entry: Json = {"location": {"reference": f"urn:uuid:{place['id']}"}}
        if at_door is None:
            entry["status"] = "planned"
        else:
            entry["status"] = "completed" if "end" in at_door else "active"
            entry["period"] = at_door
        locations.append(entry)
    if locations:
        enc["location"] = locations
    return enc


def _scene(ctx: StreamContext, record: ExportRecord) -> Json:
    scene: Json = {
        "resourceType": "Location",
        "id": _id(ctx, record, "scene"),
        "status": "active",
        "name": f"scene of incident {record.incident_id}",
        "mode": "instance",
    }
    if record.personal is not None and record.personal.address:
        scene["description"] = record.personal.address
    scene["position"] = {"longitude": record.lon, "latitude": record.lat}
    return scene


def _hospital(ctx: StreamContext, record: ExportRecord) -> list[Json]:
    """The destination as [Organization, Location], or [] when there is none."""
    d = record.destination
    if d is None:
        return []
    ident = {"system": f"{ctx.system}:hospital", "value": d.hospital_id}
    org_id = _id(ctx, record, "hospital-organization")
    org: Json = {
        "resourceType": "Organization",
        "id": org_id,
        "identifier": [ident],
        "active": True,
        "name": d.name or d.hospital_id,
    }
    place: Json = {
        "resourceType": "Location",
        "id": _id(ctx, record, "hospital-location"),
        "identifier": [ident],
        "status": "active",
        "name": d.name or d.hospital_id,
        "mode": "instance",
    }
    if d.lat is not None and d.lon is not None:
        place["position"] = {"longitude": d.lon, "latitude": d.lat}
    place["managingOrganization"] = {"reference": f"urn:uuid:{org_id}"}
    return [org, place]


def _personal(ctx: StreamContext, record: ExportRecord, enc_id: str) -> list[Json]:
    """The caller (RelatedPerson with the number) and the notes (Communication), if allowed."""
    personal = record.personal
    if personal is None:
        return []
    out: list[Json] = []
    if personal.phone:
        out.append(
            {
                "resourceType": "RelatedPerson",
                "id": _id(ctx, record, "caller"),
                "patient": {"reference": f"Patient/{ctx.patient_id}"},
                "relationship": [{"text": "caller"}],
                "telecom": [{"system": "phone", "value": personal.phone, "use": "mobile"}],
            }
        )
    if personal.notes:
        out.append(
            {
                "resourceType": "Communication",
                "id": _id(ctx, record, "notes"),
                "status": "completed",
                "category": [{"text": "call-taker's notes"}],
                "subject": _subject(ctx),
                "encounter": {"reference": f"urn:uuid:{enc_id}"},
                "payload": [{"contentString": personal.notes}],
            }
        )
    return out
