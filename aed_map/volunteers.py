"""CPR volunteers near a cardiac arrest: whom to alert, how far out, and who fetches the AED.

The model is the Swedish one. Stockholm's SMS-lifesavers alerted CPR-trained volunteers within
500 m and raised bystander CPR from 48 % to 62 % (Ringh et al., NEJM 2015;372:2316); its
successor Heartrunner sends some responders straight to the patient and others via the nearest
AED (Berglund et al., Resuscitation 2018;126:160: median 560 m to the patient, 1,280 m via an
AED). Denmark's Hjerteløber alerts up to 1.8 km out (Andelius et al., JACC 2020;76:43).

Pure: positions, times and the clock come in as arguments. The alert lifecycle and what a
volunteer's phone may show live in `aed_map.alerts`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NewType

from aed_map.errors import InvalidArgument
from aed_map.registry import AedId
from location_fusion.geo import haversine_m

VolunteerId = NewType("VolunteerId", str)


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Volunteer:
    """A registered volunteer as the core sees them: credentials, availability, last position."""

    id: VolunteerId
    cpr_verified: bool  # a CPR certificate the operator has checked, not one self-declared
    on_duty: bool  # the volunteer's own "I can respond now" switch
    lat: float
    lon: float
    reported_at_s: float  # when the phone reported that position
    # Location-sharing consent: revocable at any time (PIPL art. 15), and we let it lapse.
    consent_expires_at_s: float

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidArgument("a volunteer needs an id")
        if not (_finite(self.lat) and -90 <= self.lat <= 90):
            raise InvalidArgument(f"{self.id}: latitude {self.lat!r} is not in -90..90")
        if not (_finite(self.lon) and -180 <= self.lon <= 180):
            raise InvalidArgument(f"{self.id}: longitude {self.lon!r} is not in -180..180")
        if not (_finite(self.reported_at_s) and _finite(self.consent_expires_at_s)):
            raise InvalidArgument(f"{self.id}: times must be finite numbers")


@dataclass(frozen=True)
class VolunteerParams:
    """How far out to alert, whom to trust, and when the ambulance wins anyway."""

    dense_radius_m: float = 500.0  # SMS-lifesavers' radius: enough where volunteers are many
    sparse_radius_m: float = 1_000.0  # where they are few, reach further for the same count
    max_radius_m: float = 2_000.0  # beyond ~2 km hardly anyone beats an ambulance (DK: 1.8 km)
    target_in_radius: float = 10.0  # volunteers wanted inside the radius on average
    # Median travel speed of alerted Swedish lay responders in dense areas (GPS-tracked,
    # Resuscitation 2020): some run, some cycle.
    travel_speed_mps: float = 1.8
    response_delay_s: float = 60.0  # an assumption: read the alert, accept, set off
    max_alerted: int = 15  # at 30-70 % acceptance, 2-4 responders without crowding the scene
    max_position_age_s: float = 600.0  # older than 10 min, a bus ride may have moved them km
    clock_skew_s: float = 60.0  # a phone clock this far ahead is tolerated
    # An assumption: from the ambulance stopping to its defibrillator on the patient (kerb to
    # patient; longer in high-rise buildings).
    crew_to_patient_s: float = 120.0

    def __post_init__(self) -> None:
        for name in (
            "dense_radius_m",
            "sparse_radius_m",
            "max_radius_m",
            "target_in_radius",
            "travel_speed_mps",
            "max_position_age_s",
        ):
            v = getattr(self, name)
            if not (_finite(v) and v > 0):
                raise InvalidArgument(f"{name} {v!r} must be a positive number")
        for name in ("response_delay_s", "clock_skew_s", "crew_to_patient_s"):
            v = getattr(self, name)
            if not (_finite(v) and v >= 0):
                raise InvalidArgument(f"{name} {v!r} must be a number >= 0")
        if not self.dense_radius_m <= self.sparse_radius_m <= self.max_radius_m:
            raise InvalidArgument("radii must satisfy dense <= sparse <= max")
        if not (isinstance(self.max_alerted, int) and self.max_alerted >= 1):
            raise InvalidArgument("max_alerted must be a positive integer")


def alert_radius_m(
    ambulance_eta_s: float, density_per_km2: float, params: VolunteerParams | None = None
) -> float:
    """How far out to alert: enough volunteers, and as far as one can come before the ambulance.

    The density radius holds `target_in_radius` volunteers on average (pi r^2 * density), kept
    between the dense (500 m) and sparse (1 km) radii. When the ambulance is far, a volunteer
    further out can still arrive first: the radius grows to what one covers at
    `travel_speed_mps` in the ambulance's ETA less the response delay, up to `max_radius_m`.
    It never shrinks below the density radius when the ambulance is near: hands for CPR
    relief and an AED still help until the crew is at the patient.
    """
    p = params or VolunteerParams()
    if not (_finite(ambulance_eta_s) and ambulance_eta_s >= 0):
        raise InvalidArgument(f"ambulance_eta_s {ambulance_eta_s!r} must be a number >= 0")
    if not (_finite(density_per_km2) and density_per_km2 >= 0):
        raise InvalidArgument(f"density_per_km2 {density_per_km2!r} must be a number >= 0")
    if density_per_km2 > 0:
        by_density = 1_000.0 * math.sqrt(p.target_in_radius / (math.pi * density_per_km2))
    else:
        by_density = p.sparse_radius_m
    by_density = min(max(by_density, p.dense_radius_m), p.sparse_radius_m)
    reach = p.travel_speed_mps * max(ambulance_eta_s - p.response_delay_s, 0.0)
    return min(max(by_density, reach), p.max_radius_m)


@dataclass(frozen=True)
class AlertArea:
    """Where to look for volunteers: the incident position and the radius to alert within."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Candidate:
    volunteer: Volunteer
    distance_m: float  # straight line to the incident


def ineligible(volunteer: Volunteer, now_s: float, params: VolunteerParams) -> str | None:
    """Why a volunteer may not be alerted now (a machine-readable word), or None if they may."""
    if not volunteer.cpr_verified:
        return "unverified"
    if not volunteer.on_duty:
        return "off_duty"
    if volunteer.consent_expires_at_s <= now_s:
        return "consent_expired"
    if volunteer.reported_at_s > now_s + params.clock_skew_s:
        return "position_from_future"
    if now_s - volunteer.reported_at_s > params.max_position_age_s:
        return "stale_position"
    return None


def select_volunteers(
    volunteers: Iterable[Volunteer],
    incident: AlertArea,
    now_s: float,
    params: VolunteerParams | None = None,
) -> list[Candidate]:
    """The closest eligible volunteers inside the radius, nearest first, at most max_alerted."""
    p = params or VolunteerParams()
    pool = [v for v in volunteers if ineligible(v, now_s, p) is None]
    if not pool:
        return []
    d = haversine_m([v.lon for v in pool], [v.lat for v in pool], incident.lon, incident.lat)
    inside = sorted(
        (float(m), v.id, v) for m, v in zip(d, pool, strict=True) if m <= incident.radius_m
    )
    return [Candidate(v, m) for m, _, v in inside[: p.max_alerted]]


@dataclass(frozen=True)
class Acceptor:
    """A volunteer who accepted, with their walking times (s) to the patient and to AEDs."""

    volunteer_id: VolunteerId
    to_patient_s: float
    to_aed_s: Mapping[AedId, float]


@dataclass(frozen=True)
class Fetch:
    volunteer_id: VolunteerId
    aed_id: AedId
    aed_at_patient_s: float  # from now: volunteer -> AED -> patient


@dataclass(frozen=True)
class RolePlan:
    """Who fetches which AED (or nobody), who goes straight to the patient, and why."""

    fetch: Fetch | None
    to_patient: tuple[VolunteerId, ...]
    ambulance_defib_s: float  # when the crew's defibrillator reaches the patient
    note: str


def assign_roles(
    acceptors: Sequence[Acceptor],
    aed_to_patient_s: Mapping[AedId, float],
    ambulance_eta_s: float,
    params: VolunteerParams | None = None,
) -> RolePlan:
    """Split acceptors: at most one fetches an AED, the others go straight to the patient.

    The fetcher and AED are the pair that bring an AED to the patient soonest (volunteer ->
    AED -> patient), which maximises the margin over the ambulance's defibrillator (its ETA
    plus `crew_to_patient_s`). If no pair beats it, nobody fetches and everyone goes to start
    CPR: an AED arriving after the crew's defibrillator only costs a pair of hands. A lone
    acceptor may be sent to fetch: the caller is already doing dispatcher-guided CPR.
    Ties go to the earlier acceptor (`acceptors` is in acceptance order).
    """
    p = params or VolunteerParams()
    if not (_finite(ambulance_eta_s) and ambulance_eta_s >= 0):
        raise InvalidArgument(f"ambulance_eta_s {ambulance_eta_s!r} must be a number >= 0")
    crew = ambulance_eta_s + p.crew_to_patient_s
    best: tuple[float, int, AedId] | None = None
    for rank, a in enumerate(acceptors):
        for aed_id, to_aed in a.to_aed_s.items():
            back = aed_to_patient_s.get(aed_id)
            if back is None or not (_finite(to_aed) and _finite(back)):
                continue
            key = (to_aed + back, rank, aed_id)
            if best is None or key < best:
                best = key
    everyone = tuple(a.volunteer_id for a in acceptors)
    if best is None:
        return RolePlan(None, everyone, crew, "no AED within walking reach: all go to CPR")
    t, rank, aed_id = best
    if t >= crew:
        note = (
            f"no AED would arrive before the ambulance's defibrillator (best {t:.0f} s, "
            f"crew {crew:.0f} s): all go straight to CPR"
        )
        return RolePlan(None, everyone, crew, note)
    fetcher = acceptors[rank].volunteer_id
    rest = tuple(v for v in everyone if v != fetcher)
    note = f"{fetcher} fetches {aed_id}: at the patient in {t:.0f} s, {crew - t:.0f} s before crew"
    return RolePlan(Fetch(fetcher, aed_id, t), rest, crew, note)
