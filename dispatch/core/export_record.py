"""What an incident's export says: its timeline on the wall clock, triage, unit, scene and
destination, and the personal fields only when the reader may see them.

`record_of` reads the engine's incident (the state the event log rebuilds) into one frozen
`ExportRecord`; `dispatch.core.export_nemsis` writes it as NEMSIS v3.5.1 XML and
`dispatch.core.export_fhir` as a FHIR R4 Bundle. The shell hands in the clock (engine time to
Unix time), the city's time zone, the destination's name and place, the vitals Observations
logged for the hospital, and the personal fields it opened, or None. Without them the scene's
point is rounded to `COARSE_DECIMALS` (about 100 m): an export without personal fields never
gives an exact address.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from dispatch.core.engine import Incident
from dispatch.core.model import Capability, Complaint, Priority, Step

COARSE_DECIMALS = 3  # 0.001 degree: about 110 m of latitude, 95 m of longitude in Hangzhou


@dataclass(frozen=True)
class PersonalFields:
    """What only a dispatcher (and above) may read: the caller's number and a call-taker's
    notes (opened from their sealed copy), the read-back of the exact place."""

    phone: str | None = None
    notes: str | None = None
    address: str | None = None
    callback_allowed: bool = True


@dataclass(frozen=True)
class Destination:
    """The receiving hospital: its id, and its name and door when the city's registry has it."""

    hospital_id: str
    name: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class ExportRecord:
    """One incident as exported. `times`: the steps that happened, in timeline order, each an
    aware datetime in the city's zone; `personal` None: left out for this reader."""

    incident_id: str
    times: tuple[tuple[Step, datetime], ...]
    priority: Priority
    complaint: Complaint
    determinant: str
    unit_id: str | None
    unit_capability: Capability | None
    lat: float
    lon: float
    radius95_m: float
    destination: Destination | None
    age_band: str | None
    sex: str | None
    source: str  # "app" (one tap) or "voice" (a phone call typed in)
    patient_id: str  # the per-incident pseudonym (hospital_link.fhir.patient_pseudonym)
    vitals: tuple[Mapping[str, Any], ...] = ()  # FHIR Observations, as logged for the hospital
    personal: PersonalFields | None = None

    def __post_init__(self) -> None:
        ok = all(math.isfinite(v) for v in (self.lat, self.lon, self.radius95_m))
        if not (ok and abs(self.lat) <= 90 and abs(self.lon) <= 180):
            raise ValueError(f"incident {self.incident_id}: bad place {self.lat}, {self.lon}")
        if any(at.tzinfo is None for _, at in self.times):
            raise ValueError("export times must be timezone-aware")

    def at(self, step: Step) -> datetime | None:
        """When `step` happened, or None if it did not."""
        return next((at for s, at in self.times if s is step), None)

    @property
    def cancelled(self) -> bool:
        return self.at(Step.CANCELLED) is not None

    @property
    def closed(self) -> bool:
        return self.at(Step.CLOSED) is not None

    @property
    def transported(self) -> bool:
        return self.at(Step.LEFT_SCENE) is not None


def wall_time(unix_s: float, zone: tzinfo) -> datetime:
    """A Unix time as an aware datetime in `zone`, to the millisecond."""
    return datetime.fromtimestamp(round(unix_s, 3), zone)


def record_of(
    inc: Incident,
    *,
    wall_of: Callable[[float], float],
    zone: tzinfo,
    patient_id: str,
    unit_capability: Capability | None = None,
    destination: Destination | None = None,
    vitals: Sequence[Mapping[str, Any]] = (),
    personal: PersonalFields | None = None,
) -> ExportRecord:
    """The export of `inc`: engine times put on the wall clock by `wall_of` (engine seconds to
    Unix seconds) in `zone`; the scene rounded to COARSE_DECIMALS when `personal` is None."""
    steps = sorted(inc.timeline.items(), key=lambda kv: (kv[1], _order(kv[0])))
    times = tuple((step, wall_time(wall_of(at_s), zone)) for step, at_s in steps)
    lat, lon = inc.lat, inc.lon
    if personal is None:
        lat, lon = round(lat, COARSE_DECIMALS), round(lon, COARSE_DECIMALS)
    return ExportRecord(
        incident_id=inc.incident_id,
        times=times,
        priority=inc.priority,
        complaint=inc.complaint,
        determinant=inc.determinant,
        unit_id=inc.unit_id,
        unit_capability=unit_capability,
        lat=lat,
        lon=lon,
        radius95_m=inc.radius95_m,
        destination=destination,
        age_band=inc.age_band,
        sex=inc.sex,
        source=inc.source,
        patient_id=patient_id,
        vitals=tuple(vitals),
        personal=personal,
    )


def _order(step: Step) -> int:
    """Steps of one instant in lifecycle order (back in service before closed)."""
    return list(Step).index(step)
