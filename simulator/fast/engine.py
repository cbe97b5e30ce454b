"""The fast engine: a discrete-event loop on a virtual clock that drives the real dispatch engine.

No sockets, no wall clock, no 1 Hz positions. Every call is a `CallSpec` drawn in advance;
the loop turns it into the events a dispatch centre would log (`CallReceived`,
`IncidentTriaged`, `UnitAssigned`, `OfferAcknowledged`, crew `UnitStatusReported`,
`DestinationChosen`, `HospitalAcknowledged`, `HandoverCompleted`, `UnitPositionReported`) and
feeds them to `dispatch.core.engine.Engine` at their times. A unit moves at once when a drive ends
(its position is reported on arrival); an idle unit driving back to a station is placed at the
last node it passed whenever a decision needs it. Driving times are the road ETA under the
traffic period in force when the drive starts, times the call's noise factor.

One call's life: received -> triaged after the call-processing interval (the policy picks a
unit then; with none, the call waits and is offered each unit that frees up, P1 first) ->
acknowledged -> en route after turnout -> on scene -> transport to the hospital the server's
own rule picks (`dispatch.core.destination.auto_destination`), or treated on scene -> at
hospital; transfer of care half-way through the at-hospital interval -> available, then drive
to the station the policy picks.

The engine runs with `replaying = True`: it derives every state change but skips unsolicited
advice (recommendations on every call, duplicate and swap suggestions), which nobody reads
here; the `default` policy asks `Engine.recommend` explicitly when it decides. A unit at
hospital may be offered a new job once its patient is handed over (`Engine.can_take`); the
offer closes its last incident, and the crew leaves at once (it stops clearing).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from dispatch.core import events as ev
from dispatch.core.destination import auto_destination
from dispatch.core.engine import Engine, EngineSettings
from dispatch.core.model import Capability, Step, UnitId, UnitStatus
from routing.network import F64
from simulator.fast.metrics import Record, RunResult
from simulator.fast.motion import Trip, plan_trip
from simulator.fast.observe import Observer
from simulator.fast.policies import Policy
from simulator.world.calls import CallSpec
from simulator.world.reach import ReachTable, from_positions
from simulator.world.rhythm import hour_of
from simulator.world.scenario import World


@dataclass(frozen=True)
class RunParams:
    """One run's clock and the fixed delays of the crews and hospitals (seconds)."""

    horizon_s: float = 24 * 3600.0
    warmup_s: float = 3600.0  # calls from -warmup_s are simulated but not scored
    drain_s: float = 6 * 3600.0  # after the horizon, finish the calls in hand, at most this long
    sample_s: float = 60.0  # utilisation and coverage sampling step
    ack_s: float = 8.0  # a crew acknowledges on its device after this (before rolling)
    hospital_ack_s: float = 20.0
    handover_share: float = 0.5  # transfer of care at this share of the at-hospital interval
    radius95_m: float = 30.0  # located calls' uncertainty

    def __post_init__(self) -> None:
        if not (0 < self.horizon_s <= 366 * 86_400 and math.isfinite(self.horizon_s)):
            raise ValueError("horizon_s must be in (0, 366 days]")
        if not (0 <= self.warmup_s <= 86_400 and 0 <= self.drain_s <= 7 * 86_400):
            raise ValueError("warmup_s must be in 0..1 day and drain_s in 0..7 days")
        if not (0 < self.sample_s <= 3600):
            raise ValueError("sample_s must be in (0, 3600]")
        if not (0 < self.ack_s < 30 and 0 <= self.handover_share < 1):
            raise ValueError("ack_s must be in (0, 30) s and handover_share in [0, 1)")


class Kind(IntEnum):
    """Scheduled happenings, in the order ties at one instant are handled."""

    PERIOD = 0
    CALL = 1
    TRIAGE = 2
    ACK = 3
    ROLL = 4
    ARRIVE = 5
    LEAVE = 6
    HOSPITAL_ACK = 7
    AT_HOSPITAL = 8
    HANDOVER = 9
    FREE = 10
    BASE = 11


UNIT_BOUND = frozenset(
    {Kind.ACK, Kind.ROLL, Kind.ARRIVE, Kind.LEAVE, Kind.AT_HOSPITAL, Kind.FREE, Kind.BASE}
)
IDLE = frozenset({UnitStatus.AVAILABLE_AT_STATION, UnitStatus.AVAILABLE_ON_ROAD})


class FastSim:
    """One run: a world, a policy, the calls; `run()` returns the RunResult."""

    def __init__(
        self,
        world: World,
        policy: Policy,
        calls: Sequence[CallSpec],
        seed: int,
        params: RunParams | None = None,
        finding_s: Sequence[float] | None = None,
    ) -> None:
        self.world, self.policy, self.calls, self.seed = world, policy, list(calls), seed
        self.p = params or RunParams()
        # Per call: kerb to patient, seconds (a crew sent to a wrong estimate drives on and
        # asks); on scene is at the patient. None: the crew stops at the patient.
        self.finding_s = list(finding_s) if finding_s is not None else [0.0] * len(self.calls)
        if len(self.finding_s) != len(self.calls):
            raise ValueError("finding_s needs one value per call")
        self.engine = Engine(world.router, EngineSettings())
        self.engine.replaying = True  # advice is asked for, not pushed (see the docstring)
        self.now_s = -self.p.warmup_s
        n = world.n_units
        self.ids: list[UnitId] = [u.unit_id for u in world.fleet]
        self._index = {uid: k for k, uid in enumerate(self.ids)}
        self.gen = [0] * n  # bumped on every new plan: older unit-bound events are void
        self.job = [-1] * n
        self.trip: list[Trip | None] = [None] * n
        self.last_noise = [1.0] * n
        self.unit_of = [-1] * len(self.calls)
        self.assigned_at = [math.nan] * len(self.calls)
        self.on_scene_at = [math.nan] * len(self.calls)
        self.drive_s = [0.0] * len(self.calls)
        self.hospital: list[str | None] = [None] * len(self.calls)
        self.waiting: set[int] = set()
        self._heap: list[tuple[float, int, int, int, int, int]] = []
        self._seq = 0
        self.period = ""
        self.observer = Observer(n, len(world.zones), self.p.horizon_s, self.p.sample_s)
        self._busy_done_s = 0.0  # committed unit-seconds of finished jobs, warm-up included

    # --- the view policies read (simulator.fast.policies.RunView) ------------------------------
    def idle(self) -> list[int]:
        units = self.engine.units
        return [k for k, uid in enumerate(self.ids) if units[uid].status in IDLE]

    def unit_id(self, u: int) -> UnitId:
        return self.ids[u]

    def unit_index(self, unit_id: UnitId) -> int:
        return self._index[unit_id]

    def at_station(self, u: int) -> bool:
        return self.engine.units[self.ids[u]].status is UnitStatus.AVAILABLE_AT_STATION

    def call(self, i: int) -> CallSpec:
        return self.calls[i]

    def table(self) -> ReachTable:
        return self.world.tables[self.period]

    def zone_weights(self) -> F64:
        return self.world.zones.weights(hour_of(self.now_s))

    def coverage_times(self, units: Sequence[int]) -> F64:
        """(zones, units): from where each counts: its trip's station, else its position."""
        w, units_by_id = self.world, self.engine.units
        edge = np.empty(len(units), dtype=np.int64)
        frac = np.empty(len(units))
        for c, u in enumerate(units):
            trip = self.trip[u]
            pos = w.station_pos[trip.station] if trip else units_by_id[self.ids[u]].position
            edge[c], frac[c] = pos.edge, pos.fraction
        out: F64 = from_positions(w.net, self.table().to_zone_s, edge, frac).astype(np.float64)
        return out

    def busy_fraction(self) -> float:
        """Committed unit-seconds over unit-seconds since the run started, warm-up included,
        with half an hour of a 0.3 prior so the first calls do not see 0 or 1."""
        prior_s, n = 1800.0, len(self.ids)
        busy = self._busy_done_s + sum(
            self.now_s - s for s in self.observer.busy_since if s is not None
        )
        elapsed = self.now_s + self.p.warmup_s
        return min(max((busy + 0.3 * n * prior_s) / (n * (elapsed + prior_s)), 0.0), 0.95)

    # --- running -----------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> RunResult:
        """Simulate to the horizon (and drain); `progress` gets simulated seconds as they pass."""
        p, w = self.p, self.world
        start = -p.warmup_s
        self._set_period(w.params.rhythm.period(start))
        for unit in w.fleet:
            self.engine.receive(unit, start)
        for i, c in enumerate(self.calls):
            if start <= c.at_s < p.horizon_s:
                self._push(c.at_s, Kind.CALL, i)
        t = math.floor(start / 3600) * 3600.0 + 3600.0
        while t < p.horizon_s + p.drain_s:
            self._push(t, Kind.PERIOD, hour_of(t))
            t += 3600.0
        shown = 0.0
        end = p.horizon_s + p.drain_s
        while self._heap:
            at, kind, _, i, u, g = heapq.heappop(self._heap)
            if at > end:
                break
            while (due := self.observer.due(at)) is not None:
                self._sample(due)
            if progress is not None and min(at, p.horizon_s) - shown >= 600.0:
                progress(min(at, p.horizon_s) - shown)  # simulated seconds of [0, horizon)
                shown = min(at, p.horizon_s)
            if kind in UNIT_BOUND and g != self.gen[u]:
                continue
            self.now_s = at
            self._handle(Kind(kind), i, u)
        while (due := self.observer.due(p.horizon_s)) is not None:
            self._sample(due)
        if progress is not None and p.horizon_s > shown:
            progress(p.horizon_s - shown)
        return self._result()

    def _push(self, at_s: float, kind: Kind, i: int = -1, u: int = -1, g: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at_s, int(kind), self._seq, i, u, g))

    def _send(self, event: ev.Event) -> None:
        self.engine.receive(event, self.now_s)

    def _set_period(self, period: str) -> None:
        if period != self.period:
            self.period = period
            self.world.set_period(period)

    # --- handlers ----------------------------------------------------------------------------
    def _handle(self, kind: Kind, i: int, u: int) -> None:
        c = self.calls[i] if i >= 0 and kind is not Kind.PERIOD else None
        uid = self.ids[u] if u >= 0 else None
        if kind is Kind.PERIOD:
            self._set_period(self.world.params.rhythm.period(self.now_s))
        elif kind is Kind.CALL and c:
            self._send(ev.CallReceived(c.incident_id, c.lat, c.lon, self.p.radius95_m, c.complaint))
            self._push(self.now_s + c.triage_s, Kind.TRIAGE, i)
        elif kind is Kind.TRIAGE and c:
            self._send(ev.IncidentTriaged(c.incident_id, c.priority, c.complaint))
            self.waiting.add(i)
            self._dispatch()
        elif kind is Kind.ACK and c and uid:
            self._send(ev.OfferAcknowledged(c.incident_id, uid, self.world.fleet[u].devices[0]))
        elif kind is Kind.ROLL and c and uid:
            self._send(ev.UnitStatusReported(uid, UnitStatus.EN_ROUTE))
            arrive = self.now_s + self.drive_s[i] + self.finding_s[i]
            self._push(arrive, Kind.ARRIVE, i, u, self.gen[u])
        elif kind is Kind.ARRIVE and c and uid:
            self._send(ev.UnitPositionReported(uid, c.lat, c.lon))
            self._send(ev.UnitStatusReported(uid, UnitStatus.ON_SCENE))
            self.on_scene_at[i] = self.now_s
            self._push(self.now_s + c.on_scene_s, Kind.LEAVE, i, u, self.gen[u])
        elif kind is Kind.LEAVE and c and uid:
            self._leave_scene(i, u, c, uid)
        elif kind is Kind.HOSPITAL_ACK and c:
            inc, hid = self.engine.incidents[c.incident_id], self.hospital[i]
            if inc.open and hid is not None and inc.destination == hid:
                self._send(ev.HospitalAcknowledged(c.incident_id, hid))
        elif kind is Kind.AT_HOSPITAL and c and uid:
            h = self.world.registry.hospital(self.hospital[i] or "")
            self._send(ev.UnitPositionReported(uid, h.lat, h.lon))
            self._send(ev.UnitStatusReported(uid, UnitStatus.AT_HOSPITAL))
            self._push(self.now_s + self.p.handover_share * c.at_hospital_s, Kind.HANDOVER, i)
            self._push(self.now_s + c.at_hospital_s, Kind.FREE, i, u, self.gen[u])
            self._dispatch()  # the default policy may take a unit clearing at hospital
        elif kind is Kind.HANDOVER and c:
            if self.engine.incidents[c.incident_id].step is Step.AT_DESTINATION:
                self._send(ev.HandoverCompleted(c.incident_id))
        elif kind is Kind.FREE and uid:
            self._send(ev.UnitStatusReported(uid, UnitStatus.AVAILABLE_ON_ROAD))
            self._freed(u)
        elif kind is Kind.BASE and uid:
            trip = self.trip[u]
            self.trip[u] = None
            if trip is not None:
                s = self.world.stations[trip.station]
                self._send(ev.UnitPositionReported(uid, s.lat, s.lon))
            self._send(ev.UnitStatusReported(uid, UnitStatus.AVAILABLE_AT_STATION))

    def _leave_scene(self, i: int, u: int, c: CallSpec, uid: UnitId) -> None:
        """Transport to the hospital the server's auto rule picks, or treat on scene (also when
        no hospital is reachable at all)."""
        found = self._auto_destination(c) if c.transport else None
        if found is None:
            self._send(ev.UnitStatusReported(uid, UnitStatus.AVAILABLE_ON_ROAD))
            self._freed(u)
            return
        chosen, eta_s = found
        self.hospital[i] = chosen.hospital_id
        self._send(chosen)
        self._send(ev.UnitStatusReported(uid, UnitStatus.TRANSPORTING))
        self._push(self.now_s + self.p.hospital_ack_s, Kind.HOSPITAL_ACK, i)
        arrive = self.now_s + eta_s * c.transport_noise
        self._push(arrive, Kind.AT_HOSPITAL, i, u, self.gen[u])

    def _auto_destination(self, c: CallSpec) -> tuple[ev.DestinationChosen, float] | None:
        """The server's auto rule (`dispatch.core.destination`) on road ETAs from the incident:
        the event and the road ETA to that hospital; None when no hospital is reachable."""
        w = self.world
        inc = self.engine.incidents[c.incident_id]
        pos = inc.position
        eta = from_positions(
            w.net, self.table().to_hospital_s, np.array([pos.edge]), np.array([pos.fraction])
        )[:, 0]
        travel_s = {hid: float(t) for hid, t in zip(w.hospital_ids, eta, strict=True)}
        chosen = auto_destination(inc, w.registry, travel_s, self.now_s)
        return (chosen, travel_s[chosen.hospital_id]) if chosen is not None else None

    # --- decisions ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Offer the waiting calls, most urgent and oldest first, to the policy."""
        if not self.waiting:
            return
        self._report_moving()
        for i in sorted(
            self.waiting, key=lambda k: (self.calls[k].priority, self.calls[k].at_s, k)
        ):
            pick = self.policy.choose(self, i)
            if pick is not None:
                self._assign(i, pick.unit, pick.drive_s)

    def _report_moving(self) -> None:
        """Idle units on their way to a station: place each at the last node it passed."""
        ll = self.world.net.node_lonlat
        for u, trip in enumerate(self.trip):
            node = trip.node_at(self.now_s) if trip else None
            if node is not None:
                self._send(
                    ev.UnitPositionReported(self.ids[u], float(ll[node, 1]), float(ll[node, 0]))
                )
        self.engine.refresh_positions()

    def _assign(self, i: int, u: int, drive_s: float) -> None:
        c, uid = self.calls[i], self.ids[u]
        unit = self.engine.units[uid]
        now = self.now_s
        if unit.status is UnitStatus.AVAILABLE_AT_STATION:
            roll = now + c.turnout_station_s
        else:
            roll = now + c.turnout_road_s
        self.trip[u] = None
        self._send(ev.UnitAssigned(c.incident_id, uid, by=self.policy.name))
        self.waiting.discard(i)
        self.job[u], self.unit_of[i], self.assigned_at[i] = i, u, now
        self.observer.committed(u, now)
        self.drive_s[i] = drive_s * c.drive_noise
        self.last_noise[u] = c.return_noise
        self.gen[u] += 1
        if roll - now > self.p.ack_s:
            self._push(now + self.p.ack_s, Kind.ACK, i, u, self.gen[u])
        self._push(roll, Kind.ROLL, i, u, self.gen[u])

    def _freed(self, u: int) -> None:
        """A unit finished its job: a waiting call may take it; if not, it goes to a station."""
        self.job[u] = -1
        self.gen[u] += 1
        since = self.observer.busy_since[u]
        if since is not None:
            self._busy_done_s += self.now_s - since
        self.observer.released(u, self.now_s)
        self._dispatch()
        if self.job[u] >= 0:
            return
        self.engine.refresh_positions()
        s = self.policy.station_for(self, u)
        here = self.engine.units[self.ids[u]].position
        trip = plan_trip(
            self.world.router, here, self.world.station_pos[s], s, self.now_s, self.last_noise[u]
        )
        self.trip[u] = trip
        self._push(trip.end_s, Kind.BASE, -1, u, self.gen[u])

    # --- measuring ---------------------------------------------------------------------------
    def _sample(self, at_s: float) -> None:
        idle = [u for u in range(len(self.ids)) if self.job[u] < 0]
        times = self._times_now(idle, at_s) if idle else None
        w = self.world
        self.observer.sample(
            len(self.ids) - len(idle),
            times,
            w.params.map_threshold_s,
            w.zones.weights(hour_of(at_s)),
        )

    def _times_now(self, units: list[int], at_s: float) -> F64:
        """(zones, units) from where each idle unit is at at_s (moving ones: last node)."""
        table, net = self.table().to_zone_s, self.world.net
        cols = []
        for u in units:
            trip = self.trip[u]
            node = trip.node_at(at_s) if trip else None
            if node is not None:
                cols.append(table[:, node])
            else:
                pos = self.engine.units[self.ids[u]].position
                cols.append(
                    from_positions(net, table, np.array([pos.edge]), np.array([pos.fraction]))[:, 0]
                )
        out: F64 = np.stack(cols, axis=1).astype(np.float64)
        return out

    def _result(self) -> RunResult:
        h, obs = self.p.horizon_s, self.observer
        obs.close(self.now_s)
        fleet = self.world.fleet
        records = []
        for i, c in enumerate(self.calls):
            if not 0.0 <= c.at_s < h:
                continue
            u = self.unit_of[i]
            records.append(
                Record(
                    c.incident_id,
                    c.at_s,
                    c.priority,
                    c.complaint,
                    c.zone,
                    self.ids[u] if u >= 0 else None,
                    fleet[u].capability is Capability.ALS if u >= 0 else None,
                    self.assigned_at[i],
                    self.on_scene_at[i],
                    self.hospital[i],
                )
            )
        return RunResult(
            self.policy.name,
            self.seed,
            h,
            len(fleet),
            tuple(records),
            obs.busy_s.copy(),
            *obs.series(),
            obs.zone_covered_s.copy(),
        )
