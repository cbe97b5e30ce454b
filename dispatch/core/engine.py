"""The dispatch engine: incidents and units as a state machine fed events with the time.

`receive(event, now_s)` checks the event against the current state and either refuses it (a
typed error, nothing changed) or applies it; `decisions()` drains what the shell must publish.
The engine never reads a clock and never does I/O, so the live server, the simulator and crash
recovery (replaying the durable log) all drive the same code to the same state.

Lifecycle of an incident (NEMSIS eTimes in `dispatch.core.model.Step`):

    call received -> located -> [triaged] -> unit notified -> unit acknowledged -> en route
    -> on scene -> [left scene -> at destination -> transfer of care] -> back in service -> closed
    any step before closed -> cancelled -> closed

A unit carries at most one incident; an incident may have several units (`crews`, each with
its own steps; `unit_id` is the first still on it) and closes when the last one is back in
service. A dispatcher may take a unit off (`UnitUnassigned`) or send it elsewhere
(`UnitReassigned`, a divert when on its way to a lower priority); an incident left without a
unit goes back to the queue. The first unit's offer not acknowledged within `ack_timeout_s` is
taken back and made to the next best unit, and the console is told.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from dispatch.core import events as ev
from dispatch.core.advice import AdviceJob, advise
from dispatch.core.model import (
    DISPATCHABLE,
    ORDER,
    Capability,
    Complaint,
    IncidentId,
    IncidentView,
    Priority,
    Step,
    UnitId,
    UnitStatus,
    UnitView,
)
from dispatch.core.nearby import RecentIncidents
from dispatch.core.recommend import (
    Option,
    RecommendParams,
    divert_suggestion,
    duplicate_candidates,
    swap_suggestions,
)
from dispatch.errors import (
    IllegalTransition,
    InvalidEvent,
    UnitUnavailable,
    UnknownIncident,
    UnknownUnit,
)
from routing.errors import OutsideNetwork
from routing.router import Router
from routing.snap import RoadPosition


@dataclass(frozen=True)
class EngineSettings:
    ack_timeout_s: float = 30.0
    auto_dispatch_p1: bool = False
    default_priority: Priority = Priority.P2  # until a dispatcher triages
    recommend: RecommendParams = field(default_factory=RecommendParams)
    # How stale a moved unit's road position may be when a search starts. 0: every search
    # snaps what moved first. The server passes its position flush period (0.5 s) and
    # refreshes on that clock, so a call's search rarely snaps anything; tablets report 1 Hz.
    position_refresh_s: float = 0.0
    # The receiving hospital should acknowledge its pre-arrival notice within this; if not,
    # the console is alerted (a radio call then, as before jijiu).
    hospital_ack_s: float = 60.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ack_timeout_s) and self.ack_timeout_s > 0):
            raise ValueError("ack_timeout_s must be positive")
        if not (math.isfinite(self.hospital_ack_s) and self.hospital_ack_s > 0):
            raise ValueError("hospital_ack_s must be positive")
        if not (math.isfinite(self.position_refresh_s) and self.position_refresh_s >= 0):
            raise ValueError("position_refresh_s must be a non-negative number of seconds")


@dataclass
class Incident:
    incident_id: IncidentId
    lat: float
    lon: float
    radius95_m: float
    road_position: RoadPosition | None  # None: not placed on a road yet (see `position`)
    priority: Priority
    complaint: Complaint
    determinant: str = ""
    triaged: bool = False
    timeline: dict[Step, float] = field(default_factory=dict)
    unit_id: UnitId | None = None
    offer_deadline_s: float | None = None
    acked_devices: set[str] = field(default_factory=set)
    declined: set[UnitId] = field(default_factory=set)  # units whose offer timed out
    # Every unit sent, in order, with its own steps (NEMSIS eTimes, unit notified onwards); a
    # unit back in service keeps its track (BACK_IN_SERVICE), a unit taken off is removed.
    crews: dict[UnitId, dict[Step, float]] = field(default_factory=dict)
    destination: str | None = None  # the receiving hospital's id, once chosen
    destination_at_s: float | None = None  # when it was (last) chosen
    hospital_ack_at_s: float | None = None  # when that hospital acknowledged
    call_radius95_m: float = math.nan  # the location's 95 % radius at the call
    conflict: bool = False  # the location sources disagreed at the call
    age_band: str | None = None  # as the crew or call-taker judged it
    sex: str | None = None
    location_status: str = "located"  # "unlocated" | "off_road" until a dispatcher places it
    # One more for every event that changed the incident (1 after the call), derived from the
    # log like the rest, so it survives a replay: an edit sent with a stale one is refused.
    version: int = 0
    source: str = "app"  # "voice": a phone call typed in by a call-taker
    callback_allowed: bool = True
    personal_sealed: str = ""  # the caller's number, sealed (dispatch.service.personal)
    purged: bool = False  # its personal fields were shredded (`PersonalDataPurged`)
    # Telephone CPR: when the call-taker started coaching, and when it stopped (engine time).
    tcpr_started_at_s: float | None = None
    tcpr_stopped_at_s: float | None = None
    # Notes, oldest first: (at_s, person or None, text, the request's idempotency key or "").
    notes: tuple[tuple[float, str | None, str, str], ...] = ()
    linked_to: IncidentId | None = None  # closed as a duplicate linked into this incident
    linked: tuple[IncidentId, ...] = ()  # the duplicates linked into this one (their callers)
    kept_apart: tuple[IncidentId, ...] = ()  # possible duplicates judged separate emergencies

    @property
    def step(self) -> Step:
        return max(self.timeline, key=_rank)

    @property
    def placed(self) -> bool:
        return self.road_position is not None

    @property
    def position(self) -> RoadPosition:
        """The incident's road position; IllegalTransition (409) while it is not placed."""
        if self.road_position is None:
            raise IllegalTransition(
                f"incident {self.incident_id} is not placed ({self.location_status}): "
                "place it first (POST /api/v1/incidents/{id}/location)"
            )
        return self.road_position

    @property
    def open(self) -> bool:
        return Step.CLOSED not in self.timeline

    def active(self) -> list[UnitId]:
        """The units on it now (not back in service), first sent first."""
        return [u for u, track in self.crews.items() if Step.BACK_IN_SERVICE not in track]

    def crew_step(self, unit_id: UnitId) -> Step:
        """The latest step of one of its units."""
        return max(self.crews[unit_id], key=_rank)

    def view(self, now_s: float) -> IncidentView:
        return IncidentView(
            self.incident_id,
            self.priority,
            self.complaint,
            self.position,
            self.lat,
            self.lon,
            self.timeline[Step.CALL_RECEIVED],
        )


@dataclass
class Unit:
    unit_id: UnitId
    capability: Capability
    devices: tuple[str, ...]
    lat: float
    lon: float
    position: RoadPosition
    status: UnitStatus = UnitStatus.AVAILABLE_AT_STATION
    incident_id: IncidentId | None = None
    free_at_s: float = 0.0
    position_at_s: float | None = None  # when its position was observed (engine time)
    accuracy_m: float | None = None  # the position's accuracy, when the device said
    # The frozen view, built once per change: every call's advice snapshots every unit that
    # may take it (1000 units: 1.8 ms a call when built afresh each time).
    _view: UnitView | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        """Any change to the unit drops its cached view."""
        object.__setattr__(self, name, value)
        if name != "_view":
            object.__setattr__(self, "_view", None)

    def view(self) -> UnitView:
        view = self._view
        if view is None:
            view = UnitView(
                self.unit_id,
                self.capability,
                self.status,
                self.position,
                self.lat,
                self.lon,
                self.free_at_s,
                self.position_at_s,
            )
            object.__setattr__(self, "_view", view)
        return view


@dataclass
class Quarantine:
    """A phone in quarantine: when it entered, and its calls since (logged, never ranked)."""

    since_s: float
    calls_per_min: int  # the rate that tripped the limit
    calls: int = 0  # quarantined calls since
    last_at_s: float | None = None
    lat: float | None = None  # the last quarantined call's place
    lon: float | None = None


def _status(logged: str, position: RoadPosition | None) -> str:
    """An incident's location status at the call: as logged, or off_road if it did not snap."""
    if position is None and logged == "located":
        return "off_road"
    return logged if position is None else "located"


def _rank(step: Step) -> int:
    if step is Step.CANCELLED:
        return ORDER.index(Step.CLOSED) - 1
    return ORDER.index(step)


#: Which crew status button moves an incident to which step, from which steps.
_STATUS_STEP: dict[UnitStatus, tuple[Step, frozenset[Step]]] = {
    UnitStatus.EN_ROUTE: (Step.EN_ROUTE, frozenset({Step.UNIT_NOTIFIED, Step.UNIT_ACKNOWLEDGED})),
    UnitStatus.ON_SCENE: (Step.ON_SCENE, frozenset({Step.EN_ROUTE})),
    UnitStatus.TRANSPORTING: (Step.LEFT_SCENE, frozenset({Step.ON_SCENE})),
    UnitStatus.AT_HOSPITAL: (Step.AT_DESTINATION, frozenset({Step.LEFT_SCENE})),
}
#: The steps a unit makes: an incident left without a unit loses them (back in the queue).
_UNIT_STEPS = (
    Step.UNIT_NOTIFIED,
    Step.UNIT_ACKNOWLEDGED,
    Step.EN_ROUTE,
    Step.ON_SCENE,
    Step.LEFT_SCENE,
    Step.AT_DESTINATION,
    Step.TRANSFER_OF_CARE,
)
#: A unit still on its way, which a divert may send elsewhere.
_ON_ITS_WAY = frozenset({Step.UNIT_NOTIFIED, Step.UNIT_ACKNOWLEDGED, Step.EN_ROUTE})


class Engine:
    """All incidents and units of one dispatch centre, in memory."""

    def __init__(self, router: Router, settings: EngineSettings | None = None) -> None:
        self.router = router
        self.settings = settings or EngineSettings()
        self.incidents: dict[IncidentId, Incident] = {}
        self.units: dict[UnitId, Unit] = {}
        self.now_s = -math.inf
        self._out: list[ev.Decision] = []
        # Advice (a recommendation) owed for (incident, time): worked out by `decisions()`,
        # or before the next event, against the state its event left. The server appends the
        # event to the log first, so the disk writes while the units are ranked.
        self._advice_due: list[tuple[IncidentId, float]] = []
        self._offers: set[IncidentId] = set()  # incidents waiting for an acknowledgement
        self._unacked: set[IncidentId] = set()  # routed, the hospital has not acknowledged
        self._moved: dict[UnitId, None] = {}  # units whose road position is not yet updated
        self._refreshed_at_s = -math.inf
        params = self.settings.recommend
        self._recent = RecentIncidents(params.duplicate_radius_m, params.duplicate_window_s)
        # Flood isolation: a phone's keyed hash -> (its latest incident, its last call's time),
        # how often each incident's caller called again, and the phones in quarantine.
        self.phone_calls: dict[str, tuple[IncidentId, float]] = {}
        self.repeats: dict[IncidentId, int] = {}
        self.quarantine: dict[str, Quarantine] = {}
        #: Set while the event log is replayed: advice (recommendations, duplicate and swap
        #: suggestions) is skipped, since nobody sees it; every state change is still derived.
        #: The rules a command meets at the door (which step may follow which, who may take a
        #: job) are not applied to a logged record again: it says what happened, and a rule
        #: added since must not refuse it. What no state can hold is still refused.
        self.replaying = False

    # --- the two verbs ----------------------------------------------------------------------
    def receive(self, event: ev.Event, now_s: float) -> None:
        """Apply one event at time now_s, or raise (and change nothing)."""
        if not math.isfinite(now_s) or now_s < self.now_s:
            raise InvalidEvent(f"time {now_s!r} is not finite or goes back (now {self.now_s})")
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is None:
            raise InvalidEvent(f"unknown event {type(event).__name__}")
        self._give_advice()  # owed by the previous event: before this one changes the state
        touched = self._incident_touched(event)
        handler(event, now_s)  # checks first, then mutates
        self.now_s = now_s
        if touched is not None and touched in self.incidents:
            self.incidents[touched].version += 1
        self._escalate(now_s)

    def _incident_touched(self, event: ev.Event) -> IncidentId | None:
        """The incident an event changes if it is applied: the one it names, or the job of
        the unit whose crew reported a status."""
        if isinstance(event, ev.UnitStatusReported):
            unit = self.units.get(event.unit_id)
            return unit.incident_id if unit is not None else None
        incident_id: IncidentId | None = getattr(event, "incident_id", None)
        return incident_id

    def decisions(self) -> list[ev.Decision]:
        """Everything decided since the last call, in order, advice last; then emptied."""
        self._give_advice()
        out, self._out = self._out, []
        return out

    @property
    def advice_due(self) -> bool:
        """The last event owes a recommendation, which `decisions()` will work out (~3 ms
        with 1000 units): the server appends the event to the log before asking."""
        return bool(self._advice_due)

    def _give_advice(self) -> None:
        due, self._advice_due = self._advice_due, []
        for incident_id, at_s in due:
            inc = self.incidents.get(incident_id)
            if inc is not None and inc.open and inc.unit_id is None:
                options = self.recommend(incident_id, at_s)
                self._out.append(ev.Recommended(incident_id, tuple(options)))
                self._suggest_divert(inc, options, at_s)

    def take_advice(self, keep: frozenset[Priority] = frozenset()) -> list[AdviceJob]:
        """The recommendations owed, as jobs to work out elsewhere (`advise`, off the event
        loop) against a snapshot of the units taken now; `advice_taken` brings each result
        back. Incidents of a priority in `keep` stay owed, for `decisions()` to work out."""
        due, self._advice_due = self._advice_due, []
        jobs = []
        for incident_id, at_s in due:
            inc = self.incidents.get(incident_id)
            if inc is None or not inc.open or inc.unit_id is not None:
                continue
            if inc.priority in keep:
                self._advice_due.append((incident_id, at_s))
            else:
                jobs.append(self._advice_job(inc, at_s))
        return jobs

    def advice_taken(self, job: AdviceJob, options: Sequence[Option]) -> ev.Recommended | None:
        """A job's result, if it still holds: None when the incident closed or got a unit
        meanwhile; the options whose unit can no longer take it (assigned elsewhere since)
        are left out."""
        inc = self.incidents.get(job.incident_id)
        if inc is None or not inc.open or inc.unit_id is not None:
            return None
        still = tuple(
            o
            for o in options
            if o.unit_id in self.units
            and o.unit_id not in inc.declined
            and self.can_take(self.units[o.unit_id])
        )
        return ev.Recommended(job.incident_id, still)

    # --- queries ----------------------------------------------------------------------------
    def incident(self, incident_id: IncidentId) -> Incident:
        try:
            return self.incidents[incident_id]
        except KeyError:
            raise UnknownIncident(f"no incident {incident_id}") from None

    def unit(self, unit_id: UnitId) -> Unit:
        try:
            return self.units[unit_id]
        except KeyError:
            raise UnknownUnit(f"no unit {unit_id}") from None

    def recommend(self, incident_id: IncidentId, now_s: float) -> list[Option]:
        return advise(self.router, self._advice_job(self.incident(incident_id), now_s))

    def _advice_job(self, inc: Incident, now_s: float) -> AdviceJob:
        """What ranking needs, frozen: the incident's view and every unit that may take it."""
        if not inc.placed:  # nothing to rank until a dispatcher places it
            return AdviceJob(inc.incident_id, now_s, None, (), self.settings.recommend)
        self.refresh_positions(self.settings.position_refresh_s)
        units = tuple(
            u.view()
            for u in self.units.values()
            if u.unit_id not in inc.declined and self.can_take(u)
        )
        return AdviceJob(inc.incident_id, now_s, inc.view(now_s), units, self.settings.recommend)

    def first_priority(self, complaint: Complaint | None) -> Priority:
        """A new call's priority before triage: P1 for a cardiac arrest, else the default."""
        if complaint is Complaint.CARDIAC_ARREST:
            return Priority.P1
        return self.settings.default_priority

    # --- handlers ---------------------------------------------------------------------------
    def _on_CallReceived(self, e: ev.CallReceived, now_s: float) -> None:
        if e.incident_id in self.incidents:
            raise IllegalTransition(f"incident {e.incident_id} exists already")
        position = None
        if e.location_status != "unlocated":
            try:
                position = self.router.snap(e.lat, e.lon)
            except OutsideNetwork:  # off the road network: held, the caller's point kept
                position = None
        prio = self.first_priority(e.complaint)
        inc = Incident(
            e.incident_id,
            e.lat,
            e.lon,
            e.radius95_m,
            position,
            prio,
            e.complaint or Complaint.OTHER,
            call_radius95_m=e.radius95_m,
            conflict=e.conflict,
            location_status=_status(e.location_status, position),
            source=e.source,
            callback_allowed=e.callback_allowed,
            personal_sealed=e.personal_sealed,
        )
        self.incidents[e.incident_id] = inc
        self._step(inc, Step.CALL_RECEIVED, now_s)
        if position is None:  # held until placed: no LOCATED step, no ranking, no duplicates
            if e.phone_sha256:
                self.phone_calls[e.phone_sha256] = (inc.incident_id, now_s)
            return
        self._step(inc, Step.LOCATED, now_s)
        if not self.replaying:
            near = (self.incidents[i] for i in self._recent.near(e.lat, e.lon, now_s))
            others = [o.view(now_s) for o in near if o.open]
            dups = duplicate_candidates(inc.view(now_s), others, self.settings.recommend)
            if dups:
                self._out.append(ev.DuplicateSuggested(inc.incident_id, tuple(dups)))
        self._recent.add(inc.incident_id, e.lat, e.lon, now_s)  # by the first call's place
        if e.phone_sha256:
            self.phone_calls[e.phone_sha256] = (inc.incident_id, now_s)
        self._recommend_or_auto(inc, now_s)

    def _on_CallRepeated(self, e: ev.CallRepeated, now_s: float) -> None:
        inc = self.incident(e.incident_id)
        if not inc.open:
            raise IllegalTransition(f"incident {e.incident_id} is closed")
        self.repeats[inc.incident_id] = self.repeats.get(inc.incident_id, 0) + 1
        self.phone_calls[e.phone_sha256] = (inc.incident_id, now_s)

    def _on_PhoneQuarantined(self, e: ev.PhoneQuarantined, now_s: float) -> None:
        if e.phone_sha256 in self.quarantine and not self.replaying:
            raise IllegalTransition("the phone is in quarantine already")
        self.quarantine[e.phone_sha256] = Quarantine(now_s, e.calls_per_min)

    def _on_CallQuarantined(self, e: ev.CallQuarantined, now_s: float) -> None:
        q = self.quarantine.get(e.phone_sha256)
        if q is None:
            raise IllegalTransition("the phone is not in quarantine")
        q.calls += 1
        q.last_at_s, q.lat, q.lon = now_s, e.lat, e.lon

    def _on_PhoneReleased(self, e: ev.PhoneReleased, now_s: float) -> None:
        if self.quarantine.pop(e.phone_sha256, None) is None and not self.replaying:
            raise IllegalTransition("the phone is not in quarantine")

    def _on_PersonalDataPurged(self, e: ev.PersonalDataPurged, now_s: float) -> None:
        """A closed incident's personal fields shredded: only their ciphertext is left."""
        inc = self.incident(e.incident_id)
        if inc.open:
            raise IllegalTransition(f"incident {e.incident_id} is open: purged once closed")
        if inc.purged:
            raise IllegalTransition(f"incident {e.incident_id} is purged already")
        inc.purged, inc.personal_sealed, inc.notes = True, "", ()

    def _on_IncidentLocated(self, e: ev.IncidentLocated, now_s: float) -> None:
        inc = self._open(e.incident_id)
        position = self._snap(e.lat, e.lon)
        inc.lat, inc.lon, inc.radius95_m, inc.road_position = e.lat, e.lon, e.radius95_m, position
        inc.location_status = "located"
        if Step.LOCATED not in inc.timeline:  # a call held unplaced is placed at last
            self._step(inc, Step.LOCATED, now_s)
        if inc.unit_id is None:
            self._recommend_or_auto(inc, now_s)

    def _on_IncidentTriaged(self, e: ev.IncidentTriaged, now_s: float) -> None:
        inc = self._open(e.incident_id)
        inc.priority, inc.complaint, inc.determinant = e.priority, e.complaint, e.determinant
        if not inc.triaged:
            inc.triaged = True
            self._step(inc, Step.TRIAGED, now_s)
        if inc.unit_id is None:
            self._recommend_or_auto(inc, now_s)

    def _on_TcprStarted(self, e: ev.TcprStarted, now_s: float) -> None:
        """Coaching starts for a cardiac arrest; again after a stop (the caller rang back)."""
        inc = self._open(e.incident_id)
        if not self.replaying:
            if inc.complaint is not Complaint.CARDIAC_ARREST:
                raise IllegalTransition(f"{inc.incident_id} is no cardiac arrest: no T-CPR")
            if inc.tcpr_started_at_s is not None and inc.tcpr_stopped_at_s is None:
                raise IllegalTransition(f"T-CPR for {inc.incident_id} is under way already")
        inc.tcpr_started_at_s, inc.tcpr_stopped_at_s = now_s, None

    def _on_TcprStopped(self, e: ev.TcprStopped, now_s: float) -> None:
        inc = self.incident(e.incident_id)  # also once closed: the crew took over
        under_way = inc.tcpr_started_at_s is not None and inc.tcpr_stopped_at_s is None
        if not under_way and not self.replaying:
            raise IllegalTransition(f"no T-CPR under way for {inc.incident_id}")
        inc.tcpr_stopped_at_s = now_s

    def _on_UnitRegistered(self, e: ev.UnitRegistered, now_s: float) -> None:
        if e.unit_id in self.units:
            raise IllegalTransition(f"unit {e.unit_id} exists already")
        position = self._snap(e.lat, e.lon)
        self.units[e.unit_id] = Unit(e.unit_id, e.capability, e.devices, e.lat, e.lon, position)
        self.units[e.unit_id].position_at_s = now_s
        self._unit_changed(self.units[e.unit_id])

    def _on_UnitPositionReported(self, e: ev.UnitPositionReported, now_s: float) -> None:
        """Record where the unit is; its road position is found in the next batch.

        A fleet reports 1000 positions a second and is searched a few times a second, so the
        snap to the road is deferred to `refresh_positions` (one vectorised pass for all that
        moved) instead of one at a time here (~100 µs each, a third of the server's time).
        """
        unit = self.unit(e.unit_id)  # the event checked lat/lon when it was made
        unit.lat, unit.lon = e.lat, e.lon
        unit.position_at_s = now_s if e.observed_at_s is None else min(e.observed_at_s, now_s)
        unit.accuracy_m = e.accuracy_m
        self._moved[unit.unit_id] = None

    def refresh_positions(self, max_age_s: float = 0.0) -> None:
        """Snap every unit that moved since the last refresh, unless that refresh is younger
        than `max_age_s`; each search starts with this (with `position_refresh_s`)."""
        if not self._moved or self.now_s - self._refreshed_at_s < max_age_s:
            return
        ids, lats, lons = self.take_moved()
        self.apply_road_positions(ids, lats, lons, self.router.snapper.road_positions(lats, lons))

    def take_moved(self) -> tuple[list[UnitId], list[float], list[float]]:
        """The units that moved since the last refresh and where they are, for a batch snap
        (the server runs it on a worker thread, then hands the result to
        `apply_road_positions`); they count as refreshed from now."""
        ids = list(self._moved)
        self._moved = {}
        self._refreshed_at_s = self.now_s
        units = self.units
        return ids, [units[u].lat for u in ids], [units[u].lon for u in ids]

    def apply_road_positions(
        self,
        ids: list[UnitId],
        lats: list[float],
        lons: list[float],
        found: list[RoadPosition | None],
    ) -> None:
        """Set the road positions snapped from (lats, lons). A unit that reported again since
        keeps waiting for its newer point; a point off every road (None) keeps the unit's last
        road position (a unit in a car park or a tunnel is routed from where it left the road).
        """
        for unit_id, lat, lon, position in zip(ids, lats, lons, found, strict=True):
            unit = self.units.get(unit_id)
            if unit is None or position is None or unit_id in self._moved:
                continue
            if unit.lat == lat and unit.lon == lon:
                unit.position = position

    def _on_UnitAssigned(self, e: ev.UnitAssigned, now_s: float) -> None:
        inc = self._open(e.incident_id)
        unit = self.unit(e.unit_id)
        if unit.unit_id in inc.active():
            raise IllegalTransition(f"unit {unit.unit_id} is on {inc.incident_id} already")
        if inc.unit_id is not None and not e.additional:
            raise IllegalTransition(f"incident {inc.incident_id} has unit {inc.unit_id} already")
        if not inc.placed and not self.replaying:  # rules of the door: see `replaying`
            raise IllegalTransition(f"incident {inc.incident_id} is not placed: place it first")
        if not self.can_take(unit) and not self.replaying:
            raise UnitUnavailable(f"unit {unit.unit_id} is {unit.status.value}")
        if unit.incident_id is not None:  # clearing at hospital after the handover: done now
            self._finish(self.incidents[unit.incident_id], unit, unit.status, now_s, swaps=False)
        self._offer(inc, unit, now_s, e.by)

    def _on_UnitUnassigned(self, e: ev.UnitUnassigned, now_s: float) -> None:
        """Take a unit off an incident: it is free on the road; the incident goes back to the
        queue if it was its last unit."""
        inc = self._open(e.incident_id)
        unit = self.unit(e.unit_id)
        requeued = self._withdraw(inc, unit, e.reason, None)
        unit.status = UnitStatus.AVAILABLE_ON_ROAD
        self._unit_changed(unit)
        if requeued:
            self._recommend_or_auto(inc, now_s)
        self._swaps(unit, now_s)

    def _on_UnitReassigned(self, e: ev.UnitReassigned, now_s: float) -> None:
        """Unassign from one incident and assign to another in one step (a divert: on its way,
        to a higher priority)."""
        src, dst = self._open(e.incident_id), self._open(e.to_incident_id)
        unit = self.unit(e.unit_id)
        if unit.unit_id not in src.active():
            raise IllegalTransition(f"unit {unit.unit_id} is not on {src.incident_id}")
        if not dst.placed and not self.replaying:
            raise IllegalTransition(f"incident {dst.incident_id} is not placed: place it first")
        if e.divert and not self.replaying:
            if src.crew_step(unit.unit_id) not in _ON_ITS_WAY:
                raise IllegalTransition(f"unit {unit.unit_id} is not on its way: no divert")
            if dst.priority >= src.priority:
                raise IllegalTransition(
                    f"a divert goes to a higher priority: {dst.priority.name} is not above "
                    f"{src.priority.name}"
                )
        requeued = self._withdraw(src, unit, e.reason, dst.incident_id)
        self._offer(dst, unit, now_s, e.by)
        dst.version += 1  # the event names the source; the target changed too
        if requeued:
            self._recommend_or_auto(src, now_s)

    def _on_OfferAcknowledged(self, e: ev.OfferAcknowledged, now_s: float) -> None:
        inc = self._open(e.incident_id)
        unit = self.unit(e.unit_id)
        if unit.unit_id not in inc.active():
            raise IllegalTransition(f"unit {unit.unit_id} holds no offer for {inc.incident_id}")
        # Which device may say so is the shell's to check: its token names it (dispatch.tokens).
        track = inc.crews[unit.unit_id]
        if unit.unit_id != inc.unit_id:  # one more unit: its first acknowledgement is told
            if Step.UNIT_ACKNOWLEDGED not in track:
                self._out.append(
                    ev.DeviceAcked(inc.incident_id, unit.unit_id, e.device, (e.device,))
                )
        elif e.device not in inc.acked_devices:
            inc.acked_devices.add(e.device)
            devices = tuple(sorted(inc.acked_devices))
            self._out.append(ev.DeviceAcked(inc.incident_id, unit.unit_id, e.device, devices))
        track.setdefault(Step.UNIT_ACKNOWLEDGED, now_s)
        if Step.UNIT_ACKNOWLEDGED not in inc.timeline:
            inc.offer_deadline_s = None
            self._step(inc, Step.UNIT_ACKNOWLEDGED, now_s)

    def _on_UnitStatusReported(self, e: ev.UnitStatusReported, now_s: float) -> None:
        unit = self.unit(e.unit_id)
        s = e.status
        if unit.incident_id is None:
            if s in (
                UnitStatus.AVAILABLE_AT_STATION,
                UnitStatus.AVAILABLE_ON_ROAD,
                UnitStatus.OUT_OF_SERVICE,
            ):
                unit.status = s
                self._unit_changed(unit)
                if s in DISPATCHABLE:
                    self._swaps(unit, now_s)
                return
            if self.replaying:  # it happened: the unit was in that state
                unit.status = s
                self._unit_changed(unit)
                return
            raise IllegalTransition(f"unit {unit.unit_id} has no job to be {s.value} for")
        inc = self.incident(unit.incident_id)
        if s is unit.status and s in _STATUS_STEP:  # a resent tap (an offline queue): done
            return
        track = inc.crews[unit.unit_id]  # each unit of the incident moves on its own steps
        at = inc.crew_step(unit.unit_id)
        if s in _STATUS_STEP:
            step, allowed = _STATUS_STEP[s]
            if at not in allowed and not self.replaying:
                raise IllegalTransition(f"{inc.incident_id} is {at.name}, not ready for {s.value}")
            if step is Step.EN_ROUTE and Step.UNIT_ACKNOWLEDGED not in track:
                track[Step.UNIT_ACKNOWLEDGED] = now_s  # "en route" is an acknowledgement
                if Step.UNIT_ACKNOWLEDGED not in inc.timeline:
                    self._step(inc, Step.UNIT_ACKNOWLEDGED, now_s)
                    inc.offer_deadline_s = None
            track[step] = now_s
            if step not in inc.timeline:  # the incident's time is its first unit's
                self._step(inc, step, now_s)
            unit.status = s
            self._unit_changed(unit)
            return
        back = s in (UnitStatus.AVAILABLE_AT_STATION, UnitStatus.AVAILABLE_ON_ROAD)
        if back and (at in (Step.ON_SCENE, Step.TRANSFER_OF_CARE) or self.replaying):
            self._finish(inc, unit, s, now_s)  # treated on scene, or handed over
            return
        raise IllegalTransition(f"unit {unit.unit_id} cannot go {s.value} while {at.name}")

    def _on_HandoverCompleted(self, e: ev.HandoverCompleted, now_s: float) -> None:
        inc = self._open(e.incident_id)
        arrived = [u for u in inc.active() if inc.crew_step(u) is Step.AT_DESTINATION]
        if not arrived and not self.replaying:
            raise IllegalTransition(f"{inc.incident_id} is {inc.step.name}, not at destination")
        for unit_id in arrived:
            inc.crews[unit_id][Step.TRANSFER_OF_CARE] = now_s
        self._step(inc, Step.TRANSFER_OF_CARE, now_s)

    def _on_DestinationChosen(self, e: ev.DestinationChosen, now_s: float) -> None:
        """Set or change the receiving hospital, up to arrival there (which hospital exists is
        the service's to check: the engine knows no hospitals)."""
        inc = self._open(e.incident_id)
        late = Step.AT_DESTINATION in inc.timeline or Step.CANCELLED in inc.timeline
        if late and not self.replaying:
            raise IllegalTransition(f"{inc.incident_id} is {inc.step.name}: too late to choose")
        if inc.destination != e.hospital_id:
            inc.destination_at_s = now_s
            inc.hospital_ack_at_s = None
            self._unacked.add(inc.incident_id)
        inc.destination = e.hospital_id

    def _on_PatientDescribed(self, e: ev.PatientDescribed, now_s: float) -> None:
        inc = self._open(e.incident_id)
        inc.age_band, inc.sex = e.age_band, e.sex

    def _on_HospitalAcknowledged(self, e: ev.HospitalAcknowledged, now_s: float) -> None:
        """The hospital the patient is routed to saw the notice; a repeat changes nothing."""
        inc = self._open(e.incident_id)
        if inc.destination != e.hospital_id:  # not routed there: as if it did not exist
            raise UnknownIncident(f"no incident {e.incident_id} routed to {e.hospital_id}")
        if inc.hospital_ack_at_s is not None:
            return
        inc.hospital_ack_at_s = now_s
        self._unacked.discard(inc.incident_id)
        after_s = now_s - (inc.destination_at_s if inc.destination_at_s is not None else now_s)
        self._out.append(ev.HospitalAcked(inc.incident_id, e.hospital_id, after_s))

    def _on_IncidentCancelled(self, e: ev.IncidentCancelled, now_s: float) -> None:
        inc = self._open(e.incident_id)
        if Step.LEFT_SCENE in inc.timeline and not self.replaying:
            raise IllegalTransition(f"{inc.incident_id} is transporting a patient: not cancellable")
        self._step(inc, Step.CANCELLED, now_s)
        for unit_id in inc.active():
            unit = self.units[unit_id]
            inc.crews[unit_id][Step.BACK_IN_SERVICE] = now_s
            unit.incident_id = None
            unit.status = UnitStatus.AVAILABLE_ON_ROAD
            self._unit_changed(unit)
        inc.offer_deadline_s = None
        self._step(inc, Step.CLOSED, now_s)

    def _on_ClockTicked(self, e: ev.ClockTicked, now_s: float) -> None:
        pass  # receive() runs the escalation check after every event

    def _on_NoteAdded(self, e: ev.NoteAdded, now_s: float) -> None:
        """A note on an open incident; one whose key it already has adds nothing (a retry)."""
        inc = self._open(e.incident_id)
        if e.key and any(n[3] == e.key for n in inc.notes):
            return
        inc.notes = (*inc.notes, (now_s, e.person, e.text, e.key))
        self._out.append(ev.NotePosted(inc.incident_id, now_s, e.person, e.text))

    def _on_IncidentLinked(self, e: ev.IncidentLinked, now_s: float) -> None:
        """The duplicate closes as linked into the primary, which takes its callers (and those
        linked into it before). One with a unit keeps it: take the unit off first."""
        dup, primary = self._open(e.incident_id), self._open(e.primary_id)
        if dup.unit_id is not None and not self.replaying:
            raise IllegalTransition(
                f"incident {dup.incident_id} has unit {dup.unit_id}: take it off before linking"
            )
        dup.linked_to = primary.incident_id
        primary.linked = (*primary.linked, dup.incident_id, *dup.linked)
        primary.version += 1  # it changed too (receive() counts the duplicate)
        for other in dup.linked:
            self.incidents[other].linked_to = primary.incident_id
        dup.offer_deadline_s = None
        self._step(dup, Step.CLOSED, now_s)
        self._out.append(
            ev.CallersLinked(dup.incident_id, primary.incident_id, primary.linked, e.person)
        )

    def _on_DuplicateKeptApart(self, e: ev.DuplicateKeptApart, now_s: float) -> None:
        """Two incidents judged separate: each remembers the other (the log says who)."""
        inc, other = self._open(e.incident_id), self.incident(e.other_id)
        if other.incident_id not in inc.kept_apart:
            inc.kept_apart = (*inc.kept_apart, other.incident_id)
        if inc.incident_id not in other.kept_apart:
            other.kept_apart = (*other.kept_apart, inc.incident_id)
        self._out.append(ev.DuplicateSetApart(inc.incident_id, other.incident_id, e.person))

    # --- helpers ----------------------------------------------------------------------------
    def _open(self, incident_id: IncidentId) -> Incident:
        inc = self.incident(incident_id)
        if not inc.open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        return inc

    def _snap(self, lat: float, lon: float) -> RoadPosition:
        try:
            return self.router.snap(lat, lon)
        except OutsideNetwork as exc:
            raise InvalidEvent(str(exc)) from exc

    def _step(self, inc: Incident, step: Step, now_s: float) -> None:
        inc.timeline[step] = now_s
        self._out.append(ev.IncidentStepped(inc.incident_id, step, now_s))

    def _unit_changed(self, unit: Unit) -> None:
        self._out.append(ev.UnitChanged(unit.unit_id, unit.status, unit.incident_id))

    def _offer(self, inc: Incident, unit: Unit, now_s: float, by: str) -> None:
        """Offer the job to a unit: the incident's first (its deadline is watched, see
        `_escalate`), or one more (its crew acknowledges on the tablet, not watched)."""
        deadline_s = now_s + self.settings.ack_timeout_s
        if inc.unit_id is None:
            inc.unit_id = unit.unit_id
            inc.acked_devices = set()
            inc.offer_deadline_s = deadline_s
            self._offers.add(inc.incident_id)
        inc.crews[unit.unit_id] = {Step.UNIT_NOTIFIED: now_s}
        unit.incident_id = inc.incident_id
        unit.status = UnitStatus.ASSIGNED
        if Step.UNIT_NOTIFIED not in inc.timeline:
            self._step(inc, Step.UNIT_NOTIFIED, now_s)
        self._unit_changed(unit)
        self._out.append(ev.OfferSent(inc.incident_id, unit.unit_id, unit.devices, deadline_s, by))

    def _withdraw(self, inc: Incident, unit: Unit, reason: str, to: IncidentId | None) -> bool:
        """Take a unit off an incident (checks first); True when it was the incident's last
        unit, which then loses its unit steps and is back in the queue (the caller asks for a
        recommendation once the unit's new state is set). The unit is not recommended for it
        again (`declined`); a dispatcher may still send it."""
        if unit.unit_id not in inc.active():
            raise IllegalTransition(f"unit {unit.unit_id} is not on {inc.incident_id}")
        if _rank(inc.crew_step(unit.unit_id)) >= _rank(Step.LEFT_SCENE) and not self.replaying:
            raise IllegalTransition(f"unit {unit.unit_id} has the patient aboard: not withdrawn")
        del inc.crews[unit.unit_id]
        inc.declined.add(unit.unit_id)
        unit.incident_id = None
        requeued = False
        if inc.unit_id == unit.unit_id:
            rest = inc.active()
            inc.unit_id = rest[0] if rest else None
            inc.offer_deadline_s = None
            inc.acked_devices = set()
            self._offers.discard(inc.incident_id)
            if not rest:
                for step in _UNIT_STEPS:
                    inc.timeline.pop(step, None)
                requeued = True
        self._out.append(ev.UnitWithdrawn(inc.incident_id, unit.unit_id, reason, to, requeued))
        return requeued

    def can_take(self, unit: Unit) -> bool:
        """May be offered a new job: available, or at hospital with the patient handed over
        (its old incident is then closed by the offer). A crew at hospital before the handover
        still has its patient."""
        if unit.status not in DISPATCHABLE:
            return False
        old = self.incidents.get(unit.incident_id) if unit.incident_id is not None else None
        if old is None:
            return True
        track = old.crews.get(unit.unit_id, old.timeline)
        return Step.TRANSFER_OF_CARE in track

    def _finish(
        self, inc: Incident, unit: Unit, status: UnitStatus, now_s: float, swaps: bool = True
    ) -> None:
        """A unit is back in service; its incident closes when it was the last one on it."""
        inc.crews.setdefault(unit.unit_id, {})[Step.BACK_IN_SERVICE] = now_s
        rest = inc.active()
        if not rest:
            self._step(inc, Step.BACK_IN_SERVICE, now_s)
            self._step(inc, Step.CLOSED, now_s)
        elif inc.unit_id == unit.unit_id:
            inc.unit_id = rest[0]
        unit.incident_id = None
        unit.status = status
        self._unit_changed(unit)
        if swaps:  # not when the unit is being offered a job right now
            self._swaps(unit, now_s)

    def _recommend_or_auto(self, inc: Incident, now_s: float) -> None:
        auto = inc.priority is Priority.P1 and self.settings.auto_dispatch_p1
        if not auto:
            if not self.replaying:  # a replay re-derives state, not advice
                self._advice_due.append((inc.incident_id, now_s))
            return
        options = self.recommend(inc.incident_id, now_s)
        self._out.append(ev.Recommended(inc.incident_id, tuple(options)))
        if options:
            self._offer(inc, self.units[options[0].unit_id], now_s, "auto")

    def _escalate(self, now_s: float) -> None:
        """Offers past their deadline go to the next best unit; the console is told. So is a
        receiving hospital that has not acknowledged its patient in time."""
        self._hospital_acks_due(now_s)
        for incident_id in sorted(self._offers):
            inc = self.incidents[incident_id]
            if inc.offer_deadline_s is None or inc.unit_id is None:
                self._offers.discard(incident_id)
                continue
            if inc.offer_deadline_s > now_s:
                continue
            self._offers.discard(incident_id)
            inc.version += 1  # its unit is taken back (and offered to the next)
            late = self.units[inc.unit_id]
            inc.declined.add(late.unit_id)
            inc.crews.pop(late.unit_id, None)
            late.incident_id = None
            late.status = UnitStatus.AVAILABLE_ON_ROAD
            rest = inc.active()
            inc.unit_id = rest[0] if rest else None
            inc.offer_deadline_s = None
            self._unit_changed(late)
            options = self.recommend(inc.incident_id, now_s)
            nxt = self.units[options[0].unit_id] if options else None
            self._out.append(
                ev.OfferEscalated(inc.incident_id, late.unit_id, nxt.unit_id if nxt else None)
            )
            if nxt is not None:
                self._offer(inc, nxt, now_s, "escalation")
            else:
                self._out.append(ev.Recommended(inc.incident_id, ()))

    def _hospital_acks_due(self, now_s: float) -> None:
        for incident_id in sorted(self._unacked):
            inc = self.incidents[incident_id]
            done = inc.hospital_ack_at_s is not None or Step.AT_DESTINATION in inc.timeline
            if not inc.open or inc.destination is None or inc.destination_at_s is None or done:
                self._unacked.discard(incident_id)
                continue
            waited_s = now_s - inc.destination_at_s
            if waited_s >= self.settings.hospital_ack_s:
                self._unacked.discard(incident_id)
                self._out.append(ev.HospitalAckOverdue(incident_id, inc.destination, waited_s))

    def _suggest_divert(self, inc: Incident, options: Sequence[Option], now_s: float) -> None:
        """An unassigned P1 with no free unit within the target: is a unit on its way to a
        lower priority clearly closer? Suggested to the console, never done."""
        params = self.settings.recommend
        free_eta_s = options[0].eta_s if options else None
        if inc.priority is not Priority.P1 or not inc.placed:
            return
        if free_eta_s is not None and free_eta_s <= params.divert_target_s:
            return
        busy = [
            (other.view(now_s), self.units[u].view())
            for other in self.incidents.values()
            if other.open and other.priority > inc.priority and other.placed
            for u in other.active()
            if other.crew_step(u) in _ON_ITS_WAY
        ]
        found = divert_suggestion(self.router, inc.view(now_s), busy, free_eta_s, params)
        if found is not None:
            self._out.append(
                ev.DivertSuggested(
                    inc.incident_id,
                    found.unit_id,
                    found.from_incident_id,
                    found.from_priority,
                    found.eta_s,
                    free_eta_s,
                    found.gain_s,
                )
            )

    def _swaps(self, free: Unit, now_s: float) -> None:
        """A unit became free: is it clearly closer to an incident whose unit is still coming?"""
        if self.replaying:
            return
        self.refresh_positions(self.settings.position_refresh_s)
        coming = [
            (inc.view(now_s), self.units[inc.unit_id].view())
            for inc in self.incidents.values()
            if inc.open and inc.unit_id is not None and inc.crew_step(inc.unit_id) in _ON_ITS_WAY
        ]
        if not coming:
            return
        for swap in swap_suggestions(
            self.router, coming, [free.view()], now_s, self.settings.recommend
        ):
            self._out.append(ev.SwapSuggested(swap))
