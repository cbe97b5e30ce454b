"""What a live run saw: one record per call, counters and latency samples, and the summary table.

Pure: records are filled by the live clients with wall-clock readings (`time.monotonic()`), and
turned into city time here by the run's speed factor. A step's city time is its wall time x
speed; the real latencies inside it (a few ms of HTTP and websocket) are scaled too, which at
x20 adds well under a second to steps that take minutes. Server latencies are reported in
real milliseconds, never scaled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.world.calls import CallSpec

#: The phases of a call the simulator saw confirmed, in order (the server's step in brackets):
#: created (located/triaged), assigned (unit notified), acknowledged, en_route, on_scene,
#: transporting (left scene), at_hospital (at destination), handed_over (transfer of care),
#: back_in_service (closed).
PHASES = (
    "created",
    "assigned",
    "acknowledged",
    "en_route",
    "on_scene",
    "transporting",
    "at_hospital",
    "handed_over",
    "back_in_service",
)
#: Which server steps (`dispatch.core.model.Step` names) agree with each phase.
SERVER_STEPS = {
    "created": {"located", "triaged"},
    "assigned": {"unit_notified", "unit_acknowledged"},
    "acknowledged": {"unit_acknowledged"},
    "en_route": {"en_route"},
    "on_scene": {"on_scene"},
    "transporting": {"left_scene"},
    "at_hospital": {"at_destination"},
    "handed_over": {"transfer_of_care"},
    "back_in_service": {"closed"},
}
#: (label, from, to) of the steps reported in city time.
INTERVALS = (
    ("call → dispatch", "posted", "assigned"),
    ("dispatch → en route", "assigned", "en_route"),
    ("en route → on scene", "en_route", "on_scene"),
    ("call → on scene (response)", "posted", "on_scene"),
    ("on scene → transporting", "on_scene", "transporting"),
    ("transporting → at hospital", "transporting", "at_hospital"),
    ("at hospital → handover", "at_hospital", "handed_over"),
    ("call → back in service", "posted", "back_in_service"),
)
MAX_SAMPLES = 200_000  # per latency kind; later samples are counted, not kept
W = 36  # the label column of the tables


@dataclass
class CallRecord:
    """One simulated call: its draw, the wall time of each step seen, where it is now."""

    key: str  # the Idempotency-Key
    complaint: str
    priority: int
    spec: CallSpec | None = None  # the call as the demand model drew it (its service times)
    at: dict[str, float] = field(default_factory=dict)  # step -> time.monotonic()
    incident_id: str | None = None
    unit_id: str | None = None
    hospital_id: str | None = None
    phase: str | None = None  # the furthest of PHASES confirmed by the server
    age_band: str | None = None  # the patient, as the crew will describe them
    sex: str | None = None

    def reached(self, phase: str, wall_s: float) -> None:
        """Record a confirmed phase (its first time) and move the call on to it, never back:
        the tablet's ack can be confirmed before the dispatcher's assignment answer is read."""
        self.at.setdefault(phase, wall_s)
        if self.phase is None or PHASES.index(phase) > PHASES.index(self.phase):
            self.phase = phase


@dataclass
class Tally:
    """Counters and latency samples (wall seconds) of one run."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latency_s: dict[str, list[float]] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def sample(self, kind: str, seconds: float) -> None:
        samples = self.latency_s.setdefault(kind, [])
        if len(samples) < MAX_SAMPLES:
            samples.append(seconds)


@dataclass(frozen=True)
class Check:
    """The end-of-run comparison of the server's state with the simulator's."""

    checked: int
    mismatches: tuple[str, ...]  # "I3f2…: simulator en_route, server left_scene"


def percentiles(values: Iterable[float], qs: Sequence[float]) -> list[float]:
    a = np.asarray(list(values), dtype=np.float64)
    return [float(np.percentile(a, q)) for q in qs] if a.size else [float("nan")] * len(qs)


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "-"
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1e3:.1f}"


def city_intervals(records: Sequence[CallRecord], speed: float) -> dict[str, list[float]]:
    """City seconds of each reported interval, over the calls that reached both ends."""
    out: dict[str, list[float]] = {}
    for label, a, b in INTERVALS:
        out[label] = [(r.at[b] - r.at[a]) * speed for r in records if a in r.at and b in r.at]
    return out


def render(
    records: Sequence[CallRecord],
    tally: Tally,
    check: Check | None,
    *,
    wall_s: float,
    speed: float,
    units: int,
    hospitals: int,
    server_error_logs: int | None,
) -> str:
    """The summary table printed at the end of a live run."""
    phases = Counter(r.phase or "not created" for r in records)
    transported = sum(1 for r in records if "transporting" in r.at)
    lines = [
        f"live city: {_clock(wall_s)} wall at x{speed:g} = {_clock(wall_s * speed / 60)} h:mm "
        f"of city time; {units} units, {hospitals} hospitals",
        "",
        f"calls    {len(records)} placed, {tally.counts['calls_created']} created (201), "
        f"{sum(1 for r in records if 'assigned' in r.at)} dispatched, "
        f"{sum(1 for r in records if 'on_scene' in r.at)} reached on scene, "
        f"{transported} transported, {phases['back_in_service']} back in service",
        "now      "
        + (", ".join(f"{p} {phases[p]}" for p in ("not created", *PHASES) if phases[p]) or "-"),
    ]
    if check is not None:
        state = "agree" if not check.mismatches else f"DISAGREE on {len(check.mismatches)}"
        lines.append(f"check    server and simulator {state} ({check.checked} incidents read back)")
        lines += [f"         {m}" for m in check.mismatches[:10]]
    lines += ["", f"{'step (city time, m:ss)':<{W}} {'n':>5} {'p50':>7} {'p90':>7} {'max':>7}"]
    for label, values in city_intervals(records, speed).items():
        p50, p90, top = percentiles(values, (50, 90, 100))
        lines.append(
            f"{label:<{W}} {len(values):>5} {_clock(p50):>7} {_clock(p90):>7} {_clock(top):>7}"
        )
    lines += [
        "",
        f"{'latency (real, ms)':<{W}} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}",
    ]
    for kind, values in sorted(tally.latency_s.items()):
        p50, p95, p99, top = percentiles(values, (50, 95, 99, 100))
        lines.append(
            f"{kind:<{W}} {len(values):>5} {_ms(p50):>7} {_ms(p95):>7} {_ms(p99):>7} {_ms(top):>7}"
        )
    c = tally.counts
    lines += [
        "",
        f"hospitals  {c['notices']} notices, {c['hospital_acks']} acknowledged; vitals "
        f"{c['vitals_sent']} sent, {c['vitals_accepted']} accepted, {c['vitals_received']} "
        f"received ({c['vitals_mitbih']} with the MIT-BIH samples sent); "
        f"{c['handovers']} handovers",
    ]
    shown_counts = {
        "calls_created",
        "notices",
        "hospital_acks",
        "vitals_sent",
        "vitals_accepted",
        "vitals_received",
        "vitals_mitbih",
        "handovers",
    }
    rest = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in shown_counts and v)
    if rest:
        lines.append(f"also       {rest}")
    errors = dict(tally.errors)
    if server_error_logs is not None:
        errors["server ERROR log lines"] = server_error_logs
    shown = ", ".join(f"{k} {v}" for k, v in sorted(errors.items()) if v) or "none"
    lines.append(f"errors     {shown}")
    return "\n".join(lines)
