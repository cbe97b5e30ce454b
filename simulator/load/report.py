"""The load test's pure part: its plan, the per-rate summary, the Markdown table and the verdict.

No sockets, no clock, no processes: `simulator.load.loadtest` measures and hands the raw
timings here (seconds on one monotonic clock, shared by every process on Linux), and this joins
them into one row per message kind. Latencies are reported in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.errors import InvalidArgument

MAX_UNITS = 1000  # the server seeds at most 1000 units (dispatch.settings)
MAX_RATE = 1000.0  # calls/s; far above what one server takes, a typo guard
MAX_DURATION_S = 3600.0
VERDICT_P99_MS = 100.0  # the acceptance: call -> console p99 under 100 ms

CREATED = "POST /calls -> 201"
RECEIVED = "call -> call.received on consoles"
RECOMMENDED = "call -> incident.recommended on consoles"
HEALTHZ = "GET /healthz (HTTP floor)"
POSITIONS = "unit positions sent"
FRAMES = "console frames received"
KINDS = (CREATED, RECEIVED, RECOMMENDED, HEALTHZ, POSITIONS, FRAMES)

Call = tuple[str | None, float, float, int]  # incident id (201 only), t_sent, t_answered, status


@dataclass(frozen=True)
class Plan:
    """What one run does: `rates` calls/s in turn, each for `duration_s`, on a fixed fleet."""

    rates: tuple[float, ...]
    units: int = 1000
    consoles: int = 50
    duration_s: float = 120.0
    seed: int = 1

    def __post_init__(self) -> None:
        if not self.rates:
            raise InvalidArgument("give at least one rate")
        for r in self.rates:
            if not (math.isfinite(r) and 0 < r <= MAX_RATE):
                raise InvalidArgument(f"a rate must be a number in (0, {MAX_RATE:g}] calls/s")
        if list(self.rates) != sorted(set(self.rates)):
            raise InvalidArgument("rates must be distinct and ascending")
        if not 1 <= self.units <= MAX_UNITS:
            raise InvalidArgument(f"--units must be in 1..{MAX_UNITS} (the server's maximum)")
        if not 1 <= self.consoles <= 1000:
            raise InvalidArgument("--consoles must be in 1..1000")
        if not (math.isfinite(self.duration_s) and 0 < self.duration_s <= MAX_DURATION_S):
            raise InvalidArgument(f"--duration must be in (0, {MAX_DURATION_S:g}] seconds")

    @property
    def planned_s(self) -> float:
        return len(self.rates) * self.duration_s


def parse_rates(text: str) -> tuple[float, ...]:
    """'10,50,100' -> (10.0, 50.0, 100.0), sorted and deduplicated; InvalidArgument if bad."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidArgument(f"not a comma-separated list of numbers: {text!r}") from None
    if not values:
        raise InvalidArgument("give at least one rate")
    for v in values:
        if not (math.isfinite(v) and 0 < v <= MAX_RATE):
            raise InvalidArgument(f"a rate must be a number in (0, {MAX_RATE:g}] calls/s")
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class Pcts:
    """Percentiles of latency samples in ms (linear interpolation); NaN when there are none."""

    n: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


def percentiles(samples_s: Iterable[float]) -> Pcts:
    """n, p50, p95, p99 (ms) of samples given in seconds."""
    a = np.fromiter(samples_s, dtype=float)
    if a.size == 0:
        return Pcts(0, math.nan, math.nan, math.nan)
    p50, p95, p99 = np.percentile(a * 1e3, [50, 95, 99])
    return Pcts(int(a.size), float(p50), float(p95), float(p99))


@dataclass(frozen=True)
class KindRow:
    """One table row: n messages of one kind, their latency (None: not a timed kind)."""

    kind: str
    n: int
    latency: Pcts | None
    errors: int
    per_s: float


@dataclass(frozen=True)
class Step:
    """One rate's results; `skipped` says why a rate was not run (then `rows` is empty)."""

    rate: float
    duration_s: float
    rows: tuple[KindRow, ...] = ()
    achieved_rate: float | None = None
    call_failures: Mapping[str, int] = field(default_factory=dict)
    rss_bytes: int | None = None
    cpu_share: float | None = None  # server CPU seconds per wall second (1.0 = one core)
    # Where the server's CPU went, per call: its event-loop thread, its other threads, its
    # worker processes (ms of CPU per call posted), from /proc (simulator.load.procfs).
    cpu_ms_per_call: tuple[float, float, float] | None = None
    generator_cpu_share: float | None = None  # the load generator's, all its processes
    consoles: int = 0
    skipped: str | None = None

    def row(self, kind: str) -> KindRow | None:
        return next((r for r in self.rows if r.kind == kind), None)


@dataclass(frozen=True)
class Traffic:
    """What the units and consoles did during one step (counts, not timings)."""

    positions_sent: int
    position_errors: int  # sends that failed and error frames the server answered with
    console_frames: int
    console_drops: int  # console connections the server closed (they reconnect)
    span_s: float  # the wall time these were counted over
    generator_cpu_s: float | None = None  # CPU seconds of the load generator's processes


def summarise_step(
    rate: float,
    duration_s: float,
    calls: Sequence[Call],
    floor_s: Sequence[float],
    received: Mapping[str, Sequence[float]],
    recommended: Mapping[str, Sequence[float]],
    consoles: int,
    traffic: Traffic,
    failures: Mapping[str, int] | None = None,
) -> Step:
    """Join the calls with the consoles' receipt times (monotonic seconds) into one Step.

    A console latency sample is receipt - t_sent, one per console per call; a call with a 201
    that a console never showed counts as one error per console missing it.
    """
    span = traffic.span_s if traffic.span_s > 0 else duration_s
    created = [t1 - t0 for _, t0, t1, status in calls if status == 201]
    ok = [(iid, t0) for iid, t0, _, status in calls if status == 201 and iid is not None]
    starts = sorted(t0 for _, t0, _, _ in calls)
    sent_s = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    achieved = (len(starts) - 1) / sent_s if sent_s > 0 else None
    failed = len(calls) - len(created)

    def console_row(kind: str, seen: Mapping[str, Sequence[float]]) -> KindRow:
        samples = [t - t0 for iid, t0 in ok for t in seen.get(iid, ())[:consoles]]
        missing = len(ok) * consoles - len(samples)
        return KindRow(kind, len(samples), percentiles(samples), missing, len(samples) / duration_s)

    rows = (
        KindRow(CREATED, len(calls), percentiles(created), failed, len(calls) / duration_s),
        console_row(RECEIVED, received),
        console_row(RECOMMENDED, recommended),
        KindRow(HEALTHZ, len(floor_s), percentiles(floor_s), 0, len(floor_s) / duration_s),
        KindRow(
            POSITIONS,
            traffic.positions_sent,
            None,
            traffic.position_errors,
            traffic.positions_sent / span,
        ),
        KindRow(
            FRAMES,
            traffic.console_frames,
            None,
            traffic.console_drops,
            traffic.console_frames / span,
        ),
    )
    generator = traffic.generator_cpu_s / span if traffic.generator_cpu_s is not None else None
    return Step(
        rate,
        duration_s,
        rows,
        achieved,
        dict(failures or {}),
        consoles=consoles,
        generator_cpu_share=generator,
    )


def per_call_ms(
    before: tuple[float, float, float] | None,
    after: tuple[float, float, float] | None,
    calls: int,
) -> tuple[float, float, float] | None:
    """CPU seconds spent between two `procfs.cpu_split` readings, as ms per call."""
    if before is None or after is None or calls <= 0:
        return None
    loop, threads, workers = (
        1000 * max(0.0, b - a) / calls for a, b in zip(before, after, strict=True)
    )
    return loop, threads, workers


def overloaded(step: Step, max_p99_s: float = 5.0) -> bool:
    """Over 10 % of the calls failed, or the 201 p99 is over `max_p99_s`: stop raising the rate."""
    row = step.row(CREATED)
    if row is None:
        return False
    slow = row.latency is not None and row.latency.p99_ms > 1e3 * max_p99_s
    return row.errors > 0.1 * max(row.n, 1) or slow


def passes(step: Step, limit_ms: float = VERDICT_P99_MS) -> bool:
    """Every call got its 201, every console showed both frames of it, both p99 < limit."""
    if step.skipped is not None:
        return False
    created = step.row(CREATED)
    if created is None or created.n == 0 or created.errors:
        return False
    for kind in (RECEIVED, RECOMMENDED):
        row = step.row(kind)
        if row is None or row.latency is None or row.n == 0 or row.errors:
            return False
        if not row.latency.p99_ms < limit_ms:
            return False
    return True


def highest_passing(steps: Sequence[Step], limit_ms: float = VERDICT_P99_MS) -> float | None:
    """The highest rate at which it and every lower rate passed; None when the lowest failed."""
    best = None
    for step in sorted(steps, key=lambda s: s.rate):
        if not passes(step, limit_ms):
            break
        best = step.rate
    return best


def verdict_line(steps: Sequence[Step], limit_ms: float = VERDICT_P99_MS) -> str:
    best = highest_passing(steps, limit_ms)
    said = "none" if best is None else f"{best:g} calls/s"
    return f"highest rate with call -> console p99 < {limit_ms:g} ms: {said}"


def _ms(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:.1f} ms"


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f} MiB"


def render_step(step: Step, rss_note: str = "") -> str:
    """One rate as a Markdown heading, table and a line of server figures."""
    head = f"### {step.rate:g} calls/s for {step.duration_s:g} s"
    if step.skipped is not None:
        return f"{head}\n\nnot run: {step.skipped}"
    if step.achieved_rate is not None:
        head += f" (achieved {step.achieved_rate:.1f} calls/s)"
    lines = [
        head,
        "",
        "| kind | n | p50 | p95 | p99 | errors | msgs/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in step.rows:
        p = r.latency
        cells = (_ms(p.p50_ms), _ms(p.p95_ms), _ms(p.p99_ms)) if p is not None else ("—",) * 3
        lines.append(f"| {r.kind} | {r.n} | {' | '.join(cells)} | {r.errors} | {r.per_s:.1f} |")
    rss = _mib(step.rss_bytes) if step.rss_bytes is not None else f"n/a{rss_note}"
    cpu = "n/a" if step.cpu_share is None else f"{100 * step.cpu_share:.0f} % of one core"
    gen = step.generator_cpu_share
    lines += ["", f"server RSS: {rss} · server CPU: {cpu} · consoles: {step.consoles}"]
    if step.cpu_ms_per_call is not None:
        loop, threads, workers = step.cpu_ms_per_call
        lines.append(
            f"server CPU per call: loop thread {loop:.2f} ms · other threads {threads:.2f} ms"
            f" · worker processes {workers:.2f} ms"
        )
    if gen is not None:
        lines.append(f"load generator CPU: {100 * gen:.0f} % of one core (it shares the machine)")
    if step.call_failures:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(step.call_failures.items()))
        lines.append(f"failed calls: {why}")
    return "\n".join(lines)


def render(steps: Sequence[Step], plan: Plan, rss_note: str = "") -> str:
    """The whole report: what ran, a table per rate, and the verdict line last."""
    intro = (
        f"## jijiu loadtest: {plan.units} units at 1 Hz, {plan.consoles} consoles, "
        f"{plan.duration_s:g} s per rate, seed {plan.seed}"
    )
    parts = [intro, *(render_step(s, rss_note) for s in steps), verdict_line(steps)]
    return "\n\n".join(parts)
