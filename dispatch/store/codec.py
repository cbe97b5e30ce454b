"""Events to JSON-able dicts and back: the one encoding of the event log and the wire.

`{"type": "UnitAssigned", "incident_id": "I1", "unit_id": "A1", "by": "dispatcher"}`: the
dataclass name and its fields, enums as their values. Decoding re-runs each event's own
checks, so a tampered or truncated log record is refused as InvalidEvent, never half-read.
A logged record also carries its type's version (`to_record`: "v"); decoding upcasts a body of
an older version to today's first (`dispatch.store.upcast`), and a body without one is v1.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from dispatch.core import events as ev
from dispatch.errors import InvalidEvent
from dispatch.store.upcast import DEFAULT, VERSION_FIELD, Upcaster

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ev.CallReceived, ev.IncidentLocated, ev.IncidentTriaged, ev.UnitRegistered,
        ev.UnitPositionReported, ev.UnitAssigned, ev.OfferAcknowledged, ev.UnitStatusReported,
        ev.HandoverCompleted, ev.DestinationChosen, ev.HospitalAcknowledged, ev.PatientDescribed,
        ev.IncidentCancelled, ev.ClockTicked, ev.CallRepeated, ev.PhoneQuarantined,
        ev.CallQuarantined, ev.PhoneReleased, ev.PersonalDataPurged, ev.UnitUnassigned,
        ev.UnitReassigned,
        ev.NoteAdded, ev.IncidentLinked, ev.DuplicateKeptApart,
        ev.TcprStarted, ev.TcprStopped,
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


def to_record(event: ev.Event, upcaster: Upcaster = DEFAULT) -> dict[str, Any]:
    """The event as the log stores it: `to_dict` and its type's version today."""
    out = to_dict(event)
    out[VERSION_FIELD] = upcaster.version(out["type"])
    return out


def from_dict(
    data: dict[str, Any],
    *,
    upcaster: Upcaster = DEFAULT,
    types: Mapping[str, type] = EVENT_TYPES,
) -> ev.Event:
    """Rebuild an event, upcast to today's version of its type; InvalidEvent for an unknown
    type or version, missing or extra fields, bad values."""
    if not isinstance(data, dict):
        raise InvalidEvent("an event is a JSON object")
    if VERSION_FIELD in data or upcaster.versions:
        data = upcaster.upcast(data)
    cls = types.get(str(data.get("type")))
    if cls is None:
        raise InvalidEvent(f"unknown event type {data.get('type')!r}")
    fields, names = _fields(cls)
    kwargs: dict[str, Any] = {}
    extra = set(data) - names - {"type"}
    if extra:
        raise InvalidEvent(f"unknown fields {sorted(extra)} for {cls.__name__}")
    for field in fields:
        if field.name not in data:
            continue  # the dataclass default applies, or its constructor says what is missing
        kwargs[field.name] = _coerce(field, data[field.name])
    try:
        event: ev.Event = cls(**kwargs)
    except TypeError as exc:
        raise InvalidEvent(f"{cls.__name__}: {exc}") from exc
    return event


@dataclasses.dataclass(frozen=True)
class _Field:
    """One field of an event type, with what its hint accepts worked out once."""

    name: str
    hint: Any
    options: tuple[tuple[str, Any], ...]  # (kind, type) per member of the hint, in order
    none_ok: bool


def _kind(option: Any) -> tuple[str, Any]:
    base = typing.get_origin(option) or option
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "enum", base
    if getattr(option, "__supertype__", None) is str:
        return "str", str  # NewType ids
    if base in (tuple, float, int, str, bool):
        return base.__name__, base
    return "other", base


@functools.cache
def _fields(cls: type) -> tuple[tuple[_Field, ...], frozenset[str]]:
    """A type's fields in order, each with its accepted kinds, and its field names, worked
    out once per type: `get_type_hints` evaluates every annotation, too slow for each record
    of a replay."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = tuple(_kind(o) for o in options if o is not type(None))
        out.append(_Field(f.name, hint, kinds, type(None) in options))
    return tuple(out), frozenset(f.name for f in out)


def _coerce(field: _Field, value: Any) -> Any:
    """Turn a JSON value into the field's type (enums, tuples, floats, booleans); refuse the
    rest (a 0 or 1 is no boolean)."""
    if value is None and field.none_ok:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    for kind, base in field.options:
        if kind == "str":
            if isinstance(value, str):
                return value
        elif kind == "float":
            if number:
                return float(value)
        elif kind == "enum":
            try:
                return base(value)
            except ValueError:
                continue
        elif kind == "tuple":
            if isinstance(value, list):
                return tuple(value)
        elif kind == "int":
            if number and isinstance(value, int):
                return value
        elif kind == "bool" and isinstance(value, bool):
            return value
    raise InvalidEvent(f"field {field.name!r}: {value!r} is not a valid {field.hint}")


def dumps(event: ev.Event) -> str:
    return json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> ev.Event:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from exc
    return from_dict(data)
