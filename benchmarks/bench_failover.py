"""Failover benchmark: two `jijiu serve` processes on one Redis; the writer is killed with SIGKILL
under a stream of calls; how long until the standby takes calls, and whether any call was lost or
logged twice. Repeated to give a p95.

Budget it guards (issue 17, "one writer, fenced" and "hot standby"; the limits are the
`[failover]` table of `benchmarks/targets.toml`):

    Two server processes, 20 calls/s with retries; kill -9 the leader: every call answered 201
    by either process is in the log exactly once; writes resume within 5 s (p95 over 10 runs).

Set-up: a private durable redis-server (`simulator.load.servers.redis_server`); per run a fresh
key prefix, server A started and ready (it holds the writer's lease, `JIJIU_LEASE_TTL_S=3`),
then server B, alive and standing by. A client posts a call every 50 ms (20 calls/s), each to
whichever server takes it (the first of A and B that answers 201/200, as a load balancer that
health-checks /readyz would route it), retrying with the same key. After 1.5 s A gets SIGKILL;
the stream goes on for 6 s more. Measured per run: the gap from the kill to the first call B
answered (`takeover_s`); every answered call looked up in the Redis stream (lost: answered but
not logged; duplicated: logged twice).

`--quick` (CI): 2 runs, the p95 shown, not judged; lost and duplicated calls are judged.
Traffic to 127.0.0.1 only; every wait and child process is bounded.

    python -m benchmarks.bench_failover [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import redis

from benchmarks.targets import QUICK as QUICK_NOTE
from benchmarks.targets import Scorecard, load
from benchmarks.timing import Row, close_report, server_machine_info
from simulator.load.servers import LOOPBACK, jijiu_serve, redis_server

RATE_PER_S = 20.0
KILL_AFTER_S = 1.5
AFTER_KILL_S = 6.0
LEASE_TTL_S = 3.0


def say(text: str) -> None:
    print(text, flush=True)


def post_anywhere(ports: list[int], key: str, phone: str, give_up_s: float = 30.0) -> Any:
    """Post one call to the first server that takes it, retrying with the same key; (incident
    id, port that took it, monotonic time answered), or None if none did in time."""
    body = json.dumps(
        {
            "phone": phone,
            "consent_location": True,
            "complaint": "chest_pain",
            "fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12},
        }
    ).encode()
    deadline = time.monotonic() + give_up_s
    while time.monotonic() < deadline:
        for port in ports:
            req = urllib.request.Request(
                f"http://{LOOPBACK}:{port}/api/v1/calls",
                data=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )
            try:
                with urllib.request.urlopen(req, timeout=5) as answer:
                    got = json.loads(answer.read())
                    return got["incident_id"], port, time.monotonic()
            except (urllib.error.URLError, OSError, ValueError):
                continue
        time.sleep(0.1)
    return None


def logged_calls(url: str, prefix: str) -> list[str]:
    """The incident ids of every CallReceived in the stream, read straight from Redis."""
    client = redis.Redis.from_url(url)
    try:
        entries: Any = client.xrange(f"{prefix}events")
    finally:
        client.close()
    bodies = [json.loads(fields[b"body"]) for _, fields in entries]
    return [b["incident_id"] for b in bodies if b.get("type") == "CallReceived"]


def one_run(url: str, run: int, workdir: Path) -> dict[str, Any]:
    """A and B on a fresh prefix; calls; A killed; the takeover gap and the log checked."""
    prefix = f"fo{run}:"
    store = f"{url}?prefix={prefix}"
    env = {"JIJIU_LEASE_TTL_S": str(LEASE_TTL_S)}
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    with (
        jijiu_serve("wulin", 4, store, workdir / "a", 120, extra_env=env) as a,
        jijiu_serve("wulin", 4, store, workdir / "b", 120, extra_env=env, probe="/healthz") as b,
    ):
        answers: list[Any] = []
        stop = threading.Event()

        def stream() -> None:
            i = 0
            while not stop.is_set():
                got = post_anywhere([a.port, b.port], f"fo-{run}-{i}", f"+86137{run:02d}{i:06d}")
                answers.append(got)
                i += 1
                time.sleep(1.0 / RATE_PER_S)

        poster = threading.Thread(target=stream)
        poster.start()
        time.sleep(KILL_AFTER_S)
        a.proc.kill()
        killed_at = time.monotonic()
        time.sleep(AFTER_KILL_S)
        stop.set()
        poster.join(timeout=60)
        took = [
            at
            for got in answers
            if got is not None
            for _, port, at in [got]
            if port == b.port and at > killed_at
        ]
    answered = [got[0] for got in answers if got is not None]
    logged = logged_calls(url, prefix)
    return {
        "calls": len(answers),
        "unanswered": sum(got is None for got in answers),
        "takeover_s": (min(took) - killed_at) if took else None,
        "lost": len(set(answered) - set(logged)),
        "duplicated": len(logged) - len(set(logged)),
    }


def run(quick: bool = False, runs: int | None = None) -> dict[str, Any]:
    """Run the kills; print as it goes and return the report."""
    n = runs if runs is not None else (2 if quick else 10)
    targets = load("failover")
    card = Scorecard(targets, say)
    t_start = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "runs": n, "machine": server_machine_info()}
    say(f"# failover benchmark ({'quick' if quick else 'full'} mode; targets: {targets.source})")
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="jijiu-bench-failover-") as tmp,
        redis_server(Path(tmp)) as url,
    ):
        for k in range(n):
            work = Path(tmp) / f"run-{k}"
            work.mkdir()
            got = one_run(url, k, work)
            results.append(got)
            say(f"run {k + 1}/{n}: {got}")
    report["results"] = results
    gaps = [r["takeover_s"] if r["takeover_s"] is not None else float("inf") for r in results]
    p95 = float(np.percentile(gaps, 95))
    lost = sum(r["lost"] + r["unanswered"] for r in results)
    dup = sum(r["duplicated"] for r in results)
    c_p95 = card.check("takeover_p95_s_max", p95, unjudged=QUICK_NOTE if quick else None)
    c_lost = card.check("lost_calls_max", lost)
    c_dup = card.check("duplicated_calls_max", dup)
    calls = sum(r["calls"] for r in results)
    rows = [
        Row(
            f"kill -9 the writer -> the standby takes calls, p95 over {n} runs",
            f"{p95:.2f} s (p50 {float(np.percentile(gaps, 50)):.2f} s)",
            "lease lifetime",
            f"{LEASE_TTL_S:g} s",
            None,
            c_p95.label,
            c_p95.passed,
        ),
        Row.judged(
            f"calls answered but not logged, or never answered (of {calls})", str(lost), c_lost
        ),
        Row.judged("calls logged twice", str(dup), c_dup),
    ]
    close_report(report, rows, t_start, say, card)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs (CI smoke run)")
    parser.add_argument("--runs", type=int, help="kills to time (default 10)")
    args = parser.parse_args(argv)
    if args.runs is not None and not 1 <= args.runs <= 100:
        parser.error("--runs must be 1-100")
    report = run(quick=args.quick, runs=args.runs)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
