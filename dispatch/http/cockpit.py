"""The data cockpit's API (dispatchers): figures for a period, and the period as CSV.

    GET /api/v1/cockpit?hours=24&preset=china-2020      the last 24 hours
    GET /api/v1/cockpit?since=<unix s>&until=<unix s>   a chosen period
    GET /api/v1/cockpit.csv?...                         the same period, one row per call

The figures are `dispatch.core.cockpit.figures` over the engine's incidents, which are the event
log's replay; times are put on the wall clock by the log's start anchors (`svc.clock.wall_of`).
`store` says the event log's state now and, since this process started, the calls refused
with 503 while the store was down and the outages (`dispatch.service.outage`); `positions`
the units' and volunteers' positions dropped above `positions_per_source_per_s` and every
source that flooded (`dispatch.service.live_inputs`).
"""

from __future__ import annotations

import csv
import io
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from dispatch.core.cockpit import CSV_HEADER, PRESETS, csv_rows, figures
from dispatch.errors import InvalidEvent
from dispatch.http.common import ERRORS, Svc, dispatcher_only

router = APIRouter(prefix="/api/v1", tags=["cockpit"], dependencies=[Depends(dispatcher_only)])

MAX_HOURS = 24 * 366
Hours = Annotated[float, Query(gt=0, le=MAX_HOURS, description="the last N hours")]
Since = Annotated[float | None, Query(ge=0, le=4_102_444_800, description="Unix seconds")]
Preset = Annotated[str, Query(max_length=32, description=", ".join(PRESETS))]


class BadPeriod(InvalidEvent):
    reason = "bad_period"


def period(hours: float, since: float | None, until: float | None) -> tuple[float, float]:
    """[since, until) in Unix seconds: given, or the last `hours` up to now."""
    now = time.time()
    start = since if since is not None else now - hours * 3600.0
    end = until if until is not None else now + 1.0
    if not start < end:
        raise BadPeriod("since must be before until")
    return start, end


@router.get("/cockpit", responses=ERRORS)
async def cockpit(
    svc: Svc,
    hours: Hours = 24.0,
    since: Since = None,
    until: Since = None,
    preset: Preset = "china-2020",
) -> dict[str, Any]:
    """Medians and 90th percentiles of each interval, compliance with the preset's targets,
    counts by complaint and priority, response times by 1 km cell, location quality."""
    if preset not in PRESETS:
        raise BadPeriod(f"preset is one of {', '.join(PRESETS)}")
    start, end = period(hours, since, until)
    return {
        **figures(
            svc.views.cockpit_rows(),
            start,
            end,
            preset,
            overdue_s=svc.views.overdue_limits.by_priority(),
            now_s=min(end, time.time()),
        ),
        "store": svc.outage.figures(),
        "positions": svc.inputs.position_figures(),
    }


@router.get("/cockpit.csv", responses=ERRORS, response_class=Response)
async def cockpit_csv(
    svc: Svc, hours: Hours = 24.0, since: Since = None, until: Since = None
) -> Response:
    """The period's calls, one row each: the times of every interval in seconds."""
    start, end = period(hours, since, until)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(svc.views.cockpit_rows(), start, end))
    name = f"jijiu-calls-{int(start)}-{int(end)}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
