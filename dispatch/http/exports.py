"""One incident in a standard form: NEMSIS v3.5.1 XML or a FHIR R4 Bundle.

    GET /api/v1/incidents/{id}/export?format=nemsis   application/xml
    GET /api/v1/incidents/{id}/export?format=fhir     application/fhir+json

Who may export what: the dispatch floor every incident, with the personal fields (the caller's
number, the call-taker's notes, the read-back and the exact point) for a dispatcher and above
and without them for a call-taker; a unit only the incidents it was sent to (403 otherwise);
a hospital only the patients routed to it (404 otherwise, as if there were no other); callers,
agencies, volunteers and the traffic feed never (403). Without personal fields the export says
so (an XML comment; the Bundle's `meta`). Every export is audited as a patient-data read
(`incident.export`, with the format and whether personal fields were in it) and is marked
`Cache-Control: no-store`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dispatch.core.engine import Incident
from dispatch.core.export_record import PersonalFields, record_of
from dispatch.core.model import IncidentId
from dispatch.errors import UnknownIncident
from dispatch.http.common import ERRORS, Svc, Who
from dispatch.service import exports
from dispatch.service.service import DispatchService
from dispatch.tokens import Forbidden, Role
from dispatch.users import Rank, at_least

router = APIRouter(prefix="/api/v1/incidents", tags=["exports"], responses=ERRORS)
Format = Annotated[Literal["nemsis", "fhir"], Query(description="nemsis (XML) or fhir (JSON)")]
EXPORTING = frozenset({Role.DISPATCHER, Role.UNIT, Role.HOSPITAL})


def personal_allowed(svc: DispatchService, who: tuple[Role, str], inc: Incident) -> bool:
    """Whether `who` may export `inc`, and with its personal fields: Forbidden (403) or
    UnknownIncident (404, a hospital asking for a patient not routed to it) when not at all."""
    role, subject = who
    if role is Role.DISPATCHER:
        rank = svc.tokens.rank_of(who)
        return rank is not None and at_least(rank, Rank.DISPATCHER)
    if role is Role.UNIT:
        if inc.unit_id != subject:
            raise Forbidden("a unit exports only the incidents it was sent to")
        return False
    if role is Role.HOSPITAL and inc.destination == subject:
        return False
    raise UnknownIncident(f"no incident {inc.incident_id}")


@router.get(
    "/{incident_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "the incident as NEMSIS v3.5.1 XML or a FHIR R4 Bundle",
            "content": {"application/xml": {}, "application/fhir+json": {}},
        }
    },
)
async def export(incident_id: str, format: Format, svc: Svc, who: Who) -> Response:
    """The incident as NEMSIS v3.5.1 XML (eTimes, eResponse, eDispatch, eScene,
    eDisposition) or a FHIR R4 "collection" Bundle (Patient, Encounter, Locations, the
    destination's Organization, the vitals); personal fields for dispatchers and above only."""
    if who[0] not in EXPORTING:
        raise Forbidden("dispatchers, the unit on the incident or its hospital only")
    inc = svc.engine.incident(IncidentId(incident_id))  # 404 for an unknown id
    allowed = personal_allowed(svc, who, inc)
    personal: PersonalFields | None = None
    if allowed:
        opened = await asyncio.to_thread(svc.personal.read, inc)
        address = svc.locations.text(inc.incident_id, inc.lat, inc.lon, inc.location_status)
        personal = exports.personal_fields(opened, inc.callback_allowed, address)
    vitals = {}
    if inc.destination is not None:
        by_incident = await asyncio.to_thread(exports.logged_vitals, svc.feeds.log, inc.destination)
        vitals = {inc.incident_id: by_incident.get(inc.incident_id, [])}
    unit = svc.engine.units.get(inc.unit_id) if inc.unit_id is not None else None
    record = record_of(
        inc,
        wall_of=svc.clock.wall_of,
        zone=exports.zone_of(svc.settings),
        patient_id=svc.notices.stream_context(inc.incident_id).patient_id,
        unit_capability=unit.capability if unit is not None else None,
        destination=exports.destination_of(svc.hospitals.registry, inc.destination),
        vitals=vitals.get(inc.incident_id, ()),
        personal=personal,
    )
    body = exports.render(record, format, exports.software_of(svc.settings))
    svc.feeds.audit(
        who[0].value, who[1], "incident.export", [inc.incident_id], format=format, personal=allowed
    )
    media_type = exports.FORMATS[format][0]
    headers = {"Cache-Control": "no-store"}
    return Response(body, media_type=media_type, headers=headers)
