"""The audit trail (dispatchers): `GET /api/v1/audit`, who read which patient's data and who
did what, one record per read or action, oldest first, paged by `seq`; `?person=NAME`
(supervisors) keeps one person's.

A read is recorded where it is served (role, subject, action, incident ids). An action is an
event a named person caused (its `person` field, dispatch.core.events): `audit_actions`
watches the service and records each one as `{"role": "dispatcher", "subject": NAME, "action":
"IncidentTriaged", "incident_ids": [...]}` with its plain fields (unit, priority, complaint,
determinant, hospital; never a location, a phone hash or free text), queued after the event
itself, so it is durable with or after it. A person's reads carry their name as `subject`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dispatch.core import events as ev
from dispatch.http.common import ERRORS, Seq, Svc, Who, dispatcher_only, rank_at_least
from dispatch.live.feeds import Feeds
from dispatch.service.service import DispatchService
from dispatch.users import NAME, Rank

router = APIRouter(
    prefix="/api/v1", tags=["audit"], dependencies=[Depends(dispatcher_only)], responses=ERRORS
)

#: The fields of an action copied into its audit record: plain values, nothing personal.
SHOWN = ("unit_id", "priority", "complaint", "determinant", "hospital_id", "by")
PAGE = 1000  # records read at a time while looking for one person's


def audit_actions(svc: DispatchService) -> Callable[[ev.Event, list[ev.Decision]], Iterable[Any]]:
    """A service watcher that records every event a named person caused in the audit trail."""

    def watch(event: ev.Event, decisions: list[ev.Decision]) -> list[Any]:
        person = getattr(event, "person", None)
        if person is None:
            return []
        incident_id = getattr(event, "incident_id", None)
        detail = {}
        for name in SHOWN:
            value = getattr(event, name, None)
            if value is not None:
                detail[name] = value.value if hasattr(value, "value") else value
        action = type(event).__name__
        ids = [incident_id] if incident_id else []
        # After the current call returns, so the record queues behind the event's own.
        asyncio.get_running_loop().call_soon(
            lambda: svc.feeds.audit("dispatcher", person, action, ids, **detail)
        )
        return []

    return watch


def read_person(feeds: Feeds, person: str, after: int, limit: int) -> list[dict[str, Any]]:
    """One person's records (their reads and actions) after `after`, at most `limit`."""
    found: list[dict[str, Any]] = []
    cursor = after
    while len(found) < limit:
        page = feeds.read_audit(cursor, PAGE)
        for record in page:
            cursor = record["seq"]
            if record.get("role") == "dispatcher" and record.get("subject") == person:
                found.append(record)
                if len(found) == limit:
                    break
        if len(page) < PAGE:
            break
    return found


@router.get("/audit")
async def audit(
    svc: Svc,
    who: Who,
    after: Seq = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    person: Annotated[
        str | None,
        Query(min_length=1, max_length=32, pattern=NAME.pattern, description="supervisors"),
    ] = None,
) -> list[dict[str, Any]]:
    """Who read which patient's data, and who did what, and when: one record per read (a
    hospital's snapshot or replay, a dispatcher's or crew's read of an incident) or per
    action of a named person, oldest first after `after`. Page with the last `seq` seen.
    `person`: only that person's records (supervisors and the service token)."""
    await svc.feeds.written()
    if person is None:
        return await asyncio.to_thread(svc.feeds.read_audit, after, limit)
    rank_at_least(svc, who, Rank.SUPERVISOR)
    return await asyncio.to_thread(read_person, svc.feeds, person, after, limit)
