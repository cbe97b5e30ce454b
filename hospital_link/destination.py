"""Destination choice: which hospital a patient should go to, and why, in words and in fields.

The patient's condition names the capability they need (a stroke needs a thrombectomy centre);
hospitals without it, and those on diversion for it, are set aside; the rest are ranked by
road ETA (computed by the caller with the routing core) plus the expected offload wait, since
minutes queuing in the ambulance bay count as much as minutes on the road. Two escapes keep a
patient from having nowhere to go: a P1 patient may be taken to a diverted capable hospital
when no open one is within a bound, and without any capable hospital the nearest ED is chosen,
with the reason said. A dispatcher may still choose otherwise: that is an `Override` record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hospital_link.errors import InvalidArgument, UnknownHospital
from hospital_link.registry import (
    Capability,
    CurrentStatus,
    Freshness,
    Hospital,
    HospitalId,
    Registry,
)

# Condition -> capability. Conditions are dispatch's Complaint values (strings here, since
# dispatch sits above this package). Cardiac arrest goes to a PCI centre: after return of
# spontaneous circulation most arrests are cardiac, and ERC/ESC 2021 and AHA 2020 guidance is
# to take resuscitated patients to a centre with a 24/7 cath lab (a "cardiac arrest centre").
CONDITION_CAPABILITY: Mapping[str, Capability] = {
    "cardiac_arrest": Capability.PCI,
    "chest_pain": Capability.PCI,
    "stroke": Capability.STROKE,
    "trauma": Capability.TRAUMA,
    "breathing": Capability.ED,
    "obstetric": Capability.OBSTETRIC,
    "paediatric": Capability.PAEDIATRIC,
    "other": Capability.ED,
}
CAPABILITY_LABEL: Mapping[Capability, str] = {
    Capability.ED: "emergency department",
    Capability.PCI: "PCI centre",
    Capability.STROKE: "thrombectomy centre",
    Capability.TRAUMA: "trauma centre",
    Capability.PAEDIATRIC: "paediatric centre",
    Capability.OBSTETRIC: "obstetric unit",
    Capability.BURNS: "burns centre",
}


def required_capability(condition: str) -> Capability:
    """The capability a patient with `condition` needs; an unknown condition is refused."""
    try:
        return CONDITION_CAPABILITY[condition]
    except KeyError:
        raise InvalidArgument(
            f"unknown condition {condition!r}; expected one of {sorted(CONDITION_CAPABILITY)}"
        ) from None


@dataclass(frozen=True)
class DestinationParams:
    # A P1 patient may go to a diverted capable hospital if no open capable one is this close:
    # beyond about 20 min the diversion costs less than the extra time on the road.
    p1_override_bound_s: float = 20 * 60.0

    def __post_init__(self) -> None:
        v = self.p1_override_bound_s
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            raise InvalidArgument(f"p1_override_bound_s {v!r} must be a finite number >= 0")


class Basis(StrEnum):
    CAPABLE = "capable"  # has the capability and is not diverted for it
    DIVERSION_OVERRIDDEN = "diversion_overridden"  # diverted, but P1 and none open within bound
    ED_FALLBACK = "ed_fallback"  # no capable hospital usable: an open ED instead
    DIVERSION_VOID = "diversion_void"  # every reachable ED diverted: diversion is void


@dataclass(frozen=True)
class Choice:
    """One candidate hospital with its score and the reasons, as text and as fields."""

    hospital_id: HospitalId
    condition: str
    capability: Capability  # what the condition needs (the hospital may lack it: ED_FALLBACK)
    basis: Basis
    eta_s: float  # road ETA, from the caller
    offload_wait_s: float  # reported, or the policy default when `offload_assumed`
    score_s: float  # eta_s + offload_wait_s; lower is better
    diverted: bool  # on diversion for `capability` (possible under the override bases)
    freshness: Freshness
    offload_assumed: bool
    nearest_ed_id: HospitalId | None  # the nearest open ED by road, for comparison
    extra_vs_nearest_ed_s: float | None  # eta_s minus that ED's ETA
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class Override:
    """A dispatcher sending the patient elsewhere than advised. Pure data; the server logs it."""

    who: str  # the dispatcher's id
    from_hospital_id: HospitalId | None  # the advised hospital; None if none was advised
    to_hospital_id: HospitalId
    reason: str  # free text from the dispatcher; never medical details or phone numbers
    at_s: float

    def __post_init__(self) -> None:
        if not self.who.strip() or not self.reason.strip():
            raise InvalidArgument("an override needs who made it and why")
        if self.from_hospital_id == self.to_hospital_id:
            raise InvalidArgument("an override must change the destination")
        if not math.isfinite(self.at_s):
            raise InvalidArgument(f"at_s {self.at_s!r} is not a finite number")


def override(
    registry: Registry,
    choices: list[Choice],
    to_hospital_id: str,
    who: str,
    reason: str,
    at_s: float,
) -> Override:
    """Record a dispatcher's choice of `to_hospital_id` over the top advised choice."""
    to = registry.hospital(to_hospital_id).id  # an unknown hospital raises UnknownHospital
    advised = choices[0].hospital_id if choices else None
    return Override(who, advised, to, reason, at_s)


@dataclass(frozen=True)
class _Candidate:
    hospital: Hospital
    eta_s: float
    status: CurrentStatus

    @property
    def score_s(self) -> float:
        return self.eta_s + self.status.offload_wait_min * 60.0


def rank_destinations(
    registry: Registry,
    travel_s: Mapping[HospitalId, float] | Mapping[str, float],
    condition: str,
    priority: int,
    now_s: float,
    params: DestinationParams | None = None,
) -> list[Choice]:
    """Candidate hospitals best first (lowest road ETA + offload wait), each with its reasons.

    `travel_s` maps hospital id to road ETA; a missing or infinite entry means unreachable and
    excludes the hospital. Empty only when no hospital with an ED is reachable at all.
    """
    params = params or DestinationParams()
    capability = required_capability(condition)
    if priority not in (1, 2, 3) or isinstance(priority, bool):
        raise InvalidArgument(f"priority {priority!r} must be 1, 2 or 3")
    reachable = _reachable(registry, travel_s, now_s)
    capable = [c for c in reachable if capability in c.hospital.capabilities]
    open_ = [c for c in capable if not c.status.diverts(capability)]
    eds = [c for c in reachable if Capability.ED in c.hospital.capabilities]
    # An ED fallback must not be a hospital that diverts this very patient (its stroke service
    # closed, its ED open): diverts() covers both the capability and whole-ED diversion.
    open_eds = [c for c in eds if not c.status.diverts(capability)]
    nearest_ed = min(
        [c for c in eds if not c.status.diverts(Capability.ED)] or eds,
        key=lambda c: c.eta_s,
        default=None,
    )
    bound_s = params.p1_override_bound_s
    near_open = any(c.eta_s <= bound_s for c in open_)
    if priority == 1 and len(open_) < len(capable) and not near_open:
        picks, basis, lead = capable, Basis.DIVERSION_OVERRIDDEN, ""
    elif open_:
        picks, basis, lead = open_, Basis.CAPABLE, ""
    elif open_eds:
        why = "every reachable" if capable else "no reachable"
        tail = "on diversion" if capable else ""
        lead = f"{why} {CAPABILITY_LABEL[capability]} {tail}".rstrip() + ": an open ED instead"
        picks, basis = open_eds, Basis.ED_FALLBACK
    else:
        picks, basis = eds, Basis.DIVERSION_VOID
        lead = "every reachable ED diverts this patient: diversion void"
    picks = sorted(picks, key=lambda c: (c.score_s, c.eta_s, c.hospital.id))
    return [
        _choice(c, condition, capability, basis, lead, nearest_ed, bound_s, priority) for c in picks
    ]


def _reachable(
    registry: Registry, travel_s: Mapping[HospitalId, float] | Mapping[str, float], now_s: float
) -> list[_Candidate]:
    out = []
    for hid, eta in travel_s.items():
        if hid not in registry:
            raise UnknownHospital(f"travel time given for unknown hospital {hid!r}")
        if not isinstance(eta, int | float) or math.isnan(eta) or eta < 0:
            raise InvalidArgument(f"travel time to {hid!r} is {eta!r}, not a time >= 0 s")
        if math.isfinite(eta):
            out.append(_Candidate(registry.hospital(hid), float(eta), registry.status(hid, now_s)))
    return out


def _choice(
    c: _Candidate,
    condition: str,
    capability: Capability,
    basis: Basis,
    lead: str,
    nearest_ed: _Candidate | None,
    bound_s: float,
    priority: int,
) -> Choice:
    diverted = c.status.diverts(capability)
    if basis is Basis.DIVERSION_OVERRIDDEN and not diverted:
        basis = Basis.CAPABLE  # an open centre beyond the bound, listed beside the diverted ones
    extra = None if nearest_ed is None else c.eta_s - nearest_ed.eta_s
    label = CAPABILITY_LABEL[capability]
    reasons = [f"{condition} → {label}" + (" (post-ROSC)" if condition == "cardiac_arrest" else "")]
    if lead:
        reasons.append(lead)
    reasons.append(
        f"{c.hospital.name_en}: {_min(c.eta_s)} by road + {_min(c.status.offload_wait_min * 60)}"
        f" offload = {_min(c.score_s)}"
    )
    if nearest_ed is not None and nearest_ed.hospital.id == c.hospital.id:
        reasons.append("is the nearest ED")
    elif extra is not None:
        reasons.append(
            f"{_min(abs(extra))} {'further' if extra >= 0 else 'nearer'} than nearest ED"
        )
    if c.status.freshness is not Freshness.REPORTED:
        said = "status expired" if c.status.freshness is Freshness.EXPIRED else "no status reported"
        reasons.append(
            f"{said}: diversion unknown, offload assumed {_min(c.status.offload_wait_min * 60)}"
        )
    elif c.status.offload_assumed:
        reasons.append(f"no offload wait reported: assumed {_min(c.status.offload_wait_min * 60)}")
    if diverted and basis is Basis.DIVERSION_OVERRIDDEN:
        reasons.append(
            f"on diversion, overridden: P{priority} and no open {label} within {_min(bound_s)}"
        )
    elif diverted:
        reasons.append("on diversion, overridden: every reachable ED diverts this patient")
    if c.status.ed_occupancy is not None:
        reasons.append(f"ED occupancy {c.status.ed_occupancy:.0%}")
    return Choice(
        hospital_id=c.hospital.id,
        condition=condition,
        capability=capability,
        basis=basis,
        eta_s=c.eta_s,
        offload_wait_s=c.status.offload_wait_min * 60.0,
        score_s=c.score_s,
        diverted=diverted,
        freshness=c.status.freshness,
        offload_assumed=c.status.offload_assumed,
        nearest_ed_id=None if nearest_ed is None else nearest_ed.hospital.id,
        extra_vs_nearest_ed_s=extra,
        reasons=tuple(reasons),
    )


def _min(seconds: float) -> str:
    return f"{seconds / 60.0:.0f} min"
