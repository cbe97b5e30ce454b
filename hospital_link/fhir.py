"""HL7 FHIR R4 for the receiving hospital: vitals Observations, the ECG, one Bundle per second.

Hospitals read FHIR, so the stream is plain FHIR R4 JSON (dicts, ready for json.dumps): one
Observation per monitor numeric with the codes of the R4 vital-signs profiles (LOINC, UCUM),
the ECG as an Observation with `valueSampledData` coded like the R4 ECG example (MDC), and a
"collection" Bundle grouping one second. Each resource has a stable id (a name-based UUID of
patient, unit, sequence number and kind) and an identifier "unit/seq/kind", so a hospital that
receives a second twice keeps one copy, and after a gap asks for the seqs it lacks.

Codes, checked against the R4 examples in tests/data/fhir_r4_vitals/: heart rate 8867-4,
SpO2 2708-6 + 59408-5 (pulse oximetry), BP panel 85354-9 with 8480-6 / 8462-4, respiratory rate
9279-1, body temperature 8310-5, GCS total 9269-2 (category "survey" and no vital-signs
profile, as in the R4 example: GCS is an assessment scale). EtCO2 has no R4 example: LOINC
19891-1 is the end-tidal CO2 *partial pressure* in mm[Hg] (19889-5, often misused, is the
volume fraction in %), with MDC 151708 MDC_AWAY_CO2_ET as a second coding.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hospital_link.errors import InvalidArgument
from hospital_link.vitals import EcgChunk, Numerics

Json = dict[str, Any]
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:oid:2.16.840.1.113883.6.24"  # ISO/IEEE 11073-10101, as in the R4 ECG example
MDC_URN = "urn:iso:std:iso:11073:10101"  # the same code system, as in the R4 SpO2 example
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"
_NAMESPACE = uuid.UUID("3f0d6a3e-5b7c-4f5e-9a51-0c1e2d3b4a59")  # jijiu's uuid5 namespace
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class VitalCode:
    """How one numeric is coded: codings (system, code, display), units, category, profile."""

    codings: tuple[tuple[str, str, str], ...]
    text: str
    unit: str  # human-readable, as in the R4 examples
    ucum: str
    category: str = "vital-signs"
    profile: str | None = "vitalsigns"  # the R4 base vital-signs profile; None: no claim
    specific: str | None = None  # the R4 profile for this vital ("heartrate")


VITAL_CODES: Mapping[str, VitalCode] = {
    "hr": VitalCode(((LOINC, "8867-4", "Heart rate"),), "Heart rate", "beats/minute", "/min",
                    specific="heartrate"),
    "spo2": VitalCode(((LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
                       (LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")),
                      "Oxygen saturation", "%", "%", specific="oxygensat"),
    "rr": VitalCode(((LOINC, "9279-1", "Respiratory rate"),), "Respiratory rate",
                    "breaths/minute", "/min", specific="resprate"),
    "etco2": VitalCode(((LOINC, "19891-1",
                         "Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration"),
                        (MDC_URN, "151708", "MDC_AWAY_CO2_ET")), "End-tidal CO2", "mmHg", "mm[Hg]"),
    "temp_c": VitalCode(((LOINC, "8310-5", "Body temperature"),), "Body temperature", "C", "Cel",
                        specific="bodytemp"),
    "gcs": VitalCode(((LOINC, "9269-2", "Glasgow coma score total"),), "Glasgow coma score",
                     "{score}", "{score}", category="survey", profile=None),
}  # fmt: skip
BP_PANEL = (LOINC, "85354-9", "Blood pressure panel with all children optional")
BP_PARTS = {
    "nibp_sys": (LOINC, "8480-6", "Systolic blood pressure"),
    "nibp_dia": (LOINC, "8462-4", "Diastolic blood pressure"),
}
ECG_CODE = (MDC, "131328", "MDC_ECG_ELEC_POTL")
ECG_CODE_BASE = 131328
# MDC_ECG_ELEC_POTL_<lead> = 131328 + the lead's MDC_ECG_LEAD code; MLII is a modified lead II.
ECG_LEADS = {
    "I": 1,
    "II": 2,
    "MLII": 2,
    "V1": 3,
    "V2": 4,
    "V3": 5,
    "V4": 6,
    "V5": 7,
    "V6": 8,
    "III": 61,
    "aVR": 62,
    "aVL": 63,
    "aVF": 64,
}


def patient_pseudonym(incident_id: str, secret: bytes) -> str:
    """The Patient id for an incident: an HMAC, stable per incident, meaningless without secret."""
    if len(secret) < 16:
        raise InvalidArgument("the pseudonym secret must be at least 16 bytes")
    return hmac.new(secret, incident_id.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class StreamContext:
    """Whom a stream is about and how its clock maps to wall time."""

    patient_id: str  # pseudonymous, per incident (patient_pseudonym); never a name
    epoch_unix_s: float = 0.0  # Unix time of at_s == 0 (0 when at_s already is Unix time)
    utc_offset_min: int = 0  # for effectiveDateTime: 480 is China Standard Time
    system: str = "urn:jijiu"  # base of the identifier systems; a deployment sets its own URI

    def __post_init__(self) -> None:
        if not _FHIR_ID.match(self.patient_id):
            raise InvalidArgument(f"patient_id {self.patient_id!r} is not a FHIR id")
        if not math.isfinite(self.epoch_unix_s) or not -14 * 60 <= self.utc_offset_min <= 14 * 60:
            raise InvalidArgument("epoch_unix_s must be finite and utc_offset_min within +-14 h")

    def iso(self, at_s: float) -> str:
        """`at_s` as a FHIR dateTime/instant with milliseconds and offset."""
        tz = UTC if self.utc_offset_min == 0 else timezone(timedelta(minutes=self.utc_offset_min))
        return datetime.fromtimestamp(self.epoch_unix_s + at_s, tz).isoformat("T", "milliseconds")


@dataclass(frozen=True)
class Approach:
    """Where the unit is at one second, and its road ETA to the receiving hospital."""

    hospital_id: str
    lat: float
    lon: float
    eta_s: float

    def __post_init__(self) -> None:
        ok = all(math.isfinite(v) for v in (self.lat, self.lon, self.eta_s))
        if not (ok and abs(self.lat) <= 90 and abs(self.lon) <= 180 and self.eta_s >= 0):
            raise InvalidArgument(f"bad position or ETA {self.lat}, {self.lon}, {self.eta_s}")


def _ref(ctx: StreamContext, kind: str, unit_id: str, seq: int) -> tuple[str, Json]:
    """A resource's uuid and its identifier "unit/seq/kind"."""
    if "/" in unit_id or any(c.isspace() for c in unit_id):
        raise InvalidArgument(f"unit id {unit_id!r} may not hold '/' or spaces")
    key = f"{unit_id}/{seq}/{kind}"
    rid = str(uuid.uuid5(_NAMESPACE, f"{ctx.system}|{ctx.patient_id}|{key}"))
    return rid, {"system": f"{ctx.system}:stream", "value": key}


def _coding(c: tuple[str, str, str]) -> Json:
    return {"system": c[0], "code": c[1], "display": c[2]}


def _quantity(value: float, unit: str, ucum: str) -> Json:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


def _category(code: str) -> list[Json]:
    display = {"vital-signs": "Vital Signs", "survey": "Survey", "procedure": "Procedure"}[code]
    return [{"coding": [{"system": CATEGORY, "code": code, "display": display}], "text": display}]


def _observation(ctx: StreamContext, kind: str, unit_id: str, seq: int, at_s: float) -> Json:
    rid, ident = _ref(ctx, kind, unit_id, seq)
    return {
        "resourceType": "Observation",
        "id": rid,
        "identifier": [ident],
        "status": "final",
        "subject": {
            "reference": f"Patient/{ctx.patient_id}",
            "identifier": {"system": f"{ctx.system}:patient", "value": ctx.patient_id},
        },
        "effectiveDateTime": ctx.iso(at_s),
        "device": {
            "type": "Device",
            "identifier": {"system": f"{ctx.system}:unit", "value": unit_id},
            "display": f"monitor of unit {unit_id}",
        },
    }


def numerics_observations(ctx: StreamContext, sample: Numerics) -> list[Json]:
    """One Observation per reading in `sample` (systolic and diastolic share the BP panel)."""
    out = []
    for name in sample.present:
        if name == "nibp_dia":
            continue
        obs = _observation(
            ctx, "bp" if name == "nibp_sys" else name, sample.unit_id, sample.seq, sample.at_s
        )
        if name == "nibp_sys":
            obs["meta"] = {"profile": [PROFILE + "vitalsigns", PROFILE + "bp"]}
            obs["category"] = _category("vital-signs")
            obs["code"] = {"coding": [_coding(BP_PANEL)], "text": "Blood pressure"}
            obs["component"] = [
                {
                    "code": {"coding": [_coding(c)]},
                    "valueQuantity": _quantity(getattr(sample, part), "mmHg", "mm[Hg]"),
                }
                for part, c in BP_PARTS.items()
            ]
        else:
            vc = VITAL_CODES[name]
            profiles = [PROFILE + p for p in (vc.profile, vc.specific) if p is not None]
            if profiles:
                obs["meta"] = {"profile": profiles}
            obs["category"] = _category(vc.category)
            obs["code"] = {"coding": [_coding(c) for c in vc.codings], "text": vc.text}
            obs["valueQuantity"] = _quantity(getattr(sample, name), vc.unit, vc.ucum)
        out.append(_order(obs))
    return out


def ecg_observation(ctx: StreamContext, chunk: EcgChunk) -> Json:
    """The chunk as an Observation whose component holds the lead's `valueSampledData` in µV."""
    obs = _observation(ctx, f"ecg-{chunk.lead}", chunk.unit_id, chunk.seq, chunk.at_s)
    obs["category"] = _category("procedure")
    obs["code"] = {"coding": [_coding(ECG_CODE)], "text": "ECG"}
    lead_code: Json = {"text": chunk.lead}
    if chunk.lead in ECG_LEADS:
        mdc = str(ECG_CODE_BASE + ECG_LEADS[chunk.lead])
        name = "II" if chunk.lead == "MLII" else chunk.lead
        lead_code["coding"] = [{"system": MDC, "code": mdc, "display": f"MDC_ECG_ELEC_POTL_{name}"}]
    obs["component"] = [
        {
            "code": lead_code,
            "valueSampledData": {
                "origin": _quantity(0, "µV", "uV"),
                "period": 1000.0 / chunk.rate_hz,  # ms between samples
                "dimensions": 1,
                "data": " ".join(_number(v) for v in chunk.samples_uv),
            },
        }
    ]
    return _order(obs)


def approach_resources(
    ctx: StreamContext, unit_id: str, seq: int, at_s: float, a: Approach
) -> list[Json]:
    """The unit's position as a Location and the transport as an Encounter holding the ETA.

    FHIR has no "ETA" element. A Location (physical type "ve", vehicle) is FHIR's place for a
    position; the Encounter is the transport of this patient, and its `location` list says
    where the patient is (the vehicle, "active") and where they will be (the hospital,
    "planned", with `period.start` the expected arrival). Both are core R4 elements, so any
    FHIR server stores them without extensions; eta_s is period.start minus Bundle.timestamp.
    Both are per-second snapshots (identifier "unit/seq/..."); the Encounter's second
    identifier, "patient/unit", ties the snapshots of one transport together.
    """
    loc_id, loc_ident = _ref(ctx, "position", unit_id, seq)
    enc_id, enc_ident = _ref(ctx, "transport", unit_id, seq)
    location: Json = {
        "resourceType": "Location",
        "id": loc_id,
        "identifier": [loc_ident],
        "status": "active",
        "name": f"unit {unit_id}",
        "mode": "instance",
        "physicalType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": "ve",
                    "display": "Vehicle",
                }
            ]
        },
        "position": {"longitude": a.lon, "latitude": a.lat},
    }
    hospital = {"identifier": {"system": f"{ctx.system}:hospital", "value": a.hospital_id}}
    encounter: Json = {
        "resourceType": "Encounter",
        "id": enc_id,
        "identifier": [
            enc_ident,
            {"system": f"{ctx.system}:incident-unit", "value": f"{ctx.patient_id}/{unit_id}"},
        ],
        "status": "in-progress",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "EMER",
            "display": "emergency",
        },
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "location": [
            {
                "location": {"reference": f"urn:uuid:{loc_id}"},
                "status": "active",
                "period": {"start": ctx.iso(at_s)},
            },
            {
                "location": hospital,
                "status": "planned",
                "period": {"start": ctx.iso(at_s + a.eta_s)},
            },
        ],
    }
    return [location, encounter]


def bundle_second(
    ctx: StreamContext,
    unit_id: str,
    seq: int,
    at_s: float,
    numerics: Numerics | None = None,
    ecg: Sequence[EcgChunk] = (),
    approach: Approach | None = None,
) -> Json:
    """One second of a unit's stream as a "collection" Bundle; samples must start in that second."""
    for s in (numerics, *ecg):
        if s is not None and (s.unit_id != unit_id or not at_s <= s.at_s < at_s + 1.0):
            raise InvalidArgument(f"sample {s.unit_id}/{s.seq} at {s.at_s} is not in this second")
    resources = numerics_observations(ctx, numerics) if numerics is not None else []
    resources += [ecg_observation(ctx, c) for c in ecg]
    if approach is not None:
        resources += approach_resources(ctx, unit_id, seq, at_s, approach)
    bundle_id, ident = _ref(ctx, "second", unit_id, seq)
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "identifier": ident,
        "type": "collection",
        "timestamp": ctx.iso(at_s),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


_KEY_ORDER = (
    "resourceType",
    "id",
    "meta",
    "identifier",
    "status",
    "category",
    "code",
    "subject",
    "effectiveDateTime",
    "valueQuantity",
    "device",
    "component",
)


def _order(obs: Json) -> Json:
    """Keys in the order of the FHIR spec, so the JSON reads like the R4 examples."""
    return {k: obs[k] for k in _KEY_ORDER if k in obs}
