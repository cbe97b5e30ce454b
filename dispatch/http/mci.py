"""The mass-casualty routes (dispatcher only): declare an MCI with counts by triage colour and get
the proposed distribution over hospitals, dispatch several units at once, read plan and board.

- `POST /api/v1/incidents/{incident_id}/mci`: `{"red": 3, "yellow": 5, "green": 12,
  "black": 1}`; answers the plan with its explanation and the capacities it used.
- `POST /api/v1/incidents/{incident_id}/mci/dispatch`: `{"units": 4}` (the next 4 planned
  patients, units chosen together) or `{"unit_ids": ["ALS01", "BLS02"]}`.
- `GET /api/v1/incidents/{incident_id}/mci`: plan, children and board.

The desk (`dispatch.desks.mci`) does the work; every answer waits until it is durable.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from aed_map.mci import Triage
from dispatch.desks.mci import MAX_UNITS, desk_of
from dispatch.http.common import ERRORS, Svc, dispatcher_only
from dispatch.http.wire import strict

router = APIRouter(prefix="/api/v1", dependencies=[Depends(dispatcher_only)])

MAX_PER_COLOUR = 200
MAX_TRANSPORTED = 300  # red + yellow + green in one declaration

Count = Annotated[int, Field(ge=0, le=MAX_PER_COLOUR, strict=True)]


class MciIn(BaseModel):
    model_config = strict({"red": 3, "yellow": 5, "green": 12, "black": 1})
    red: Count = 0
    yellow: Count = 0
    green: Count = 0
    black: Count = 0

    @model_validator(mode="after")
    def _some_patients(self) -> MciIn:
        transported = self.red + self.yellow + self.green
        if not 1 <= transported <= MAX_TRANSPORTED:
            raise ValueError(f"red + yellow + green must be 1-{MAX_TRANSPORTED}")
        return self


class MciDispatchIn(BaseModel):
    model_config = strict({"units": 4}, {"unit_ids": ["ALS01", "BLS02"]})
    units: int | None = Field(None, ge=1, le=MAX_UNITS, strict=True)
    unit_ids: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=64)]],
            Field(min_length=1, max_length=MAX_UNITS),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _one_way(self) -> MciDispatchIn:
        if (self.units is None) == (self.unit_ids is None):
            raise ValueError("give exactly one of units, unit_ids")
        if self.unit_ids is not None and len(set(self.unit_ids)) != len(self.unit_ids):
            raise ValueError("a unit is listed twice")
        return self


@router.post("/incidents/{incident_id}/mci", tags=["mci"], responses=ERRORS)
async def declare_mci(incident_id: str, body: MciIn, svc: Svc) -> dict[str, Any]:
    """Declare a mass-casualty incident: patients by colour are spread over the hospitals by
    capability (reds to trauma centres), road ETA and live capacity, each line explained.
    The console hears `mci.plan`. Declaring again replaces the plan."""
    counts = {
        Triage.RED: body.red,
        Triage.YELLOW: body.yellow,
        Triage.GREEN: body.green,
        Triage.BLACK: body.black,
    }
    return await desk_of(svc).declare(incident_id, counts)


@router.post("/incidents/{incident_id}/mci/dispatch", tags=["mci"], responses=ERRORS)
async def dispatch_mci(incident_id: str, body: MciDispatchIn, svc: Svc) -> dict[str, Any]:
    """Send units to the next planned patients (reds first): each patient becomes an incident
    of its own with an offer to its unit and the planned hospital as destination. 409 when
    every planned patient has a unit or a listed unit is busy; 404 for an unknown unit."""
    return await desk_of(svc).dispatch(incident_id, body.units, body.unit_ids)


@router.get("/incidents/{incident_id}/mci", tags=["mci"], responses=ERRORS)
async def get_mci(incident_id: str, svc: Svc) -> dict[str, Any]:
    """The plan, the patients made so far and the board (per hospital: planned, dispatched,
    transporting, arrived)."""
    return desk_of(svc).view(incident_id)
