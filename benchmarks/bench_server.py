"""Server benchmark: call to console under load, and websocket fan-out, over loopback.

Budgets it guards (issue 4; the limits are the `[server]` table of `benchmarks/targets.toml`,
shown in the `target` column and printed next to each figure; ratio above 1 = we are better):

1. Call to console. `jijiu serve` in its own process on the bundled network, a fresh event log
   (SQLite in a temp dir; in full runs also a private `redis-server --appendfsync always`),
   `JIJIU_SEED_FLEET` units. In other processes: 20 consoles (`/ws/console`) and every unit's
   socket sending a position at 1 Hz; calls posted open loop at 5, 20 and 50 calls/s. Per call:
   the time to the 201, and from the POST to the `incident.recommended` frame on each console
   (every console's frame a sample). Judged at 20 calls/s: recommendation p99
   (`recommended_p99_ms_max`, both backends) and 201 p99 on SQLite (`created_p99_ms_max`); a
   failed call or a recommendation that never arrives fails the row too. Peer, same run and
   load: `GET /healthz` on the same server at the same rate from the same lean client (the
   uvicorn + FastAPI floor); ratio = its p50 / ours p50. Reported: a bare fsync'd SQLite commit
   at the call rate (the disk's floor). A console the server drops (1013) resumes with `since`;
   drops are reported. A rate that overloads the server (over 10 % failed or 201 p99 over 5 s)
   skips the higher rates, whose judged rows fail. Full runs repeat each backend with the units
   connected but silent: a diagnostic, not judged.
2. Fan-out. Our `dispatch.live.hub.Hub` + `pump` with a `ConnectionSink` per connection (what
   `/ws/console` runs, minus uvicorn) behind a plain `websockets` server, next to the practical
   ceiling: bare `broadcast()` of the same frames (same library, settings and clients), to N
   raw clients in two processes timing every delivery (N = 1000 and 5000 in full runs).
   a. Saturated: deliveries/s, ours / bare (`fanout_throughput_ratio_min`); server CPU per
      delivery reported.
   b. Paced at half bare's capacity: delivery p99, ours / bare (`fanout_p99_ratio_max`; the
      ratio column shows bare / ours).

The harness is `simulator.load` (servers, session and fleet, open-loop caller, disk floor,
fan-out peer, latency bookkeeping), shared with `jijiu loadtest`; docs/server-benchmark.md has
the method in full. `--quick` (CI, < 40 s): Wulin, 50 units, 2 s at 5 calls/s, SQLite only;
fan-out to 100 clients for 1 s a phase; targets shown, not judged. Exit status 1 when a judged
target is missed. Traffic to 127.0.0.1 only; every loop, wait and child process is bounded.

    python -m benchmarks.bench_server [--quick] [--only-fanout] [--only-calls sqlite|redis]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.targets import QUICK as QUICK_NOTE
from benchmarks.targets import Scorecard, load
from benchmarks.timing import Row, close_report, fmt_ms, server_machine_info
from simulator.load.diskfloor import disk_floor
from simulator.load.fanout import describe, fanout_run
from simulator.load.latency import overloaded, pcts, summarise_calls
from simulator.load.loadgen import HOST
from simulator.load.servers import event_log, jijiu_serve, log_note
from simulator.load.session import Session, Where
from simulator.load.target import Target, discover

SEED = 20240611
JUDGED_RATE = 20  # calls/s at which the call targets are judged
OVERLOADED_S = 5.0  # a 201 p99 above this: the server is overloaded, higher rates are skipped
DEADLINE_S = 900.0  # of every child process


@dataclass(frozen=True)
class Plan:
    network: str
    units: int  # JIJIU_SEED_FLEET (the server's maximum is 1000)
    consoles: int
    rates: tuple[int, ...]  # calls/s
    seconds_per_rate: float
    backends: tuple[str, ...]
    fanout_clients: tuple[int, ...]
    fanout_seconds: float  # per phase
    judged: bool
    # True: every unit sends a position at 1 Hz (the load, judged); False: the units
    # are connected but silent (a diagnostic: the call path without the position load).
    positions: tuple[bool, ...] = (True,)


FULL = Plan(
    "hangzhou", 1000, 20, (5, 20, 50), 30.0, ("sqlite", "redis"), (1000, 5000), 5.0, True,
    positions=(True, False),
)  # fmt: skip
QUICK = Plan("wulin", 50, 20, (5,), 2.0, ("sqlite",), (100,), 1.0, False)


def say(text: str) -> None:
    print(text, flush=True)


def text(p: dict[str, float]) -> str:
    return f"{fmt_ms(p['p50_ms'])} / {fmt_ms(p['p99_ms'])}" if p["n"] else "no samples"


# --- case 1: calls to consoles ------------------------------------------------------------------
def bench_calls(
    plan: Plan, backend: str, positions: bool, workdir: Path, card: Scorecard
) -> tuple[dict[str, Any], list[Row]]:
    """Case 1 on one event-log backend: units and consoles connected, calls at each rate."""
    label = backend if positions else f"{backend}, silent units"
    rows: list[Row] = []
    out: dict[str, Any] = {"backend": backend, "positions_hz": 1.0 if positions else 0.0}
    out["rates"] = {}
    with (
        event_log(backend, workdir) as url,
        jijiu_serve(plan.network, plan.units, url, workdir, 240) as srv,
    ):
        token = srv.tokens["dispatcher"]
        _, ws_port, units = asyncio.run(discover(Target(HOST, srv.port, srv.tokens, None), 1000))
        out.update(units=len(units), consoles=plan.consoles, start_s=srv.start_s)
        say(
            f"\n## {label}: jijiu serve on {plan.network}, {len(units)} units "
            f"(seeded; the server's maximum is 1000), ready in {srv.start_s:.1f} s"
        )
        where = Where(HOST, srv.port, HOST, ws_port, token, srv.proc.pid)
        with Session(where, units, plan.consoles, SEED, DEADLINE_S, positions) as session:
            out.update(c := session.connected)
            say(
                f"{c['units_connected']} unit sockets, {'1 Hz' if positions else 'silent'} "
                f"({c['units_failed']} failed), {c['consoles_connected']} consoles "
                f"({c['consoles_failed']} failed)"
            )
            overloaded_at = None
            for rate in plan.rates:
                if overloaded_at is not None:
                    out["rates"][rate] = {"skipped": f"overloaded at {overloaded_at} calls/s"}
                    say(f"{rate:>3} calls/s: not run, the server was overloaded at {overloaded_at}")
                    rows += call_rows(plan, label, positions, rate, None, card, overloaded_at)
                    continue
                rec = call_step(plan, session, srv.workdir, rate)
                out["rates"][rate] = rec
                rows += call_rows(plan, label, positions, rate, rec, card)
                if overloaded(rec, OVERLOADED_S):
                    overloaded_at = rate
    if note := log_note(srv.log_path.read_text(errors="replace")):
        say(note)
    out["server_log_excerpt"] = srv.log_excerpt
    return out, rows


def call_step(plan: Plan, session: Session, workdir: Path, rate: int) -> dict[str, Any]:
    """Calls at one rate with the disk probed alongside, joined with the consoles' receipts."""
    with disk_floor(workdir / f"probe-{rate}.db", rate, plan.seconds_per_rate) as probe:
        got = session.step(rate, plan.seconds_per_rate, str(rate), SEED + rate, warm_connections=8)
    n_cons = plan.consoles
    rec = summarise_calls(got["calls"], got["floor"], got["recommended"], n_cons, got["failures"])
    dropped = got["drops_by_code"]
    rec.update(
        disk=pcts(probe),
        server_cpu=got["server_cpu_share"],
        console_frames=got["console_frames"],
        console_positions_per_s=got["console_positions"] / max(n_cons, 1) / got["span_s"],
        consoles_dropped=dropped,
        unit_positions_sent=got["units_count"][1],
        unit_errors=got["units_count"][2] + got["units_count"][3],
    )
    failures = f" {rec['failures']}" if rec["failures"] else ""
    say(
        f"{rate:>3} calls/s (achieved {rec['achieved_rate'] or 0:.1f}): 201 "
        f"{text(rec['created'])}, to console {text(rec['recommended'])}, healthz "
        f"{text(rec['floor'])}, bare fsync'd commit {text(rec['disk'])}; {rec['errors']} failed"
        f"{failures}, {rec['missing']} missing frames; server CPU "
        f"{100 * (rec['server_cpu'] or 0):.0f} %; console positions "
        f"{rec['console_positions_per_s']:.0f}/s each; console drops (close code: count) "
        f"{dropped or 'none'}"
    )
    return rec


def call_rows(
    plan: Plan,
    label: str,
    positions: bool,
    rate: int,
    rec: dict[str, Any] | None,
    card: Scorecard,
    overloaded_at: int | None = None,
) -> list[Row]:
    """The 201, console and disk rows of one rate (`rec` None: not run, overloaded before)."""
    judged = positions and (not plan.judged or rate == JUDGED_RATE)
    unjudged = None if plan.judged else QUICK_NOTE
    empty = {"n": 0, "p50_ms": math.nan, "p99_ms": math.nan}
    floor = rec["floor"] if rec else empty
    complete = rec is not None and rec["errors"] == 0 and rec["missing"] == 0
    peer = "GET /healthz (same load)" if rec else "—"

    def row(case: str, key: str | None, p: dict[str, float], extra: str) -> Row:
        ours = text(p) + extra if rec else f"not run: overloaded at {overloaded_at}/s"
        target, passed = ("—" if positions else "diagnostic (silent units)"), None
        if judged and key is not None:
            check = card.check(key, p["p99_ms"] if p["n"] else math.nan, unjudged=unjudged)
            target = f"p99 {check.text} at {JUDGED_RATE}/s" + (f" ({unjudged})" if unjudged else "")
            passed = None if check.passed is None else (check.passed and complete)
        ratio = floor["p50_ms"] / p["p50_ms"] if p["n"] and floor["n"] else None
        return Row(case, ours, peer, text(floor) if rec else "—", ratio, target, passed)

    created = rec["created"] if rec else empty
    recommended = rec["recommended"] if rec else empty
    lost = f" ({rec['errors']} failed)" if rec and rec["errors"] else ""
    missing = f" ({rec['missing']} never arrived)" if rec and rec["missing"] else ""
    rows = [
        row(
            f"{label}: POST /calls -> 201 at {rate} calls/s",
            "created_p99_ms_max" if label == "sqlite" else None,
            created,
            lost,
        ),
        row(
            f"{label}: call -> incident.recommended on {plan.consoles} consoles at {rate}/s",
            "recommended_p99_ms_max",
            recommended,
            missing,
        ),
    ]
    if rec:
        disk = text(rec["disk"])
        peer = "bare fsync'd SQLite commit (same load)"
        why = "reported: a durable 201 waits for one"
        rows.append(Row(f"{label}: disk floor at {rate}/s", "—", peer, disk, None, why, None))
    return rows


# --- case 2: fan-out -----------------------------------------------------------------------------
def bench_fanout(plan: Plan, n: int, card: Scorecard) -> tuple[dict[str, Any], list[Row]]:
    """Case 2 at n clients: saturated throughput and paced latency, ours next to bare."""
    say(f"\n## fan-out to {n} clients (Hub + pump vs bare broadcast, websockets server)")
    bare_sat, bare_paced = fanout_run("bare", n, plan.fanout_seconds, None)
    rate = bare_paced["rate"]
    hub_sat, hub_paced = fanout_run("hub", n, plan.fanout_seconds, rate)
    for name, p in (
        ("bare saturated", bare_sat),
        ("hub saturated", hub_sat),
        (f"bare at {rate:g}/s", bare_paced),
        (f"hub at {rate:g}/s", hub_paced),
    ):
        say(describe(name, p))
    unjudged = None if plan.judged else QUICK_NOTE

    def kept_up(p: dict[str, Any]) -> bool:
        return bool(p["clients_lost"] == 0 and p["lagging_dropped"] == 0)

    def verdict(passed: bool | None, ok: bool) -> bool | None:
        return None if passed is None else passed and ok

    thr = hub_sat["deliveries_per_s"] / bare_sat["deliveries_per_s"]
    c_thr = card.check("fanout_throughput_ratio_min", thr, unjudged=unjudged)
    ours_us, bare_us = hub_sat["server_us_per_delivery"], bare_sat["server_us_per_delivery"]
    p99_ours, p99_bare = hub_paced["latency"]["p99_ms"], bare_paced["latency"]["p99_ms"]
    c_p99 = card.check("fanout_p99_ratio_max", p99_ours / p99_bare, unjudged=unjudged)
    peer = "websockets broadcast()"
    rows = [
        Row(
            f"fan-out {n} clients: deliveries/s, saturated",
            f"{hub_sat['deliveries_per_s'] / 1e3:,.1f} k/s",
            peer,
            f"{bare_sat['deliveries_per_s'] / 1e3:,.1f} k/s",
            thr,
            f"ours / bare {c_thr.label}",
            verdict(c_thr.passed, kept_up(hub_sat)),
        ),
        Row(
            f"fan-out {n} clients: server CPU per delivery, saturated",
            f"{ours_us or 0:.1f} µs",
            peer,
            f"{bare_us or 0:.1f} µs",
            bare_us / ours_us if ours_us and bare_us else None,
            "reported (capacity on a free core)",
            None,
        ),
        Row(
            f"fan-out {n} clients: delivery latency at {rate:g} frames/s",
            text(hub_paced["latency"]),
            peer,
            text(bare_paced["latency"]),
            p99_bare / p99_ours,
            f"ours p99 / bare p99 {c_p99.label}",
            verdict(c_p99.passed, kept_up(hub_paced)),
        ),
    ]
    rec = {
        "clients": n,
        "paced_rate": rate,
        "saturated": {"ours": hub_sat, "bare": bare_sat},
        "paced": {"ours": hub_paced, "bare": bare_paced},
    }
    return rec, rows


# --- the run -------------------------------------------------------------------------------------
def run(
    quick: bool = False,
    only_fanout: bool = False,
    only_calls: str | None = None,
    rates: tuple[int, ...] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Run both cases (or case 2 alone, or case 1 alone on one backend); print as it goes and
    return the report (rows, table, raw numbers, the target checks)."""
    plan = QUICK if quick else FULL
    if only_calls is not None:  # a diagnostic run: one backend, units moving, no fan-out
        plan = replace(plan, backends=(only_calls,), positions=(True,), fanout_clients=())
    if rates is not None:
        plan = replace(plan, rates=rates)
    if seconds is not None:
        plan = replace(plan, seconds_per_rate=seconds)
    targets = load("server")
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "quick": quick,
        "plan": asdict(plan),
        "machine": server_machine_info(),
    }
    report["targets"] = {}
    rows: list[Row] = []
    say(f"# server benchmark ({'quick' if quick else 'full'} mode; targets: {targets.source})")
    report["calls"] = {}
    for backend in () if only_fanout else plan.backends:
        for positions in plan.positions:
            key = backend if positions else f"{backend}-silent"
            card = Scorecard(targets, say)
            with tempfile.TemporaryDirectory(prefix=f"jijiu-bench-{key}-") as tmp:
                report["calls"][key], got = bench_calls(plan, backend, positions, Path(tmp), card)
            report["targets"][key] = card.as_dict()
            rows += got
    first = next(iter(report["calls"].values()), None)
    if first is not None and first["units"] < 1000:
        say(f"\nnote: {first['units']} units (the issue asks for 1000)")
    report["fanout"] = {}
    for n in plan.fanout_clients:
        card = Scorecard(targets, say)
        report["fanout"][n], got = bench_fanout(plan, n, card)
        report["targets"][f"fanout-{n}"] = card.as_dict()
        rows += got
    close_report(report, rows, t_start, say)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke run)")
    parser.add_argument("--only-fanout", action="store_true", help="case 2 (fan-out) alone")
    parser.add_argument(
        "--only-calls", choices=("sqlite", "redis"), help="case 1 alone, on one backend"
    )
    parser.add_argument("--rates", help="calls/s to run, comma separated (default 5,20,50)")
    parser.add_argument("--seconds", type=float, help="seconds per rate (default 30)")
    args = parser.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(",")) if args.rates else None
    report = run(
        quick=args.quick,
        only_fanout=args.only_fanout,
        only_calls=args.only_calls,
        rates=rates,
        seconds=args.seconds,
    )
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
