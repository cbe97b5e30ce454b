"""The live-data routes: the traffic feed's jams, a caller's further fixes, the dispatcher's pin.

An `APIRouter` that `create_app` includes; it reuses the app's dependencies and wire models, so
it follows the same rules (no try/except, typed errors mapped by the app's handlers).

- `POST /api/v1/traffic`, `GET /api/v1/traffic` (traffic feed or dispatcher): a jam is written
  into the router at once and cleared by the clock tick when it expires. Not logged: the feed
  re-sends congestion continuously and it expires, so replaying stale jams would be wrong. The
  list also shows the factors learned from the fleet's positions (`source: "probe"`,
  dispatch/core/probe_speeds.py); where both speak, the slower wins (dispatch/core/traffic.py).
- `POST /api/v1/calls/{incident_id}/fixes` (that incident's caller only; any other token gets
  the same 404 as an unknown incident): re-fuse, and relocate when the estimate moved or
  tightened. Sending a fix is the caller's consent to use it.
- `POST /api/v1/incidents/{incident_id}/location` (dispatcher): spoken words (geocoded) or a pin.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from dispatch.core.traffic import MAX_FACTOR
from dispatch.errors import UnknownIncident
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only
from dispatch.http.wire import EstimateOut, FixIn, strict
from dispatch.service.live_inputs import PIN_RADIUS95_M, NoLocation
from dispatch.tokens import Forbidden, Role

router = APIRouter(prefix="/api/v1")

MAX_EDGES = 100_000
MAX_VERTICES = 2000
MAX_EXPIRES_IN_S = 86_400.0  # a day: a feed that stops re-sending must not leave a jam for long

Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Ring = Annotated[list[tuple[Lon, Lat]], Field(min_length=4, max_length=MAX_VERTICES)]
EdgeId = Annotated[int, Field(ge=0, lt=2**31)]


def _exactly_one(model: BaseModel, names: tuple[str, ...]) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)} (got {len(given)})")


class AreaIn(BaseModel):
    """A GeoJSON Polygon: an outer ring, then holes; positions are [lon, lat]."""

    model_config = strict(
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [120.14, 30.27],
                    [120.16, 30.27],
                    [120.16, 30.29],
                    [120.14, 30.29],
                    [120.14, 30.27],
                ]
            ],
        }
    )
    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _few_vertices(self) -> AreaIn:
        if sum(len(ring) for ring in self.coordinates) > MAX_VERTICES:
            raise ValueError(f"a polygon has at most {MAX_VERTICES} vertices")
        return self


class TrafficIn(BaseModel):
    model_config = strict({"factor": 3.0, "expires_in_s": 600, "street": "文三路"})
    factor: float = Field(gt=0, le=MAX_FACTOR, description="travel-time multiplier; 1000: closed")
    expires_in_s: float = Field(gt=0, le=MAX_EXPIRES_IN_S)
    edges: Annotated[list[EdgeId], Field(min_length=1, max_length=MAX_EDGES)] | None = None
    area: AreaIn | None = None
    street: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_target(self) -> TrafficIn:
        _exactly_one(self, ("edges", "area", "street"))
        return self


class TrafficOut(BaseModel):
    id: str = Field(description="T1, T2, ... for the feed's jams; P<edge> for a probe entry")
    kind: str
    source: Literal["feed", "probe"] = Field(
        description="feed: reported to POST /traffic; probe: learned from the fleet's positions"
    )
    street: str | None
    factor: float
    edges: int = Field(description="how many road edges the jam covers")
    edge_ids: list[int] | None = Field(description="a probe entry's edge; None for the feed's")
    added_at_s: float
    expires_at_s: float


class FixesIn(BaseModel):
    model_config = strict(
        {"fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 8, "source": "gnss"}},
        {"fix": {"lat": 30.2779, "lon": 120.1512, "accuracy_m": 20, "age_s": 5, "crs": "gcj02"}},
    )
    fix: FixIn
    spoken: str | None = Field(None, max_length=200)


class FixesOut(BaseModel):
    incident_id: str
    located: bool = Field(description="the incident moved to this estimate (IncidentLocated)")
    estimate: EstimateOut


class PinIn(BaseModel):
    model_config = strict({"lat": 30.2803, "lon": 120.1465})
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius95_m: float = Field(PIN_RADIUS95_M, gt=0, le=100_000)


class LocationIn(BaseModel):
    model_config = strict({"spoken": "文三路学院路口"}, {"pin": {"lat": 30.2803, "lon": 120.1465}})
    spoken: str | None = Field(None, min_length=1, max_length=200)
    pin: PinIn | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LocationIn:
        _exactly_one(self, ("spoken", "pin"))
        return self


async def _traffic_feed(who: Who) -> None:
    if who[0] not in (Role.TRAFFIC, Role.DISPATCHER):
        raise Forbidden("the traffic feed and dispatchers only")


async def _caller_of(incident_id: str, who: Who) -> None:
    if who != (Role.CALLER, incident_id):
        raise UnknownIncident(f"no incident {incident_id}")  # uniform: as if it did not exist


@router.post(
    "/traffic",
    tags=["traffic"],
    status_code=201,
    response_model=TrafficOut,
    dependencies=[Depends(_traffic_feed)],
    responses=ERRORS,
)
async def add_traffic(body: TrafficIn, svc: Svc) -> dict[str, Any]:
    """A jam on edges, an area or a street until it expires; the next route sees it."""
    area = (
        [[(lon, lat) for lon, lat in ring] for ring in body.area.coordinates] if body.area else None
    )
    entry = svc.inputs.add_traffic(body.factor, body.expires_in_s, body.edges, area, body.street)
    return entry.view()


@router.get(
    "/traffic",
    tags=["traffic"],
    response_model=list[TrafficOut],
    dependencies=[Depends(_traffic_feed)],
    responses=ERRORS,
)
async def list_traffic(svc: Svc) -> list[dict[str, Any]]:
    """The active jams: the feed's oldest first, then those learned from the fleet (probe)."""
    return svc.inputs.traffic.views()


@router.post(
    "/calls/{incident_id}/fixes",
    tags=["calls"],
    response_model=FixesOut,
    dependencies=[Depends(_caller_of)],
    responses=ERRORS,
)
async def add_fix(incident_id: str, body: FixesIn, svc: Svc) -> dict[str, Any]:
    """One more fix from the caller's handset: re-fused with what the call already gave."""
    fix = body.fix.to_fix(svc.now(), time.time())
    if fix is None:
        raise NoLocation("a fix at (0, 0) is no position")
    answer = svc.inputs.add_fix(incident_id, fix, body.spoken)
    await svc.settled()
    return answer


@router.post(
    "/incidents/{incident_id}/location",
    tags=["incidents"],
    dependencies=[Depends(dispatcher_only)],
    responses=ERRORS,
)
async def place_incident(incident_id: str, body: LocationIn, svc: Svc) -> dict[str, Any]:
    """The dispatcher places the incident: from the caller's words, or a pin on the map."""
    pin = (body.pin.lat, body.pin.lon, body.pin.radius95_m) if body.pin is not None else None
    svc.inputs.place_by_dispatcher(incident_id, body.spoken, pin)
    await svc.settled()
    return svc.views.incident(incident_id)
