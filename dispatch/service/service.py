"""The dispatch service: engine, durable log and fan-out, driven in one order per event.

`submit(event)` is the one way state changes: the engine checks and applies the event at once
(a typed refusal changes nothing and becomes a 4xx), the record goes to the group-commit writer
(`dispatch.store.committer`), and once it is durable its frames are published to the hub; a route
awaits `settled()` before it answers. Check and apply run on the event loop's thread with no
await between them, so two requests racing for one unit are applied one after the other: one
wins, the other gets 409. The loop never waits on the disk; a burst shares one fsync.

If the append fails, the engine already holds an event the log does not: the service marks
itself poisoned, refuses every further event with StoreError (503) and `/readyz` stays failing
until the process is restarted, which rebuilds the engine from the log. A `ClockTicked` is
logged only when it decided something (an offer escalated), so replay repeats escalations at
the times they happened without a record per second.

Some state is deliberately in memory only and gone after a restart: a call's location evidence
(a later fix is then fused alone, and must still move or tighten the estimate to relocate), the
set of incidents a dispatcher placed by hand, and the live traffic jams (the feed re-sends
them; see dispatch/core/traffic.py). Relocations themselves are `IncidentLocated` events: durable.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aed_map.errors import AedMapError
from aed_map.registry import Registry as AedRegistry
from aed_map.walking import AedIndex, nearest_aeds
from dispatch.core import events as ev
from dispatch.core.cockpit import Row as CockpitRow
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.fleet import demo_fleet
from dispatch.core.model import Complaint, IncidentId, Step
from dispatch.core.traffic import TrafficBook
from dispatch.errors import DispatchError, StoreError, UnknownHospital, UnknownIncident
from dispatch.live.feeds import Feeds, fed
from dispatch.live.hub import Hub
from dispatch.service.live_inputs import LiveInputs, NoLocation
from dispatch.service.views import CALLER_DONE, WIRE_TYPE, Frame, plain
from dispatch.settings import Settings
from dispatch.store import codec
from dispatch.store.committer import Done, GroupCommit
from dispatch.store.eventlog import EventLog, FeedRecord, Record, open_log
from dispatch.store.replay import replay
from dispatch.tokens import Role, TokenBook, same, sha256_hex
from hospital_link.notice import closed_bundle, eta_bundle
from hospital_link.registry import HospitalId, HospitalStatus, Registry, parse_capability
from hospital_link.vitals import Numerics
from location_fusion.cells import CellTable
from location_fusion.fixes import device_fix
from location_fusion.gazetteer import Gazetteer
from location_fusion.locate import CallEvidence, Estimate, Locator
from routing.errors import RoutingError
from routing.load import data_dir, load_network
from routing.router import Router
from routing.snap import RoadPosition

logger = logging.getLogger("jijiu.dispatch")

FLOOD_WINDOW_S = 60.0
CLOCK = "clock"  # the feed of start anchors: engine time -> wall clock
CITY_TIME = ZoneInfo("Asia/Shanghai")  # opening hours are local
MAX_PHONES_TRACKED = 10_000


def build_world(network: str) -> tuple[Router, Locator]:
    """The router and locator of a bundled network (or an OSM file) with the bundled city data."""
    net, _ = load_network(network)
    router = Router(net)
    places = Gazetteer.load_places_csv(data_dir() / "hangzhou" / "hospitals.csv")
    cells = CellTable.load(data_dir() / "cells" / "hangzhou_cells_synthetic.csv")
    return router, Locator(Gazetteer.from_network(net, places), cells, router)


def _snap_hospitals(router: Router, hospitals: Registry) -> dict[HospitalId, RoadPosition]:
    """Each hospital's door on the road network; one farther than the snap limit (outside the
    loaded network) is left out, so it counts as unreachable."""
    found = router.snapper.road_positions(
        [h.lat for h in hospitals.hospitals], [h.lon for h in hospitals.hospitals]
    )
    return {h.id: p for h, p in zip(hospitals.hospitals, found, strict=True) if p is not None}


def _first_answer(call: dict[str, Any]) -> dict[str, Any]:
    """What a retried call is answered with, from its logged `CallReceived`."""
    return {k: call[k] for k in ("incident_id", "lat", "lon", "radius95_m")}


class DispatchService(Feeds, LiveInputs):
    """One dispatch centre: the engine, its durable log, the hub and the tokens."""

    def __init__(
        self,
        settings: Settings,
        log: EventLog,
        hub: Hub,
        router: Router,
        locator: Locator,
        tokens: TokenBook,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.hub = hub
        self.hospitals = Registry.load_csv(data_dir() / "hangzhou" / "hospitals.csv")
        # SYNTHETIC until a real registry is loaded: data/aed/README.md says how it was made.
        aeds = AedRegistry.load_csv(data_dir() / "aed" / "hangzhou_aeds_synthetic.csv")
        self.aeds = AedIndex(router.net, aeds.aeds)
        self._hospital_roads = _snap_hospitals(router, self.hospitals)
        self.router = router
        self.locator = locator
        self.tokens = tokens
        self.engine = Engine(
            router,
            EngineSettings(
                settings.ack_timeout_s,
                settings.auto_dispatch_p1,
                # The flush clock refreshes every position_flush_s off the loop; a search
                # snaps on its own path only if that clock fell well behind.
                position_refresh_s=2 * settings.position_flush_s,
                hospital_ack_s=settings.hospital_ack_s,
            ),
        )
        self.poisoned = False
        self.caller_hash: dict[IncidentId, str] = {}  # incident -> sha256 of its caller token
        self._by_caller_hash: dict[str, IncidentId] = {}
        self._descriptions: dict[IncidentId, str] = {}  # read-back text, recomputed on demand
        self._phone_calls: dict[str, deque[float]] = {}  # keyed hash of a phone -> call times
        # In memory only, lost on restart: a call's location evidence (to re-fuse when the
        # caller sends another fix), the incidents a dispatcher placed by hand (caller fixes
        # no longer move those) and the live traffic entries.
        self._evidence: dict[IncidentId, CallEvidence] = {}
        self._fused: dict[IncidentId, tuple[CallEvidence, Estimate | None]] = {}  # its estimate
        self._placed_by_dispatcher: set[IncidentId] = set()
        self.traffic = TrafficBook()
        self._commit: GroupCommit | None = None  # None: append synchronously (before start)
        self._settled: asyncio.Future[None] | None = None  # the last entry's, while pending
        # A call's idempotency key -> the place it was first answered with (a retry gets the
        # same), in memory so a retry never waits on the store (~50 bytes per call).
        self._call_keys: dict[str, dict[str, Any]] = {}
        self._moved: dict[str, None] = {}  # units whose position changed since the last flush
        self._position_logged: dict[str, float] = {}  # unit -> engine time of its last record
        self._feed_seq: dict[str, int] = {}  # fed topic -> last seq given out (dispatch.live.feeds)
        self._eta_sent: dict[IncidentId, float] = {}  # when patient.eta was last sent
        self.latest_vitals: dict[IncidentId, Numerics] = {}  # in memory: the next second has it
        # The last vitals seq logged per patient and unit: a tablet's retry is not sent twice.
        # In memory: after a restart a retry of the very last second may repeat (the hospital
        # tells by (unit, sample_seq)).
        self.vitals_seq: dict[IncidentId, dict[str, int]] = {}
        self._aeds_sent: set[IncidentId] = set()  # arrests whose AEDs the console was shown
        # Extensions (volunteers, agencies, ...) hook in here: a watcher sees every applied
        # event with its decisions and returns more frames (logged with the event when their
        # topic is fed); a token resolver names the holder of a token the book does not know.
        self.watchers: list[Callable[[ev.Event, list[ev.Decision]], Iterable[Frame]]] = []
        self.token_resolvers: list[Callable[[str], tuple[Role, str] | None]] = []
        self.extensions: dict[str, object] = {}  # each attached desk by name (dispatch.http.app)
        # Engine time: seconds since the first start. It continues from the log's last record
        # so time never goes back across restarts (the engine refuses that).
        last_at_s = 0.0
        for record in log.read():
            last_at_s = max(last_at_s, record.at_s)
            if record.event.get("type") == "CallReceived":
                if record.event.get("caller_token_sha256"):
                    self._remember_caller(
                        record.event["incident_id"], record.event["caller_token_sha256"]
                    )
                if record.idem_key is not None:
                    self._call_keys[record.idem_key] = _first_answer(record.event)
        router.warm_up()  # before the first call, not during it (numba loads its kernels)
        lon, lat = (float(v) for v in router.net.node_lonlat[0])
        warm = device_fix(lat, lon, 20.0)
        locator.locate(CallEvidence((warm,) if warm else ()), 0.0)  # and fusion's first use
        replayed = replay(log, self.engine)
        self._open_feeds(f"hospital:{h.id}" for h in self.hospitals.hospitals)
        if clock is None:
            started = time.monotonic()

            def clock() -> float:
                return last_at_s + (time.monotonic() - started)

        self._clock = clock
        # Engine time runs on across restarts without the downtime: each start logs where it
        # stood on the wall clock, so the cockpit can put any engine time on a calendar.
        self._anchors: list[tuple[float, float]] = []
        while page := log.read_feed(CLOCK, len(self._anchors)):
            self._anchors += [(float(r.body["engine_s"]), float(r.body["wall_s"])) for r in page]
        anchor = {"engine_s": self.now(), "wall_s": time.time()}
        self.feed(CLOCK, anchor)
        self._anchors.append((anchor["engine_s"], anchor["wall_s"]))
        if replayed == 0 and settings.seed_fleet:
            for unit in demo_fleet(router.net, settings.seed_fleet):
                self.submit(unit)
        tokens.ensure_units(self.engine.units)
        tokens.ensure_hospitals(h.id for h in self.hospitals.hospitals)
        logger.info(
            "dispatch service ready: %d records replayed, %d units, %d incidents",
            replayed,
            len(self.engine.units),
            len(self.engine.incidents),
        )

    @classmethod
    def open(cls, settings: Settings, hub: Hub) -> DispatchService:
        """Load the city, open (or create) the tokens and the log, replay, seed the fleet."""
        router, locator = build_world(settings.network)
        tokens = TokenBook.open(settings.tokens_file)
        log = open_log(settings.store_url)
        try:
            return cls(settings, log, hub, router, locator, tokens)
        except BaseException:
            log.close()
            raise

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on appends go to a writer thread in batches (group commit), off the loop."""
        self._commit = GroupCommit(self.log, loop)

    async def settled(self) -> None:
        """Wait until every event submitted so far is durable and published; StoreError if not.

        A request handler awaits this before it answers: nothing is acknowledged before it is
        in the log. Appends complete in order, so the last one pending speaks for all.
        """
        if self._settled is not None:
            await asyncio.shield(self._settled)

    def close(self) -> None:
        if self._commit is not None:
            self._commit.close()
        self.log.close()

    # --- time and health --------------------------------------------------------------------
    def now(self) -> float:
        return max(self._clock(), self.engine.now_s)

    def ready(self) -> bool:
        return not self.poisoned and self.log.ping()

    # --- the one way state changes ------------------------------------------------------------
    def submit(
        self,
        event: ev.Event,
        idem_key: str | None = None,
        first: Iterable[Frame] = (),
        then: Iterable[Frame] = (),
    ) -> list[ev.Decision]:
        """Apply now; append; publish `first`, the decisions' frames and `then` once durable.
        A patient leaving the scene with no hospital chosen is routed to the best one."""
        decisions = self._submit_one(event, idem_key, first, then)
        for d in decisions:
            if isinstance(d, ev.IncidentStepped) and d.step is Step.LEFT_SCENE:
                self._auto_destination(d.incident_id)
        return decisions

    def _auto_destination(self, incident_id: IncidentId) -> None:
        """Transport started and nobody chose: the first of `destinations`, logged as "auto"
        with its reasons, so the hospital hears `patient.inbound` as the patient boards."""
        if self.engine.incidents[incident_id].destination is not None:
            return
        choices = self.destinations(incident_id)
        if choices:
            best = choices[0]
            reason = str(best["summary"])[:200]
            self.choose_destination(incident_id, best["hospital_id"], "auto", reason)

    def _submit_one(
        self,
        event: ev.Event,
        idem_key: str | None,
        first: Iterable[Frame],
        then: Iterable[Frame],
    ) -> list[ev.Decision]:
        """`submit` for one event. Before `start` (replay, seeding) the append is synchronous.
        After it, the append is queued for the writer thread and the frames wait for it: await
        `settled()` before acknowledging anything. A unit's position is the exception: it is
        published by `flush_positions` and logged at most every `position_log_s` per unit,
        since a tablet re-sends it every second and no one is answered for it.
        """
        if self.poisoned:
            raise StoreError("the event log failed earlier; the server must be restarted")
        now = self.now()
        self.engine.receive(event, now)  # a refusal raises here and changes nothing
        if self._commit is not None and self.engine.advice_due:
            entry = (now, codec.to_dict(event), idem_key)
            return self._submit_advised(event, entry, first, then)
        decisions = self.engine.decisions()
        frames = [*first, *self._frames(event, decisions), *then]
        logged: list[FeedRecord] = []  # a hospital's frames: logged with the event
        if any(fed(topic) for topic, _, _ in frames):
            logged = [self._next_record(t, m) for t, m, _ in frames if fed(t) and m is not None]
            frames = [f for f in frames if not fed(f[0])]
        if isinstance(event, ev.UnitPositionReported):
            self._moved[event.unit_id] = None
            last = self._position_logged.get(event.unit_id)
            if (
                not decisions
                and not logged
                and last is not None
                and now - last < self.settings.position_log_s
            ):
                self._emit(frames)
                return decisions
            self._position_logged[event.unit_id] = now
        elif isinstance(event, ev.ClockTicked) and not decisions:
            return decisions
        entry = (now, codec.to_dict(event), idem_key)
        if self._commit is None:
            [(_, created)] = self._write_now([entry], logged)
            if not created:  # the key was taken between the check and the append
                raise self._poison(StoreError("idempotency key already logged"))
            self._emit(frames)
            return decisions
        self._queue_logged(logged)  # first, so they ride in the batch the event starts
        quiet = isinstance(event, ev.UnitPositionReported) and not decisions
        self._commit.append(entry, self._on_settled(frames), lazy=quiet)
        return decisions

    def _submit_advised(
        self,
        event: ev.Event,
        entry: tuple[float, dict[str, Any], str | None],
        first: Iterable[Frame],
        then: Iterable[Frame],
    ) -> list[ev.Decision]:
        """An event that owes a recommendation (a call, a triage, a new place): append it
        first, then rank the units while the disk writes (the fsync and the ranking each take
        a few ms; the console's recommendation waits for the longer, not the sum). A frame for
        a fed topic made here rides in the next batch, published once that is durable."""
        assert self._commit is not None
        frames: list[Frame] = []  # filled below, before the loop can run the callback
        self._commit.append(entry, self._on_settled(frames))
        decisions = self.engine.decisions()
        made = [*first, *self._frames(event, decisions), *then]
        logged = [self._next_record(t, m) for t, m, _ in made if fed(t) and m is not None]
        self._queue_logged(logged)
        frames.extend(f for f in made if not fed(f[0]))
        return decisions

    def _on_settled(self, frames: list[Frame]) -> Done:
        """The callback of a queued event: publish its frames once durable, else poison;
        `settled()` waits for it."""
        settled = asyncio.get_running_loop().create_future()
        self._settled = settled

        def done(written: tuple[Record, bool] | None, error: BaseException | None) -> None:
            if written is not None and not written[1]:
                error = StoreError("idempotency key already logged")
            if error is not None:
                settled.set_exception(self._poison(error))
                settled.exception()  # retrieved: an unawaited failure is logged by _poison
            else:
                self._emit(frames)
                settled.set_result(None)
            if self._settled is settled:
                self._settled = None

        return done

    def _poison(self, exc: BaseException) -> StoreError:
        """Engine and log now differ: refuse everything until a restart replays the log."""
        if not self.poisoned:
            self.poisoned = True
            logger.error(
                "event log append failed (%s); engine and log differ: restart", type(exc).__name__
            )
        if isinstance(exc, StoreError):
            return exc
        return StoreError(f"event log append failed: {type(exc).__name__}")

    def tick(self) -> None:
        """Expire traffic entries, then tick the engine (offer escalations)."""
        self.expire_traffic()
        self.submit(ev.ClockTicked())

    # --- calls --------------------------------------------------------------------------------
    def call_key(self, phone: str, key: str) -> str:
        """The log's idempotency key of a call: scoped to the phone, which it does not reveal."""
        return "call:" + self.tokens.keyed_hash("call", phone, key)

    def create_call(
        self, phone: str, evidence: CallEvidence, complaint: Complaint | None, key: str
    ) -> tuple[dict[str, Any], bool]:
        """The call's answer body and True, or the first answer and False for a known key."""
        idem = self.call_key(phone, key)
        earlier = self._call_keys.get(idem)
        if earlier is not None:
            return self._call_body(earlier, self._locate(evidence)), False
        estimate = self._locate(evidence)
        if estimate is None:
            raise NoLocation("nothing in the call could be located")
        incident_id = IncidentId("I" + secrets.token_hex(5))
        while incident_id in self.engine.incidents:
            incident_id = IncidentId("I" + secrets.token_hex(5))
        token = self.tokens.caller_token(incident_id)
        event = ev.CallReceived(
            incident_id,
            estimate.lat,
            estimate.lon,
            min(estimate.radius95_m, 100_000.0),
            complaint,
            sha256_hex(token),
            conflict=estimate.conflict is not None,
        )
        self._descriptions[incident_id] = estimate.description
        flood = self._count_call(phone)
        body = self._call_body(codec.to_dict(event), estimate)
        console = {
            "type": "call.received",
            "incident_id": incident_id,
            "estimate": body["estimate"],
            "flood_suspected": flood,
            "priority": int(self.engine.first_priority(complaint)),  # a queue sorts it at once
            "complaint": (complaint or Complaint.OTHER).value,
        }
        firsts: list[Frame] = [("console", console, None)]
        if flood:
            firsts.append(
                ("console", {"type": "call.flood_suspected", "incident_id": incident_id}, None)
            )
        try:
            self.submit(event, idem, firsts)
        except DispatchError:
            del self._descriptions[incident_id]
            raise
        self._call_keys[idem] = _first_answer(codec.to_dict(event))
        self._remember_caller(incident_id, event.caller_token_sha256)
        self._evidence[incident_id] = evidence
        self._fused[incident_id] = (evidence, estimate)  # what the console's views show
        return body, True

    def _locate(self, evidence: CallEvidence) -> Estimate | None:
        return self.locator.locate(evidence, self.now())

    def _call_body(self, event: dict[str, Any], estimate: Estimate | None) -> dict[str, Any]:
        """201/200 body; place from the logged event, conflict from the (re-)fused evidence."""
        incident_id = IncidentId(event["incident_id"])
        conflict = plain(estimate.conflict) if estimate is not None else None
        return {
            "incident_id": incident_id,
            "estimate": {
                "lat": event["lat"],
                "lon": event["lon"],
                "radius95_m": event["radius95_m"],
                "description": self.description(incident_id, event["lat"], event["lon"]),
                "conflict": conflict,
            },
            "caller_token": self.tokens.caller_token(incident_id),
        }

    def _count_call(self, phone: str) -> bool:
        """Count a call from `phone`; True when it is above the per-minute limit (a flood)."""
        now = self.now()
        key = self.tokens.keyed_hash("phone", phone)
        times = self._phone_calls.setdefault(key, deque())
        while times and times[0] < now - FLOOD_WINDOW_S:
            times.popleft()
        times.append(now)
        if len(self._phone_calls) > MAX_PHONES_TRACKED:  # forget the quietest phones first
            for k in [k for k, t in self._phone_calls.items() if t[-1] < now - FLOOD_WINDOW_S]:
                del self._phone_calls[k]
        return len(times) > self.settings.calls_per_phone_per_min

    def _remember_caller(self, incident_id: str, token_sha256: str) -> None:
        self.caller_hash[IncidentId(incident_id)] = token_sha256
        self._by_caller_hash[token_sha256] = IncidentId(incident_id)

    # --- the receiving hospital ---------------------------------------------------------------
    def choose_destination(self, incident_id: str, hospital_id: str, by: str, reason: str) -> None:
        """Route the patient to a hospital: it hears `patient.inbound`, and a hospital chosen
        before hears `patient.diverted` and nothing more of this patient."""
        if hospital_id not in self.hospitals:
            raise UnknownHospital(f"no hospital {hospital_id}")
        inc = self.engine.incident(IncidentId(incident_id))
        before = inc.destination
        event = ev.DestinationChosen(inc.incident_id, hospital_id, by, reason)
        chosen = {
            "type": "destination.chosen",
            "incident_id": inc.incident_id,
            "hospital_id": hospital_id,
            "by": by,
            "reason": reason,
        }
        inbound = {"type": "patient.inbound", **self.inbound_view(inc, hospital_id)}
        then: list[Frame] = [(f"hospital:{hospital_id}", inbound, None)]
        if inc.unit_id is not None:  # the crew drives there: where, and why
            place = self.hospitals.hospital(hospital_id)
            crew = {
                **chosen,
                "name": place.name_zh,
                "name_en": place.name_en,
                "address": place.address,
                "lat": place.lat,
                "lon": place.lon,
            }
            then.append((f"unit:{inc.unit_id}", crew, None))
        if before is not None and before != hospital_id:
            diverted = self.diverted_message(inc.incident_id, before)
            then.append((f"hospital:{before}", diverted, None))
        self.submit(event, first=[("console", chosen, None)], then=then)

    def wall_of(self, engine_s: float) -> float:
        """The Unix time of an engine time, by the last start before it (`_anchors`)."""
        i = bisect.bisect_right(self._anchors, (engine_s, math.inf)) - 1
        engine0, wall0 = self._anchors[max(i, 0)]
        return wall0 + (engine_s - engine0)

    def cockpit_rows(self) -> list[CockpitRow]:
        """Every incident as the cockpit reads it, on the wall clock."""
        rows = []
        for inc in self.engine.incidents.values():
            steps = {s: self.wall_of(t) for s, t in inc.timeline.items()}
            rows.append(
                CockpitRow(
                    inc.incident_id,
                    steps[Step.CALL_RECEIVED],
                    steps,
                    inc.priority,
                    inc.complaint.value,
                    inc.lat,
                    inc.lon,
                    inc.call_radius95_m,
                    inc.conflict,
                )
            )
        return rows

    def routed_to(self, incident_id: str) -> str | None:
        """The hospital the incident's patient is routed to, if any (None for no incident)."""
        inc = self.engine.incidents.get(IncidentId(incident_id))
        return inc.destination if inc is not None else None

    def describe_patient(self, incident_id: str, age_band: str | None, sex: str | None) -> None:
        """The patient's age band and sex for the receiving hospital's notice (logged)."""
        self.submit(ev.PatientDescribed(IncidentId(incident_id), age_band, sex))

    def hospital_ack(self, hospital_id: str, incident_id: Any) -> bool:
        """The hospital acknowledged its pre-arrival notice; False when it had already.
        A patient not routed to this hospital is "unknown" to it, whatever exists."""
        found = isinstance(incident_id, str)
        inc = self.engine.incidents.get(IncidentId(incident_id)) if found else None
        if inc is None or not inc.open or inc.destination != hospital_id:
            raise UnknownIncident("no such patient is routed to this hospital")
        if inc.hospital_ack_at_s is not None:
            return False
        self.submit(ev.HospitalAcknowledged(inc.incident_id, hospital_id))
        return True

    def report_hospital_status(
        self,
        hospital_id: str,
        diverted: list[str],
        ed_occupancy: float | None,
        offload_wait_min: float | None,
        expires_in_s: float,
    ) -> dict[str, Any]:
        """A hospital's own report (diversion per capability, ED load, offload wait), trusted
        until it expires (hospital_link.registry). Live data like traffic: not logged, so a
        restart forgets it and the hospital's next report restores it."""
        if hospital_id not in self.hospitals:
            raise UnknownHospital(f"no hospital {hospital_id}")
        now = self.now()
        status = HospitalStatus(
            now,
            now + expires_in_s,
            frozenset(parse_capability(c) for c in diverted),
            ed_occupancy,
            offload_wait_min,
        )
        self.hospitals.update_status(hospital_id, status, now)
        view = self.hospital_status_view(hospital_id)
        self.hub.publish("console", {"type": "hospital.status", **view})
        return view

    def hospital_status_view(self, hospital_id: str) -> dict[str, Any]:
        current = self.hospitals.status(hospital_id, self.now())
        return {"hospital_id": hospital_id, **plain(current)}

    def nearby_aeds(self, incident_id: str, k: int, max_walk_s: float) -> list[dict[str, Any]]:
        """The k public AEDs a bystander can fetch quickest on foot, open now (or of unknown
        hours, flagged), with the walk and directions to read out (aed_map.walking)."""
        inc = self.engine.incident(IncidentId(incident_id))
        now_local = datetime.now(CITY_TIME)
        options = nearest_aeds(self.aeds, inc.lat, inc.lon, now_local, k, max_walk_s)
        return [
            {
                "aed_id": o.aed.id,
                "lat": o.aed.lat,
                "lon": o.aed.lon,
                "distance_m": round(o.distance_m),
                "walk_s": round(o.walk_s),
                "round_trip_s": round(o.round_trip_s),
                "state": o.state.value,
                "directions": o.directions,
                "indoor": o.aed.indoor,
                "level": o.aed.level,
                "location": o.aed.location,
                "description": o.aed.description,
                "operator": o.aed.operator,
                "source": o.aed.source,
            }
            for o in options
        ]

    # --- who is asking --------------------------------------------------------------------------
    def identify(self, token: str) -> tuple[Role, str] | None:
        """(role, subject): subject is the unit id of a unit, the incident id of a caller."""
        staff = self.tokens.role_of(token)
        if staff is not None:
            return staff
        incident_id = self._by_caller_hash.get(sha256_hex(token))
        if incident_id is not None:
            return (Role.CALLER, incident_id)
        for resolve in self.token_resolvers:
            found = resolve(token)
            if found is not None:
                return found
        return None

    def is_caller_of(self, incident_id: str, token: str) -> bool:
        stored = self.caller_hash.get(IncidentId(incident_id))
        return stored is not None and same(sha256_hex(token), stored)

    # --- fan-out ------------------------------------------------------------------------------
    def _frames(self, event: ev.Event, decisions: list[ev.Decision]) -> list[Frame]:
        """The frames an applied event makes, built now (the state they show is this event's)."""
        out: list[Frame] = []
        for d in decisions:
            out.append(("console", {"type": WIRE_TYPE[type(d)], **plain(d)}, None))
            if isinstance(d, ev.IncidentStepped):
                step = {
                    "type": "incident.stepped",
                    "step": d.step.value,
                    "name": d.step.name.lower(),
                    "at_s": d.at_s,
                }
                out.append((f"call:{d.incident_id}", step, None))
                if d.step in CALLER_DONE:  # the caller's socket ends with this frame
                    out.append((f"call:{d.incident_id}", None, None))
                out.extend(self._hospital_done(d))
                if d.step is Step.CLOSED:
                    self._eta_sent.pop(d.incident_id, None)
                    self.latest_vitals.pop(d.incident_id, None)
                    self.vitals_seq.pop(d.incident_id, None)
                    self._aeds_sent.discard(d.incident_id)
                    self._evidence.pop(d.incident_id, None)
                    self._fused.pop(d.incident_id, None)
                    self._placed_by_dispatcher.discard(d.incident_id)
            elif isinstance(d, ev.OfferSent):
                offer = {
                    "type": "offer.sent",
                    "devices": list(d.devices),
                    **(self.job_of(d.unit_id) or {}),
                    "by": d.by,
                }
                out.append((f"unit:{d.unit_id}", offer, None))
                out.extend(self._approach_frames(d.incident_id))
            elif isinstance(d, ev.OfferEscalated):
                withdrawn = {"type": "offer.withdrawn", "incident_id": d.incident_id}
                out.append((f"unit:{d.unit_id}", withdrawn, None))
            elif isinstance(d, ev.UnitChanged):
                out.append((f"unit:{d.unit_id}", {"type": "unit.changed", **plain(d)}, None))
            elif isinstance(d, ev.HospitalAcked):
                acked = {
                    "type": "patient.acknowledged",
                    "incident_id": d.incident_id,
                    "after_s": round(d.after_s, 1),
                }
                out.append((f"hospital:{d.hospital_id}", acked, None))
        if isinstance(event, ev.IncidentTriaged):  # every console re-sorts its queue
            triaged = {
                "type": "incident.triaged",
                "incident_id": event.incident_id,
                "priority": int(event.priority),
                "complaint": event.complaint.value,
                "determinant": event.determinant,
            }
            out.insert(0, ("console", triaged, None))
        if isinstance(event, ev.IncidentTriaged | ev.PatientDescribed):
            out.extend(self._inbound_update(event.incident_id))
        if isinstance(event, ev.CallReceived | ev.IncidentTriaged):
            out.extend(self._aeds_for_arrest(event.incident_id))
        for watch in self.watchers:
            out.extend(watch(event, decisions))
        return out

    def _aeds_for_arrest(self, incident_id: IncidentId) -> list[Frame]:
        """A cardiac arrest: the console gets the nearest open AEDs at once, with the
        directions to read to a bystander (once per incident; ~1 ms over 10k AEDs)."""
        inc = self.engine.incidents[incident_id]
        if inc.complaint is not Complaint.CARDIAC_ARREST or incident_id in self._aeds_sent:
            return []
        self._aeds_sent.add(incident_id)
        try:
            aeds = self.nearby_aeds(incident_id, 3, 600.0)
        except (AedMapError, RoutingError):  # off the walking map: the dispatcher asks by HTTP
            return []
        return [
            ("console", {"type": "incident.aeds", "incident_id": incident_id, "aeds": aeds}, None)
        ]

    def _inbound_update(self, incident_id: IncidentId) -> list[Frame]:
        """The patient's notice again, when triage or the patient's description changed."""
        inc = self.engine.incidents[incident_id]
        if inc.destination is None or Step.TRANSFER_OF_CARE in inc.timeline:
            return []
        inbound = {"type": "patient.inbound", **self.inbound_view(inc, inc.destination)}
        return [(f"hospital:{inc.destination}", inbound, None)]

    def _hospital_done(self, d: ev.IncidentStepped) -> list[Frame]:
        """`patient.closed` to the receiving hospital once the patient is no longer coming:
        handed over, or the incident closed before that (cancelled before transport)."""
        inc = self.engine.incidents[d.incident_id]
        if inc.destination is None:
            return []
        if d.step is Step.TRANSFER_OF_CARE:
            reason = "handed_over"
        elif d.step is Step.CLOSED and Step.TRANSFER_OF_CARE not in inc.timeline:
            reason = "cancelled" if Step.CANCELLED in inc.timeline else "closed"
        else:
            return []
        fhir = closed_bundle(
            self.stream_context(d.incident_id),
            incident_id=d.incident_id,
            hospital_id=inc.destination,
            at_s=time.time(),
            handed_over=reason == "handed_over",
        )
        closed = {
            "type": "patient.closed",
            "incident_id": d.incident_id,
            "reason": reason,
            "fhir": fhir,
        }
        return [(f"hospital:{inc.destination}", closed, None)]

    def _emit(self, frames: Iterable[Frame]) -> None:
        for topic, message, coalesce in frames:
            if message is None:
                self.hub.end(topic)
            else:
                self.hub.publish(topic, message, coalesce)

    def flush_positions(self) -> int:
        """Publish the units that moved since the last flush: one console frame for all.

        A console draws the fleet a few times a second, not a frame per unit per second (1000
        units would be 1000 frames a second to every dispatcher), and each caller whose unit is
        coming gets its position and a fresh driving ETA. Returns how many units moved.
        """
        if not self._moved:
            return 0
        moved, self._moved = self._moved, {}
        units = self.engine.units
        rows = [[u, units[u].lat, units[u].lon] for u in moved if u in units]  # type: ignore[index]
        self.hub.publish("console", {"type": "units.moved", "units": rows})
        for unit_id in moved:
            unit = units.get(unit_id)  # type: ignore[call-overload]
            if unit is not None and unit.incident_id is not None:
                self._emit(self._approach_frames(unit.incident_id))
                self._eta_to_hospital(unit.incident_id)
        return len(rows)

    def _eta_to_hospital(self, incident_id: IncidentId) -> None:
        """A transporting unit's road ETA to its hospital's door, as `patient.eta`, every
        `hospital_eta_every_s` while it moves (the vitals bundles carry it every second too)."""
        inc = self.engine.incidents.get(incident_id)
        if inc is None or inc.destination is None or inc.unit_id is None:
            return
        if inc.step is not Step.LEFT_SCENE:
            return
        now = self.now()
        if now - self._eta_sent.get(incident_id, -1e18) < self.settings.hospital_eta_every_s:
            return
        unit = self.engine.units[inc.unit_id]
        door = self.hospital_door(inc.destination)
        eta_s = self.eta_to(unit, door) if door is not None else None
        if eta_s is None:
            return
        self._eta_sent[incident_id] = now
        fhir = eta_bundle(
            self.stream_context(incident_id),
            incident_id=incident_id,
            hospital_id=inc.destination,
            unit_id=unit.unit_id,
            at_s=time.time(),
            eta_s=eta_s,
            lat=unit.lat,
            lon=unit.lon,
        )
        message = {
            "type": "patient.eta",
            "incident_id": incident_id,
            "unit_id": unit.unit_id,
            "eta_s": round(eta_s),
            "lat": unit.lat,
            "lon": unit.lon,
            "fhir": fhir,
        }
        self.feed(f"hospital:{inc.destination}", message, lazy=True)

    def _approach_frames(self, incident_id: IncidentId) -> list[Frame]:
        inc = self.engine.incidents.get(incident_id)
        coming = self.approach(inc) if inc is not None else None
        if coming is None:
            return []
        return [(f"call:{incident_id}", {"type": "unit.approaching", **coming}, "approach")]
