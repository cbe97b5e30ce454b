"""What a partner agency is shown of an incident: an EIDO-style JSON object, and nothing medical.

Modelled on the NENA Emergency Incident Data Object (NENA-STA-021.1, EIDO JSON 1.0): a
document with a prologue (`$id`, `eidoVersion`, `lastUpdateTimeStamp`, who issued it and why)
and components: `incidentComponent` (type, status, priority), `locationComponent` (the point
and its 95 % circle, the read-back text), `agencyComponent` (jijiu's EMS dispatch, owning the
incident, and every agency flagged), `emergencyResourceComponent` (the units on it, with their
status) and `notesComponent` (the dispatcher's and the agencies' notes). Field names follow
the standard; values that EIDO carries as PIDF-LO XML (the location) are given as JSON.

Pure: `render` sees an `AgencyView`, which has no field for the complaint, determinant,
patient, vitals, caller, phone or destination hospital, so it cannot leak them. The incident
type is what the dispatcher chose when flagging (`IncidentType`), never derived from the
complaint: "trauma" would already say too much, "cardiac arrest" far too much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from dispatch.core.model import Step

EIDO_VERSION = "1.0"
OWNER = "jijiu.ems"  # the EMS dispatch centre: issuer and owner of every incident it shows


class IncidentType(StrEnum):
    """What the dispatcher tells partner agencies the incident is: coarse, never medical."""

    MEDICAL = "medical"
    TRAFFIC_COLLISION = "traffic_collision"
    FIRE = "fire"
    VIOLENCE = "violence"
    HAZARDOUS_MATERIALS = "hazardous_materials"
    MASS_CASUALTY = "mass_casualty"
    OTHER = "other"


#: (incidentTypeCommonRegistryText, incidentTypeInternalText) per type.
TYPE_TEXT: Mapping[IncidentType, tuple[str, str]] = {
    IncidentType.MEDICAL: ("Medical", "medical emergency"),
    IncidentType.TRAFFIC_COLLISION: ("Traffic", "traffic collision"),
    IncidentType.FIRE: ("Fire", "fire at the scene"),
    IncidentType.VIOLENCE: ("LawEnforcement", "violence or a threat at the scene"),
    IncidentType.HAZARDOUS_MATERIALS: ("Hazmat", "hazardous materials"),
    IncidentType.MASS_CASUALTY: ("MassCasualty", "mass-casualty incident"),
    IncidentType.OTHER: ("Other", "other"),
}

#: The partner agencies: id -> the EIDO agencyType values (the IANA responder service names).
AGENCIES: Mapping[str, tuple[str, ...]] = {
    "police": ("police",),
    "fire": ("fire",),
    "traffic_police": ("police", "traffic"),
}

_INCIDENT_STATUS: Mapping[Step, str] = {
    Step.CALL_RECEIVED: "Received",
    Step.LOCATED: "Received",
    Step.TRIAGED: "Received",
    Step.UNIT_NOTIFIED: "Dispatched",
    Step.UNIT_ACKNOWLEDGED: "Dispatched",
    Step.EN_ROUTE: "Enroute",
    Step.ON_SCENE: "OnScene",
    Step.LEFT_SCENE: "Transporting",
    Step.AT_DESTINATION: "AtDestination",
    Step.TRANSFER_OF_CARE: "AtDestination",
    Step.BACK_IN_SERVICE: "Closed",
    Step.CANCELLED: "Cancelled",
    Step.CLOSED: "Closed",
}

#: A unit's status (dispatch.core.model.UnitStatus values, and "cleared": it left this incident).
_UNIT_STATUS: Mapping[str, str] = {
    "assigned": "Dispatched",
    "en_route": "Enroute",
    "on_scene": "OnScene",
    "transporting": "Transporting",
    "at_hospital": "AtDestination",
    "available_at_station": "Available",
    "available_on_road": "Available",
    "out_of_service": "OutOfService",
    "cleared": "Cleared",
}


@dataclass(frozen=True)
class AgencyUnit:
    unit_id: str
    capability: str  # "als" / "bls"
    status: str  # a UnitStatus value, or "cleared"


@dataclass(frozen=True)
class AgencyNote:
    number: int  # 0, 1, 2 ... per incident: the note's EIDO id stays when older ones drop off
    author: str  # an agency id, or OWNER for the dispatcher
    text: str
    at: datetime


@dataclass(frozen=True)
class AgencyView:
    """Everything a partner agency may know of an incident (and nothing else)."""

    incident_id: str
    incident_type: IncidentType
    priority: int  # 1-3
    step: Step  # the latest timeline step; CLOSED after a cancellation too
    cancelled: bool
    lat: float
    lon: float
    radius95_m: float
    description: str  # the read-back place text, e.g. "文三路与学院路交叉口附近，约 40 米"
    units: tuple[AgencyUnit, ...]
    agencies: tuple[str, ...]  # flagged, sorted
    notes: tuple[AgencyNote, ...]
    updated_at: datetime  # timezone-aware

    def __post_init__(self) -> None:
        if self.updated_at.tzinfo is None:
            raise ValueError("updated_at must be timezone-aware")
        if not (math.isfinite(self.lat) and math.isfinite(self.lon)):
            raise ValueError("lat and lon must be finite")


def iso(at: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit offset, as EIDO timestamps are."""
    return at.isoformat(timespec="milliseconds")


def status_text(view: AgencyView) -> str:
    if view.cancelled:
        return "Cancelled"
    return _INCIDENT_STATUS[view.step]


def render(view: AgencyView, reason: str) -> dict[str, Any]:
    """The EIDO-style document for one agency's feed; `reason` says why it was issued
    ("flagged", "updated", "note", "closed", "snapshot")."""
    iid, stamp = view.incident_id, iso(view.updated_at)
    common, internal = TYPE_TEXT[view.incident_type]
    location_id = f"{iid}:location:0"
    note_ids = [f"{iid}:note:{n.number}" for n in view.notes]
    return {
        "$id": f"urn:emergency:uid:incidentid:{iid}:{OWNER}",
        "eidoVersion": EIDO_VERSION,
        "lastUpdateTimeStamp": stamp,
        "issuingElementIdentification": OWNER,
        "updatedByAgencyReference": {"$ref": OWNER},
        "reasonForIssueRegistryText": reason,
        "incidentComponent": {
            "$id": f"{iid}:incident",
            "lastUpdateTimeStamp": stamp,
            "internalIncidentId": iid,
            "incidentTypeCommonRegistryText": common,
            "incidentTypeInternalText": internal,
            "incidentStatusCommonRegistryText": [status_text(view)],
            "incidentStatusInternalText": [
                "cancelled" if view.cancelled else view.step.name.lower()
            ],
            "incidentPriorityInternalText": f"P{view.priority}",
            "locationReference": [{"$ref": location_id}],
            "notesReference": [{"$ref": n} for n in note_ids],
        },
        "locationComponent": [
            {
                "$id": location_id,
                "lastUpdateTimeStamp": stamp,
                "locationTypeDescriptionRegistryText": "CurrentIncident",
                "locationDescriptionText": view.description,
                # A PIDF-LO circle (RFC 5491) as JSON: WGS-84, radius at 95 % confidence.
                "locationByValue": {
                    "shape": "Circle",
                    "latitude": view.lat,
                    "longitude": view.lon,
                    "radiusMeters": round(view.radius95_m, 1),
                    "confidencePercent": 95,
                },
            }
        ],
        "agencyComponent": [
            {
                "$id": OWNER,
                "agencyType": ["ems"],
                "agencyRoleDescriptionRegistryText": ["Dispatch"],
                "incidentOwningAgencyIndicator": True,
            },
            *(
                {
                    "$id": a,
                    "agencyType": list(AGENCIES.get(a, (a,))),
                    "agencyRoleDescriptionRegistryText": ["Responding"],
                    "incidentOwningAgencyIndicator": False,
                }
                for a in view.agencies
            ),
        ],
        "emergencyResourceComponent": [
            {
                "$id": f"{iid}:resource:{u.unit_id}",
                "emergencyResourceName": u.unit_id,
                "emergencyResourceTypeCommonRegistryText": "Ambulance",
                "resourceAttributeRegistryText": [u.capability.upper()],
                "primaryUnitStatusRegistryText": _UNIT_STATUS.get(u.status, "Unknown"),
                "unitStatusInternal": [u.status],
                "updatedByAgencyReference": {"$ref": OWNER},
            }
            for u in view.units
        ],
        "notesComponent": [
            {
                "$id": note_id,
                "lastUpdateTimeStamp": iso(n.at),
                "notesActionComments": n.text,
                "updatedByAgencyReference": {"$ref": n.author},
            }
            for note_id, n in zip(note_ids, view.notes, strict=True)
        ],
    }
