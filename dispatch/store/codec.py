"""Events to JSON-able dicts and back: the one encoding of the event log and the wire.

`{"type": "UnitAssigned", "incident_id": "I1", "unit_id": "A1", "by": "dispatcher"}`: the
dataclass name and its fields, enums as their values. Decoding re-runs each event's own
checks, so a tampered or truncated log record is refused as InvalidEvent, never half-read.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any

from dispatch.core import events as ev
from dispatch.errors import InvalidEvent

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ev.CallReceived, ev.IncidentLocated, ev.IncidentTriaged, ev.UnitRegistered,
        ev.UnitPositionReported, ev.UnitAssigned, ev.OfferAcknowledged, ev.UnitStatusReported,
        ev.HandoverCompleted, ev.DestinationChosen, ev.HospitalAcknowledged, ev.PatientDescribed,
        ev.IncidentCancelled, ev.ClockTicked, ev.CallRepeated, ev.PhoneQuarantined,
        ev.CallQuarantined, ev.PhoneReleased,
    )
}  # fmt: skip


def to_dict(event: ev.Event) -> dict[str, Any]:
    """The event as a flat dict with its type name; enums become their values."""
    out: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def from_dict(data: dict[str, Any]) -> ev.Event:
    """Rebuild an event; InvalidEvent for an unknown type, missing or extra fields, bad values."""
    if not isinstance(data, dict):
        raise InvalidEvent("an event is a JSON object")
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise InvalidEvent(f"unknown event type {data.get('type')!r}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - names - {"type"}
    if extra:
        raise InvalidEvent(f"unknown fields {sorted(extra)} for {cls.__name__}")
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue  # the dataclass default applies, or its constructor says what is missing
        kwargs[f.name] = _coerce(hints[f.name], data[f.name], f.name)
    try:
        event: ev.Event = cls(**kwargs)
    except TypeError as exc:
        raise InvalidEvent(f"{cls.__name__}: {exc}") from exc
    return event


def _coerce(hint: Any, value: Any, name: str) -> Any:
    """Turn a JSON value into the field's type (enums, tuples, floats, booleans); refuse the
    rest (a 0 or 1 is no boolean)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        base = typing.get_origin(option) or option
        if isinstance(base, type) and issubclass(base, enum.Enum):
            try:
                return base(value)
            except ValueError:
                continue
        if base is tuple and isinstance(value, list):
            return tuple(value)
        if base is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base is str and isinstance(value, str):
            return value
        if base is bool and isinstance(value, bool):
            return value
        if getattr(option, "__supertype__", None) is str and isinstance(value, str):
            return value  # NewType ids
    raise InvalidEvent(f"field {name!r}: {value!r} is not a valid {hint}")


def dumps(event: ev.Event) -> str:
    return json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> ev.Event:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from exc
    return from_dict(data)
