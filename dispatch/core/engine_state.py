"""The engine's state as plain data and back: what a snapshot holds of the dispatch core.

`export_state(engine)` gives JSON-able dicts, lists, strings and numbers (enums as their values,
road positions as their five numbers, sets as sorted lists); `import_state(engine, state)`
puts them into an empty engine. Replaying the log after the snapshot's last seq then gives the
state a replay from the first record would. Only state is kept: advice owed is not (a replay
skips advice too), nor settings (the engine is built from today's settings).

A closed incident never changes again, so `Exporter` keeps each one's plain form once made:
a snapshot of a year's incidents then costs the event loop the open ones and the units only.
`STATE_VERSION` is bumped whenever this layout changes, and `fingerprint()` also changes with
the fields of incidents and units: a snapshot written under another is not read (full replay).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from dispatch.core.engine import Engine, Incident, Quarantine, Unit
from dispatch.core.model import (
    Capability,
    Complaint,
    IncidentId,
    Priority,
    Step,
    UnitId,
    UnitStatus,
)
from routing.snap import RoadPosition

STATE_VERSION = 2  # 2: several units per incident (`crews`), unit position times

Plain = dict[str, Any]
#: The engine's attributes a snapshot holds, and those it leaves out (built from settings, or
#: owed advice and drained decisions, which a replay does not make either). A test holds an
#: engine's attributes to these two sets, so a new one cannot be left out by mistake.
KEPT = frozenset(
    {"incidents", "units", "now_s", "_offers", "_unacked", "_moved", "_refreshed_at_s"}
    | {"_recent", "phone_calls", "repeats", "quarantine"}
)
TRANSIENT = frozenset({"router", "settings", "_out", "_advice_due", "replaying"})
_T = TypeVar("_T")


class Exporter:
    """Exports one engine again and again, each closed incident's plain form made only once."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._closed: dict[IncidentId, list[Any]] = {}

    def export(self, engine: Engine) -> Plain:
        """`export_state(engine)`, reusing the closed incidents of the last export of it."""
        if engine is not self._engine:  # rebuilt after an outage: nothing cached holds
            self._engine, self._closed = engine, {}
        closed = self._closed
        incidents = []
        for incident_id, inc in engine.incidents.items():
            row = closed.get(incident_id)
            if row is None:
                row = _row(inc)
                if not inc.open:
                    closed[incident_id] = row
            incidents.append(row)
        return _engine(engine, incidents)


def export_state(engine: Engine) -> Plain:
    """The engine's state as plain data (JSON-able; the floats may be inf or NaN)."""
    return _engine(engine, [_row(inc) for inc in engine.incidents.values()])


def import_state(engine: Engine, state: Plain) -> None:
    """Load `state` into `engine`, which must be empty; ValueError (or KeyError, TypeError)
    for a state that is not one `export_state` wrote."""
    if engine.incidents or engine.units:
        raise ValueError("import_state needs an empty engine")
    if state.get("version") != fingerprint():
        raise ValueError(f"engine state layout {state.get('version')!r}, not {fingerprint()}")
    units = [_unit_of(u) for u in _rows(Unit, state["unit_fields"], state["units"])]
    incidents = _rows(Incident, state["incident_fields"], state["incidents"])
    engine.units = {u.unit_id: u for u in units}
    engine.incidents = {i.incident_id: i for i in incidents}
    engine.now_s = float(state["now_s"])
    engine._offers = {IncidentId(i) for i in state["offers"]}
    engine._unacked = {IncidentId(i) for i in state["unacked"]}
    engine._moved = {UnitId(u): None for u in state["moved"]}
    engine._refreshed_at_s = float(state["refreshed_at_s"])
    engine.phone_calls = {
        str(h): (IncidentId(i), float(t)) for h, (i, t) in state["phone_calls"].items()
    }
    engine.repeats = {IncidentId(i): int(n) for i, n in state["repeats"].items()}
    engine.quarantine = {str(h): _of(Quarantine, q) for h, q in state["quarantine"].items()}
    recent = engine._recent
    recent._order = deque()
    recent._cells = {}
    for at_s, incident_id, (row, col) in state["recent"]:
        cell = (int(row), int(col))
        recent._order.append((float(at_s), IncidentId(incident_id), cell))
        recent._cells.setdefault(cell, {})[IncidentId(incident_id)] = None


def _engine(engine: Engine, incidents: list[list[Any]]) -> Plain:
    return {
        "version": fingerprint(),
        "now_s": engine.now_s,
        "unit_fields": list(_names(Unit)),
        "units": [_row(u) for u in engine.units.values()],
        "incident_fields": list(_names(Incident)),
        "incidents": incidents,
        "offers": sorted(engine._offers),
        "unacked": sorted(engine._unacked),
        "moved": list(engine._moved),
        "refreshed_at_s": engine._refreshed_at_s,
        "phone_calls": {h: [i, t] for h, (i, t) in engine.phone_calls.items()},
        "repeats": dict(engine.repeats),
        "quarantine": {h: _plain(q) for h, q in engine.quarantine.items()},
        "recent": [[t, i, list(cell)] for t, i, cell in engine._recent._order],
    }


def _position(p: RoadPosition | None) -> list[float] | None:
    if p is None:
        return None
    return [p.edge, p.fraction, p.snap_distance_m, p.lon, p.lat]


def _position_of(data: list[float]) -> RoadPosition:
    edge, fraction, snap_distance_m, lon, lat = data
    return RoadPosition(int(edge), float(fraction), float(snap_distance_m), float(lon), float(lat))


# Fields that are not plain JSON values, with their way out and back in; every other field of
# Incident and Unit is a str, int, float, bool or None and goes as it is, so a field added to
# either needs no change here (the layout's fingerprint changes: older snapshots are not read).
# An incident or unit is a row of its fields' values in `_names` order (a snapshot of a year's
# incidents decodes in half the time of one dict per incident). A value a converter does not
# know raises KeyError, ValueError or TypeError: the snapshot is refused, never half-read.
_STEPS = {s.value: s for s in Step}
_OUT: dict[str, Callable[[Any], Any]] = {
    "road_position": _position,
    "position": _position,
    "priority": lambda p: p.value,
    "complaint": lambda c: c.value,
    "capability": lambda c: c.value,
    "status": lambda s: s.value,
    "timeline": lambda t: [[step.value, at_s] for step, at_s in t.items()],
    "crews": lambda c: [[u, [[s.value, at_s] for s, at_s in t.items()]] for u, t in c.items()],
    "acked_devices": sorted,
    "declined": sorted,
    "devices": list,
    "notes": lambda ns: [list(n) for n in ns],
    "linked": list,
    "kept_apart": list,
}
_IN: dict[str, Callable[[Any], Any]] = {
    "road_position": _position_of,
    "position": _position_of,
    "priority": {p.value: p for p in Priority}.__getitem__,
    "complaint": {c.value: c for c in Complaint}.__getitem__,
    "capability": {c.value: c for c in Capability}.__getitem__,
    "status": {s.value: s for s in UnitStatus}.__getitem__,
    "timeline": lambda t: {_STEPS[step]: at_s for step, at_s in t},
    "crews": lambda c: {UnitId(u): {_STEPS[s]: at_s for s, at_s in t} for u, t in c},
    "acked_devices": set,
    "declined": set,
    "devices": tuple,
    "notes": lambda ns: tuple((float(t), p, str(x), str(k)) for t, p, x, k in ns),
    "linked": tuple,
    "kept_apart": tuple,
}


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The fields a class's constructor takes, in order (worked out once per class)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


@functools.cache
def fingerprint() -> str:
    """The state's layout: `STATE_VERSION` and the fields of incidents, units and quarantined
    phones. A snapshot written under another one is not read."""
    names = ",".join(f"{c.__name__}:{'/'.join(_names(c))}" for c in (Incident, Unit, Quarantine))
    return f"{STATE_VERSION}-" + hashlib.sha256(names.encode()).hexdigest()[:12]


def _plain(obj: Any) -> Plain:
    """A small dataclass (a quarantined phone) as a dict of its fields."""
    out: Plain = {}
    for name in _names(type(obj)):
        value = getattr(obj, name)
        convert = _OUT.get(name)
        out[name] = value if convert is None or value is None else convert(value)
    return out


def _of(cls: type[_T], data: Plain) -> _T:
    """A small dataclass from `_plain`'s dict; KeyError for a missing field."""
    kwargs = {}
    for name in _names(cls):
        value = data[name]
        convert = _IN.get(name)
        kwargs[name] = value if convert is None or value is None else convert(value)
    return cls(**kwargs)


def _row(obj: Any) -> list[Any]:
    """An incident's or unit's field values in `_names` order, converted to plain values."""
    row = []
    for name in _names(type(obj)):
        value = getattr(obj, name)
        convert = _OUT.get(name)
        row.append(value if convert is None or value is None else convert(value))
    return row


def _rows(cls: type[_T], names: list[str], rows: list[list[Any]]) -> list[_T]:
    """Incidents or units from their rows; ValueError when the rows name other fields."""
    if tuple(names) != _names(cls):
        raise ValueError(f"{cls.__name__} fields differ: {names}")
    convert = [(i, _IN[n]) for i, n in enumerate(names) if n in _IN]
    out = []
    for row in rows:
        if len(row) != len(names):
            raise ValueError(f"a {cls.__name__} row of {len(row)} values, not {len(names)}")
        for i, f in convert:
            if row[i] is not None:
                row[i] = f(row[i])  # the decoded list is ours to change
        out.append(cls(*row))
    return out


def _unit_of(unit: Unit) -> Unit:
    if unit.position is None:
        raise ValueError(f"unit {unit.unit_id!r} has no road position")
    return unit


def same_state(a: Engine, b: Engine) -> bool:
    """True when two engines hold the same state (NaN equal to NaN), as `export_state` sees it."""
    return bool(_canonical(export_state(a)) == _canonical(export_state(b)))


def _canonical(value: Any) -> Any:
    """Comparable form: NaN as a string (NaN != NaN), lists and dicts walked."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value
