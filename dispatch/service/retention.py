"""Retention: the personal fields of incidents closed longer ago than `retention_days` are
purged, by a periodic run in the server and on demand (`jijiu purge`, `POST
/api/v1/retention/purge`).

A purge logs a tombstone per incident (`PersonalDataPurged`, durable first), then shreds the
incidents' data keys in the key ring (`dispatch.service.personal`): from then on the log holds
only ciphertext of their numbers and notes, and the caller endpoint answers 410 `purged`. A
crash between the two leaves keys of purged incidents behind; each run (the first one at start)
shreds those too. When a close happened is engine time, put on the calendar by the clock's start
anchors (`EngineClock.wall_of`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from dispatch.core import events as ev
from dispatch.core.model import IncidentId, Step
from dispatch.errors import DispatchError

if TYPE_CHECKING:
    from dispatch.service.service import DispatchService

logger = logging.getLogger("jijiu.dispatch")

DAY_S = 86_400.0
EVERY_S = 3600.0  # the periodic run: hourly (a day's retention is never an hour late)
MAX_PER_RUN = 10_000  # tombstones per run: a backlog is worked off over a few runs


def due(svc: DispatchService, now_wall_s: float) -> list[IncidentId]:
    """Closed incidents with personal fields, closed `retention_days` or more before
    `now_wall_s` (Unix time), oldest first."""
    limit_s = svc.settings.retention_days * DAY_S
    found: list[tuple[float, IncidentId]] = []
    for inc in svc.engine.incidents.values():
        closed_at_s = inc.timeline.get(Step.CLOSED)
        if closed_at_s is None or inc.purged or not inc.personal_sealed:
            continue
        closed_wall_s = svc.clock.wall_of(closed_at_s)
        if now_wall_s - closed_wall_s >= limit_s:
            found.append((closed_wall_s, inc.incident_id))
    return [incident_id for _, incident_id in sorted(found)[:MAX_PER_RUN]]


async def purge(
    svc: DispatchService, dry_run: bool = False, now_wall_s: float | None = None
) -> dict[str, Any]:
    """Purge what is due (or, `dry_run`, only say what is): tombstones, durable, then the
    keys shredded. StoreError (503) if the log refuses the tombstones; nothing is shredded."""
    now = time.time() if now_wall_s is None else now_wall_s
    ids = due(svc, now)
    answer: dict[str, Any] = {
        "retention_days": svc.settings.retention_days,
        "dry_run": dry_run,
        "due": list(ids),
        "purged": [],
    }
    if dry_run:
        return answer
    for incident_id in ids:
        svc.submit(ev.PersonalDataPurged(incident_id, "retention"))
    if ids:
        await svc.settled()
    purged = {i for i, inc in svc.engine.incidents.items() if inc.purged}
    leftover = sorted(purged & await asyncio.to_thread(svc.personal.ring.ids))
    if leftover:
        await asyncio.to_thread(svc.personal.shred, leftover)
    answer["purged"] = list(ids)
    return answer


async def run_retention(svc: DispatchService, every_s: float = EVERY_S) -> None:
    """The periodic purge: now (after the replay at start), then every `every_s`. A refusal
    (the store is down, a standby) is logged and tried again next time."""
    while True:
        if not svc.poisoned:
            try:
                done = await purge(svc)
            except DispatchError as exc:
                logger.warning("retention purge not done: %s", exc.reason)
            else:
                if done["purged"]:
                    logger.info(
                        "retention: %d incidents' personal fields purged", len(done["purged"])
                    )
        await asyncio.sleep(every_s)
