"""Restart benchmark: recovery from a 1,000,000-event log with a snapshot, against a full replay.

Budget it guards (issue 24, "run for years"; the limits are the `[restart]` table of
`benchmarks/targets.toml`):

    Start-up with a log of 1 million events is under 3 s (with a snapshot), compared with a
    full replay of the same log in the same run.

Set-up: a log of N events (default 1,000,000; `--events N`) is written straight into an SQLite
file (bodies as `codec.to_record` makes them, one transaction): 200 units on the Hangzhou
network, a call every 20 s of engine time, each incident driven through its life as the
server logs it (triage for half, the offer and every crew device's acknowledgement, en route,
positions every 30 s, on scene, the patient described, then either transport with a
destination, the hospital's acknowledgement, arrival and handover, or treated on scene; one
call in twenty cancelled before a unit is sent), so the open set stays bounded (~130) while
~45,000 incidents close. Then, in one run:

- the peer, *full replay*: what start-up did before snapshots: read every record, recall each
  call's caller and key, replay every record into a fresh engine;
- *with snapshot*: the snapshot a running server would have written `snapshot_every_events`
  records before the end (the worst case: the next one was about to be due), then start-up as
  `DispatchService` does it: load and check the newest snapshot, import its state, replay the
  tail. Timed three times, the median reported.

Both end in the same state (`engine_state.same_state`, and the calls' keys): judged in quick
runs too. Timed is recovery only: opening the log to a state that serves; loading the city
(~2.5 s for Hangzhou, the same with any log) is not in either figure.

    python -m benchmarks.bench_restart [--events N]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks.targets import QUICK as QUICK_NOTE
from benchmarks.targets import Scorecard, load
from benchmarks.timing import Row, close_report, machine_info
from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.engine_state import Exporter, import_state, same_state
from dispatch.core.model import Capability, Complaint, IncidentId, Priority, UnitId, UnitStatus
from dispatch.service.calls import Calls
from dispatch.settings import Settings
from dispatch.store import codec, snapshot
from dispatch.store.eventlog import Record
from dispatch.store.replay import replay_records
from dispatch.store.sqlite_log import SqliteLog
from routing.load import load_network
from routing.router import Router

EVENTS = 1_000_000
QUICK_EVENTS = 20_000  # below this the figures are not judged (a smoke run)
UNITS = 200
CALL_EVERY_S = 20.0
POSITION_EVERY_S = 30.0
HOSPITALS = ("zjpph", "zjxinhua", "hzredcross", "zcmu3", "hztcm")
SEED = 24


def say(text: str) -> None:
    print(text, flush=True)


def shift(net_lonlat: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[float, ev.Event]]:
    """An endless shift of (engine time, event) in time order, legal for the engine."""
    nodes = len(net_lonlat)

    def place() -> tuple[float, float]:
        lon, lat = net_lonlat[int(rng.integers(nodes))] + rng.normal(0, 1e-4, 2)
        return float(lat), float(lon)

    units = [UnitId(f"U{k:03d}") for k in range(UNITS)]
    for k, unit in enumerate(units):
        cap = Capability.ALS if k % 3 == 0 else Capability.BLS
        yield 0.0, ev.UnitRegistered(unit, cap, *place())
    free: list[tuple[float, int]] = [(0.0, k) for k in range(UNITS)]  # (free from, unit index)
    pending: list[tuple[float, int, ev.Event]] = []  # the incidents' later events, by time
    tie = 0
    at_s, n = 1.0, 0
    while True:
        while pending and pending[0][0] <= at_s:
            t, _, event = heapq.heappop(pending)
            yield t, event
        n += 1
        incident = IncidentId(f"I{n:07d}")
        script: list[tuple[float, ev.Event]] = [
            (at_s, ev.CallReceived(incident, *place(), float(rng.uniform(10, 200))))
        ]
        t = at_s
        if rng.random() < 0.5:
            t += rng.uniform(20, 60)
            script.append((t, ev.IncidentTriaged(incident, Priority.P2, Complaint.CHEST_PAIN)))
        if rng.random() < 0.05:  # cancelled before a unit is sent
            script.append((t + rng.uniform(30, 90), ev.IncidentCancelled(incident, "no need")))
        else:
            free_from, k = heapq.heappop(free)
            unit = units[k]
            t = max(t + rng.uniform(5, 30), free_from + 1.0)
            script.append((t, ev.UnitAssigned(incident, unit)))
            for device in ("tablet", "doctor", "driver"):
                t += rng.uniform(2, 10)
                script.append((t, ev.OfferAcknowledged(incident, unit, device)))
            t += rng.uniform(10, 40)
            script.append((t, ev.UnitStatusReported(unit, UnitStatus.EN_ROUTE)))
            for _ in range(int(rng.integers(4, 10))):
                t += POSITION_EVERY_S
                script.append((t, ev.UnitPositionReported(unit, *place())))
            script.append((t + 5, ev.UnitStatusReported(unit, UnitStatus.ON_SCENE)))
            t += rng.uniform(120, 600)
            script.append((t, ev.PatientDescribed(incident, "45-64", "female")))
            if rng.random() < 0.7:
                hospital = HOSPITALS[int(rng.integers(len(HOSPITALS)))]
                script.append((t + 1, ev.DestinationChosen(incident, hospital, "crew")))
                script.append((t + 2, ev.UnitStatusReported(unit, UnitStatus.TRANSPORTING)))
                t += 2
                for _ in range(int(rng.integers(3, 8))):
                    t += POSITION_EVERY_S
                    script.append((t, ev.UnitPositionReported(unit, *place())))
                script.append((t - 60, ev.HospitalAcknowledged(incident, hospital)))
                script.append((t + 1, ev.UnitStatusReported(unit, UnitStatus.AT_HOSPITAL)))
                t += rng.uniform(300, 900)
                script.append((t, ev.HandoverCompleted(incident)))
            t += rng.uniform(60, 300)
            script.append((t, ev.UnitStatusReported(unit, UnitStatus.AVAILABLE_ON_ROAD)))
            heapq.heappush(free, (t, k))
        yield script[0]
        for when, event in script[1:]:
            tie += 1
            heapq.heappush(pending, (when, tie, event))
        at_s += float(rng.exponential(CALL_EVERY_S))


def build_log(path: Path, events: int, router: Router) -> dict[str, int]:
    """Write `events` records of a shift straight into a new SQLite log; counts by type."""
    SqliteLog(path).close()  # the schema, as the server creates it
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    counts: dict[str, int] = {}
    rng = np.random.default_rng(SEED)
    rows = []
    for seq, (at_s, event) in enumerate(shift(router.net.node_lonlat, rng), start=1):
        body = codec.to_record(event)
        counts[body["type"]] = counts.get(body["type"], 0) + 1
        key = f"call:{seq}" if body["type"] == "CallReceived" else None
        rows.append((seq, at_s, key, json.dumps(body, separators=(",", ":"))))
        if seq == events:
            break
    db.execute("BEGIN")
    db.executemany("INSERT INTO events (seq, at_s, idem_key, body) VALUES (?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.close()
    return counts


def _calls() -> Calls:
    return Calls(cast(Any, None))  # recall and export use no service


def full_replay(path: Path, router: Router, cut: int) -> tuple[float, Engine, Calls, bytes]:
    """Start-up before snapshots, timed; on the way, at seq `cut`, the snapshot a server would
    have written then (its making is not in the time)."""
    made: list[bytes] = []
    excluded_s = 0.0

    def taking(records: Iterator[Record], engine: Engine, calls: Calls) -> Iterator[Record]:
        nonlocal excluded_s
        for record in records:
            yield record
            if record.seq == cut:
                t0 = time.perf_counter()
                state = {"engine": Exporter().export(engine), "calls": calls.export_state()}
                made.append(snapshot.encode(snapshot.Snapshot(cut, record.at_s, state)))
                excluded_s += time.perf_counter() - t0

    t0 = time.perf_counter()
    log = SqliteLog(path)
    engine, calls = Engine(router), _calls()
    with snapshot.collector_paused():  # as the service's start-up, with or without snapshot
        records = list(log.read())
        for record in records:
            if record.event.get("type") == "CallReceived":
                calls.recall(record.event, record.idem_key)
        replay_records(taking(iter(records), engine, calls), engine)
    took_s = time.perf_counter() - t0 - excluded_s
    log.close()
    return took_s, engine, calls, made[0]


def with_snapshot(path: Path, router: Router) -> tuple[float, float, Engine, Calls, int]:
    """Start-up as `DispatchService` does it: newest snapshot, then the tail; timed (wall and
    this process's CPU: on a busy machine the two differ by what other processes took)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    log = SqliteLog(path)
    engine, calls = Engine(router), _calls()

    def use(base: snapshot.Snapshot) -> None:
        nonlocal engine, calls
        engine, calls = Engine(router), _calls()
        import_state(engine, base.state["engine"])
        calls.import_state(base.state["calls"])

    with snapshot.collector_paused():
        base = snapshot.load(log, use, log.last_seq())
        after = base.last_seq if base is not None else 0
        records = list(log.read(after))
        for record in records:
            if record.event.get("type") == "CallReceived":
                calls.recall(record.event, record.idem_key)
        tail = replay_records(records, engine, after)
    took_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    log.close()
    return took_s, cpu_s, engine, calls, tail


def run(quick: bool = False, events: int | None = None) -> dict[str, Any]:
    """Build the log, time both start-ups; print as it goes and return the report."""
    events = events if events is not None else (QUICK_EVENTS if quick else EVENTS)
    quick = events < EVENTS  # fewer events: a smoke run, its times not judged
    targets = load("restart")
    card = Scorecard(targets, say)
    t_start = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "events": events, "machine": machine_info()}
    say(f"# restart benchmark ({events:,} events; targets: {targets.source})")
    net, _ = load_network("hangzhou")
    router = Router(net)
    every = min(Settings().snapshot_every_events, events // 2)
    with tempfile.TemporaryDirectory(prefix="jijiu-bench-restart-") as tmp:
        path = Path(tmp) / "events.db"
        t0 = time.perf_counter()
        counts = build_log(path, events, router)
        report["build_s"] = time.perf_counter() - t0
        report["counts"] = counts
        say(f"log of {events:,} records written in {report['build_s']:.1f} s: {counts}")
        cut = events - every + 1  # the next snapshot was one record from due
        full_s, full, full_calls, blob = full_replay(path, router, cut)
        say(f"full replay: {full_s:.2f} s")
        log = SqliteLog(path)
        log.put_snapshot(cut, blob)
        report["log_mb"] = path.stat().st_size / 2**20
        log.close()
        times, cpus, tail = [], [], 0
        engine, calls = full, full_calls
        for _ in range(3):
            took_s, cpu_s, engine, calls, tail = with_snapshot(path, router)
            times.append(took_s)
            cpus.append(cpu_s)
            say(f"with snapshot: {took_s:.2f} s, CPU {cpu_s:.2f} s ({tail:,} records after it)")
    snap_s, snap_cpu_s = statistics.median(times), statistics.median(cpus)
    open_now = sum(1 for i in full.incidents.values() if i.open)
    mismatch = int(not same_state(engine, full)) + int(
        calls.export_state() != full_calls.export_state()
    )
    report.update(
        full_replay_s=full_s,
        snapshot_start_s=snap_s,
        snapshot_start_runs_s=times,
        snapshot_start_cpu_s=snap_cpu_s,
        loadavg_at_end=os.getloadavg(),
        tail_records=tail,
        snapshot_mb=len(blob) / 2**20,
        incidents=len(full.incidents),
        open_incidents=open_now,
    )
    unjudged = QUICK_NOTE if quick else None
    c_start = card.check("startup_with_snapshot_s_max", snap_s, unjudged=unjudged)
    c_same = card.check("state_mismatches_max", mismatch)
    rows = [
        Row(
            f"start-up from {events:,} events: snapshot + {tail:,}-record tail (median of 3)",
            f"{snap_s:.2f} s (CPU {snap_cpu_s:.2f} s)",
            "full replay",
            f"{full_s:.2f} s",
            full_s / snap_s if snap_s > 0 else None,
            c_start.label,
            c_start.passed,
        ),
        Row.judged(
            f"states differing from the full replay's ({len(full.incidents):,} incidents, "
            f"{open_now} open; snapshot {len(blob) / 2**20:.1f} MiB)",
            str(mismatch),
            c_same,
        ),
    ]
    close_report(report, rows, t_start, say, card)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="records in the log")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events (CI)")
    args = parser.parse_args(argv)
    events = QUICK_EVENTS if args.quick else args.events
    if not 1000 <= events <= 20_000_000:
        parser.error("--events must be 1000-20000000")
    report = run(events=events)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
