"""Event versions and upcasting: a record logged by an older release read as today's event.

Every logged event carries its type's version in the field "v" (`codec.to_record`); records
written before versions existed have none and are version 1. When an event type changes in a
way old records cannot simply be read as (a renamed field, a new field with no default, a value
today's checks refuse), its version goes up by one in `VERSIONS` and a small function in
`STEPS` turns a body of the old version into one of the next; reading applies the steps in
turn up to today's version. A field added with a default needs no step: a body without it
gets the default. A body of a version newer than this code knows is refused (InvalidEvent):
an older release must not guess at what a newer one wrote.

    STEPS[("UnitAssigned", 1)] = lambda body: {**body, "channel": "radio"}   # v1 -> v2

Each step gets a test that feeds it a v1 body taken from the frozen log in `tests/data/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dispatch.errors import InvalidEvent

VERSION_FIELD = "v"

Body = dict[str, Any]
Step = Callable[[Body], Body]  # a body of version n (without "v") -> one of version n + 1

#: Today's version of each event type whose version is above 1 (the others are at 1).
VERSIONS: Mapping[str, int] = MappingProxyType({})
#: (type name, version n) -> the upcaster from version n to n + 1.
STEPS: Mapping[tuple[str, int], Step] = MappingProxyType({})


@dataclass(frozen=True)
class Upcaster:
    """The versions of the event types one release writes, and the steps up to them."""

    versions: Mapping[str, int] = field(default_factory=lambda: VERSIONS)
    steps: Mapping[tuple[str, int], Step] = field(default_factory=lambda: STEPS)

    def __post_init__(self) -> None:
        for name, version in self.versions.items():
            if not (isinstance(version, int) and version >= 1):
                raise ValueError(f"{name}: a version is an integer from 1, not {version!r}")
            missing = [n for n in range(1, version) if (name, n) not in self.steps]
            if missing:
                raise ValueError(f"{name} v{version} has no upcaster from v{missing[0]}")

    def version(self, type_name: str) -> int:
        """Today's version of the type."""
        return self.versions.get(type_name, 1)

    def upcast(self, body: Mapping[str, Any]) -> Body:
        """The body (without "v") at today's version of its type; InvalidEvent for a version
        that is not a positive integer or is newer than today's."""
        out = dict(body)
        version = out.pop(VERSION_FIELD, 1)
        name = str(out.get("type"))
        if version == 1 and type(version) is int and name not in self.versions:
            return out  # the common case: a type still at v1
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidEvent(f"{name}: version {version!r} is not a positive integer")
        today = self.version(name)
        if version > today:
            raise InvalidEvent(f"{name} v{version} is newer than this release's v{today}")
        while version < today:
            out = self.steps[(name, version)](out)
            out["type"] = name  # a step may not turn one type into another
            version += 1
        return out


DEFAULT = Upcaster()
