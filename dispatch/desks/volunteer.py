"""The CPR-volunteer desk: who volunteers, who is on duty where, and each cardiac arrest's call-out.

A P1 cardiac arrest (a call with that complaint, or a triage to it) alerts the closest
verified volunteers on duty within a radius that adapts to the ambulance's ETA and the local
density of volunteers (`aed_map.volunteers`, `aed_map.callout`). Each answers over their own
socket; acceptors are split into one who fetches the best AED and the others who go straight
to CPR, re-planned on each acceptance or withdrawal; every live alert ends when the ambulance
is on scene or the incident is cancelled, and one nobody answers lapses after the answer
timeout (checked on each clock tick). What a volunteer's phone shows is `aed_map.alerts.
volunteer_view`: the address only after accepting and only while the alert lives, never a
medical detail.

Durable, in the "volunteers" feed of the event log (never published; read back page by page
when the desk attaches, so a restart loses nothing acknowledged): registrations (a keyed hash
of the phone, never the number), certificate verifications, each call-out's radius and ETA,
and every change of every alert, each in the same batch as the frames it caused. Those
frames go to the volunteer's fed topic "volunteer:<id>", logged before they are published.

In memory only, like traffic: duty, the consent's expiry and the last position. A restart
forgets them, so every volunteer is off duty until their phone says otherwise; a position is
dropped when its volunteer goes off duty or their consent expires.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aed_map import errors as aed_errors
from aed_map.alerts import (
    ANSWER_TIMEOUT_S,
    LIVE,
    SHOWS_ADDRESS,
    Alert,
    AlertIncident,
    EndReason,
    Role,
    VolunteerView,
    volunteer_view,
)
from aed_map.alerts import VolunteerStatus as S
from aed_map.callout import ASSIGNABLE, CallOut, call_out, plan_roles, tally
from aed_map.registry import AedId
from aed_map.volunteers import Acceptor, Volunteer, VolunteerId, VolunteerParams
from aed_map.walking import nearest_aeds, walk_times_s
from dispatch.core import events as ev
from dispatch.core.engine import Incident
from dispatch.core.model import Complaint, IncidentId, Priority, Step
from dispatch.errors import (
    IllegalTransition,
    InvalidEvent,
    StoreError,
    UnknownIncident,
    UnknownUnit,
)
from dispatch.live.feeds import fed
from dispatch.service.service import DispatchService
from dispatch.service.views import Frame
from dispatch.store.eventlog import MAX_FEED_READ
from dispatch.tokens import Role as TokenRole
from dispatch.tokens import sha256_hex
from location_fusion.geo import haversine_m
from routing.errors import InvalidCoordinate, OutsideNetwork

FEED = "volunteers"  # the desk's durable feed; not a hub topic ("volunteer:" with a colon is)
NAME = "volunteers"  # the desk in svc.extensions
CONFIG = "volunteers.config"  # a DeskConfig an opener may put in svc.extensions before attach
DEFAULT_ETA_S = 600.0  # no unit to time: assume a 10-min response (radius then ~1 km)
MAX_CONSENT_S = 12 * 3600.0  # one shift at most: consent to share a position lapses
AED_WALK_S = 900.0  # AEDs farther than 15 min on foot from the patient are not fetched
AED_CANDIDATES = 5  # the nearest open AEDs considered for a fetch
SWEEP_S = 5.0  # expired consents are swept this often
KEEP_ENDED = 1000  # closed incidents' call-outs kept for the dispatcher's GET
ANSWERS = {
    "accept": S.ACCEPTED,
    "decline": S.DECLINED,
    "en_route": S.EN_ROUTE,
    "with_aed": S.WITH_AED,
    "on_scene": S.ON_SCENE,
    "withdraw": S.CANCELLED,
}
PLACE_KEYS = ("address", "lat", "lon", "access_hint", "aed")  # what only an acceptor sees


class UnknownVolunteer(UnknownUnit):
    """404: no volunteer with this id."""

    reason = "unknown_volunteer"


class NotVerified(IllegalTransition):
    """409: no verified CPR certificate yet, so no duty."""

    reason = "not_verified"


class OffDuty(IllegalTransition):
    """409: a position while off duty is not taken."""

    reason = "off_duty"


class ConsentExpired(IllegalTransition):
    """409: the consent to share a position has expired; go on duty again."""

    reason = "consent_expired"


class InvalidInput(InvalidEvent):
    """422: a value out of range, of the wrong type, or not a number."""

    reason = "invalid_input"


@dataclass(frozen=True)
class DeskConfig:
    """The core's parameters and the desk's own timings (defaults say why)."""

    params: VolunteerParams = field(default_factory=VolunteerParams)
    answer_timeout_s: float = ANSWER_TIMEOUT_S
    default_eta_s: float = DEFAULT_ETA_S
    max_consent_s: float = MAX_CONSENT_S

    def __post_init__(self) -> None:
        for name in ("answer_timeout_s", "default_eta_s", "max_consent_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass
class Member:
    """A registered volunteer: durable identity and certificate; duty and position in memory."""

    volunteer_id: VolunteerId
    phone_hash: str  # keyed hash: the number itself is never kept
    key_hash: str  # keyed hash of (phone, idempotency key): a retry finds its registration
    display_name: str
    cpr_verified: bool = False
    on_duty: bool = False
    consent_expires_at_s: float = 0.0
    lat: float | None = None
    lon: float | None = None
    reported_at_s: float = 0.0

    def core(self) -> Volunteer | None:
        if self.lat is None or self.lon is None:
            return None
        return Volunteer(
            self.volunteer_id,
            self.cpr_verified,
            self.on_duty,
            self.lat,
            self.lon,
            self.reported_at_s,
            self.consent_expires_at_s,
        )

    def go_off_duty(self) -> None:
        self.on_duty, self.consent_expires_at_s = False, 0.0
        self.lat = self.lon = None
        self.reported_at_s = 0.0


def is_arrest(inc: Incident) -> bool:
    return inc.priority is Priority.P1 and inc.complaint is Complaint.CARDIAC_ARREST


def view_body(view: VolunteerView) -> dict[str, Any]:
    aed = view.aed
    return {
        "incident_id": view.incident_id,
        "status": view.status.value,
        "message": view.message,
        "distance_m": view.distance_m,
        "address": view.address,
        "lat": view.lat,
        "lon": view.lon,
        "access_hint": view.access_hint,
        "role": view.role.value,
        "aed": {"location": aed[0], "lat": aed[1], "lon": aed[2]} if aed is not None else None,
    }


def _number(value: Any, low: float, high: float, name: str) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and low <= value <= high):
        raise InvalidInput(f"{name} must be a number in {low:g}..{high:g}")
    return float(value)


class VolunteerDesk:
    """The registry, duty and call-outs of one dispatch service (`attach` builds it)."""

    def __init__(self, svc: DispatchService, config: DeskConfig) -> None:
        self.svc = svc
        self.config = config
        self.members: dict[VolunteerId, Member] = {}
        self._by_key: dict[str, VolunteerId] = {}
        self._by_token: dict[str, VolunteerId] = {}  # SHA-256 of the token -> volunteer
        self._pending: dict[VolunteerId, asyncio.Future[None]] = {}  # registration in flight
        self.cases: dict[IncidentId, CallOut] = {}
        self._open: set[IncidentId] = set()  # cases whose incident is open
        self._ended: deque[IncidentId] = deque()  # closed incidents' cases, oldest first
        self._aeds = {a.id: a for a in svc.aeds.index.aeds}
        self._latest_s = 0.0  # the latest record's time: alert times never go back
        self._swept_at_s = -math.inf

    # --- time, the feed and publishing --------------------------------------------------------
    def now(self) -> float:
        return max(self.svc.now(), self._latest_s)

    def rebuild(self) -> None:
        """Read the feed back, page by page: registrations, verifications, open call-outs."""
        after = 0
        while page := self.svc.log.read_feed(FEED, after, MAX_FEED_READ):
            for record in page:
                self._apply(record.body, record.at_s)
            after = page[-1].seq
        for incident_id in list(self.cases):
            inc = self.svc.engine.incidents.get(incident_id)
            if inc is None or not inc.open:
                del self.cases[incident_id]
            else:
                self._open.add(incident_id)

    def _apply(self, body: dict[str, Any], at_s: float) -> None:
        self._latest_s = max(self._latest_s, at_s)
        kind, vid = body.get("kind"), VolunteerId(str(body.get("volunteer_id")))
        if kind == "registered":
            m = Member(vid, body["phone_hash"], body["key_hash"], body["display_name"])
            self.members[vid] = m
            self._by_key[m.key_hash] = vid
            self._by_token[sha256_hex(self.svc.tokens.volunteer_token(vid))] = vid
        elif kind == "verified" and vid in self.members:
            self.members[vid].cpr_verified = bool(body["cpr_verified"])
        elif kind == "case":
            iid = IncidentId(body["incident_id"])
            self.cases[iid] = CallOut(
                iid, body["radius_m"], body["ambulance_eta_s"], at_s, body["density_per_km2"]
            )
        elif kind == "alert" and (case := self.cases.get(IncidentId(body["incident_id"]))):
            aed_id = body["aed_id"]
            case.alerts[vid] = Alert(
                vid,
                case.incident_id,
                S(body["status"]),
                body["alerted_at_s"],
                body["updated_at_s"],
                Role(body["role"]),
                AedId(aed_id) if aed_id is not None else None,
                EndReason(body["ended"]) if body["ended"] is not None else None,
            )
            case.distance_m[vid] = body["distance_m"]
            if body["accepted"] and vid not in case.accepted:
                case.accepted.append(vid)
            case.note = body.get("note", case.note)

    def _record(self, body: dict[str, Any], *, lazy: bool) -> asyncio.Future[None] | None:
        """Append one record to the desk's feed (logged, not published); a future done once
        durable (None: written synchronously, before the service started). A lazy record
        rides in the next batch: the one the event or the frames queued right after it start."""
        self._latest_s = self.now()
        return self.svc.feeds.feed(FEED, body, lazy=lazy)

    def _publish(self, frames: list[Frame]) -> asyncio.Future[None] | None:
        """Outside an engine event: log the fed frames (with the desk records queued before
        them, in one batch), publish them, then the console's once they are durable."""
        last: asyncio.Future[None] | None = None
        for topic, message, _ in frames:
            if fed(topic) and message is not None:
                last = self.svc.feeds.feed(topic, message)
        console = [(t, m) for t, m, _ in frames if not fed(t) and m is not None]
        hub = self.svc.hub

        def publish(done: asyncio.Future[None] | None = None) -> None:
            if done is None or (not done.cancelled() and done.exception() is None):
                for topic, message in console:
                    hub.publish(topic, message)

        if last is None:
            publish()
        else:
            last.add_done_callback(publish)
        return last

    def _writable(self) -> None:
        if self.svc.poisoned:
            raise StoreError("the event log failed earlier; the server must be restarted")

    # --- registry -----------------------------------------------------------------------------
    def resolve(self, token: str) -> tuple[TokenRole, str] | None:
        """A token resolver for the service: a volunteer's derived token names them."""
        vid = self._by_token.get(sha256_hex(token))
        return (TokenRole.VOLUNTEER, vid) if vid is not None else None

    def member(self, volunteer_id: str) -> Member:
        m = self.members.get(VolunteerId(volunteer_id))
        if m is None:
            raise UnknownVolunteer(f"no volunteer {volunteer_id}")
        return m

    async def register(
        self, phone: str, display_name: str, key: str
    ) -> tuple[dict[str, Any], bool]:
        """Register a phone under a key; a retry with the same key (and phone) gets the first
        answer. Another key is another, unverified registration, even for a phone registered
        already: the answer is the same for a new and a known phone (no oracle of who
        volunteers), and a token is only ever handed to the key it was made for."""
        keyed = self.svc.tokens.keyed_hash
        key_hash = keyed("volunteer-key", phone, key)
        vid = self._by_key.get(key_hash)
        created = vid is None
        if vid is None:
            phone_hash = keyed("volunteer-phone", phone)
            self._writable()
            vid = VolunteerId("v" + secrets.token_hex(8))
            body = {
                "kind": "registered",
                "volunteer_id": vid,
                "phone_hash": phone_hash,
                "key_hash": key_hash,
                "display_name": display_name,
            }
            self._apply(body, self.now())
            done = self._record(body, lazy=False)
            if done is not None:
                self._pending[vid] = done
        await self._durable(vid)
        m = self.members[vid]
        answer = {
            "volunteer_id": vid,
            "token": self.svc.tokens.volunteer_token(vid),
            "display_name": m.display_name,
            "cpr_verified": m.cpr_verified,
        }
        return answer, created

    async def _durable(self, vid: VolunteerId) -> None:
        """Wait until the volunteer's registration is in the log (a retry waits too)."""
        done = self._pending.get(vid)
        if done is not None:
            await asyncio.shield(done)
            self._pending.pop(vid, None)

    async def verify(self, volunteer_id: str, cpr_verified: bool) -> dict[str, Any]:
        """The operator checked (or withdrew) the certificate; withdrawing ends the duty."""
        m = self.member(volunteer_id)
        await self._durable(m.volunteer_id)
        if m.cpr_verified != cpr_verified:
            self._writable()
            m.cpr_verified = cpr_verified
            if not cpr_verified:
                m.go_off_duty()
            body = {
                "kind": "verified",
                "volunteer_id": m.volunteer_id,
                "cpr_verified": cpr_verified,
            }
            done = self._record(body, lazy=False)
            if done is not None:
                await asyncio.shield(done)
        return {
            "volunteer_id": m.volunteer_id,
            "display_name": m.display_name,
            "cpr_verified": m.cpr_verified,
        }

    def state(self, volunteer_id: str, *, alerts: bool = True) -> dict[str, Any]:
        """What a volunteer sees of themself: duty, consent, position and (`alerts`) their
        live alerts; a shown address is audited as a read of the incident."""
        m = self.member(volunteer_id)
        position = None
        if m.lat is not None:
            position = {"lat": m.lat, "lon": m.lon, "reported_at_s": m.reported_at_s}
        out = {
            "volunteer_id": m.volunteer_id,
            "display_name": m.display_name,
            "cpr_verified": m.cpr_verified,
            "on_duty": m.on_duty,
            "consent_expires_in_s": round(max(m.consent_expires_at_s - self.now(), 0.0)),
            "position": position,
        }
        if alerts:
            views = [
                view_body(self._view(c, a))
                for c, a in self._all_live()
                if a.volunteer_id == m.volunteer_id
            ]
            shown = [v["incident_id"] for v in views if v["address"] is not None]
            self.svc.feeds.audit(
                TokenRole.VOLUNTEER.value, m.volunteer_id, "volunteer.state", shown
            )
            out["alerts"] = views
        return out

    # --- duty and position (in memory) ----------------------------------------------------------
    def set_duty(self, volunteer_id: str, on_duty: Any, consent_s: Any) -> dict[str, Any]:
        """On duty with a consent to share a position for `consent_s`; off duty forgets it."""
        m = self.member(volunteer_id)
        if not isinstance(on_duty, bool):
            raise InvalidInput("on_duty must be true or false")
        if not on_duty:
            m.go_off_duty()
            return self.state(volunteer_id, alerts=False)
        if not m.cpr_verified:
            raise NotVerified("an operator has not verified this volunteer's CPR certificate")
        seconds = _number(consent_s, 1.0, self.config.max_consent_s, "consent_expires_in_s")
        m.on_duty, m.consent_expires_at_s = True, self.now() + seconds
        return self.state(volunteer_id, alerts=False)

    def report_location(self, volunteer_id: str, lat: Any, lon: Any) -> dict[str, Any]:
        """Keep the volunteer's position; above `positions_per_source_per_s` the newest is
        kept when the limit allows and the others are dropped (`svc.inputs.position`)."""
        m = self.member(volunteer_id)
        lat, lon = _number(lat, -90.0, 90.0, "lat"), _number(lon, -180.0, 180.0, "lon")
        now = self.now()
        if not m.on_duty:
            raise OffDuty("go on duty (with consent) before sharing a position")
        if m.consent_expires_at_s <= now:
            m.go_off_duty()
            raise ConsentExpired("the consent to share a position expired: go on duty again")

        def keep() -> None:
            if m.on_duty:  # a held position of someone gone off duty meanwhile is not kept
                m.lat, m.lon, m.reported_at_s = lat, lon, now

        self.svc.inputs.position(("volunteer", volunteer_id), keep)
        return self.state(volunteer_id, alerts=False)

    def _sweep_consents(self, now: float) -> None:
        """Drop the position of everyone whose consent expired (privacy: not kept past it)."""
        self._swept_at_s = now
        for m in self.members.values():
            if m.on_duty and m.consent_expires_at_s <= now:
                m.go_off_duty()

    # --- the engine's events ------------------------------------------------------------------
    def watch(self, event: ev.Event, decisions: list[ev.Decision]) -> list[Frame]:
        """A service watcher: call out on a P1 cardiac arrest, end alerts when the ambulance is
        on scene or the incident is cancelled or re-triaged, lapse unanswered alerts."""
        out: list[Frame] = []
        for d in decisions:
            if isinstance(d, ev.IncidentStepped):
                if d.step is Step.ON_SCENE:
                    out += self._end(d.incident_id, EndReason.AMBULANCE_ARRIVED)
                elif d.step in (Step.CANCELLED, Step.CLOSED):
                    out += self._end(d.incident_id, EndReason.INCIDENT_CANCELLED)
                if d.step is Step.CLOSED:
                    self._close(d.incident_id)
        if isinstance(event, ev.CallReceived | ev.IncidentTriaged):
            inc = self.svc.engine.incidents[event.incident_id]
            if not is_arrest(inc):  # re-triaged: nobody should run to it any more
                out += self._end(inc.incident_id, EndReason.INCIDENT_CANCELLED)
            elif self._due(inc):
                out += self._call_out(inc, decisions)
        elif isinstance(event, ev.IncidentLocated) and event.incident_id in self._open:
            out += self._relocated(self.cases[event.incident_id])
        elif isinstance(event, ev.IncidentLocated):  # an arrest held unlocated is placed at last
            inc = self.svc.engine.incidents[event.incident_id]
            if is_arrest(inc) and self._due(inc):
                out += self._call_out(inc, decisions)
        elif isinstance(event, ev.ClockTicked):
            # A tick that decided nothing is not logged, and neither would frames it returned
            # be: lapses are written on their own.
            self._publish(self._lapse())
        return out

    def _due(self, inc: Incident) -> bool:
        """An open arrest not called out yet, and the crew not there yet (too late to help)."""
        if inc.location_status == "unlocated":  # nobody is sent to a placeholder place
            return False
        return inc.open and inc.incident_id not in self.cases and Step.ON_SCENE not in inc.timeline

    def _call_out(self, inc: Incident, decisions: Iterable[ev.Decision]) -> list[Frame]:
        busy = {a.volunteer_id for _, a in self._all_live()}  # answering another arrest
        pool = [
            v
            for m in self.members.values()
            if m.volunteer_id not in busy and (v := m.core()) is not None
        ]
        eta_s = self._first_eta(inc, decisions)
        case = call_out(
            inc.incident_id, inc.lat, inc.lon, pool, eta_s, self.now(), self.config.params
        )
        self.cases[inc.incident_id] = case
        self._open.add(inc.incident_id)
        self._record(
            {
                "kind": "case",
                "incident_id": inc.incident_id,
                "radius_m": case.radius_m,
                "ambulance_eta_s": eta_s,
                "density_per_km2": case.density_per_km2,
            },
            lazy=True,
        )
        return [*(self._changed(case, a) for a in case.alerts.values()), self._status(case)]

    def _first_eta(self, inc: Incident, decisions: Iterable[ev.Decision]) -> float:
        """The best recommendation's ETA, else the coming unit's, else the default."""
        for d in decisions:
            if isinstance(d, ev.Recommended) and d.incident_id == inc.incident_id and d.options:
                return float(d.options[0].eta_s)
        coming = self.svc.views.approach(inc)
        if coming is not None and coming["eta_s"] is not None:
            return float(coming["eta_s"])
        return self.config.default_eta_s

    def _eta_now(self, case: CallOut) -> float:
        """The coming unit's driving ETA now, else the call-out's estimate counted down."""
        coming = self.svc.views.approach(self.svc.engine.incidents[IncidentId(case.incident_id)])
        if coming is not None and coming["eta_s"] is not None:
            return float(coming["eta_s"])
        return case.eta_s(self.now())

    def _end(self, incident_id: IncidentId, reason: EndReason) -> list[Frame]:
        case = self.cases.get(incident_id)
        if case is None or not case.live:
            return []
        ended = case.end(reason, self.now())
        return [*(self._changed(case, a) for a in ended), self._status(case)]

    def _close(self, incident_id: IncidentId) -> None:
        if incident_id in self._open:
            self._open.discard(incident_id)
            self._ended.append(incident_id)
            while len(self._ended) > KEEP_ENDED:
                self.cases.pop(self._ended.popleft(), None)

    def _relocated(self, case: CallOut) -> list[Frame]:
        """The incident moved: every live alert gets its new distance, acceptors the place."""
        inc = self.svc.engine.incidents[IncidentId(case.incident_id)]
        frames = []
        for a in case.alerts.values():
            m = self.members.get(a.volunteer_id)
            if a.status in LIVE and m is not None:
                if m.lat is not None and m.lon is not None:
                    d = haversine_m(m.lon, m.lat, inc.lon, inc.lat)
                    case.distance_m[a.volunteer_id] = float(d)
                frames.append(self._changed(case, a, "volunteer.update"))
        return frames

    def _lapse(self) -> list[Frame]:
        """Unanswered alerts past the answer timeout end; expired consents are swept."""
        now = self.now()
        if now - self._swept_at_s >= SWEEP_S:
            self._sweep_consents(now)
        frames: list[Frame] = []
        for incident_id in list(self._open):
            case = self.cases[incident_id]
            lapsed = case.lapse(now, self.config.answer_timeout_s)
            if lapsed:
                frames += [*(self._changed(case, a) for a in lapsed), self._status(case)]
        return frames

    # --- a volunteer's answers ----------------------------------------------------------------
    async def answer(self, volunteer_id: str, incident_id: Any, kind: str) -> dict[str, Any]:
        """The volunteer's move on their alert; roles re-planned on an accept or a withdrawal.
        Answered once durable; the volunteer's socket gets the new view too."""
        vid = VolunteerId(volunteer_id)
        case = self.cases.get(IncidentId(incident_id)) if isinstance(incident_id, str) else None
        if case is None or vid not in case.alerts:
            raise UnknownIncident("no alert of yours for that incident")
        self._writable()
        now = self.now()
        try:
            mine = case.answer(vid, ANSWERS[kind], now)
        except aed_errors.IllegalTransition as exc:
            raise IllegalTransition(str(exc)) from None
        except aed_errors.InvalidArgument as exc:
            raise InvalidInput(str(exc)) from None
        changed = {vid: mine}
        if mine.status in (S.ACCEPTED, S.CANCELLED):
            changed.update((a.volunteer_id, a) for a in self._replan(case, now))
        frames = [self._changed(case, a, "volunteer.update") for a in changed.values()]
        done = self._publish([*frames, self._status(case)])
        if done is not None:
            await asyncio.shield(done)
        mine = case.alerts[vid]
        return {
            "type": "accepted",
            "frame": kind,
            "incident_id": case.incident_id,
            "status": mine.status.value,
            "role": mine.role.value,
        }

    def _replan(self, case: CallOut, now: float) -> list[Alert]:
        """Give every acceptor the role the plan says now; the alerts whose role changed."""
        order = case.in_acceptance_order()
        assignable = [a.volunteer_id for a in order if a.status in ASSIGNABLE]
        if not assignable:
            return []
        inc = self.svc.engine.incidents[IncidentId(case.incident_id)]
        to_patient = self._aeds_near(inc)
        acceptors = {v: self._acceptor(v, inc, to_patient) for v in assignable}
        roles, plan = plan_roles(
            order, acceptors, to_patient, self._eta_now(case), self.config.params
        )
        return case.set_roles(roles, plan, now)

    def _aeds_near(self, inc: Incident) -> dict[AedId, float]:
        """Walking seconds from the patient to the nearest AEDs open now (or of unknown hours)."""
        try:
            options = nearest_aeds(
                self.svc.aeds.index,
                inc.lat,
                inc.lon,
                datetime.now(self.svc.aeds.city_time),
                AED_CANDIDATES,
                AED_WALK_S,
            )
        except (OutsideNetwork, InvalidCoordinate):
            return {}
        return {o.aed.id: o.walk_s for o in options}

    def _acceptor(self, vid: VolunteerId, inc: Incident, near: dict[AedId, float]) -> Acceptor:
        """An acceptor's walking times to those AEDs from their last position (none: no fetch)."""
        m = self.members.get(vid)
        if m is None or m.lat is None or m.lon is None:
            return Acceptor(vid, math.inf, {})
        walk = self.svc.aeds.index.params
        line_m = float(haversine_m(m.lon, m.lat, inc.lon, inc.lat))
        try:
            walks = walk_times_s(self.svc.aeds.index, m.lat, m.lon, AED_WALK_S)
        except (OutsideNetwork, InvalidCoordinate):
            walks = {}
        to_aed = {aed_id: t for aed_id, t in walks.items() if aed_id in near}
        return Acceptor(vid, line_m * walk.detour_factor / walk.speed_mps, to_aed)

    # --- views and frames ---------------------------------------------------------------------
    def _all_live(self) -> Iterable[tuple[CallOut, Alert]]:
        for incident_id in self._open:
            case = self.cases[incident_id]
            for a in case.alerts.values():
                if a.status in LIVE:
                    yield case, a

    def _view(self, case: CallOut, a: Alert) -> VolunteerView:
        inc = self.svc.engine.incidents[IncidentId(case.incident_id)]
        address = self.svc.locations.description(inc.incident_id, inc.lat, inc.lon)
        place = AlertIncident(inc.incident_id, inc.lat, inc.lon, address)
        aed = self._aeds.get(a.aed_id) if a.aed_id is not None else None
        return volunteer_view(a, place, case.distance_m.get(a.volunteer_id), aed)

    def _changed(self, case: CallOut, a: Alert, kind: str | None = None) -> Frame:
        """Record an alert's new state (lazily: it rides in the batch of what caused it) and
        make the volunteer's frame: the alert, an update, or its end."""
        body = {
            "kind": "alert",
            "incident_id": case.incident_id,
            "volunteer_id": a.volunteer_id,
            "status": a.status.value,
            "role": a.role.value,
            "aed_id": a.aed_id,
            "ended": a.ended.value if a.ended is not None else None,
            "alerted_at_s": a.alerted_at_s,
            "updated_at_s": a.updated_at_s,
            "distance_m": case.distance_m.get(a.volunteer_id),
            "accepted": a.volunteer_id in case.accepted,
            "note": case.note,
        }
        self._record(body, lazy=True)
        message = {"type": kind or "volunteer.alert", **view_body(self._view(case, a))}
        if a.status not in LIVE:
            message["type"] = "volunteer.ended"
            message["reason"] = a.ended.value if a.ended is not None else a.status.value
        return (f"volunteer:{a.volunteer_id}", message, None)

    def case_view(self, incident_id: str) -> dict[str, Any]:
        """The dispatcher's view of an incident's call-out: no phone, no name."""
        inc = self.svc.engine.incident(IncidentId(incident_id))  # 404 for an unknown one
        case = self.cases.get(inc.incident_id)
        if case is None:
            return {
                "incident_id": inc.incident_id,
                "called_out": False,
                "radius_m": None,
                "ambulance_eta_s": None,
                "density_per_km2": None,
                "note": "",
                "counts": tally(()),
                "volunteers": [],
            }
        rows = [
            {
                "volunteer_id": a.volunteer_id,
                "status": a.status.value,
                "role": a.role.value,
                "aed_id": a.aed_id,
                "distance_m": round(case.distance_m.get(a.volunteer_id, 0)),
                "ended": a.ended.value if a.ended is not None else None,
            }
            for a in case.alerts.values()
        ]
        return {
            "incident_id": case.incident_id,
            "called_out": True,
            "radius_m": round(case.radius_m),
            "ambulance_eta_s": round(case.ambulance_eta_s),
            "density_per_km2": round(case.density_per_km2, 3),
            "note": case.note,
            "counts": tally(case.alerts.values()),
            "volunteers": rows,
        }

    def _status(self, case: CallOut) -> Frame:
        return ("console", {"type": "volunteers.status", **self.case_view(case.incident_id)}, None)

    # --- the volunteer's socket ---------------------------------------------------------------
    def snapshot(self, volunteer_id: str) -> dict[str, Any]:
        last = self.svc.hub.last_seq(f"volunteer:{volunteer_id}")
        return {"type": "snapshot", "last_seq": last, "volunteer": self.state(volunteer_id)}

    def redacted(self, volunteer_id: str, frame: dict[str, Any]) -> dict[str, Any]:
        """A frame replayed from the log, its place removed unless the alert still shows it
        (never an address after the end, even in a replay)."""
        iid = frame.get("incident_id")
        case = self.cases.get(IncidentId(iid)) if isinstance(iid, str) else None
        a = case.alerts.get(VolunteerId(volunteer_id)) if case is not None else None
        if a is not None and a.status in SHOWS_ADDRESS:
            return frame
        return {k: (None if k in PLACE_KEYS else v) for k, v in frame.items()}

    async def missed(self, volunteer_id: str, after: int) -> AsyncIterator[dict[str, Any]]:
        """The frames after `after` from the log, each `redacted`."""
        shown: set[str] = set()
        try:
            async for frame in self.svc.feeds.missed_frames(f"volunteer:{volunteer_id}", after):
                frame = self.redacted(volunteer_id, frame)
                if frame.get("address") is not None:
                    shown.add(frame["incident_id"])
                yield frame
        finally:
            self.svc.feeds.audit(
                TokenRole.VOLUNTEER.value, volunteer_id, "volunteer.replay", shown, since=after
            )
