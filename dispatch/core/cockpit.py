"""The data cockpit's figures: where the minutes go, against the standards, pure.

From each incident's NEMSIS-named timeline: call received to dispatched (the first unit
notified), dispatched to en route (turnout), en route to on scene (travel), call to on scene
(response), on scene, transport and handover (offload) — as medians and 90th percentiles,
never only means; compliance with configurable targets; counts by complaint and priority;
response times by grid cell; location quality (calls located within 50 m, calls with a
conflict alarm). A period is a window of wall-clock time on the call's receipt.

Targets come in presets. Each says which interval, how fast, for what share, and for which
calls:

- `china-2020`: China's 2020 pre-hospital guidance ("进一步完善院前医疗急救服务的指导意见"):
  a 120 call answered within 10 s for 95 % (a one-tap call is answered, that is located and on
  the console, on receipt: the call-to-console time is the server's, see docs/server-benchmark)
  and the ambulance departing within 3 minutes for 95 % (call to en route here).
- `nfpa`: NFPA 1225 (dispatched within 60 s of answer for 90 %; answer = receipt here) and
  NFPA 1710 (ALS travel within 8 minutes for 90 %: here the travel of calls whose priority
  asks for ALS, P1).

Pure: incidents in, a dict of figures out (`figures`), or CSV rows (`csv_rows`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.core.model import Priority, Step

CELL_M = 1000.0  # the response-time map's grid
PRECISE_M = 50.0  # "located within 50 m": the 95 % radius at the call
EARTH_M_PER_DEG = 111_320.0

#: (name, from step, to step): the intervals of a response, in the order they happen.
INTERVALS: tuple[tuple[str, Step, Step], ...] = (
    ("call_to_dispatch", Step.CALL_RECEIVED, Step.UNIT_NOTIFIED),
    ("turnout", Step.UNIT_NOTIFIED, Step.EN_ROUTE),
    ("travel", Step.EN_ROUTE, Step.ON_SCENE),
    ("response", Step.CALL_RECEIVED, Step.ON_SCENE),
    ("on_scene", Step.ON_SCENE, Step.LEFT_SCENE),
    ("transport", Step.LEFT_SCENE, Step.AT_DESTINATION),
    ("handover", Step.AT_DESTINATION, Step.TRANSFER_OF_CARE),
)
_INTERVAL = {name: (a, b) for name, a, b in INTERVALS}


@dataclass(frozen=True)
class Row:
    """What the cockpit needs of one incident; times are wall-clock seconds (Unix)."""

    incident_id: str
    received_s: float
    steps: Mapping[Step, float]  # each step's wall-clock time
    priority: Priority
    complaint: str
    lat: float
    lon: float
    radius95_m: float  # at the call
    conflict: bool  # the location sources disagreed at the call

    def interval(self, name: str) -> float | None:
        a, b = _INTERVAL[name]
        if a in self.steps and b in self.steps:
            return self.steps[b] - self.steps[a]
        return None


@dataclass(frozen=True)
class Target:
    """`share` of the calls `applies` to must have `interval` within `within_s`."""

    name: str
    interval: str
    within_s: float
    share: float
    applies: Callable[[Row], bool] = lambda row: True
    note: str = ""


def _p1(row: Row) -> bool:
    return row.priority is Priority.P1


PRESETS: dict[str, tuple[Target, ...]] = {
    "china-2020": (
        Target("answered within 10 s", "call_to_console", 10.0, 0.95,
               note="one-tap calls are answered (located, on the console) on receipt"),
        Target("departure within 3 min", "call_to_en_route", 180.0, 0.95),
    ),
    "nfpa": (
        Target("NFPA 1225: dispatched within 60 s", "call_to_dispatch", 60.0, 0.90),
        Target("NFPA 1710: ALS travel within 8 min", "travel", 480.0, 0.90, _p1,
               note="P1 calls, which are sent an ALS unit first"),
    ),
}  # fmt: skip
_DERIVED: dict[str, Callable[[Row], float | None]] = {
    "call_to_console": lambda row: 0.0,  # on the console in the same step as the receipt
    "call_to_en_route": lambda row: (
        row.steps[Step.EN_ROUTE] - row.received_s if Step.EN_ROUTE in row.steps else None
    ),
}


def value_of(row: Row, interval: str) -> float | None:
    derived = _DERIVED.get(interval)
    return derived(row) if derived is not None else row.interval(interval)


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, median and 90th percentile (seconds); None for an empty set."""
    if not values:
        return {"n": 0, "p50_s": None, "p90_s": None}
    a = np.asarray(values, dtype=float)
    p50, p90 = np.percentile(a, [50, 90])
    return {"n": len(values), "p50_s": round(float(p50), 1), "p90_s": round(float(p90), 1)}


def compliance(rows: Sequence[Row], targets: Iterable[Target]) -> list[dict[str, object]]:
    """Each target: how many calls it applies to, the share met, and whether that is enough.
    A call not yet at the interval's end is left out (it may still make it)."""
    out: list[dict[str, object]] = []
    for t in targets:
        values = [v for r in rows if t.applies(r) and (v := value_of(r, t.interval)) is not None]
        met = sum(1 for v in values if v <= t.within_s)
        share = met / len(values) if values else None
        out.append(
            {
                "target": t.name,
                "interval": t.interval,
                "within_s": t.within_s,
                "required_share": t.share,
                "n": len(values),
                "met": met,
                "share": round(share, 4) if share is not None else None,
                "ok": share >= t.share if share is not None else None,
                "note": t.note,
            }
        )
    return out


def cell_of(lat: float, lon: float, lat0: float, cell_m: float = CELL_M) -> tuple[int, int]:
    """The grid cell (row, column) of a point, on a local plane at latitude lat0."""
    y = lat * EARTH_M_PER_DEG
    x = lon * EARTH_M_PER_DEG * math.cos(math.radians(lat0))
    return math.floor(y / cell_m), math.floor(x / cell_m)


def cell_centre(cell: tuple[int, int], lat0: float, cell_m: float = CELL_M) -> tuple[float, float]:
    row, col = cell
    lat = (row + 0.5) * cell_m / EARTH_M_PER_DEG
    lon = (col + 0.5) * cell_m / (EARTH_M_PER_DEG * math.cos(math.radians(lat0)))
    return lat, lon


#: How long a call of each priority may wait for its first unit (the console's overdue alarm;
#: the server's are `JIJIU_OVERDUE_P1_S` and the like).
OVERDUE_S: Mapping[Priority, float] = {Priority.P1: 60.0, Priority.P2: 180.0, Priority.P3: 600.0}


def waited_s(row: Row, now_s: float) -> float:
    """How long the call waited for its first unit: to the unit notified, else to its close
    (cancelled or linked without one), else to now (still waiting)."""
    steps = row.steps
    end_s = steps.get(Step.UNIT_NOTIFIED, steps.get(Step.CLOSED, now_s))
    return max(0.0, end_s - row.received_s)


def overdue_counts(
    rows: Iterable[Row], now_s: float, overdue_s: Mapping[Priority, float] = OVERDUE_S
) -> dict[str, int]:
    """Per priority, the calls that waited for a unit at least their priority's limit."""
    counts = {f"P{int(p)}": 0 for p in Priority}
    for r in rows:
        if waited_s(r, now_s) >= overdue_s[r.priority]:
            counts[f"P{int(r.priority)}"] += 1
    return counts


def figures(
    rows: Iterable[Row],
    since_s: float,
    until_s: float,
    preset: str = "china-2020",
    overdue_s: Mapping[Priority, float] = OVERDUE_S,
    now_s: float | None = None,
) -> dict[str, object]:
    """Every figure of the cockpit for calls received in [since_s, until_s); a call still
    waiting for a unit is timed to `now_s` (None: `until_s`) for the overdue counts."""
    if preset not in PRESETS:
        raise ValueError(f"preset is one of {', '.join(PRESETS)}")
    chosen = sorted(
        (r for r in rows if since_s <= r.received_s < until_s), key=lambda r: r.received_s
    )
    intervals = {
        name: summary([v for r in chosen if (v := r.interval(name)) is not None])
        for name, _, _ in INTERVALS
    }
    by_priority = {
        f"P{int(p)}": summary(
            [v for r in chosen if r.priority is p and (v := r.interval("response")) is not None]
        )
        for p in Priority
    }
    lat0 = chosen[0].lat if chosen else 30.0
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    for r in chosen:
        v = r.interval("response")
        if v is not None:
            cells[cell_of(r.lat, r.lon, lat0)].append(v)
    grid = []
    for cell, values in sorted(cells.items()):
        lat, lon = cell_centre(cell, lat0)
        grid.append({"lat": round(lat, 6), "lon": round(lon, 6), **summary(values)})
    n = len(chosen)
    return {
        "since_s": since_s,
        "until_s": until_s,
        "calls": n,
        "preset": preset,
        "intervals": intervals,
        "response_by_priority": by_priority,
        "compliance": compliance(chosen, PRESETS[preset]),
        "by_complaint": dict(Counter(r.complaint for r in chosen).most_common()),
        "by_priority": {f"P{int(p)}": sum(1 for r in chosen if r.priority is p) for p in Priority},
        "overdue_by_priority": overdue_counts(
            chosen, until_s if now_s is None else now_s, overdue_s
        ),
        "cell_m": CELL_M,
        "response_grid": grid,
        "location": {
            "within_50m": _share(sum(r.radius95_m <= PRECISE_M for r in chosen), n),
            "conflict": _share(sum(r.conflict for r in chosen), n),
        },
    }


def _share(count: int, n: int) -> float | None:
    return round(count / n, 4) if n else None


CSV_HEADER = (
    "incident_id",
    "received_s",
    "priority",
    "complaint",
    "lat",
    "lon",
    "radius95_m",
    "conflict",
    *(name + "_s" for name, _, _ in INTERVALS),
)


def csv_rows(rows: Iterable[Row], since_s: float, until_s: float) -> list[tuple[object, ...]]:
    """One row per call received in the period, oldest first: the export."""
    chosen = sorted(
        (r for r in rows if since_s <= r.received_s < until_s), key=lambda r: r.received_s
    )
    out: list[tuple[object, ...]] = []
    for r in chosen:
        spans = (r.interval(name) for name, _, _ in INTERVALS)
        out.append(
            (
                r.incident_id,
                round(r.received_s, 3),
                f"P{int(r.priority)}",
                r.complaint,
                round(r.lat, 6),
                round(r.lon, 6),
                round(r.radius95_m, 1),
                int(r.conflict),
                *("" if s is None else round(s, 1) for s in spans),
            )
        )
    return out
