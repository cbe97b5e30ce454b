"""One cardiac arrest's volunteer call-out, as a whole: local density, roles kept stable, tally.

`volunteers` decides for one moment (whom to alert, who would fetch the best AED) and `alerts`
holds each volunteer's own lifecycle; this module joins them for one incident:

- `density_per_km2`: how many volunteers could be alerted around the incident, per km², the
  input `volunteers.alert_radius_m` widens or narrows its radius by;
- `plan_roles`: the role every acceptor should hold now. Roles are re-planned when someone
  accepts or withdraws, but a fetch already under way is never taken back: once the fetcher
  has set off (en route, or with the AED in hand) the AED is coming, and everyone else goes
  straight to CPR;
- `tally`: alerts by status, for the console;
- `call_out` and `CallOut`: the alerts one incident sent and every later change to them
  (answers, roles, the end, lapses), each method answering what changed.

Pure, like the modules it joins: positions, times and walking times come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aed_map.alerts import (
    ANSWER_TIMEOUT_S,
    LIVE,
    Alert,
    EndReason,
    Role,
    VolunteerStatus,
    advance,
    alert,
    assign,
    end,
    lapse,
)
from aed_map.errors import InvalidArgument
from aed_map.registry import AedId
from aed_map.volunteers import (
    Acceptor,
    AlertArea,
    RolePlan,
    Volunteer,
    VolunteerId,
    VolunteerParams,
    alert_radius_m,
    assign_roles,
    ineligible,
    select_volunteers,
)
from location_fusion.geo import haversine_m

S = VolunteerStatus
ASSIGNABLE = frozenset({S.ACCEPTED, S.EN_ROUTE})  # `alerts.assign` takes these only
FETCH_UNDER_WAY = frozenset({S.EN_ROUTE, S.WITH_AED})


def density_per_km2(
    volunteers: Iterable[Volunteer],
    lat: float,
    lon: float,
    now_s: float,
    params: VolunteerParams | None = None,
    within_m: float | None = None,
) -> float:
    """Alertable volunteers per km² in the disc of `within_m` (default: the largest alert
    radius) around a point: those `volunteers.ineligible` lets through, counted by straight
    line. The disc is the widest the radius may grow to, so the estimate looks at everyone the
    call-out could reach."""
    p = params or VolunteerParams()
    radius_m = p.max_radius_m if within_m is None else within_m
    if not (math.isfinite(radius_m) and radius_m > 0):
        raise InvalidArgument(f"within_m {radius_m!r} must be a positive number")
    if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(now_s)):
        raise InvalidArgument("lat, lon and now_s must be finite numbers")
    pool = [v for v in volunteers if ineligible(v, now_s, p) is None]
    if not pool:
        return 0.0
    d = haversine_m([v.lon for v in pool], [v.lat for v in pool], lon, lat)
    inside = int((d <= radius_m).sum())
    return inside / (math.pi * (radius_m / 1_000.0) ** 2)


def plan_roles(
    alerts: Sequence[Alert],
    acceptors: Mapping[VolunteerId, Acceptor],
    aed_to_patient_s: Mapping[AedId, float],
    ambulance_eta_s: float,
    params: VolunteerParams | None = None,
) -> tuple[dict[VolunteerId, tuple[Role, AedId | None]], RolePlan | None]:
    """The role each assignable alert (accepted or en route) should hold, and the plan behind it.

    `alerts` are the incident's alerts in acceptance order; `acceptors` holds the walking
    times of at least every assignable one. With a fetch under way (its fetcher en route or
    with the AED) that fetcher keeps the role and everyone else assignable is sent to CPR (no
    plan is made: the answer's plan is None). Otherwise `volunteers.assign_roles` decides
    among the assignable alerts, earlier acceptors winning ties.
    """
    assignable = [a for a in alerts if a.status in ASSIGNABLE]
    roles: dict[VolunteerId, tuple[Role, AedId | None]] = {
        a.volunteer_id: (Role.CPR, None) for a in assignable
    }
    committed = [a for a in alerts if a.role is Role.FETCH_AED and a.status in FETCH_UNDER_WAY]
    if committed:
        fetcher = committed[0]
        if fetcher.status in ASSIGNABLE:
            roles[fetcher.volunteer_id] = (Role.FETCH_AED, fetcher.aed_id)
        return roles, None
    missing = [a.volunteer_id for a in assignable if a.volunteer_id not in acceptors]
    if missing:
        raise InvalidArgument(f"no walking times for {', '.join(missing)}")
    plan = assign_roles(
        [acceptors[a.volunteer_id] for a in assignable], aed_to_patient_s, ambulance_eta_s, params
    )
    if plan.fetch is not None:
        roles[plan.fetch.volunteer_id] = (Role.FETCH_AED, plan.fetch.aed_id)
    return roles, plan


def tally(alerts: Iterable[Alert]) -> dict[str, int]:
    """How many alerts are in each status (every status named, zeros included)."""
    counts = {s.value: 0 for s in VolunteerStatus}
    for a in alerts:
        counts[a.status.value] += 1
    return counts


@dataclass
class CallOut:
    """One incident's call-out: how far out and why, every alert it sent, who accepted when.

    Mutable, in the engine's manner: each method applies one change and answers what changed,
    for the caller to record and publish.
    """

    incident_id: str
    radius_m: float
    ambulance_eta_s: float  # as estimated at eta_at_s
    eta_at_s: float
    density_per_km2: float
    alerts: dict[VolunteerId, Alert] = field(default_factory=dict)  # in alerting order
    distance_m: dict[VolunteerId, float] = field(default_factory=dict)  # straight line, at alert
    accepted: list[VolunteerId] = field(default_factory=list)  # in acceptance order
    note: str = ""  # why the roles are as they are (the last role plan)

    @property
    def live(self) -> bool:
        """True while any alert can still change (someone may still come)."""
        return any(a.status in LIVE for a in self.alerts.values())

    def eta_s(self, now_s: float) -> float:
        """The ambulance's ETA estimated at the call-out, counted down to `now_s`."""
        return max(self.ambulance_eta_s - (now_s - self.eta_at_s), 0.0)

    def in_acceptance_order(self) -> list[Alert]:
        return [self.alerts[v] for v in self.accepted]

    def answer(self, volunteer_id: VolunteerId, status: VolunteerStatus, now_s: float) -> Alert:
        """The volunteer's own move (`alerts.advance`); KeyError for one never alerted."""
        a = advance(self.alerts[volunteer_id], status, now_s)
        self.alerts[volunteer_id] = a
        if a.status is S.ACCEPTED:
            self.accepted.append(volunteer_id)
        return a

    def set_roles(
        self,
        roles: Mapping[VolunteerId, tuple[Role, AedId | None]],
        plan: RolePlan | None,
        now_s: float,
    ) -> list[Alert]:
        """Apply `plan_roles`' answer; the alerts whose role changed."""
        if plan is not None:
            self.note = plan.note
        changed = []
        for vid, (role, aed_id) in roles.items():
            a = self.alerts[vid]
            if (a.role, a.aed_id) != (role, aed_id):
                changed.append(self._keep(assign(a, role, aed_id, now_s)))
        return changed

    def end(self, reason: EndReason, now_s: float) -> list[Alert]:
        """End every live alert (`alerts.end_all`); the alerts that ended now."""
        return [self._keep(end(a, reason, now_s)) for a in self.alerts.values() if a.status in LIVE]

    def lapse(self, now_s: float, timeout_s: float = ANSWER_TIMEOUT_S) -> list[Alert]:
        """End the alerts nobody answered within `timeout_s`; those that lapsed now."""
        due = [b for a in self.alerts.values() if (b := lapse(a, now_s, timeout_s)) is not a]
        return [self._keep(b) for b in due]

    def _keep(self, a: Alert) -> Alert:
        self.alerts[a.volunteer_id] = a
        return a


def call_out(
    incident_id: str,
    lat: float,
    lon: float,
    volunteers: Sequence[Volunteer],
    ambulance_eta_s: float,
    now_s: float,
    params: VolunteerParams | None = None,
) -> CallOut:
    """Alert the closest eligible volunteers within the radius the ETA and density call for."""
    p = params or VolunteerParams()
    density = density_per_km2(volunteers, lat, lon, now_s, p)
    radius_m = alert_radius_m(ambulance_eta_s, density, p)
    out = CallOut(incident_id, radius_m, ambulance_eta_s, now_s, density)
    for c in select_volunteers(volunteers, AlertArea(lat, lon, radius_m), now_s, p):
        out.alerts[c.volunteer.id] = alert(c.volunteer.id, incident_id, now_s)
        out.distance_m[c.volunteer.id] = c.distance_m
    return out
