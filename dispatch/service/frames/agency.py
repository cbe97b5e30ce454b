"""A partner agency's socket, `/ws/agencies/{agency_id}`: a snapshot, the frames of topic
"agency:<id>" (EIDO-style documents, never a medical field), the replies and its notes."""

from __future__ import annotations

from typing import Literal

from pydantic import with_config
from typing_extensions import TypedDict

from dispatch.service.frames.common import CLOSED, JsonObject


@with_config(CLOSED)
class AgencySnapshot(TypedDict):
    """The first frame: the document of every open incident flagged for this agency."""

    type: Literal["snapshot"]
    last_seq: int
    agency_id: str
    incidents: list[JsonObject]  # EIDO documents (dispatch/core/eido.py)


@with_config(CLOSED)
class IncidentEido(TypedDict):
    """A flagged incident's document, on every change; the last one at its close."""

    type: Literal["incident.eido"]
    incident_id: str
    reason: Literal["flagged", "updated", "note", "closed", "snapshot"]
    eido: JsonObject


@with_config(CLOSED)
class IncidentUnflagged(TypedDict):
    """No longer shared: nothing more of this incident follows."""

    type: Literal["incident.unflagged"]
    incident_id: str


AgencyFrame = IncidentEido | IncidentUnflagged


@with_config(CLOSED)
class AgencyAccepted(TypedDict):
    """The note is logged."""

    type: Literal["accepted"]
    frame: Literal["note"]
    incident_id: str | None


@with_config(CLOSED)
class AgencyNoteSent(TypedDict):
    """A status note on an incident flagged for this agency (1-500 characters)."""

    type: Literal["note"]
    incident_id: str
    text: str
