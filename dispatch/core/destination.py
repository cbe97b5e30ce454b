"""The auto-destination rule: where a patient goes when transport starts and nobody chose.

One rule for the server (`dispatch.service.hospitals`) and the fast simulator
(`simulator.fast.engine`): the first hospital of `hospital_link.destination.rank_destinations`
for the incident's complaint and priority, as a `DestinationChosen` by "auto" whose reason is
the ranking's own words. Pure: the caller measures the road ETAs and gives the time.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispatch.core import events as ev
from dispatch.core.engine import Incident
from hospital_link.destination import rank_destinations
from hospital_link.registry import HospitalId, Registry


def auto_destination(
    inc: Incident,
    registry: Registry,
    travel_s: Mapping[HospitalId, float] | Mapping[str, float],
    now_s: float,
) -> ev.DestinationChosen | None:
    """The `DestinationChosen` to apply for `inc`, or None when a hospital is already chosen or
    none is reachable. `travel_s` maps hospital id to road ETA (infinite: unreachable)."""
    if inc.destination is not None:
        return None
    choices = rank_destinations(registry, travel_s, inc.complaint.value, int(inc.priority), now_s)
    if not choices:
        return None
    best = choices[0]
    return ev.DestinationChosen(
        inc.incident_id, best.hospital_id, "auto", best.summary[: ev.MAX_TEXT]
    )
