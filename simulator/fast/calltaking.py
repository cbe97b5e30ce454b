"""Call-taking: the call-takers on shift as a queue in front of dispatch; answer time = waiting.

Every call that reaches the centre rings until a call-taker is free (first come, first served,
`call_takers` servers) and then holds that call-taker for its handling time; the incident is
ready to dispatch when handling ends. So for a call

    answered_at = received_at + wait (the queueing delay: the answer time)
    triaged_at  = answered_at + talk + pending (ready to dispatch)

The queue holds the dispatched calls and the centre's other calls (advice, duplicates,
hang-ups: they occupy a call-taker and never reach dispatch). The model is pure: arrival times
and handling times in, answer and end times out; it never sees a unit, because call-takers do
not wait for ambulances.

Handling times, and where each figure comes from:

- **voice call** (the caller is asked where and what): the call's drawn call-processing
  interval, the lognormal fitted to the SF Fire week's received -> dispatch times (median 100 s,
  sigma 0.74 emergency; 147 s, 0.99 routine: `simulator.world.calls`, refitted by a test);
  The SF interval also holds time the call waits, triaged, for a unit (routine calls above
  all: its tail runs to hours); a call-taker is held for at most `talk_cap_s` = 300 s of it
  (ASSUMPTION, about the 95th percentile of the emergency fit) and the rest is pending time
  that delays dispatch in both worlds alike;
- **one-tap call** (a fix and the complaint arrive with the call): the same draw less the share
  spent establishing the location (`location_share` = 0.40) and the chief complaint
  (`complaint_share` = 0.10), never below `tap_floor_s`. The shares are ASSUMPTIONS: no
  public time-and-motion split of a Chinese 120 call was found. They are bounded by what is
  published: Austin-Travis County EMS splits call processing into "address entered" and
  "dispatch" phases and attributes its growth to mobile callers who must be asked where they
  are (City of Austin performance report FY2014-15); police priority-dispatch call
  prioritisation (the questions after the address) has a median of 45 s (Annals of Emergency
  Dispatch & Response, "Characterization of call prioritization time in a police priority
  dispatch system"); the floor keeps the key questions and the dispatch order;
- **other calls**: `other_per_call` of them per dispatched call (ASSUMPTION: 1.0, a 120
  centre sends an ambulance for about half the calls it answers), lognormal median 45 s,
  sigma 0.6 (ASSUMPTION), each within half an hour of a dispatched call so they follow the
  day's rhythm;
- **staffing**: `call_takers` = 2 on shift for the default 300 dispatched calls a day
  (ASSUMPTION: with the voice handling above this answers about 95 % of calls within 10-15 s
  in the busy hours, near the NFPA 1225 answering objective of 90 % within 15 s and China's
  2020 guidance of 95 % within 10 s).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from routing.network import F64
from simulator.world.calls import CAP_S, Lognormal


@dataclass(frozen=True)
class CallTakingParams:
    """The centre's staffing and handling times (seconds); the module docstring cites them."""

    call_takers: int = 2
    location_share: float = 0.40  # of a voice call's handling: asking and checking where
    complaint_share: float = 0.10  # ... and what happened (the chief complaint)
    talk_cap_s: float = 300.0  # a call-taker holds a voice call at most this long
    tap_floor_s: float = 20.0  # a one-tap call still takes the key questions and the order
    other_per_call: float = 1.0  # calls that need no ambulance, per dispatched call
    other_handling: Lognormal = field(default_factory=lambda: Lognormal(math.log(45.0), 0.6))
    other_window_s: float = 1800.0  # other calls fall within this of a dispatched call

    def __post_init__(self) -> None:
        if not (isinstance(self.call_takers, int) and 1 <= self.call_takers <= 1000):
            raise ValueError("call_takers must be an integer in 1..1000")
        if not (self.location_share >= 0 and self.complaint_share >= 0):
            raise ValueError("the handling shares must be >= 0")
        if self.location_share + self.complaint_share >= 1:
            raise ValueError("location_share + complaint_share must stay below 1")
        if not (self.tap_floor_s <= self.talk_cap_s <= 3600):
            raise ValueError("talk_cap_s must be in tap_floor_s..3600 s")
        if not (0 <= self.tap_floor_s <= 600 and 0 <= self.other_per_call <= 20):
            raise ValueError("tap_floor_s must be in 0..600 s and other_per_call in 0..20")
        if not (0 < self.other_window_s <= 86_400):
            raise ValueError("other_window_s must be in (0, 1 day]")


def split_voice(interval_s: F64, p: CallTakingParams) -> tuple[F64, F64]:
    """A voice call's received -> dispatch interval as (talk, pending): the call-taker's part,
    at most `talk_cap_s`, and the wait for dispatch after it."""
    interval = np.maximum(np.asarray(interval_s, np.float64), 0.0)
    talk: F64 = np.minimum(interval, p.talk_cap_s)
    pending: F64 = interval - talk
    return talk, pending


def one_tap_talk_s(talk_s: F64, p: CallTakingParams) -> F64:
    """The call-taker's part of the same calls made with one tap: less the location and
    complaint questions, never below the floor nor above the voice call's."""
    left = 1.0 - p.location_share - p.complaint_share
    talk = np.asarray(talk_s, np.float64)
    out: F64 = np.minimum(np.maximum(talk * left, p.tap_floor_s), talk)
    return out


def other_calls(at_s: F64, p: CallTakingParams, rng: np.random.Generator) -> tuple[F64, F64]:
    """(arrival, handling) of the centre's other calls around the dispatched calls `at_s`."""
    counts = rng.poisson(p.other_per_call, at_s.shape[0])
    around = np.repeat(np.asarray(at_s, np.float64), counts)
    times = around + rng.uniform(-p.other_window_s, p.other_window_s, around.shape[0])
    handling = p.other_handling.draw(rng, around.shape[0])
    return times, np.minimum(handling, CAP_S)


def serve(arrival_s: F64, handling_s: F64, servers: int) -> F64:
    """First come, first served with `servers` call-takers: each call's answer time (s after
    its arrival). Ties in arrival keep the given order."""
    order = np.argsort(arrival_s, kind="stable")
    free_at = [-math.inf] * servers  # a heap of when each call-taker is next free
    wait = np.zeros(arrival_s.shape[0])
    for k in order:
        t = float(arrival_s[k])
        start = max(t, heapq.heappop(free_at))
        wait[k] = start - t
        heapq.heappush(free_at, start + float(handling_s[k]))
    return wait


@dataclass(frozen=True)
class Taken:
    """The dispatched calls after call-taking (seconds, in the calls' order)."""

    answer_s: F64  # received -> answered (queueing)
    talk_s: F64  # answered -> the call-taker is done
    pending_s: F64  # then -> triaged and ready to dispatch
    occupancy: float  # call-taker busy share over the calls' span

    @property
    def to_triage_s(self) -> F64:
        out: F64 = self.answer_s + self.talk_s + self.pending_s
        return out


def take_calls(
    at_s: F64,
    interval_s: F64,
    one_tap: bool,
    p: CallTakingParams,
    rng: np.random.Generator,
) -> Taken:
    """Queue the dispatched calls (arrivals `at_s`, each with its voice received -> dispatch
    interval `interval_s`, made by voice or with one tap) with the centre's other calls, drawn
    from `rng`: when each is answered and ready to dispatch."""
    at = np.asarray(at_s, np.float64)
    talk, pending = split_voice(interval_s, p)
    hold = one_tap_talk_s(talk, p) if one_tap else talk
    o_at, o_hold = other_calls(at, p, rng)
    wait = serve(np.concatenate([at, o_at]), np.concatenate([hold, o_hold]), p.call_takers)
    span = float(at.max() - at.min()) if at.size > 1 else 0.0
    work = float(hold.sum() + o_hold.sum())
    occupancy = work / (p.call_takers * span) if span > 0 else math.nan
    return Taken(wait[: at.shape[0]], hold, pending, occupancy)
