"""Synthetic calls: when and where they come, what they are, and how long each step takes.

Everything random about one call is drawn when the call is made (its `CallSpec`), never while a
policy runs, so every policy meets exactly the same calls, places, patients and service times
for a seed (common random numbers): the differences between policies are the policies'.

Intervals are lognormal, fitted to the median and the 10-90 % spread of the real San Francisco
week (`simulator.world.replay.fitted_intervals`; 2,861 ambulance incidents, DataSF, public domain)
and
capped at `CAP_S`; a test refits them from the log:

| interval | median | sigma | from |
|---|---|---|---|
| call to dispatch, emergency | 100 s | 0.74 | SF code 3: received -> dispatch |
| call to dispatch, routine | 147 s | 0.99 | SF code 2 |
| turnout, unit on the road | 14 s | 1.00 | SF dispatch -> en route |
| turnout, unit at a station | 60 s | 0.40 | NFPA 1710 (2020) EMS turnout objective; assumed |
| on scene, then transport | 1085 s | 0.50 | SF on scene -> transport |
| on scene, treated and left | 1013 s | 1.29 | SF on scene -> available, no transport |
| at hospital (handover, clearing) | 1913 s | 0.34 | SF hospital -> available |

82 % of patients reached are taken to hospital (SF). Driving times are the road ETA times a
lognormal factor of sigma 0.2: ambulance travel times scatter about their prediction with a
coefficient of variation of this order (Budge, Ingolfsson and Zerom, Management Science
56:716-723, 2010, Calgary).

The complaint mix and each complaint's priority split are ILLUSTRATIVE assumptions (no public
Hangzhou 120 breakdown was found): cardiac arrest ~2 % of calls (out-of-hospital arrest is of
the order of 100 per 100,000 a year against a few thousand EMS calls), 14 % P1 overall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.core.model import Complaint, IncidentId, Priority
from routing.network import RoadNetwork
from simulator.world.rhythm import Rhythm, hour_of
from simulator.world.zones import DAY_HOURS, Zones

CAP_S = 3 * 3600.0  # no drawn interval is longer (a log's day-long intervals are slips)


@dataclass(frozen=True)
class Lognormal:
    """A lognormal interval in seconds: exp(mu) is the median."""

    mu: float
    sigma: float

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(rng.lognormal(self.mu, self.sigma, n), CAP_S)

    @property
    def median_s(self) -> float:
        return math.exp(self.mu)


CALL_PROCESSING_URGENT = Lognormal(4.610, 0.739)
CALL_PROCESSING_ROUTINE = Lognormal(4.990, 0.992)
TURNOUT_ON_ROAD = Lognormal(2.639, 0.998)
TURNOUT_AT_STATION = Lognormal(math.log(60.0), 0.40)
ON_SCENE_TRANSPORTED = Lognormal(6.989, 0.502)
ON_SCENE_TREATED = Lognormal(6.921, 1.293)
AT_HOSPITAL = Lognormal(7.556, 0.339)
TRANSPORT_SHARE = 0.82
TRAVEL_NOISE_SIGMA = 0.2

#: complaint: (share of calls, P(P1), P(P2), P(P3)). ILLUSTRATIVE, see the module docstring.
COMPLAINT_MIX: dict[Complaint, tuple[float, float, float, float]] = {
    Complaint.CARDIAC_ARREST: (0.02, 1.00, 0.00, 0.00),
    Complaint.CHEST_PAIN: (0.08, 0.40, 0.60, 0.00),
    Complaint.STROKE: (0.05, 0.50, 0.50, 0.00),
    Complaint.BREATHING: (0.08, 0.30, 0.50, 0.20),
    Complaint.TRAUMA: (0.22, 0.10, 0.40, 0.50),
    Complaint.OBSTETRIC: (0.02, 0.00, 0.70, 0.30),
    Complaint.PAEDIATRIC: (0.05, 0.05, 0.45, 0.50),
    Complaint.OTHER: (0.48, 0.03, 0.37, 0.60),
}


@dataclass(frozen=True)
class CallSpec:
    """One call and everything random about how it will unfold (times in seconds)."""

    incident_id: IncidentId
    at_s: float  # call received
    lat: float
    lon: float
    zone: int
    complaint: Complaint
    priority: Priority
    triage_s: float  # call received -> triaged and ready to dispatch
    turnout_station_s: float  # assigned -> en route, for a unit waiting at a station
    turnout_road_s: float  # assigned -> en route, for a crew already in the vehicle
    drive_noise: float  # actual / predicted driving time to the scene
    on_scene_s: float
    transport: bool
    transport_noise: float  # same, to hospital
    at_hospital_s: float  # arrival at hospital -> available (handover, then clearing)
    return_noise: float  # same, for the unit's drive to a station afterwards


@dataclass(frozen=True)
class DemandParams:
    calls_per_day: float = 300.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.calls_per_day) and 0 < self.calls_per_day <= 100_000):
            raise ValueError("calls_per_day must be in (0, 100000]")


def arrival_times(
    rhythm: Rhythm, calls_per_day: float, start_s: float, end_s: float, rng: np.random.Generator
) -> np.ndarray:
    """A Poisson process whose rate follows the hourly profile: per hour a Poisson count,
    spread uniformly inside the hour (the rate is constant within an hour)."""
    out = []
    t = math.floor(start_s / 3600) * 3600.0
    while t < end_s:
        lo, hi = max(t, start_s), min(t + 3600.0, end_s)
        rate = calls_per_day / 86_400.0 * rhythm.call_weight(t)
        n = int(rng.poisson(rate * (hi - lo)))
        out.append(np.sort(rng.uniform(lo, hi, n)))
        t += 3600.0
    return np.concatenate(out) if out else np.zeros(0)


def place_calls(
    zones: Zones, net: RoadNetwork, times: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(zone, node) of each call: a zone by that hour's weights, then one of its nodes."""
    zone = np.empty(times.shape[0], dtype=np.int64)
    hours = np.array([hour_of(t) for t in times], dtype=np.int64)
    by_day = np.isin(hours, list(DAY_HOURS))
    for mask, w in ((by_day, zones.weight_day), (~by_day, zones.weight_night)):
        zone[mask] = rng.choice(len(zones), size=int(mask.sum()), p=w)
    lo, hi = zones.members_indptr[zone], zones.members_indptr[zone + 1]
    pick = lo + np.floor(rng.random(zone.shape[0]) * (hi - lo)).astype(np.int64)
    return zone, zones.members[pick]


def draw_complaints(
    rng: np.random.Generator, n: int, priorities: Sequence[Priority | None] | None = None
) -> tuple[list[Complaint], list[Priority]]:
    """Complaints and priorities from the mix; a given priority is kept and the complaint is
    drawn conditional on it (Bayes over the mix)."""
    kinds = list(COMPLAINT_MIX)
    table = np.array([COMPLAINT_MIX[k] for k in kinds])  # (kinds, 4)
    joint = table[:, :1] * table[:, 1:]  # P(complaint, priority)
    u = rng.random((n, 2))
    complaints, prios = [], []
    for i in range(n):
        given = priorities[i] if priorities is not None else None
        if given is None:
            k = int(np.searchsorted(np.cumsum(table[:, 0]), u[i, 0] * table[:, 0].sum()))
            k = min(k, len(kinds) - 1)
            cum = np.cumsum(table[k, 1:])
            p = Priority(min(int(np.searchsorted(cum, u[i, 1] * cum[-1], side="right")), 2) + 1)
        else:
            col = joint[:, int(given) - 1]
            k = min(int(np.searchsorted(np.cumsum(col), u[i, 0] * col.sum())), len(kinds) - 1)
            p = given
        complaints.append(kinds[k])
        prios.append(p)
    return complaints, prios


def draw_intervals(
    rng: np.random.Generator, priorities: Sequence[Priority]
) -> dict[str, np.ndarray]:
    """Every per-call interval and noise factor, drawn in one fixed order."""
    n = len(priorities)
    urgent = np.array([p is not Priority.P3 for p in priorities], dtype=bool)
    noise = TRAVEL_NOISE_SIGMA
    return {
        "triage_s": np.where(
            urgent, CALL_PROCESSING_URGENT.draw(rng, n), CALL_PROCESSING_ROUTINE.draw(rng, n)
        ),
        "turnout_station_s": TURNOUT_AT_STATION.draw(rng, n),
        "turnout_road_s": TURNOUT_ON_ROAD.draw(rng, n),
        "drive_noise": rng.lognormal(0.0, noise, n),
        "on_scene_transported_s": ON_SCENE_TRANSPORTED.draw(rng, n),
        "on_scene_treated_s": ON_SCENE_TREATED.draw(rng, n),
        "transport": rng.random(n) < TRANSPORT_SHARE,
        "transport_noise": rng.lognormal(0.0, noise, n),
        "at_hospital_s": AT_HOSPITAL.draw(rng, n),
        "return_noise": rng.lognormal(0.0, noise, n),
    }


def make_specs(
    ids: Sequence[str],
    times: np.ndarray,
    zone: np.ndarray,
    node: np.ndarray,
    net: RoadNetwork,
    complaints: Sequence[Complaint],
    priorities: Sequence[Priority],
    d: dict[str, np.ndarray],
) -> list[CallSpec]:
    """Assemble CallSpecs from drawn columns (a replay overrides some columns first)."""
    ll = net.node_lonlat[node]
    out = []
    for i in range(len(ids)):
        transport = bool(d["transport"][i])
        scene = d["on_scene_transported_s"][i] if transport else d["on_scene_treated_s"][i]
        out.append(
            CallSpec(
                IncidentId(ids[i]),
                float(times[i]),
                float(ll[i, 1]),
                float(ll[i, 0]),
                int(zone[i]),
                complaints[i],
                priorities[i],
                float(d["triage_s"][i]),
                float(d["turnout_station_s"][i]),
                float(d["turnout_road_s"][i]),
                float(d["drive_noise"][i]),
                float(scene),
                transport,
                float(d["transport_noise"][i]),
                float(d["at_hospital_s"][i]),
                float(d["return_noise"][i]),
            )
        )
    return out


def generate_calls(
    zones: Zones,
    net: RoadNetwork,
    rhythm: Rhythm,
    params: DemandParams,
    seed: int,
    start_s: float,
    end_s: float,
) -> list[CallSpec]:
    """The synthetic calls received in [start_s, end_s), in time order, for one seed."""
    rng = np.random.default_rng([seed, 7])  # stream 7: demand (policies never draw from it)
    times = arrival_times(rhythm, params.calls_per_day, start_s, end_s, rng)
    zone, node = place_calls(zones, net, times, rng)
    complaints, prios = draw_complaints(rng, times.shape[0])
    d = draw_intervals(rng, prios)
    ids = [f"C{i + 1:06d}" for i in range(times.shape[0])]
    return make_specs(ids, times, zone, node, net, complaints, prios, d)
