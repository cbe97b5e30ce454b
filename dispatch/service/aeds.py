"""Public AEDs near an incident: the nearest open ones on foot, with directions to read out.

`svc.aeds` holds the walking index over the AED registry (`aed_map.walking`; SYNTHETIC until a
real registry is loaded: data/aed/README.md says how it was made). A dispatcher asks for the AEDs
near any incident; for a cardiac arrest the console is shown them at once, once per incident.
Opening hours are read on the city's local clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aed_map.errors import AedMapError
from aed_map.walking import AedIndex, nearest_aeds
from dispatch.core.model import Complaint, IncidentId
from dispatch.service.city import aed_registry, city_of
from dispatch.service.views import Frame
from routing.errors import RoutingError

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService


class Aeds:
    """The AED walking index, the AEDs near an incident, and the console's arrest alert."""

    def __init__(self, svc: DispatchService) -> None:
        self.svc = svc
        city = city_of(svc.settings)
        aeds = aed_registry(city)  # empty when the city has no AED layer: see why_none
        self.configured = len(aeds) > 0
        self.index = AedIndex(svc.router.net, aeds.aeds)
        self.city_time = ZoneInfo(city.timezone)  # opening hours are local
        self._sent: set[IncidentId] = set()  # arrests whose AEDs the console was shown

    def nearby(self, incident_id: str, k: int, max_walk_s: float) -> list[dict[str, Any]]:
        """The k public AEDs a bystander can fetch quickest on foot, open now (or of unknown
        hours, flagged), with the walk and directions to read out (aed_map.walking)."""
        inc = self.svc.engine.incident(IncidentId(incident_id))
        now_local = datetime.now(self.city_time)
        options = nearest_aeds(self.index, inc.lat, inc.lon, now_local, k, max_walk_s)
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

    def why_none(self) -> str | None:
        """ "no_aeds_configured" when the city has no AED layer (docs/city.md), else None."""
        return None if self.configured else "no_aeds_configured"

    def for_arrest(self, incident_id: IncidentId) -> list[Frame]:
        """A cardiac arrest: the console gets the nearest open AEDs at once, with the
        directions to read to a bystander (once per incident; ~1 ms over 10k AEDs)."""
        inc = self.svc.engine.incidents[incident_id]
        if inc.complaint is not Complaint.CARDIAC_ARREST or incident_id in self._sent:
            return []
        if inc.location_status == "unlocated":  # no AED near a placeholder: sent once placed
            return []
        self._sent.add(incident_id)
        try:
            aeds = self.nearby(incident_id, 3, 600.0)
        except (AedMapError, RoutingError):  # off the walking map: the dispatcher asks by HTTP
            return []
        return [
            ("console", {"type": "incident.aeds", "incident_id": incident_id, "aeds": aeds}, None)
        ]

    def forget(self, incident_id: IncidentId) -> None:
        self._sent.discard(incident_id)
