"""The websockets' JSON Schema documents, public like `/openapi.json`.

    GET /api/v1/schemas                 the index: every socket, its path and its document
    GET /api/v1/schemas/{socket}.json   one socket's frames, both ways (404 unknown_socket)

The documents are built from the declared frames (`dispatch.service.frames`) once per process;
they are the same text as the files checked in under docs/schemas/.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from dispatch.http.common import error_response
from dispatch.http.wire import ErrorOut
from dispatch.service.frames.schemas import SOCKETS, render

router = APIRouter(prefix="/api/v1", tags=["schemas"])

MEDIA_TYPE = "application/schema+json"


class SchemaEntry(BaseModel):
    socket: str
    path: str
    title: str
    url: str


class SchemaIndex(BaseModel):
    schemas: list[SchemaEntry]


@functools.cache
def _document(name: str) -> bytes:
    return render(name).encode()


@router.get("/schemas", response_model=SchemaIndex)
async def schema_index() -> dict[str, Any]:
    """Every websocket with its path and the URL of its JSON Schema document."""
    return {
        "schemas": [
            {
                "socket": s.name,
                "path": s.path,
                "title": s.title,
                "url": f"/api/v1/schemas/{s.name}.json",
            }
            for s in SOCKETS.values()
        ]
    }


@router.get(
    "/schemas/{socket}.json",
    response_class=Response,
    responses={
        200: {"content": {MEDIA_TYPE: {}}, "description": "The socket's JSON Schema document"},
        404: {"model": ErrorOut, "description": "No such socket (`unknown_socket`)"},
    },
)
async def socket_schema(socket: str) -> Response:
    """One socket's frames, both ways (`server_to_client`, `client_to_server`)."""
    if socket not in SOCKETS:
        known = ", ".join(SOCKETS)  # the name asked for is not echoed
        return error_response(404, "unknown_socket", f"no such socket; one of {known}")
    return Response(_document(socket), media_type=MEDIA_TYPE)
