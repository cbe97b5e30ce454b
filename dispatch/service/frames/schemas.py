"""Each websocket's frames, both ways, as one JSON Schema document per socket.

`SOCKETS` names every socket, its path and its frames; `socket_schema` builds its document
from the declarations (pydantic), and `socket_for_path` finds the socket of a URL path.
Every frame the hub publishes gets the `Envelope` (`seq`, `topic`) here; snapshots and
replies are written straight to the socket and carry neither.

A document holds the shared `$defs` and two schemas, `server_to_client` and
`client_to_server`, each a union discriminated by `type` (`oneOf` with a `discriminator`
mapping, as OpenAPI writes it). Validate a frame with the document merged into that part,
e.g. `{**doc, **doc["server_to_client"]}`, or with a `$ref` to `#/server_to_client`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import ConfigDict, Field, TypeAdapter

from dispatch.service.frames import agency, caller, console, hospital, unit, video, volunteer
from dispatch.service.frames.common import Envelope, ErrorFrame

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: What the server answers to any frame on a socket that takes none.
NOTHING = {
    "not": {},
    "description": "This socket takes no frames: each one gets a read_only error.",
}


@dataclass(frozen=True)
class Socket:
    """One websocket: its path, snapshot, published frames, replies and what clients send."""

    name: str
    path: str  # as docs/wire-protocol.md writes it
    title: str
    snapshot: type
    published: tuple[Any, ...]  # hub frames: get the envelope
    replies: tuple[Any, ...]  # written straight to the socket: accepted, error
    sends: tuple[Any, ...]  # client to server; empty: the socket takes no frames

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z]+", self.name):
            raise ValueError(f"a socket name is lower-case letters, not {self.name!r}")


def _members(union: Any) -> tuple[Any, ...]:
    return tuple(getattr(union, "__args__", (union,)))


SOCKETS: dict[str, Socket] = {
    s.name: s
    for s in (
        Socket(
            "console",
            "/ws/console",
            "The dispatcher's console",
            console.ConsoleSnapshot,
            _members(console.ConsoleFrame),
            (ErrorFrame,),
            (),
        ),
        Socket(
            "unit",
            "/ws/units/{unit_id}",
            "A unit's tablet, doctor and driver devices",
            unit.UnitSnapshot,
            _members(unit.UnitFrame),
            (unit.UnitAccepted, ErrorFrame),
            _members(unit.UnitSends),
        ),
        Socket(
            "caller",
            "/ws/calls/{incident_id}",
            "A caller",
            caller.CallerSnapshot,
            _members(caller.CallerFrame),
            (ErrorFrame,),
            (),
        ),
        Socket(
            "hospital",
            "/ws/hospitals/{hospital_id}",
            "A receiving hospital",
            hospital.HospitalSnapshot,
            _members(hospital.HospitalFrame),
            (hospital.HospitalAccepted, ErrorFrame),
            (hospital.HospitalAck,),
        ),
        Socket(
            "volunteer",
            "/ws/volunteers/{volunteer_id}",
            "A CPR volunteer's phone",
            volunteer.VolunteerSnapshot,
            _members(volunteer.VolunteerFrame),
            (volunteer.VolunteerAccepted, ErrorFrame),
            _members(volunteer.VolunteerSends),
        ),
        Socket(
            "agency",
            "/ws/agencies/{agency_id}",
            "A partner agency (police, fire, traffic police)",
            agency.AgencySnapshot,
            _members(agency.AgencyFrame),
            (agency.AgencyAccepted, ErrorFrame),
            (agency.AgencyNoteSent,),
        ),
        Socket(
            "video",
            "/ws/video/{unit_id}",
            "A unit's in-vehicle video, for dispatchers and the receiving hospital",
            video.VideoSnapshot,
            (video.Picture,),
            (ErrorFrame,),
            (),
        ),
    )
}


def published(message: Any) -> Any:
    """The frame as the hub publishes it: the message's fields and the envelope's."""
    wire = type(message)(message.__name__, (message, Envelope), {"__doc__": message.__doc__})
    wire.__module__ = message.__module__
    wire.__pydantic_config__ = ConfigDict(extra="forbid")
    return wire


def _union(members: Sequence[Any], discriminator: str) -> Any:
    """A union discriminated by `discriminator`; a union of replies nests by `frame`."""
    flat: list[Any] = []
    for m in members:
        inner = _members(m)
        flat.append(m if len(inner) == 1 else Annotated[Union[inner], Field(discriminator="frame")])  # noqa: UP007
    if len(flat) == 1:
        return flat[0]
    return Annotated[Union[tuple(flat)], Field(discriminator=discriminator)]  # noqa: UP007


def server_frames(socket: Socket) -> Any:
    """The type of every frame the server sends on `socket`."""
    members = [socket.snapshot, *(published(m) for m in socket.published), *socket.replies]
    return _union(members, "type")


def client_frames(socket: Socket) -> Any | None:
    """The type of every frame a client sends on `socket`; None when it takes none."""
    return _union(socket.sends, "type") if socket.sends else None


def socket_schema(name: str) -> dict[str, Any]:
    """The JSON Schema document of one socket (KeyError for an unknown name)."""
    socket = SOCKETS[name]
    inputs: list[tuple[str, Any, TypeAdapter[Any]]] = [
        ("server_to_client", "serialization", TypeAdapter(server_frames(socket)))
    ]
    sends = client_frames(socket)
    if sends is not None:
        inputs.append(("client_to_server", "validation", TypeAdapter(sends)))
    parts, defs = TypeAdapter.json_schemas(inputs)
    for key in parts:
        parts[key] = _as_union(parts[key], defs.setdefault("$defs", {}))
    doc: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"/api/v1/schemas/{name}.json",
        "title": f"{socket.title}: {socket.path}",
        "description": (
            "Websocket text frames (JSON) of this socket, both ways; see docs/wire-protocol.md."
            " Validate a frame against server_to_client or client_to_server."
        ),
        "path": socket.path,
        "server_to_client": parts[("server_to_client", "serialization")],
        "client_to_server": parts.get(("client_to_server", "validation"), NOTHING),
        **defs,
    }
    return doc


def _as_union(part: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Every direction as a union discriminated by `type`, even of one frame type."""
    if "oneOf" not in part:
        name = part["$ref"].rsplit("/", 1)[-1]
        tag = defs[name]["properties"]["type"]["const"]
        part = {
            "oneOf": [part],
            "discriminator": {"propertyName": "type", "mapping": {tag: part["$ref"]}},
        }
    _name_nested(part, defs)
    return part


def _name_nested(union: dict[str, Any], defs: dict[str, Any]) -> None:
    """Give a nested union (the replies, by `frame`) a `$defs` entry of its own, so every
    discriminator mapping names a definition, as OpenAPI requires."""
    mapping = union.get("discriminator", {}).get("mapping", {})
    for tag, target in list(mapping.items()):
        if isinstance(target, dict):
            name = "".join(w.capitalize() for w in re.split(r"[._]", tag))
            defs[name] = target
            mapping[tag] = f"#/$defs/{name}"
            union["oneOf"] = [
                {"$ref": mapping[tag]} if item is target or item == target else item
                for item in union["oneOf"]
            ]


_PATHS = [
    (re.compile("^" + re.sub(r"\{[a-z_]+\}", "[^/]+", s.path) + "$"), s.name)
    for s in SOCKETS.values()
]


def socket_for_path(path: str) -> str | None:
    """The name of the socket serving a URL path ("/ws/units/ALS01" -> "unit"); None if none."""
    bare = path.split("?", 1)[0]
    for pattern, name in _PATHS:
        if pattern.match(bare):
            return name
    return None


def render(name: str) -> str:
    """The checked-in text of a socket's document: indented JSON, UTF-8, a final newline."""
    return json.dumps(socket_schema(name), indent=2, ensure_ascii=False) + "\n"


def stale(folder: Path) -> list[str]:
    """The socket files in `folder` that are missing or differ from what the models give."""
    out = []
    for name in SOCKETS:
        path = folder / f"{name}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            out.append(path.name)
    return out


def write_all(folder: Path) -> list[Path]:
    """Write every socket's document into `folder` (created if missing); the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SOCKETS:
        path = folder / f"{name}.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written
