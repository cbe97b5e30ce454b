"""Latency bookkeeping for the benchmarks' JSON reports: percentiles as plain dicts, and the
calls of one rate joined with the times the consoles received them.

Pure: the timings come in as seconds on one monotonic clock (shared by every process on
Linux) and go out in milliseconds. `simulator.load.report` holds the load test's own table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from simulator.load.report import Call, percentiles


def pcts(samples_s: Iterable[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max (ms) of samples given in seconds; NaN when there are none."""
    samples = [float(x) for x in samples_s]
    out: dict[str, float] = asdict(percentiles(samples))
    out["max_ms"] = 1e3 * max(samples) if samples else math.nan
    return out


def achieved_rate(calls: Sequence[Call]) -> float | None:
    """Calls per second between the first and the last send; None with fewer than two."""
    starts = sorted(t0 for _, t0, _, _ in calls)
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    return (len(starts) - 1) / span if span > 0 else None


def summarise_calls(
    calls: Sequence[Call],
    floor_s: Sequence[float],
    recommended: Mapping[str, Sequence[float]],
    consoles: int,
    failures: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """One rate's calls joined with the consoles' receipts of `incident.recommended`.

    `created`: the 201's latency; `recommended`: receipt - send, one sample per console per
    answered call; `missing`: the receipts that never came (consoles x answered calls - those
    received); `floor`: the GET /healthz probes sent between the calls.
    """
    created = [t1 - t0 for _, t0, t1, status in calls if status == 201]
    to_console: list[float] = []
    missing = 0
    for iid, t0, _, status in calls:
        if status != 201:
            continue
        times = list(recommended.get(iid, ()) if iid is not None else ())[:consoles]
        missing += consoles - len(times)
        to_console += [t - t0 for t in times]
    return {
        "calls": len(calls),
        "errors": sum(1 for c in calls if c[3] != 201),
        "failures": dict(failures or {}),
        "missing": missing,
        "achieved_rate": achieved_rate(calls),
        "created": pcts(created),
        "recommended": pcts(to_console),
        "floor": pcts(floor_s),
    }


def overloaded(rec: Mapping[str, Any], max_p99_s: float = 5.0) -> bool:
    """Over 10 % of a rate's calls failed, or its 201 p99 is over `max_p99_s` (a
    `summarise_calls` record): a higher rate would only measure the backlog."""
    return bool(rec["errors"] > 0.1 * rec["calls"] or rec["created"]["p99_ms"] > 1e3 * max_p99_s)
