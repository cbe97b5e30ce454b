"""The mass-casualty desk: a dispatcher declares an MCI at an incident, jijiu proposes where the
patients go (`dispatch.core.mci_plan`), dispatches several units at once and keeps the board.

The engine holds one unit per incident, so each transported patient is an incident of its
own, a *child* of the MCI: `CallReceived` at the MCI's place (no caller), `IncidentTriaged`
(its colour as priority: red P1, yellow P2, green P3, the MCI's complaint), `UnitAssigned` (by
"mci": the tablet gets the offer as for any job) and `DestinationChosen` (the plan's hospital,
which hears `patient.inbound`). Units are chosen for all new children together by
`dispatch.core.recommend.assign_jointly` (reds first, ALS for P1); with auto-dispatch of P1 on, the
engine may have offered a unit on triage already, which is then kept. A child's id is the
MCI's id, a dot and a number ("I3f2a9c01b4.03"), so the children are found again in the
replayed engine.

Durable: each declaration (counts, the plan and the capacities it was made with) is a record
of the desk's feed ("desk:mci"), read back at start; the children are engine events. The board
is derived from the children's steps and destinations whenever it is shown, and published to
the console (`mci.board`, coalesced) whenever one of them changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aed_map.mci import MciPlan, Triage
from dispatch.core import events as ev
from dispatch.core.mci_plan import (
    COLOUR_PRIORITY,
    PRIORITY_COLOUR,
    Capacity,
    Child,
    Line,
    Receiving,
    board,
    distribute,
    open_slots,
    stage_of,
)
from dispatch.core.model import IncidentId, IncidentView, UnitId
from dispatch.core.recommend import assign_jointly
from dispatch.desks.agency import AgencyDesk
from dispatch.errors import IllegalTransition, UnitUnavailable, UnknownIncident
from dispatch.service.service import DispatchService
from dispatch.service.views import Frame, plain
from dispatch.store.eventlog import MAX_FEED_READ
from dispatch.ws.server import WsRoute
from routing.snap import Positions

DESK_FEED = "desk:mci"
MAX_UNITS = 50  # units dispatched in one request


class UnknownMci(UnknownIncident):
    """404: no mass-casualty incident was declared there."""

    reason = "unknown_mci"


@dataclass
class Declared:
    incident_id: str
    record: dict[str, Any]  # the desk record: counts, plan, capacities, at_s

    @property
    def lines(self) -> list[Line]:
        return [Line.of(x) for x in self.record["plan"]["lines"]]


def plan_view(p: MciPlan, caps: Sequence[Capacity]) -> dict[str, Any]:
    names = {c.hospital_id: c.name for c in caps}
    lines = [
        {
            "colour": x.colour.value,
            "hospital_id": x.hospital_id,
            "name": names[x.hospital_id],
            "count": x.count,
            "overflow": x.overflow,
            "eta_s": round(x.eta_s),
            "explanation": x.explanation,
        }
        for x in p.lines
    ]
    return {
        "lines": lines,
        "overflow": p.overflow,
        "cost": p.cost,
        "unplaced": {c.value: n for c, n in p.unplaced.items()},
        "not_transported": p.not_transported,
    }


class MciDesk:
    """One server's MCIs: declarations, children, the board."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.mcis: dict[str, Declared] = {}
        self.children: dict[str, list[str]] = {}  # MCI -> its children, in creation order
        self.parents: dict[str, str] = {}  # child -> MCI
        self._quiet = False  # while dispatching: one board at the end, not one per event

    def load(self) -> None:
        """The declarations from the desk's feed, the children from the replayed engine."""
        after = 0
        while page := self.svc.log.read_feed(DESK_FEED, after, MAX_FEED_READ):
            for record in page:
                iid = str(record.body["incident_id"])
                self.mcis[iid] = Declared(iid, record.body)
            after = page[-1].seq
        found = []
        for iid in self.svc.engine.incidents:
            parent, dot, number = iid.rpartition(".")
            if dot and parent in self.mcis and number.isdigit():
                found.append((parent, int(number), iid))
        for parent, _, iid in sorted(found):  # in creation order per MCI
            self._adopt(parent, iid)

    def _adopt(self, parent: str, child: str) -> None:
        self.children.setdefault(parent, []).append(child)
        self.parents[child] = parent

    # --- the agency desk's Family -------------------------------------------------------------
    def parent_of(self, incident_id: str) -> str | None:
        return self.parents.get(incident_id)

    def children_of(self, incident_id: str) -> Sequence[str]:
        return self.children.get(incident_id, ())

    # --- views --------------------------------------------------------------------------------
    def _declared(self, incident_id: str) -> Declared:
        self.svc.engine.incident(IncidentId(incident_id))  # 404 for no such incident
        declared = self.mcis.get(incident_id)
        if declared is None:
            raise UnknownMci(f"no mass-casualty incident was declared at {incident_id}")
        return declared

    def child_states(self, incident_id: str) -> list[Child]:
        incidents, out = self.svc.engine.incidents, []
        for cid in self.children.get(incident_id, ()):
            inc = incidents[IncidentId(cid)]
            out.append(
                Child(
                    cid, PRIORITY_COLOUR.get(inc.priority), inc.destination, stage_of(inc.timeline)
                )
            )
        return out

    def board_view(self, incident_id: str) -> dict[str, Any]:
        declared = self._declared(incident_id)
        return {"incident_id": incident_id, **board(declared.lines, self.child_states(incident_id))}

    def view(self, incident_id: str) -> dict[str, Any]:
        record = self._declared(incident_id).record
        children = [
            {
                "incident_id": c.incident_id,
                "colour": c.colour and c.colour.value,
                "hospital_id": c.destination,
                "stage": c.stage.value,
                "unit_id": self.svc.engine.incidents[IncidentId(c.incident_id)].unit_id,
            }
            for c in self.child_states(incident_id)
        ]
        return {
            "incident_id": incident_id,
            "counts": record["counts"],
            "plan": record["plan"],
            "capacities": record["capacities"],
            "declared_at_s": record["at_s"],
            "children": children,
            "board": self.board_view(incident_id),
        }

    # --- declaring ----------------------------------------------------------------------------
    def receiving(self, incident_id: str) -> list[Receiving]:
        """Every hospital with its live status and road ETA from the incident to its door."""
        svc = self.svc
        inc = svc.engine.incident(IncidentId(incident_id))
        now = svc.now()
        hospitals = svc.hospitals.registry.hospitals
        doors = {h.id: d for h in hospitals if (d := svc.hospitals.door(h.id)) is not None}
        eta: dict[str, float] = {}
        if doors:
            ids = list(doors)
            to_doors = Positions.of([doors[h] for h in ids])
            found = svc.router.matrix(Positions.of([inc.position]), to_doors).eta_s[0]
            eta = dict(zip(ids, found.tolist(), strict=True))
        return [
            Receiving(h, svc.hospitals.registry.status(h.id, now), eta.get(h.id, math.inf))
            for h in hospitals
        ]

    async def declare(self, incident_id: str, counts: Mapping[Triage, int]) -> dict[str, Any]:
        """Plan the distribution; durable; the console hears `mci.plan`. Declaring again
        replaces the plan (the children made so far count against the new one)."""
        inc = self.svc.engine.incident(IncidentId(incident_id))
        if not inc.open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        if incident_id in self.parents:
            raise IllegalTransition(
                f"{incident_id} is a patient of the MCI at {self.parents[incident_id]}"
            )
        p, caps = distribute(counts, self.receiving(incident_id))
        record = {
            "incident_id": incident_id,
            "counts": {c.value: n for c, n in counts.items()},
            "plan": plan_view(p, caps),
            "capacities": [plain(c) for c in caps],
            "at_s": round(self.svc.now(), 3),
            "at": datetime.now(UTC).isoformat(),
        }
        self.mcis[incident_id] = Declared(incident_id, record)
        done = self.svc.feeds.feed(DESK_FEED, record)
        if done is not None:
            await done
        answer = self.view(incident_id)
        self.svc.hub.publish("console", {"type": "mci.plan", **answer})
        return answer

    # --- dispatching --------------------------------------------------------------------------
    async def dispatch(
        self, incident_id: str, units: int | None, unit_ids: Sequence[str] | None
    ) -> dict[str, Any]:
        """Make a child for each of the next planned patients, up to `units` (or one per unit
        listed), assign units to them together, and route each to its planned hospital."""
        svc, engine = self.svc, self.svc.engine
        declared = self._declared(incident_id)
        parent = engine.incidents[IncidentId(incident_id)]
        if not parent.open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        slots = open_slots(declared.lines, self.child_states(incident_id))
        if not slots:
            raise IllegalTransition("every planned patient has a unit already")
        if unit_ids is not None:
            fleet = [engine.unit(UnitId(u)) for u in unit_ids]  # 404 for an unknown one
            busy = [u.unit_id for u in fleet if not engine.can_take(u)]
            if busy:
                raise UnitUnavailable(f"not free: {', '.join(busy)}")
            slots = slots[: len(fleet)]
        else:
            fleet = [u for u in engine.units.values() if engine.can_take(u)]
            slots = slots[: units or 1]
        now = svc.now()
        engine.refresh_positions(engine.settings.position_refresh_s)
        number = len(self.children.get(incident_id, ())) + 1
        planned: dict[str, tuple[Triage, str]] = {}
        views = []
        for colour, hospital_id in slots:
            while f"{incident_id}.{number:02d}" in engine.incidents:
                number += 1
            cid = f"{incident_id}.{number:02d}"
            number += 1
            planned[cid] = (colour, hospital_id)
            views.append(
                IncidentView(
                    IncidentId(cid),
                    COLOUR_PRIORITY[colour],
                    parent.complaint,
                    parent.position,
                    parent.lat,
                    parent.lon,
                    now,
                )
            )
        chosen = assign_jointly(svc.router, views, fleet, now, engine.settings.recommend)
        if not chosen:
            raise UnitUnavailable("no unit is free to send")
        unit_of = {a.incident_id: a.option.unit_id for a in chosen}
        reasons = {
            (x["colour"], x["hospital_id"]): x["explanation"]
            for x in declared.record["plan"]["lines"]
        }
        made = []
        self._quiet = True
        try:
            for cid, (colour, hospital_id) in planned.items():
                unit_id = unit_of.get(IncidentId(cid))
                if unit_id is None:
                    continue
                child = IncidentId(cid)
                svc.submit(
                    ev.CallReceived(
                        child, parent.lat, parent.lon, parent.radius95_m, parent.complaint
                    )
                )
                self._adopt(incident_id, cid)
                # Triage before the offer, so the crew's offer shows the colour's priority.
                svc.submit(ev.IncidentTriaged(child, COLOUR_PRIORITY[colour], parent.complaint))
                # None: no unit left after all; the child waits on the console like any call.
                sent = self._offer(child, unit_id)
                why = "mci plan: " + reasons.get((colour.value, hospital_id), "")
                svc.hospitals.choose(cid, hospital_id, "dispatcher", why[:200])
                made.append(
                    {
                        "incident_id": cid,
                        "colour": colour.value,
                        "unit_id": sent,
                        "hospital_id": hospital_id,
                    }
                )
        finally:
            self._quiet = False
        await svc.settled()
        svc.hub.publish(
            "console", {"type": "mci.dispatched", "incident_id": incident_id, "children": made}
        )
        board_now = self.board_view(incident_id)
        svc.hub.publish("console", {"type": "mci.board", **board_now}, f"mci:{incident_id}")
        return {"incident_id": incident_id, "children": made, "board": board_now}

    def _offer(self, child: IncidentId, unit_id: UnitId) -> UnitId | None:
        """Offer the planned unit; if the auto-dispatch setting offered one already, keep
        that; if the planned unit was taken by it meanwhile, the next best free one."""
        engine = self.svc.engine
        inc = engine.incidents[child]
        if inc.unit_id is None:
            if not engine.can_take(engine.units[unit_id]):
                options = engine.recommend(child, self.svc.now())
                if not options:
                    return None
                unit_id = options[0].unit_id
            self.svc.submit(ev.UnitAssigned(child, unit_id, by="mci"))
        return inc.unit_id

    # --- following the children -----------------------------------------------------------------
    def watch(self, event: ev.Event, decisions: list[ev.Decision]) -> list[Frame]:
        """The board again when a child stepped, changed unit or destination."""
        if self._quiet or not self.parents or isinstance(event, ev.UnitPositionReported):
            return []
        touched: set[str] = set()
        if isinstance(event, ev.DestinationChosen | ev.IncidentTriaged):
            touched.add(event.incident_id)
        for d in decisions:
            if isinstance(d, ev.IncidentStepped | ev.OfferEscalated):
                touched.add(d.incident_id)
        parents = sorted({self.parents[i] for i in touched if i in self.parents})
        return [
            ("console", {"type": "mci.board", **self.board_view(p)}, f"mci:{p}") for p in parents
        ]


def desk_of(svc: DispatchService) -> MciDesk:
    desk = svc.extensions.get("mci")
    assert isinstance(desk, MciDesk), "the MCI desk is attached by dispatch.http.app"
    return desk


def attach(svc: DispatchService) -> dict[str, WsRoute]:
    """The declarations and children from the log, the watcher; the agency desk (attached
    before) lists the children's units under the MCI."""
    desk = MciDesk(svc)
    svc.feeds.open_feed(DESK_FEED)
    desk.load()
    svc.watchers.append(desk.watch)
    svc.extensions["mci"] = desk
    agencies = svc.extensions.get("agencies")
    if isinstance(agencies, AgencyDesk):
        agencies.families.append(desk)
    return {}  # no socket of its own: the board is on the console's
