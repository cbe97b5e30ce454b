"""The city's daily rhythm: how the call rate and road congestion change with the hour.

Calls by hour: the profile of the real San Francisco week (`simulator.world.replay.hourly_profile`,
2,861 ambulance incidents from 31 Dec 2016 to 7 Jan 2017), smoothed 1-2-1 over neighbouring
hours and scaled to a mean of 1: a trough of 0.59 at 04:00 and a plateau near 1.25 from late
morning to early evening, the shape reported for EMS demand elsewhere (e.g. Channouf et al.,
Health Care Manag Sci 10:25-45, 2007, Calgary). A test checks the constants against the log.

Congestion by road class and hour, as travel-time factors on the ambulance's free-flow time.
Classes come from each edge's free-flow ambulance speed (the bundled data has no highway tag).
Amap's quarterly traffic reports put Hangzhou's rush-hour delay index for cars just under the
national top-ten cut-off (about 1.77 in Q1 2017; China Daily, 26 April 2017), that is ~75 %
more time than at free flow. An ambulance under lights and siren is assumed to win back about
half of that on arterials and less in narrow streets where nobody can pull over; the factors
below are this project's assumption, not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from routing.network import I32, RoadNetwork
from routing.router import Router

#: Relative call rate by hour of day (mean 1), from the San Francisco week (see above).
HOURLY_CALLS: tuple[float, ...] = (
    0.84, 0.83, 0.75, 0.64, 0.59, 0.62, 0.68, 0.76, 0.88, 1.02, 1.12, 1.22,
    1.25, 1.20, 1.20, 1.25, 1.26, 1.24, 1.26, 1.23, 1.17, 1.10, 1.00, 0.89,
)  # fmt: skip


class RoadClass(IntEnum):
    """Roads by free-flow ambulance speed (the bundled data's bands give 15/27.5/48/67.5/80)."""

    LOCAL = 0  # under 40 km/h: lanes and residential streets
    COLLECTOR = 1  # 40-60 km/h
    ARTERIAL = 2  # 60 km/h and more


#: Travel-time factor per road class (LOCAL, COLLECTOR, ARTERIAL) for each named period.
PERIODS: dict[str, tuple[float, float, float]] = {
    "night": (1.0, 1.0, 1.0),
    "shoulder": (1.05, 1.10, 1.15),
    "day": (1.05, 1.15, 1.20),
    "peak": (1.10, 1.25, 1.35),
}

FREE_FLOW = "free flow"  # the period name when congestion is switched off

#: The period of each hour of the day: peaks 07-09 and 17-19, shoulders around them.
HOURLY_PERIOD: tuple[str, ...] = (
    ("night",) * 6 + ("shoulder",) + ("peak",) * 2 + ("day",) * 8 + ("peak",) * 2
    + ("shoulder",) * 3 + ("night",) * 2
)  # fmt: skip


def hour_of(t_s: float) -> int:
    """The hour of day (0-23) at simulation time t_s; time 0 is midnight, negatives wrap."""
    return int(t_s // 3600) % 24


def road_classes(net: RoadNetwork) -> I32:
    """Each edge's RoadClass, from its free-flow ambulance speed."""
    kph = net.length_m / np.maximum(net.base_time_s, 1e-9) * 3.6
    out = np.full(net.n_edges, RoadClass.LOCAL, dtype=np.int32)
    out[kph >= 40.0] = RoadClass.COLLECTOR
    out[kph >= 60.0] = RoadClass.ARTERIAL
    return out


@dataclass(frozen=True)
class Rhythm:
    """The hourly call profile and congestion periods in force for one scenario."""

    hourly_calls: tuple[float, ...] = HOURLY_CALLS
    hourly_period: tuple[str, ...] = HOURLY_PERIOD
    periods: tuple[tuple[str, tuple[float, float, float]], ...] = tuple(PERIODS.items())
    congestion: bool = True  # False: free flow all day

    def __post_init__(self) -> None:
        if len(self.hourly_calls) != 24 or len(self.hourly_period) != 24:
            raise ValueError("hourly_calls and hourly_period need 24 values")
        if any(not (v >= 0 and np.isfinite(v)) for v in self.hourly_calls):
            raise ValueError("hourly call rates must be finite and >= 0")
        if sum(self.hourly_calls) <= 0:
            raise ValueError("at least one hour must have calls")
        names = dict(self.periods)
        if any(p not in names for p in self.hourly_period):
            raise ValueError("every hour's period must be defined")
        for factors in names.values():
            if len(factors) != 3 or any(not (0 < f <= 10) for f in factors):
                raise ValueError("a period has three factors in (0, 10]")

    def call_weight(self, t_s: float) -> float:
        """The relative call rate at time t_s (mean 1 over the day)."""
        mean = sum(self.hourly_calls) / 24
        return self.hourly_calls[hour_of(t_s)] / mean

    def period(self, t_s: float) -> str:
        """The congestion period in force at t_s (FREE_FLOW when congestion is off)."""
        return self.hourly_period[hour_of(t_s)] if self.congestion else FREE_FLOW

    def period_names(self) -> list[str]:
        """The periods that occur in a day, in first-occurrence order."""
        return list(dict.fromkeys(self.hourly_period)) if self.congestion else [FREE_FLOW]

    def factors(self, period: str) -> tuple[float, float, float]:
        return (1.0, 1.0, 1.0) if period == FREE_FLOW else dict(self.periods)[period]


def apply_period(router: Router, classes: I32, factors: tuple[float, float, float]) -> None:
    """Set every edge's congestion factor from its class (overwrites any earlier factor)."""
    for cls, factor in zip(RoadClass, factors, strict=True):
        router.set_congestion(np.nonzero(classes == cls)[0], factor)
