"""What the vitals load sent and what came back, per phase, and the tally of it per hospital.

Pure: times are seconds on one monotonic clock (shared by every process on Linux). A sample is
keyed by (unit id, sample seq); a hospital's receipt of it is (unit id, sample seq, time). A
sample sent in a phase that its hospital never receives is lost, one it receives twice is
duplicated, one received by another hospital is misrouted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.load.latency import pcts

Key = tuple[str, int]  # unit id, sample seq
Receipt = tuple[str, int, float]  # unit id, sample seq, receipt time (s)
COUNTS = ("sent", "received", "lost", "duplicated", "misrouted", "out_of_order")
HUB_HISTORY = 1024  # frames per topic the server's hub keeps (dispatch.live.hub.Hub default)


@dataclass
class Ledger:
    """Everything the load generator records, bounded by units x seconds (mutable: it fills).

    `phase` is the phase a send made now belongs to (0 warm-up, 1 all reading, 2 one slow,
    3 draining); `marks` are the server's figures at each phase boundary.
    """

    phase: int = 0
    sent: dict[Key, tuple[float, int]] = field(default_factory=dict)  # send time, phase
    late_sends: list[float] = field(default_factory=list)  # s behind each send's schedule
    accepted: list[tuple[float, int]] = field(default_factory=list)  # latency, phase
    errors: Counter[str] = field(default_factory=Counter)  # error replies by reason
    marks: list[dict[str, float]] = field(default_factory=list)

    def note_sent(self, unit_id: str, seq: int, at_s: float, due_s: float) -> None:
        """A sample written at `at_s`, due at `due_s` by its schedule."""
        self.late_sends.append(at_s - due_s)
        self.sent[(unit_id, seq)] = (at_s, self.phase)

    def note_accepted(self, unit_id: str, seq: int, at_s: float) -> None:
        """The server's `accepted` reply to a sample, received at `at_s`."""
        sent = self.sent.get((unit_id, seq))
        if sent is not None:
            self.accepted.append((at_s - sent[0], sent[1]))

    def accepted_in(self, phase: int) -> dict[str, float]:
        return pcts(x for x, p in self.accepted if p == phase)


def tally(
    sent: Mapping[Key, tuple[float, int]],
    dest: Mapping[str, str],
    got: Mapping[str, Sequence[Receipt]],
    phase: int,
    slow_id: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Per hospital (the keys of `got`), the samples sent in `phase` to it (`dest`: unit ->
    hospital): sent, received, lost, duplicated, misrouted, out of order, and `latency_s`, the
    latencies of the first receipts in the order received."""
    out: dict[str, dict[str, Any]] = {}
    for hospital, receipts in got.items():
        expected = {k for k, (_, p) in sent.items() if p == phase and dest[k[0]] == hospital}
        seen: set[Key] = set()
        lat: list[float] = []
        dup = misrouted = reordered = 0
        last: dict[str, int] = {}
        for unit, seq, t in receipts:
            key = (unit, seq)
            was = sent.get(key)
            if was is None or was[1] != phase:
                continue
            if dest.get(unit) != hospital:
                misrouted += 1
            elif key in seen:
                dup += 1
            else:
                seen.add(key)
                lat.append(t - was[0])
                reordered += seq < last.get(unit, -1)
                last[unit] = seq
        out[hospital] = {
            "slow": hospital == slow_id,
            "sent": len(expected),
            "received": len(seen & expected),
            "lost": len(expected - seen),
            "duplicated": dup,
            "misrouted": misrouted,
            "out_of_order": reordered,
            "latency_s": lat,
        }
    return out


def merged(per: Mapping[str, Mapping[str, Any]], which: Iterable[str]) -> dict[str, Any]:
    """The counts of the hospitals `which` summed, their latencies pooled (`latency`, in ms)."""
    rows = [per[h] for h in which]
    out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in COUNTS}
    out["latency"] = pcts(x for r in rows for x in r["latency_s"])
    return out


def clean(m: Mapping[str, Any]) -> bool:
    """Something was sent and nothing was lost, duplicated or misrouted."""
    return bool(m["sent"]) and not (m["lost"] or m["duplicated"] or m["misrouted"])


def history_growth_mb(
    sent: Mapping[Key, tuple[float, int]],
    dest: Mapping[str, str],
    mean_frame_bytes: float,
    history: int = HUB_HISTORY,
) -> tuple[float, float]:
    """MB the hub's history should grow by in phase 1 and in phase 2: the frames kept in each
    hospital topic (at most `history`) times the mean frame size.

    Each topic starts with one `patient.inbound` frame per patient routed to it; the warm-up
    (phase 0) only moves the starting point.
    """
    by_phase = Counter((dest[u], p) for (u, _), (_, p) in sent.items())
    patients = Counter(dest.values())
    grow = [0.0, 0.0]
    for hospital, before in patients.items():
        kept = min(history, before)
        for phase in (0, 1, 2):
            now = min(history, kept + by_phase[(hospital, phase)])
            if phase:
                grow[phase - 1] += (now - kept) * mean_frame_bytes
            kept = now
    return grow[0] / 2**20, grow[1] / 2**20


def without_latencies(per: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The per-hospital tally as the JSON report keeps it: counts, no raw latencies."""
    return {h: {k: v for k, v in r.items() if k != "latency_s"} for h, r in per.items()}
