"""Where each incident is, as far as the service remembers: read-back text and call evidence.

`svc.locations` keeps each incident's read-back line (recomputed on demand after a restart), and
in memory only, gone after a restart or the close: the call's location evidence (so a later fix
re-fuses with it), the estimate fused from it, and the incidents a dispatcher placed by hand
(caller fixes no longer move those, and their conflict alarm is silenced). It answers the
console's questions about a place: the conflict to show, and each source beside the estimate
(`dispatch.service.location_view`, pure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dispatch.core.engine import Incident
from dispatch.core.model import IncidentId
from dispatch.service.location_view import conflict_body, evidence_time_s, sources_view
from location_fusion.cells import sector_for
from location_fusion.locate import CallEvidence, Estimate

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

#: The conflict of a call whose evidence a restart dropped: the logged flag, no details.
CONFLICT_AT_CALL: dict[str, Any] = {
    "sources": [],
    "distance_m": None,
    "message": "the call's location sources disagreed: confirm location",
}


#: The read-back text of an incident not placed on a road (see `ev.CallReceived`).
UNLOCATED_TEXT = "位置不明，请与来电者确认 (location unknown: confirm with the caller)"
OFF_ROAD_TEXT = "（不在道路上，请确认 / off the road network: confirm location）"


class Locations:
    """Each incident's read-back text, call evidence and fused estimate."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        self._descriptions: dict[IncidentId, str] = {}  # read-back text, recomputed on demand
        self._evidence: dict[IncidentId, CallEvidence] = {}
        self._fused: dict[IncidentId, tuple[CallEvidence, Estimate | None]] = {}  # its estimate
        self._placed_by_dispatcher: set[IncidentId] = set()

    def locate(self, evidence: CallEvidence) -> Estimate | None:
        return self.svc.locator.locate(evidence, self.svc.now())

    def description(self, incident_id: IncidentId, lat: float, lon: float) -> str:
        text = self._descriptions.get(incident_id)
        if text is None:
            text = self._descriptions[incident_id] = self.svc.locator.describe(lon, lat)
        return text

    def set_description(self, incident_id: IncidentId, text: str | None) -> str | None:
        """Set the read-back text (None: drop it, to be recomputed); returns the one before."""
        before = self._descriptions.pop(incident_id, None)
        if text is not None:
            self._descriptions[incident_id] = text
        return before

    def text(self, incident_id: IncidentId, lat: float, lon: float, status: str) -> str:
        """The read-back text, saying so loudly when the incident is not placed on a road."""
        if status == "unlocated":
            return UNLOCATED_TEXT
        text = self.description(incident_id, lat, lon)
        return text + OFF_ROAD_TEXT if status == "off_road" else text

    def place(self, inc: Incident) -> dict[str, Any]:
        return {
            "lat": inc.lat,
            "lon": inc.lon,
            "radius95_m": inc.radius95_m,
            "description": self.text(inc.incident_id, inc.lat, inc.lon, inc.location_status),
        }

    # --- the call's evidence (in memory) -----------------------------------------------------
    def evidence(self, incident_id: IncidentId) -> CallEvidence | None:
        return self._evidence.get(incident_id)

    def keep(
        self, incident_id: IncidentId, evidence: CallEvidence, estimate: Estimate | None = None
    ) -> None:
        """Keep the call's evidence; with `estimate`, the one already fused from it."""
        self._evidence[incident_id] = evidence
        if estimate is not None:
            self._fused[incident_id] = (evidence, estimate)  # what the console's views show

    def placed_by_dispatcher(self, incident_id: IncidentId) -> bool:
        return incident_id in self._placed_by_dispatcher

    def mark_placed(self, incident_id: IncidentId) -> None:
        self._placed_by_dispatcher.add(incident_id)

    def forget(self, incident_id: IncidentId) -> None:
        """The incident closed: drop its evidence (the read-back text stays for the views)."""
        self._evidence.pop(incident_id, None)
        self._fused.pop(incident_id, None)
        self._placed_by_dispatcher.discard(incident_id)

    # --- a call's location sources (the console draws them beside the estimate) -------------
    def fused_evidence(
        self, incident_id: IncidentId
    ) -> tuple[CallEvidence, Estimate | None] | None:
        """The call's evidence kept in memory and the estimate fused from it as of its newest
        part (kept until the evidence changes); None once a restart or the close dropped it."""
        evidence = self._evidence.get(incident_id)
        if evidence is None:
            self._fused.pop(incident_id, None)
            return None
        found = self._fused.get(incident_id)
        if found is None or found[0] is not evidence:
            at_s = evidence_time_s(evidence, self.svc.now())
            estimate = self.svc.locator.locate(evidence, at_s)
            found = self._fused[incident_id] = (evidence, estimate)
        return found

    def conflict_of(self, inc: Incident) -> dict[str, Any] | None:
        """The conflict alarm the console shows: the evidence's, none once a dispatcher placed
        the incident, the call's logged flag (without details) when a restart lost the rest."""
        if inc.incident_id in self._placed_by_dispatcher:
            return None
        found = self.fused_evidence(inc.incident_id)
        if found is not None:
            return conflict_body(found[1].conflict) if found[1] is not None else None
        return dict(CONFLICT_AT_CALL) if inc.conflict else None

    def sources(self, incident_id: str) -> dict[str, Any]:
        """Each source of the call's location (fixes, the serving cell's wedge, the places its
        words matched) beside the fused estimate and the incident's own place."""
        inc = self.svc.engine.incident(IncidentId(incident_id))
        body: dict[str, Any] = {
            "incident_id": inc.incident_id,
            "place": self.place(inc),
            "placed_by_dispatcher": inc.incident_id in self._placed_by_dispatcher,
            "conflict": self.conflict_of(inc),
            "kept": False,
            "fixes": [],
            "cell": None,
            "spoken": None,
            "fused": None,
        }
        found = self.fused_evidence(inc.incident_id)
        if found is None:  # closed, made without a call (MCI), or a restart dropped it
            return body
        evidence, estimate = found
        sector = None
        cells = self.svc.locator.cells
        if evidence.cell is not None and cells is not None:
            cell = cells.lookup(evidence.cell)
            sector = sector_for(cell, evidence.cell) if cell is not None else None
        at_s = evidence_time_s(evidence, self.svc.now())
        view = sources_view(evidence, estimate, sector, self.svc.now())
        view.pop("conflict")  # the incident's (above): none once a dispatcher placed it
        body.update(view, kept=True, evidence_at_s=round(at_s, 3))
        return body
