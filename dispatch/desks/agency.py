"""The partner-agency desk: which incidents are flagged for police, fire and traffic police, their
EIDO-style feeds (`/ws/agencies/{agency_id}`), and the notes the agencies post back.

Durable in two places of the event log. The desk's own feed ("desk:agencies") holds every
flag, unflag and note; `attach` rebuilds the book from it at start, so flags and notes survive a
restart. Each agency's topic ("agency:police") is a fed topic (`dispatch.live.feeds`): every frame
on it is logged before it is published, with the hub's seq, so an agency resumes with
`?since=` from the hub's history or the log, across restarts too. A flag, its desk record and
the agencies' frames ride in one batch (lazy appends, the last one starting the write).

Frames follow the incident through a watcher (`svc.watchers`): a timeline step, a unit
offered, escalated or changing status, a new place or priority re-issues the document to
every agency flagged, in the same transaction as the event. A unit's position never does
(agencies get no unit tracking). The document is `dispatch.core.eido.render` of an `AgencyView`,
which holds nothing medical. An incident with children (a mass-casualty incident, see
`dispatch.desks.mci`) lists their units too, and their updates re-issue the parent's document.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection

from dispatch.core import events as ev
from dispatch.core.eido import AGENCIES, OWNER, AgencyNote, AgencyUnit, AgencyView, IncidentType
from dispatch.core.eido import render as render_eido
from dispatch.core.model import IncidentId, Step
from dispatch.core.traffic import TooManyEntries
from dispatch.errors import IllegalTransition, InvalidEvent, UnknownIncident
from dispatch.service.service import DispatchService
from dispatch.service.views import Frame
from dispatch.store.eventlog import MAX_FEED_READ
from dispatch.tokens import Role
from dispatch.ws.guards import since_of
from dispatch.ws.server import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    WsRoute,
    stream_topic,
)

DESK_FEED = "desk:agencies"
MAX_NOTE_CHARS = 500
MAX_NOTES = 200  # per incident, from all agencies and the dispatcher together
NOTES_SHOWN = 20  # the newest notes in each document


class NotFlagged(UnknownIncident):
    """404: the incident is not flagged for that agency."""

    reason = "not_flagged"


class TooManyNotes(TooManyEntries):
    """429: the incident holds MAX_NOTES notes already."""

    reason = "too_many_notes"


class Family(Protocol):
    """Incidents grouped under one (a mass-casualty incident's patients under the MCI)."""

    def parent_of(self, incident_id: str) -> str | None: ...
    def children_of(self, incident_id: str) -> Sequence[str]: ...


@dataclass
class Flag:
    incident_type: IncidentType
    agencies: set[str] = field(default_factory=set)
    notes: list[AgencyNote] = field(default_factory=list)


class AgencyBook:
    """The flags and notes, rebuilt from the desk's records in order (`apply`); no I/O."""

    def __init__(self) -> None:
        self.flags: dict[str, Flag] = {}

    def apply(self, body: Mapping[str, Any]) -> None:
        kind, iid = body["kind"], str(body["incident_id"])
        if kind == "flagged":
            flag = self.flags.setdefault(iid, Flag(IncidentType(body["incident_type"])))
            flag.incident_type = IncidentType(body["incident_type"])
            flag.agencies.update(body["agencies"])
            if body.get("note"):
                self._note(flag, OWNER, body["note"], body["at"])
        elif kind == "unflagged":
            self.flags[iid].agencies.discard(body["agency_id"])
        elif kind == "note":
            self._note(self.flags[iid], body["agency_id"], body["text"], body["at"])

    @staticmethod
    def _note(flag: Flag, author: str, text: str, at: str) -> None:
        flag.notes.append(AgencyNote(len(flag.notes), author, text, datetime.fromisoformat(at)))

    def flagged_for(self, agency_id: str) -> list[str]:
        return [iid for iid, f in self.flags.items() if agency_id in f.agencies]


def checked_note(text: Any) -> str:
    """A note's text: 1-MAX_NOTE_CHARS characters, printable or line breaks."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidEvent("a note is a non-empty text")
    if len(text) > MAX_NOTE_CHARS or not all(c.isprintable() or c == "\n" for c in text):
        raise InvalidEvent(f"a note is at most {MAX_NOTE_CHARS} printable characters")
    return text.strip()


class AgencyDesk:
    """One server's agency desk: the book, the documents, the watcher and the actions."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self.book = AgencyBook()
        self.families: list[Family] = []

    def load(self) -> None:
        """Rebuild the book from the desk's feed (at start, before the writer runs)."""
        after = 0
        while page := self.svc.log.read_feed(DESK_FEED, after, MAX_FEED_READ):
            for record in page:
                self.book.apply(record.body)
            after = page[-1].seq

    # --- what agencies see --------------------------------------------------------------------
    def view(self, incident_id: str) -> AgencyView:
        svc, flag = self.svc, self.book.flags[incident_id]
        inc = svc.engine.incidents[IncidentId(incident_id)]
        return AgencyView(
            inc.incident_id,
            flag.incident_type,
            int(inc.priority),
            inc.step,
            Step.CANCELLED in inc.timeline,
            inc.lat,
            inc.lon,
            inc.radius95_m,
            svc.locations.description(inc.incident_id, inc.lat, inc.lon),
            self._units(incident_id),
            tuple(sorted(flag.agencies)),
            tuple(flag.notes[-NOTES_SHOWN:]),
            datetime.now(UTC),
        )

    def _units(self, incident_id: str) -> tuple[AgencyUnit, ...]:
        """The unit of the incident and of each of its children; "cleared" once it left."""
        family = [incident_id, *(c for f in self.families for c in f.children_of(incident_id))]
        engine, out = self.svc.engine, {}
        for iid in family:
            inc = engine.incidents.get(IncidentId(iid))
            if inc is None or inc.unit_id is None:
                continue
            unit = engine.units[inc.unit_id]
            status = unit.status.value if unit.incident_id == inc.incident_id else "cleared"
            if status != "cleared" or unit.unit_id not in out:
                out[unit.unit_id] = AgencyUnit(unit.unit_id, unit.capability.value, status)
        return tuple(out.values())

    def document(
        self, incident_id: str, reason: str, view: AgencyView | None = None
    ) -> dict[str, Any]:
        """The frame for an agency's feed; pass one `view` to issue it to several agencies."""
        seen = view if view is not None else self.view(incident_id)
        return {
            "type": "incident.eido",
            "incident_id": incident_id,
            "reason": reason,
            "eido": render_eido(seen, reason),
        }

    def active_for(self, agency_id: str) -> list[str]:
        incidents = self.svc.engine.incidents
        return [i for i in self.book.flagged_for(agency_id) if incidents[IncidentId(i)].open]

    def snapshot(self, agency_id: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "last_seq": self.svc.hub.last_seq(f"agency:{agency_id}"),
            "agency_id": agency_id,
            "incidents": [self.document(i, "snapshot")["eido"] for i in self.active_for(agency_id)],
        }

    def flags_view(self, incident_id: str) -> dict[str, Any]:
        self.svc.engine.incident(IncidentId(incident_id))  # 404 for no such incident
        flag = self.book.flags.get(incident_id)
        if flag is None:
            return {"incident_id": incident_id, "incident_type": None, "agencies": [], "notes": []}
        notes = [{"author": n.author, "text": n.text, "at": n.at.isoformat()} for n in flag.notes]
        return {
            "incident_id": incident_id,
            "incident_type": flag.incident_type.value,
            "agencies": sorted(flag.agencies),
            "notes": notes,
        }

    # --- following the incident -----------------------------------------------------------------
    def watch(self, event: ev.Event, decisions: list[ev.Decision]) -> list[Frame]:
        """Re-issue the document of every flagged incident this event changed."""
        if not self.book.flags or isinstance(event, ev.UnitPositionReported):
            return []  # a unit's position is never shared; its status changes are
        touched: dict[str, None] = {}
        if isinstance(event, ev.IncidentLocated | ev.IncidentTriaged):
            touched[event.incident_id] = None
        closed: set[str] = set()
        for d in decisions:
            if isinstance(d, ev.IncidentStepped | ev.OfferSent | ev.OfferEscalated):
                touched[d.incident_id] = None
                if isinstance(d, ev.IncidentStepped) and d.step is Step.CLOSED:
                    closed.add(d.incident_id)
            elif isinstance(d, ev.UnitChanged) and d.incident_id is not None:
                touched[d.incident_id] = None
        targets: dict[str, None] = {}
        for iid in touched:
            for f in self.families:
                parent = f.parent_of(iid)
                if parent is not None and parent in self.book.flags:
                    targets[parent] = None
            if iid in self.book.flags:
                targets[iid] = None
        frames: list[Frame] = []
        for iid in targets:
            agencies = sorted(self.book.flags[iid].agencies)
            if agencies:
                doc = self.document(iid, "closed" if iid in closed else "updated")
                frames.extend((f"agency:{a}", doc, None) for a in agencies)
        return frames

    # --- actions --------------------------------------------------------------------------------
    async def flag(
        self,
        incident_id: str,
        agencies: Iterable[str],
        incident_type: IncidentType | None,
        note: str | None,
    ) -> dict[str, Any]:
        """Flag an open incident for agencies; each gets the document, the console hears it."""
        inc = self.svc.engine.incident(IncidentId(incident_id))
        if not inc.open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        held = self.book.flags.get(incident_id)
        before = set(held.agencies) if held is not None else set()
        kind = incident_type or (held.incident_type if held else IncidentType.MEDICAL)
        body = {
            "kind": "flagged",
            "incident_id": incident_id,
            "agencies": sorted(set(agencies)),
            "incident_type": kind.value,
            "note": checked_note(note) if note else None,
            **self._stamp(),
        }
        self._check_room(incident_id, 1 if note else 0)
        self.book.apply(body)
        frames: list[tuple[str, dict[str, Any]]] = [(DESK_FEED, body)]
        view = self.view(incident_id)
        for a in sorted(self.book.flags[incident_id].agencies):
            reason = "updated" if a in before else "flagged"
            frames.append((f"agency:{a}", self.document(incident_id, reason, view)))
        await self._write(frames)
        self.svc.hub.publish("console", {"type": "agency.flagged", **self.flags_view(incident_id)})
        return self.flags_view(incident_id)

    async def unflag(self, incident_id: str, agency_id: str) -> dict[str, Any]:
        """The agency is told the incident is no longer shared and hears nothing more of it."""
        self.svc.engine.incident(IncidentId(incident_id))
        flag = self.book.flags.get(incident_id)
        if flag is None or agency_id not in flag.agencies:
            raise NotFlagged(f"incident {incident_id} is not flagged for {agency_id}")
        body = {
            "kind": "unflagged",
            "incident_id": incident_id,
            "agency_id": agency_id,
            **self._stamp(),
        }
        self.book.apply(body)
        gone = {"type": "incident.unflagged", "incident_id": incident_id}
        frames = [(DESK_FEED, body), (f"agency:{agency_id}", gone)]
        if self.svc.engine.incidents[IncidentId(incident_id)].open and flag.agencies:
            doc = self.document(incident_id, "updated")
            frames += [(f"agency:{a}", doc) for a in sorted(flag.agencies)]
        await self._write(frames)
        gone_console = {"type": "agency.unflagged", "incident_id": incident_id}
        self.svc.hub.publish("console", {**gone_console, "agency_id": agency_id})
        return self.flags_view(incident_id)

    async def note(self, agency_id: str, incident_id: Any, text: Any) -> dict[str, Any]:
        """An agency's status note on an incident flagged for it (else unknown_incident)."""
        flag = self.book.flags.get(incident_id) if isinstance(incident_id, str) else None
        if flag is None or agency_id not in flag.agencies:
            raise UnknownIncident(f"no incident {incident_id} is flagged for {agency_id}")
        if not self.svc.engine.incidents[IncidentId(incident_id)].open:
            raise IllegalTransition(f"incident {incident_id} is closed")
        body = {
            "kind": "note",
            "incident_id": incident_id,
            "agency_id": agency_id,
            "text": checked_note(text),
            **self._stamp(),
        }
        self._check_room(incident_id, 1)
        self.book.apply(body)
        doc = self.document(incident_id, "note")
        frames = [(DESK_FEED, body)] + [(f"agency:{a}", doc) for a in sorted(flag.agencies)]
        await self._write(frames)
        heard = {
            "type": "agency.note",
            "incident_id": incident_id,
            "agency_id": agency_id,
            "text": body["text"],
            "at_s": body["at_s"],
        }
        self.svc.hub.publish("console", heard)
        return {k: heard[k] for k in ("incident_id", "agency_id", "text", "at_s")}

    def _check_room(self, incident_id: str, adding: int) -> None:
        held = self.book.flags.get(incident_id)
        if held is not None and len(held.notes) + adding > MAX_NOTES:
            raise TooManyNotes(f"incident {incident_id} holds {MAX_NOTES} notes already")

    def _stamp(self) -> dict[str, Any]:
        return {"at": datetime.now(UTC).isoformat(), "at_s": round(self.svc.now(), 3)}

    async def _write(self, frames: list[tuple[str, dict[str, Any]]]) -> None:
        """Log the frames in one batch (all lazy but the last), publish each once durable."""
        last = len(frames) - 1
        done = [self.svc.feeds.feed(t, m, lazy=k < last) for k, (t, m) in enumerate(frames)]
        await asyncio.gather(*(d for d in done if d is not None))


def desk_of(svc: DispatchService) -> AgencyDesk:
    desk = svc.extensions.get("agencies")
    assert isinstance(desk, AgencyDesk), "the agency desk is attached by dispatch.http.app"
    return desk


def attach(svc: DispatchService) -> dict[str, WsRoute]:
    """Tokens for each agency, the book from the log, the watcher and the socket."""
    desk = AgencyDesk(svc)
    svc.tokens.ensure_agencies(AGENCIES)
    for topic in (DESK_FEED, *(f"agency:{a}" for a in AGENCIES)):
        svc.feeds.open_feed(topic)
    desk.load()
    svc.watchers.append(desk.watch)
    svc.extensions["agencies"] = desk
    return {"agencies": agency_socket}


async def agency_socket(
    svc: DispatchService,
    conn: ServerConnection,
    who: tuple[Role, str] | None,
    rest: list[str],
    query: dict[str, str],
) -> None:
    """/ws/agencies/{agency_id}?token=&since=: that agency's token only."""
    if len(rest) != 1:
        return await conn.close(CLOSE_NOT_FOUND, "no such socket")
    agency_id = rest[0]
    if who is None:
        return await conn.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
    if agency_id not in AGENCIES:
        return await conn.close(CLOSE_NOT_FOUND, "no such agency")
    if who != (Role.AGENCY, agency_id):
        return await conn.close(CLOSE_FORBIDDEN, "this agency's token only")
    try:
        seen = since_of(query)  # 1-18 ASCII digits
    except ValueError:
        return await conn.close(CLOSE_BAD_REQUEST, "since is a sequence number")
    desk, topic = desk_of(svc), f"agency:{agency_id}"

    async def on_frame(frame: dict[str, Any]) -> dict[str, Any] | None:
        if frame.get("type") != "note":
            raise InvalidEvent(f"unknown frame type {frame.get('type')!r}; expected note")
        await desk.note(agency_id, frame.get("incident_id"), frame.get("text"))
        return {"type": "accepted", "frame": "note", "incident_id": frame.get("incident_id")}

    await stream_topic(
        conn,
        svc,
        topic,
        seen,
        lambda: desk.snapshot(agency_id),
        on_frame,
        lambda after: svc.feeds.missed_frames(topic, after),
    )
