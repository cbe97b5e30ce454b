"""One volunteer's alert for one incident: its legal moves, its end, and what their phone shows.

    alerted ─┬─> accepted ─┬─> en_route ─┬─> with_aed ──> on_scene   (fetches the AED)
             │             │             └──────────────> on_scene   (straight to CPR)
             │             └────────────────────────────> on_scene   (was already there)
             └─> declined
    alerted | accepted | en_route | with_aed | on_scene ──> cancelled
        (ambulance arrived, incident cancelled, no answer in time, volunteer withdrew)

`declined` and `cancelled` are final. Ending is idempotent: when the ambulance arrives, every
live alert of the incident ends, and an alert already ended stays as it was.

Privacy: a stranger's home address is only revealed to a volunteer who has accepted, and only
while the alert lives; the view never carries medical details, because its input type has
none — the dispatch side hands over a place, not a patient record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from aed_map.errors import IllegalTransition, InvalidArgument
from aed_map.registry import Aed, AedId
from aed_map.volunteers import VolunteerId


class VolunteerStatus(StrEnum):
    ALERTED = "alerted"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EN_ROUTE = "en_route"
    WITH_AED = "with_aed"  # has the AED in hand, on the way to the patient
    ON_SCENE = "on_scene"
    CANCELLED = "cancelled"


class EndReason(StrEnum):
    AMBULANCE_ARRIVED = "ambulance_arrived"
    INCIDENT_CANCELLED = "incident_cancelled"
    NO_ANSWER = "no_answer"
    WITHDRAWN = "withdrawn"  # the volunteer pulled out after accepting


class Role(StrEnum):
    NONE = "none"  # not yet assigned
    CPR = "cpr"  # straight to the patient
    FETCH_AED = "fetch_aed"


S = VolunteerStatus
TRANSITIONS: dict[VolunteerStatus, frozenset[VolunteerStatus]] = {
    S.ALERTED: frozenset({S.ACCEPTED, S.DECLINED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.EN_ROUTE, S.ON_SCENE, S.CANCELLED}),
    S.EN_ROUTE: frozenset({S.WITH_AED, S.ON_SCENE, S.CANCELLED}),
    S.WITH_AED: frozenset({S.ON_SCENE, S.CANCELLED}),
    S.ON_SCENE: frozenset({S.CANCELLED}),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
}
LIVE = frozenset(s for s, nxt in TRANSITIONS.items() if nxt)
SHOWS_ADDRESS = frozenset({S.ACCEPTED, S.EN_ROUTE, S.WITH_AED, S.ON_SCENE})
ANSWER_TIMEOUT_S = 120.0  # an unanswered alert lapses: by then others have answered or not


@dataclass(frozen=True)
class Alert:
    """The state of one volunteer's alert for one incident."""

    volunteer_id: VolunteerId
    incident_id: str
    status: VolunteerStatus
    alerted_at_s: float
    updated_at_s: float
    role: Role = Role.NONE
    aed_id: AedId | None = None  # the AED to fetch, when role is FETCH_AED
    ended: EndReason | None = None


def alert(volunteer_id: VolunteerId, incident_id: str, now_s: float) -> Alert:
    """A new alert, sent now."""
    if not math.isfinite(now_s):
        raise InvalidArgument(f"now_s {now_s!r} is not a finite number")
    return Alert(volunteer_id, incident_id, S.ALERTED, now_s, now_s)


def advance(a: Alert, status: VolunteerStatus, now_s: float) -> Alert:
    """The volunteer's own move (accept, decline, set off, pick up the AED, arrive, withdraw).

    Withdrawing is `status=CANCELLED` (reason WITHDRAWN). Raises IllegalTransition for a
    move the current status does not allow, including any move out of a final status, and
    for WITH_AED without the fetch role.
    """
    _check_time(a, now_s)
    if status not in TRANSITIONS[a.status]:
        raise IllegalTransition(f"{a.volunteer_id}: {a.status} cannot become {status}")
    if status is S.WITH_AED and a.role is not Role.FETCH_AED:
        raise IllegalTransition(f"{a.volunteer_id}: with_aed needs the fetch_aed role")
    ended = EndReason.WITHDRAWN if status is S.CANCELLED else None
    return replace(a, status=status, updated_at_s=now_s, ended=ended)


def assign(a: Alert, role: Role, aed_id: AedId | None, now_s: float) -> Alert:
    """Give an accepted volunteer a role (from volunteers.assign_roles); fetchers get an AED id."""
    _check_time(a, now_s)
    if a.status not in (S.ACCEPTED, S.EN_ROUTE):
        raise IllegalTransition(f"{a.volunteer_id}: cannot assign a role while {a.status}")
    if (role is Role.FETCH_AED) != (aed_id is not None):
        raise InvalidArgument("an AED id goes with the fetch_aed role and only with it")
    return replace(a, role=role, aed_id=aed_id, updated_at_s=now_s)


def end(a: Alert, reason: EndReason, now_s: float) -> Alert:
    """End a live alert (ambulance arrived, incident cancelled, ...); a final one is kept."""
    if a.status not in LIVE:
        return a
    _check_time(a, now_s)
    return replace(a, status=S.CANCELLED, updated_at_s=now_s, ended=reason)


def end_all(alerts: tuple[Alert, ...], reason: EndReason, now_s: float) -> tuple[Alert, ...]:
    """End every live alert of an incident at once (the ambulance is there, or no incident)."""
    return tuple(end(a, reason, now_s) for a in alerts)


def lapse(a: Alert, now_s: float, timeout_s: float = ANSWER_TIMEOUT_S) -> Alert:
    """End an alert nobody answered within `timeout_s`; any other alert is returned as is."""
    if a.status is S.ALERTED and now_s - a.alerted_at_s >= timeout_s:
        return end(a, EndReason.NO_ANSWER, now_s)
    return a


def _check_time(a: Alert, now_s: float) -> None:
    if not (math.isfinite(now_s) and now_s >= a.updated_at_s):
        raise InvalidArgument(f"now_s {now_s!r} is before the alert's last update")


@dataclass(frozen=True)
class AlertIncident:
    """What dispatch hands over about an incident for volunteers: a place, never a patient."""

    incident_id: str
    lat: float
    lon: float
    address: str  # as the caller gave it; may be a home address
    access_hint: str = ""  # "2 单元 5 楼，门禁 0502" — how to get in


@dataclass(frozen=True)
class VolunteerView:
    """Everything a volunteer's phone may show for one alert."""

    incident_id: str
    status: VolunteerStatus
    message: str
    distance_m: int | None  # straight line, rounded up to 100 m; before acceptance too
    address: str | None  # only after acceptance, only while the alert lives
    lat: float | None
    lon: float | None
    access_hint: str | None
    role: Role
    aed: tuple[str, float, float] | None  # (where it is, lat, lon) for the fetcher


MESSAGES = {
    S.ALERTED: "附近有人疑似心脏骤停，您能前往协助吗？",
    S.ACCEPTED: "谢谢！请按指引前往。",
    S.EN_ROUTE: "正在前往。",
    S.WITH_AED: "请尽快把 AED 送到患者身边。",
    S.ON_SCENE: "请立即胸外按压，有 AED 就打开并按语音提示操作，听从调度员指导。",
    S.DECLINED: "已收到，谢谢。",
    S.CANCELLED: "本次求助已结束，谢谢您。",
}


def volunteer_view(
    a: Alert, incident: AlertIncident, distance_m: float | None, aed: Aed | None = None
) -> VolunteerView:
    """The view for the volunteer of `a`; the address and AED only in SHOWS_ADDRESS states."""
    if incident.incident_id != a.incident_id:
        raise InvalidArgument("the incident is not the alert's incident")
    live = a.status in SHOWS_ADDRESS
    near = None
    if distance_m is not None and a.status in LIVE and math.isfinite(distance_m):
        near = int(math.ceil(max(distance_m, 1.0) / 100.0) * 100)
    fetch = live and a.role is Role.FETCH_AED and aed is not None and aed.id == a.aed_id
    return VolunteerView(
        incident_id=a.incident_id,
        status=a.status,
        message=MESSAGES[a.status],
        distance_m=near,
        address=incident.address if live else None,
        lat=incident.lat if live else None,
        lon=incident.lon if live else None,
        access_hint=(incident.access_hint or None) if live else None,
        role=a.role if live else Role.NONE,
        aed=(aed.location or aed.description, aed.lat, aed.lon) if fetch and aed else None,
    )
