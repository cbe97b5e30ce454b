"""Fan-out: the frames an applied event makes for consoles, units, callers and hospitals.

`svc.fanout.frames(event, decisions)` is called by `DispatchService.submit` right after the
engine applied the event, so every frame shows the state as of that event; the service publishes
them once the event is durable (`emit`). Each decision goes to the console by its wire name;
some also go to a unit (offers, withdrawals, changes), the caller (its incident's steps, the
coming unit) or the receiving hospital (`dispatch.service.notices`). Watchers (the desks) add
theirs. Positions are the exception: they are gathered and published a few times a second by
`flush_positions`, not a frame per unit per report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, Step, UnitId
from dispatch.service.views import CALLER_DONE, WIRE_TYPE, Frame, plain

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService


class Fanout:
    """Decisions into frames, and frames onto the hub."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self._moved: dict[UnitId, None] = {}  # units whose position changed since the last flush

    def frames(self, event: ev.Event, decisions: list[ev.Decision]) -> list[Frame]:
        """The frames an applied event makes, built now (the state they show is this event's)."""
        svc = self.svc
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
                for topic in self.caller_topics(d.incident_id, d.step):
                    out.append((topic, step, None))
                    if d.step in CALLER_DONE:  # the caller's socket ends with this frame
                        out.append((topic, None, None))
                out.extend(svc.notices.closed(d))
                if d.step is Step.CLOSED:
                    svc.notices.forget(d.incident_id)
                    svc.aeds.forget(d.incident_id)
                    svc.locations.forget(d.incident_id)
            elif isinstance(d, ev.OfferSent):
                offer = {
                    "type": "offer.sent",
                    "devices": list(d.devices),
                    **(svc.views.job_of(d.unit_id) or {}),
                    "by": d.by,
                }
                out.append((f"unit:{d.unit_id}", offer, None))
                out.extend(self.approach(d.incident_id))
            elif isinstance(d, ev.OfferEscalated):
                withdrawn = {"type": "offer.withdrawn", "incident_id": d.incident_id}
                out.append((f"unit:{d.unit_id}", withdrawn, None))
            elif isinstance(d, ev.UnitWithdrawn):  # a dispatcher took the unit off
                taken = {
                    "type": "offer.withdrawn",
                    "incident_id": d.incident_id,
                    "reason": d.reason,
                }
                out.append((f"unit:{d.unit_id}", taken, None))
            elif isinstance(d, ev.UnitChanged):
                out.append((f"unit:{d.unit_id}", {"type": "unit.changed", **plain(d)}, None))
            elif isinstance(d, ev.NotePosted):  # the crew's tablet shows the notes
                inc = svc.engine.incidents.get(d.incident_id)
                if inc is not None and inc.unit_id is not None:
                    notes = {
                        "type": "job.notes",
                        "incident_id": d.incident_id,
                        "notes": svc.views.notes_text(inc),
                    }
                    out.append((f"unit:{inc.unit_id}", notes, None))
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
            out.extend(svc.notices.inbound_update(event.incident_id))
        if isinstance(event, ev.CallReceived | ev.IncidentTriaged | ev.IncidentLocated):
            out.extend(svc.aeds.for_arrest(event.incident_id))  # once per incident
        for watch in svc.watchers:
            out.extend(watch(event, decisions))
        return out

    def caller_topics(self, incident_id: IncidentId, step: Step) -> list[str]:
        """The caller topics an incident's step goes to: its own and those of the duplicates
        linked into it (their callers follow it); a duplicate's closing as linked, to none."""
        inc = self.svc.engine.incidents.get(incident_id)
        if inc is None:
            return [f"call:{incident_id}"]
        if inc.linked_to is not None and step is Step.CLOSED:
            return []
        return [f"call:{i}" for i in (incident_id, *inc.linked)]

    def approach(self, incident_id: IncidentId) -> list[Frame]:
        """`unit.approaching` to the caller (and those of the duplicates linked into the
        incident): the coming unit's position and ETA (coalesced)."""
        inc = self.svc.engine.incidents.get(incident_id)
        coming = self.svc.views.approach(inc) if inc is not None else None
        if inc is None or coming is None:
            return []
        frame = {"type": "unit.approaching", **coming}
        return [(f"call:{i}", frame, "approach") for i in (incident_id, *inc.linked)]

    def emit(self, frames: Iterable[Frame]) -> None:
        hub = self.svc.hub
        for topic, message, coalesce in frames:
            if message is None:
                hub.end(topic)
            else:
                hub.publish(topic, message, coalesce)

    def moved(self, unit_id: UnitId) -> None:
        """A unit's position changed: it goes out with the next `flush_positions`."""
        self._moved[unit_id] = None

    def flush_positions(self) -> int:
        """Publish the units that moved since the last flush: one console frame for all.

        A console draws the fleet a few times a second, not a frame per unit per second (1000
        units would be 1000 frames a second to every dispatcher), and each caller whose unit is
        coming gets its position and a fresh driving ETA. Returns how many units moved.
        """
        if not self._moved:
            return 0
        moved, self._moved = self._moved, {}
        svc = self.svc
        units = svc.engine.units
        rows = [[u, units[u].lat, units[u].lon] for u in moved if u in units]
        svc.hub.publish("console", {"type": "units.moved", "units": rows})
        for unit_id in moved:
            unit = units.get(unit_id)
            if unit is not None and unit.incident_id is not None:
                self.emit(self.approach(unit.incident_id))
                svc.notices.send_eta(unit.incident_id)
        return len(rows)
