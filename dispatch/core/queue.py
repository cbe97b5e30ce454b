"""The dispatch queue: the sickest first, then the longest waiting, and who has waited too long.

Open incidents without a unit are ordered by priority (P1 first) and, within a priority, by
when the call came in (oldest first): a P1 cardiac arrest never waits behind later P2 calls.
An incident waiting for a unit longer than its priority's limit is overdue (defaults: P1 60 s,
P2 180 s, P3 600 s; `JIJIU_OVERDUE_P1_S` and the like set them in the shell). Pure: the
engine's incidents and the time in, an order and flags out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dispatch.core.engine import Incident
from dispatch.core.model import Priority, Step


@dataclass(frozen=True)
class OverdueLimits:
    """How long an incident of each priority may wait for a unit, in seconds."""

    p1_s: float = 60.0
    p2_s: float = 180.0
    p3_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("p1_s", "p2_s", "p3_s"):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")

    def of(self, priority: Priority) -> float:
        return float({Priority.P1: self.p1_s, Priority.P2: self.p2_s}.get(priority, self.p3_s))

    def by_priority(self) -> Mapping[Priority, float]:
        return {p: self.of(p) for p in Priority}


def received_at_s(inc: Incident) -> float:
    return inc.timeline[Step.CALL_RECEIVED]


def waiting(inc: Incident) -> bool:
    """Open, not linked into another incident, and no unit on it."""
    return inc.open and inc.linked_to is None and inc.unit_id is None


def queue_key(inc: Incident) -> tuple[int, float, str]:
    """Priority first (P1 = 1), then the call's time (oldest first), then the id (a tie)."""
    return int(inc.priority), received_at_s(inc), inc.incident_id


def queue_order(incidents: Iterable[Incident]) -> list[Incident]:
    """The incidents waiting for a unit, in the order a dispatcher should take them."""
    return sorted((inc for inc in incidents if waiting(inc)), key=queue_key)


def overdue_at_s(inc: Incident, limits: OverdueLimits) -> float | None:
    """When a waiting incident becomes overdue (engine time); None once it has a unit."""
    if not waiting(inc):
        return None
    return received_at_s(inc) + limits.of(inc.priority)


def is_overdue(inc: Incident, now_s: float, limits: OverdueLimits) -> bool:
    """Waiting for a unit for at least its priority's limit at `now_s`."""
    at_s = overdue_at_s(inc, limits)
    return at_s is not None and now_s >= at_s
