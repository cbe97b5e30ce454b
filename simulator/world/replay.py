"""Replay a real call log: one week of San Francisco ambulance incidents on the bundled city.

The log (`data/sf_fire_calls/`, DataSF, public domain) has one row per unit dispatched. An
incident is kept when at least one ambulance (unit type MEDIC or PRIVATE) was sent; its first
ambulance's timestamps give the real service intervals. A replay takes from the log what does not
depend on the city: when calls arrive, how urgent they are, what kind of call, whether the patient
was taken to hospital and how long the crew spent on scene and at hospital. Where the call
happens is drawn from the bundled city's demand density (San Francisco's streets do not map onto
Hangzhou's), and so are the intervals the log lacks.

Priority mapping (SF "Original Priority" is the response code chosen at dispatch):

    code 3 (or E, 1, A: emergency) on a Potentially Life-Threatening call  -> P1
    code 3 on any other call, or code 2 on a Potentially Life-Threatening  -> P2
    everything else (code 2 on a Non Life-threatening call, ...)            -> P3

San Francisco answers far more calls with lights and siren than the synthetic mix assumes
(about 43 % of its ambulance incidents map to P1 against 14 %): a replay is a harder day.

This module also fits the synthetic scenario's figures from the log (`hourly_profile`,
`fitted_intervals`), so the constants in `simulator.world.calls` and `simulator.world.rhythm` can
be checked
against the data they came from.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from dispatch.core.model import Complaint, Priority
from routing.network import RoadNetwork
from simulator.errors import SimulatorError
from simulator.world.calls import (
    CAP_S,
    CallSpec,
    draw_complaints,
    draw_intervals,
    make_specs,
    place_calls,
)
from simulator.world.zones import Zones

#: The log's place under the data folder, and the local midnight it starts at.
SF_LOG = Path("sf_fire_calls") / "sffd_calls_2016-12-31_to_2017-01-07.csv.gz"
WEEK_START = datetime(2016, 12, 31)
WEEK_S = 7 * 86_400.0
AMBULANCE_UNIT_TYPES = frozenset({"MEDIC", "PRIVATE"})
EMERGENCY_CODES = frozenset({"3", "E", "1", "A"})
_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
STAMP_COLUMNS = (
    "Dispatch DtTm",
    "Response DtTm",
    "On Scene DtTm",
    "Transport DtTm",
    "Hospital DtTm",
    "Available DtTm",
)


class ReplayDataMissing(SimulatorError, FileNotFoundError):
    """The call log to replay is not where it should be."""

    reason = "replay_data_missing"


@dataclass(frozen=True)
class LoggedIncident:
    """One logged incident with an ambulance: the call and its first ambulance's timeline.

    Times are seconds since `WEEK_START` (San Francisco local time); None when not recorded.
    """

    incident_number: str
    received_s: float
    call_type: str
    call_type_group: str  # "" when the log has none
    original_priority: str
    dispatch_s: float | None
    response_s: float | None  # en route
    on_scene_s: float | None
    transport_s: float | None  # left scene with the patient
    hospital_s: float | None
    available_s: float | None

    @property
    def priority(self) -> Priority:
        emergency = self.original_priority in EMERGENCY_CODES
        life = self.call_type_group == "Potentially Life-Threatening"
        if emergency and life:
            return Priority.P1
        if emergency or life:
            return Priority.P2
        return Priority.P3

    @property
    def complaint(self) -> Complaint | None:
        """The complaint the call type implies; None for a medical call (drawn by priority)."""
        if self.call_type == "Traffic Collision" or "Rescue" in self.call_type:
            return Complaint.TRAUMA
        if self.call_type in ("Industrial Accidents", "Confined Space / Structure Collapse"):
            return Complaint.TRAUMA
        if "Fire" in self.call_type or self.call_type in (
            "Alarms",
            "Gas Leak (Natural and LP Gases)",
        ):
            return Complaint.BREATHING  # smoke or fumes
        if self.call_type == "Medical Incident":
            return None
        return Complaint.OTHER

    @property
    def transported(self) -> bool | None:
        """Whether the patient went to hospital; None when the ambulance never reached them."""
        if self.on_scene_s is None:
            return None
        return self.transport_s is not None

    def interval_s(self, start: str, end: str) -> float | None:
        """Seconds between two of the timeline's fields, None if either is missing or <= 0."""
        a, b = getattr(self, start), getattr(self, end)
        if a is None or b is None or b - a <= 0:
            return None
        return float(b - a)


def sf_log_path(data: Path | None = None) -> Path:
    """Where the SF log lives: under `data` (default: the project's data folder)."""
    if data is None:
        from routing.load import data_dir  # the data folder's one definition

        data = data_dir()
    return data / SF_LOG


def read_sf_log(path: Path | None = None) -> list[LoggedIncident]:
    """The logged incidents that had an ambulance, by time received; ReplayDataMissing if the
    file is absent."""
    path = path or sf_log_path()
    if not path.is_file():
        raise ReplayDataMissing(
            f"the call log {path} is missing: copy sffd_calls_2016-12-31_to_2017-01-07.csv.gz "
            "(DataSF, public domain) into data/sf_fire_calls/ (see data/sf_fire_calls/README.md)"
        )
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return parse_rows(csv.DictReader(f))


def parse_rows(rows: Iterable[dict[str, str]]) -> list[LoggedIncident]:
    """Group unit rows by incident; keep each incident's first-dispatched ambulance row."""
    first: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.get("Unit Type") not in AMBULANCE_UNIT_TYPES:
            continue
        number = row["Incident Number"]
        held = first.get(number)
        if held is None or stamp_s(row["Dispatch DtTm"]) < stamp_s(held["Dispatch DtTm"]):
            first[number] = row
    out = [incident_from_row(number, row) for number, row in first.items()]
    out.sort(key=lambda i: (i.received_s, i.incident_number))
    return out


def stamp_s(text: str) -> float:
    """Seconds since WEEK_START; inf for an empty field (sorts last)."""
    if not text:
        return math.inf
    return (datetime.strptime(text, _TIME_FORMAT) - WEEK_START).total_seconds()


def incident_from_row(number: str, row: dict[str, str]) -> LoggedIncident:
    """One unit row as an incident; ValueError for a time not in the log's format."""
    stamps = [stamp_s(row[k]) for k in STAMP_COLUMNS]
    times = [None if math.isinf(s) else s for s in stamps]
    return LoggedIncident(
        number,
        stamp_s(row["Received DtTm"]),
        row["Call Type"],
        row.get("Call Type Group") or "",
        row["Original Priority"],
        *times,
    )


# --- the figures the synthetic scenario takes from the log ---------------------------------
def hourly_profile(incidents: Sequence[LoggedIncident]) -> tuple[float, ...]:
    """Calls by hour of day, smoothed over neighbouring hours (weights 1-2-1, wrapping at
    midnight), scaled to a mean of 1: one week is ~120 calls an hour, too few to trust alone."""
    hours = np.array([int(i.received_s // 3600) % 24 for i in incidents], dtype=np.int64)
    counts = np.bincount(hours, minlength=24).astype(np.float64)
    smooth = (np.roll(counts, 1) + 2 * counts + np.roll(counts, -1)) / 4
    return tuple(float(v) for v in smooth / smooth.mean())


Z90 = 1.2815515655446004  # standard-normal 90th percentile


def fit_lognormal(values: Sequence[float]) -> tuple[float, float]:
    """(mu, sigma) of a lognormal matched to the median and the 10th-90th percentile spread.

    Quantiles, not moments: a log has a few one-second and day-long intervals (typing slips,
    units never cleared) that would dominate the mean and variance of the logs.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[v > 0]
    if v.size < 10:
        raise ValueError("need at least 10 positive values to fit")
    p10, p50, p90 = np.quantile(v, [0.1, 0.5, 0.9])
    return float(math.log(p50)), float((math.log(p90) - math.log(p10)) / (2 * Z90))


def fitted_intervals(incidents: Sequence[LoggedIncident]) -> dict[str, tuple[float, float]]:
    """The lognormal (mu, sigma) of each service interval the synthetic scenario draws."""

    def fit(start: str, end: str, keep: Iterable[LoggedIncident]) -> tuple[float, float]:
        vals = [x for i in keep if (x := i.interval_s(start, end)) is not None]
        return fit_lognormal(vals)

    urgent = [i for i in incidents if i.original_priority in EMERGENCY_CODES]
    routine = [i for i in incidents if i.original_priority not in EMERGENCY_CODES]
    treated = [i for i in incidents if i.transported is False]
    return {
        "call_processing_urgent": fit("received_s", "dispatch_s", urgent),
        "call_processing_routine": fit("received_s", "dispatch_s", routine),
        "turnout_on_road": fit("dispatch_s", "response_s", incidents),
        "on_scene_transported": fit("on_scene_s", "transport_s", incidents),
        "on_scene_treated": fit("on_scene_s", "available_s", treated),
        "at_hospital": fit("hospital_s", "available_s", incidents),
    }


def transport_share(incidents: Sequence[LoggedIncident]) -> float:
    """Of the incidents an ambulance reached, the share whose patient it took to hospital."""
    reached = [i.transported for i in incidents if i.transported is not None]
    return sum(reached) / len(reached) if reached else math.nan


# --- replaying on the bundled city -------------------------------------------------------
def replay_calls(
    incidents: Sequence[LoggedIncident],
    zones: Zones,
    net: RoadNetwork,
    seed: int,
    start_s: float,
    end_s: float,
    first_day: int = 0,
) -> list[CallSpec]:
    """The logged calls received in [start_s, end_s) of simulation time as CallSpecs.

    Simulation time 0 is midnight of the log's day `first_day` (0 = Saturday 31 Dec 2016).
    From the log: arrival time, priority, complaint where the call type says it, and, where
    recorded, transport or not, time on scene and time at hospital. Drawn (seeded): the place,
    by the hour's zone weights, and every other interval, as for synthetic calls.
    """
    if not 0 <= first_day <= 6:
        raise ValueError("first_day must be 0..6 (the log holds one week)")
    offset = first_day * 86_400.0
    if end_s + offset > WEEK_S:
        raise ValueError(f"the log ends {(WEEK_S - offset) / 3600:g} h after day {first_day}")
    picked = [i for i in incidents if start_s <= i.received_s - offset < end_s]
    rng = np.random.default_rng([seed, 11])  # stream 11: replay draws
    times = np.array([i.received_s - offset for i in picked], dtype=np.float64)
    zone, node = place_calls(zones, net, times, rng)
    complaints, prios = draw_complaints(rng, len(picked), [i.priority for i in picked])
    hints = [i.complaint for i in picked]
    complaints = [h if h is not None else c for h, c in zip(hints, complaints, strict=True)]
    d = draw_intervals(rng, prios)
    for k, inc in enumerate(picked):
        if inc.transported is not None:
            d["transport"][k] = inc.transported
        scene = inc.interval_s("on_scene_s", "transport_s" if inc.transported else "available_s")
        if scene is not None:
            key = "on_scene_transported_s" if inc.transported else "on_scene_treated_s"
            d[key][k] = min(scene, CAP_S)
        hospital = inc.interval_s("hospital_s", "available_s")
        if hospital is not None:
            d["at_hospital_s"][k] = min(hospital, CAP_S)
    ids = [f"SF{i.incident_number}" for i in picked]
    return make_specs(ids, times, zone, node, net, complaints, prios, d)
