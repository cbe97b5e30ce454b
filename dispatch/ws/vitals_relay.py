"""Vital signs from the ambulance to the receiving hospital, as HL7 FHIR R4, one second a frame.

The tablet sends one frame a second: the monitor's numerics and the ECG chunks of that second,
numbered per unit (`seq`). jijiu checks them (`hospital_link.vitals`: NaN, ranges, sizes),
wraps them with the vehicle's position and its road ETA to the door in one FHIR `Bundle`
(`hospital_link.fhir.bundle_second`, the patient named by a per-incident pseudonym) and
publishes it on the chosen hospital's topic only. A unit with no patient routed anywhere is
refused (`no_destination`); a re-routed patient's vitals go to the new hospital from the next
second. The bundle is written to the hospital's durable feed (`dispatch.live.feeds`) before it is
published, and the tablet's `accepted` is sent only then: an accepted sample is never lost. A
hospital that reconnects with `?since=<seq>` gets what it missed from the hub's history or,
for an older gap or after a restart, from the log.
"""

from __future__ import annotations

from math import isfinite
from typing import Any

from dispatch.core.engine import Unit
from dispatch.core.model import UnitId
from dispatch.errors import DispatchError, IllegalTransition, InvalidEvent
from dispatch.service.service import DispatchService
from hospital_link.activation import suggest_activation
from hospital_link.errors import HospitalLinkError
from hospital_link.fhir import Approach, bundle_second
from hospital_link.vitals import EcgChunk, Numerics

MAX_ECG_CHUNKS = 12  # leads in one second's frame
LATEST_AT_S = 4_102_444_800.0  # 2100-01-01: a sample time past this is a tablet's bug
NUMERIC_FIELDS = ("hr", "spo2", "nibp_sys", "nibp_dia", "rr", "etco2", "temp_c", "gcs")


class NoDestination(DispatchError, ValueError):
    reason = "no_destination"


class InvalidVitalsFrame(InvalidEvent):
    reason = "invalid_vitals"


async def relay_vitals(svc: DispatchService, unit_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    """Check one second of vitals from a tablet, log it as a FHIR Bundle on the feed of the
    hospital the unit's patient is routed to and publish it; the tablet's reply once durable."""
    unit = svc.engine.unit(UnitId(unit_id))
    inc = svc.engine.incidents.get(unit.incident_id) if unit.incident_id else None
    if inc is None or not inc.open:
        raise IllegalTransition(f"unit {unit_id} has no patient")
    if inc.destination is None:
        raise NoDestination("no hospital chosen for this patient yet")
    seq, at_s = frame.get("seq"), frame.get("at_s")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**53):
        raise InvalidVitalsFrame(f"seq {seq!r} is not an integer >= 0")
    if not (
        isinstance(at_s, int | float)
        and not isinstance(at_s, bool)
        and isfinite(at_s)
        and 0 < at_s < LATEST_AT_S
    ):
        raise InvalidVitalsFrame(f"at_s {at_s!r} is not a Unix time in seconds")
    sent = svc.notices.vitals_seq.setdefault(inc.incident_id, {})
    if seq <= sent.get(unit_id, -1):  # a retry of a second already logged: not twice
        return {"type": "accepted", "frame": "vitals", "seq": seq, "duplicate": True}
    try:
        numerics = _numerics(unit_id, seq, at_s, frame.get("numerics"))
        ecg = _ecg(unit_id, frame.get("ecg"))
        ctx = svc.notices.stream_context(inc.incident_id)
        approach = _approach(svc, inc.destination, unit)
        bundle = bundle_second(ctx, unit_id, seq, at_s, numerics, ecg, approach)
    except HospitalLinkError as exc:
        raise InvalidVitalsFrame(str(exc)) from None
    except (TypeError, ValueError, OverflowError) as exc:  # a value no check foresaw: theirs
        raise InvalidVitalsFrame(f"unreadable vitals: {type(exc).__name__}") from None
    message = {
        "type": "vitals",
        "incident_id": inc.incident_id,
        "unit_id": unit_id,
        "sample_seq": seq,
        "bundle": bundle,
    }
    topic = f"hospital:{inc.destination}"
    durable = svc.feeds.feed(topic, message)
    sent[unit_id] = seq
    if numerics is not None:  # the vitals may change the team to pre-alert (trauma criteria)
        before = svc.notices.latest_vitals.get(inc.incident_id)
        svc.notices.latest_vitals[inc.incident_id] = numerics
        was, now = (suggest_activation(inc.complaint.value, v) for v in (before, numerics))
        if (was.team, was.criteria) != (now.team, now.criteria):  # not every new number
            update = {"type": "patient.inbound", **svc.notices.inbound_view(inc, inc.destination)}
            durable = svc.feeds.feed(topic, update)
    if durable is not None:
        await durable
    return {"type": "accepted", "frame": "vitals", "seq": seq}


def _numerics(unit_id: str, seq: Any, at_s: Any, body: Any) -> Numerics | None:
    if body is None:
        return None
    if not isinstance(body, dict) or not set(body) <= set(NUMERIC_FIELDS):
        raise InvalidVitalsFrame(f"numerics holds only {', '.join(NUMERIC_FIELDS)}")
    return Numerics(unit_id, seq, at_s, **body)


def _ecg(unit_id: str, body: Any) -> list[EcgChunk]:
    if body is None:
        return []
    if not isinstance(body, list) or len(body) > MAX_ECG_CHUNKS:
        raise InvalidVitalsFrame(f"ecg is a list of at most {MAX_ECG_CHUNKS} chunks")
    chunks = []
    for c in body:
        if not isinstance(c, dict) or not isinstance(c.get("samples_uv"), list):
            raise InvalidVitalsFrame("an ecg chunk is {seq, at_s, lead, rate_hz, samples_uv}")
        seq, at_s, lead, rate = c.get("seq"), c.get("at_s"), c.get("lead"), c.get("rate_hz")
        # Unchecked here on purpose: EcgChunk checks each one and names the bad field.
        chunks.append(EcgChunk(unit_id, seq, at_s, lead, rate, tuple(c["samples_uv"])))  # type: ignore[arg-type]
    return chunks


def _approach(svc: DispatchService, hospital_id: str, unit: Unit) -> Approach | None:
    """The vehicle's position and its road ETA to the door (None off the loaded network)."""
    door = svc.hospitals.door(hospital_id)
    eta_s = svc.views.eta_to(unit, door) if door is not None else None
    return Approach(hospital_id, unit.lat, unit.lon, eta_s) if eta_s is not None else None
