"""Client frames checked against their declared models before any handler reads them.

Each socket that takes frames declares them (`dispatch.service.frames`, the same models its
JSON Schema document is built from). A frame whose `type` is one the socket declares must
have that model's shape: every required field, no field more. One that does not is answered
with an error frame `invalid_event` (`invalid_vitals` for vitals) naming the frame type and
the kinds of error (never the values sent), and the socket stays open. Shape only: a value
of the wrong type goes on to the handler, which refuses it with its own reason. A `type` the
socket does not declare (or none) goes on to the handler, whose "unknown frame type" answer
lists the ones it takes.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from dispatch.service.frames.schemas import SOCKETS

# The errors of shape the check refuses: a field missing or one the model does not declare.
# A value of the wrong type or range is the handler's to refuse, with its own reason (an
# `incident_id` of 5 is an `unknown_incident`, a vitals `seq` of "x" an `invalid_vitals`).
SHAPE = frozenset({"missing", "extra_forbidden"})
# The refusal's reason: a frame type whose handler has its own reason keeps it.
REASON = {"vitals": "invalid_vitals"}
# A topic's prefix names its socket, except where the two differ.
SOCKET_OF_TOPIC = {"call": "caller"}


@dataclass(frozen=True)
class FrameCheck:
    """The frame types one socket declares, and a validator for each."""

    socket: str
    models: dict[str, TypeAdapter[Any]]

    def refusal(self, raw: str | bytes, frame: dict[str, Any]) -> dict[str, Any] | None:
        """None when `frame` is not of a declared type or has its model's shape; else the
        error frame (the frame's type and the kinds of error, no value sent)."""
        kind = frame.get("type")
        if not isinstance(kind, str) or kind not in self.models:
            return None
        model = self.models[kind]
        try:
            model.validate_json(raw, strict=True)
        except ValidationError as exc:
            kinds = {str(e["type"]) for e in exc.errors(include_input=False)}
            if kinds & SHAPE:
                detail = f"not a valid {kind} frame ({', '.join(sorted(kinds & SHAPE))})"
                return {
                    "type": "error",
                    "reason": REASON.get(kind, "invalid_event"),
                    "detail": detail,
                }
        return None


def _tags(model: Any) -> tuple[str, ...]:
    """The `type` values a frame model declares (a Literal of one or more)."""
    hints = typing.get_type_hints(model)
    return tuple(str(tag) for tag in typing.get_args(hints["type"]))


def check_for_topic(topic: str) -> FrameCheck | None:
    """The check for the socket that streams `topic` ("unit:ALS01" -> the unit socket's);
    None for a socket that declares no frames."""
    prefix = topic.split(":", 1)[0]
    return _check(SOCKET_OF_TOPIC.get(prefix, prefix))


@functools.cache
def _check(name: str) -> FrameCheck | None:
    """One socket's check, built once per process (a validator per declared frame)."""
    socket = SOCKETS.get(name)
    if socket is None or not socket.sends:
        return None
    models: dict[str, TypeAdapter[Any]] = {}
    for model in socket.sends:
        adapter: TypeAdapter[Any] = TypeAdapter(model)
        for tag in _tags(model):
            models[tag] = adapter
    return FrameCheck(socket.name, models)
