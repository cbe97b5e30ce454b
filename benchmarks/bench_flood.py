"""Flood benchmark: one phone calling 100 times a second must not slow everyone else's calls.

Budget it guards (issue 16, flood isolation; the limits are the `[flood]` table of
`benchmarks/targets.toml`, shown in the `target` column and printed next to each figure):

    One phone sending 100 calls/s for 30 s while 20 other phones call at 20 calls/s: the
    flooding phone yields at most one open incident plus a quarantine entry; the others'
    call -> console p99 stays within 1.2x of the same run without the flood.

Set-up (the harness is `simulator.load`, as for `bench_server`): two runs, each against a fresh
`jijiu serve` in its own process on the bundled network with a fresh SQLite event log in a temp
dir, `JIJIU_SEED_FLEET` units each sending a position at 1 Hz and 20 consoles, all in child
processes (`Session`). The genuine calls are the same seeded open-loop stream in both runs
(`openloop.post_calls`, 20 calls/s in total): each from a phone number of its own, since a
phone calling again within `repeat_window_s` joins its open incident and would not be a new
call to time. Run 1 has no flood. In run 2 a child process posts from one phone at 100 calls/s
(no /healthz probes) over the same seconds. Per genuine call: POST to the
`incident.recommended` frame on every console (each console's frame a sample), and the 201.

Judged: the flood run's console p99 over the quiet run's (`p99_ratio_max`; the ratio column
shows quiet / flood, above 1 = not slower; a genuine call failed, answered other than 201 or
missing on a console fails the row too); the flooding phone's incidents still open, read back
from `GET /api/v1/incidents` (`flood_open_incidents_max`); the entries in
`GET /api/v1/quarantine` (`quarantine_entries_min`). Reported: how the flood's calls were
answered (201 new, 200 called again, 202 quarantined), the calls the quarantine entry counts,
the server's CPU share in each run.

`--quick` (CI, ~40 s): Wulin, 50 units, 5 consoles, 10 genuine calls/s and the 100 calls/s flood
for 2 s; the counts are judged, the ratio is shown, not judged. Exit status 1 when a judged
target is missed. Traffic to 127.0.0.1 only; every wait and child process is bounded. This
measures the server as it is: nothing here tunes it.

    python -m benchmarks.bench_flood [--quick] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.targets import QUICK as QUICK_NOTE
from benchmarks.targets import Check, Scorecard, load
from benchmarks.timing import Row, close_report, fmt_ms, server_machine_info
from simulator.load.latency import summarise_calls
from simulator.load.loadgen import HOST, ask, child
from simulator.load.openloop import post_calls
from simulator.load.report import Call
from simulator.load.servers import jijiu_serve, log_note
from simulator.load.session import Session, Where
from simulator.load.target import Target, discover

SEED = 20261206  # the genuine calls' stream, the same in both runs
FLOOD_SEED = SEED + 1
FLOOD_PHONE = "+8613999999999"  # the one flooding phone; no genuine call uses it
DEADLINE_S = 900.0  # of every child process
READY_S = 120.0  # the flooding child's start (a spawned interpreter importing numpy)


@dataclass(frozen=True)
class Plan:
    network: str
    units: int  # JIJIU_SEED_FLEET, each sending a position at 1 Hz
    consoles: int
    rate: float  # genuine calls/s in total, each from a phone of its own
    flood_rate: float  # calls/s from the one flooding phone
    seconds: float  # of genuine calls and of the flood
    judged: bool  # False: the ratio is shown, not judged (the counts always are)


FULL = Plan("hangzhou", 1000, 20, 20.0, 100.0, 30.0, True)
QUICK = Plan("wulin", 50, 5, 10.0, 100.0, 2.0, False)


def say(text: str) -> None:
    print(text, flush=True)


def text(p: Mapping[str, float]) -> str:
    return f"{fmt_ms(p['p50_ms'])} / {fmt_ms(p['p99_ms'])}" if p["n"] else "no samples"


# --- bookkeeping (pure) ---------------------------------------------------------------------------
def flood_answers(calls: Sequence[Call]) -> dict[str, Any]:
    """How the flood's calls were answered: status -> count (0: not sent or no answer), and the
    incidents its 201s opened (the only answer that opens one)."""
    statuses = Counter(str(status) for _, _, _, status in calls)
    opened = sorted({iid for iid, _, _, status in calls if status == 201 and iid is not None})
    return {"sent": len(calls), "statuses": dict(sorted(statuses.items())), "opened": opened}


def open_of(opened: Iterable[str], incidents: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ids in `opened` that `GET /api/v1/incidents` lists as open."""
    listed = {i["incident_id"] for i in incidents if i.get("open", True)}
    return sorted(set(opened) & listed)


def genuine_complete(rec: Mapping[str, Any]) -> bool:
    """Every genuine call answered 201 (none joined, quarantined or failed) and on every
    console: the run measured what it says."""
    return bool(rec["errors"] == 0 and rec["missing"] == 0 and rec["recommended"]["n"] > 0)


def p99_ratio(quiet: Mapping[str, Any], flooded: Mapping[str, Any]) -> float:
    """Flood run's call -> console p99 over the quiet run's; NaN without samples."""
    a, b = quiet["recommended"], flooded["recommended"]
    if not (a["n"] and b["n"]) or not a["p99_ms"] > 0:
        return math.nan
    return float(b["p99_ms"] / a["p99_ms"])


def verdict(check: Check, ok: bool) -> bool | None:
    return None if check.passed is None else check.passed and ok


# --- the flooding phone (a child process) ---------------------------------------------------------
def flood_main(
    conn: Connection,
    host: str,
    port: int,
    place: tuple[float, float],
    rate: float,
    seconds: float,
    deadline_s: float,
) -> None:
    """Say ready, wait for go, post the flood from one phone, send back its calls' answers."""
    conn.send(("ready",))
    if not conn.poll(deadline_s) or conn.recv()[0] != "go":
        return
    tag = f"flood-{os.urandom(4).hex()}"
    places = np.array([place])
    got = asyncio.run(
        post_calls(
            host, port, rate, seconds, places, tag, FLOOD_SEED, phone=FLOOD_PHONE, probes=False
        )
    )
    conn.send(("done", flood_answers(got["calls"]), got["achieved_rate"]))


def get_json(port: int, path: str, token: str) -> Any:
    """GET a dispatcher's JSON from the server on loopback."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


# --- one run --------------------------------------------------------------------------------------
def run_once(plan: Plan, flood: bool, workdir: Path) -> dict[str, Any]:
    """One fresh server: units and consoles connected, the genuine calls (and the flood)."""
    label = "flood" if flood else "quiet"
    url = f"sqlite:///{workdir}/ev.db"
    with jijiu_serve(plan.network, plan.units, url, workdir, 240) as srv:
        token = srv.tokens["dispatcher"]
        _, ws_port, units = asyncio.run(discover(Target(HOST, srv.port, srv.tokens, None), 1000))
        where = Where(HOST, srv.port, HOST, ws_port, token, srv.proc.pid)
        out: dict[str, Any] = {"units": len(units), "start_s": srv.start_s}
        with Session(where, units, plan.consoles, SEED, DEADLINE_S) as session, ExitStack() as st:
            out.update(session.connected)
            flooder = None
            if flood:
                place = (units[0][2], units[0][3])
                args = (HOST, srv.port, place, plan.flood_rate, plan.seconds, DEADLINE_S)
                flooder = st.enter_context(child(flood_main, *args))
                ask(flooder, None, READY_S)
                flooder.send(("go",))
            got = session.step(plan.rate, plan.seconds, label, SEED, warm_connections=8)
            if flooder is not None:
                _, answers, achieved = ask(flooder, None, 60)
                out["flood"] = {**answers, "achieved_rate": achieved}
        rec = summarise_calls(
            got["calls"], got["floor"], got["recommended"], plan.consoles, got["failures"]
        )
        rec["server_cpu"] = got["server_cpu_share"]
        out["genuine"] = rec
        out["quarantine"] = get_json(srv.port, "/api/v1/quarantine", token)
        incidents = get_json(srv.port, "/api/v1/incidents", token)
        out["open_incidents"] = len(incidents)
        if flood:
            out["flood"]["open"] = open_of(out["flood"]["opened"], incidents)
    if note := log_note(srv.log_path.read_text(errors="replace")):
        say(note)
    out["server_log_excerpt"] = srv.log_excerpt
    cpu = rec["server_cpu"]
    say(
        f"{label}: {rec['calls']} genuine calls at {plan.rate:g}/s (achieved "
        f"{rec['achieved_rate'] or 0:.1f}), 201 {text(rec['created'])}, to console "
        f"{text(rec['recommended'])}; {rec['errors']} not 201, {rec['missing']} missing frames; "
        f"server CPU {100 * (cpu or 0):.0f} %; quarantine entries {len(out['quarantine'])}"
    )
    if flood:
        f = out["flood"]
        say(
            f"flood: {f['sent']} calls from one phone (achieved {f['achieved_rate'] or 0:.1f}/s), "
            f"answers {f['statuses']}, incidents opened {len(f['opened'])}, still open "
            f"{len(f['open'])}"
        )
    return out


def rows_of(
    plan: Plan, quiet: dict[str, Any], flooded: dict[str, Any], card: Scorecard
) -> list[Row]:
    """Judge the two runs: the p99 ratio and the flooding phone's incidents and quarantine."""
    unjudged = None if plan.judged else QUICK_NOTE
    q, f = quiet["genuine"], flooded["genuine"]
    ratio = p99_ratio(q, f)
    c_ratio = card.check("p99_ratio_max", ratio, unjudged=unjudged)
    complete = genuine_complete(q) and genuine_complete(f)
    flood = flooded["flood"]
    c_open = card.check("flood_open_incidents_max", len(flood["open"]))
    c_queue = card.check("quarantine_entries_min", len(flooded["quarantine"]))
    quarantined = sum(int(e["calls"]) for e in flooded["quarantine"])
    peer = "the same calls, no flood"
    per = f"{plan.rate:g}/s, {plan.flood_rate:g}/s from one phone"
    missing = f" ({f['errors']} not 201, {f['missing']} missing)" if not complete else ""
    return [
        Row(
            f"call -> incident.recommended on {plan.consoles} consoles at {per}",
            text(f["recommended"]) + missing,
            peer,
            text(q["recommended"]),
            1 / ratio if ratio > 0 else None,
            f"flood p99 / quiet p99 {c_ratio.label}",
            verdict(c_ratio, complete),
        ),
        Row(
            f"POST /calls -> 201 at {per}",
            text(f["created"]),
            peer,
            text(q["created"]),
            q["created"]["p99_ms"] / f["created"]["p99_ms"] if f["created"]["n"] else None,
            "reported",
            None,
        ),
        Row.judged(
            "flooding phone: its incidents still open (GET /api/v1/incidents)",
            f"{len(flood['open'])} of {len(flood['opened'])} opened",
            c_open,
        ),
        Row.judged(
            "flooding phone: quarantine entries (GET /api/v1/quarantine)",
            f"{len(flooded['quarantine'])} ({quarantined} calls counted)",
            c_queue,
            "quiet run",
            str(len(quiet["quarantine"])),
        ),
        Row(
            "flooding phone: answers (status: count)",
            f"{flood['sent']} calls: {flood['statuses']}",
            "—",
            "—",
            None,
            "reported",
            None,
        ),
    ]


def run(quick: bool = False, seconds: float | None = None) -> dict[str, Any]:
    """Run the quiet and the flooded run; print as it goes and return the report (rows,
    table, both runs' figures, the target checks)."""
    plan = QUICK if quick else FULL
    if seconds is not None:
        plan = replace(plan, seconds=seconds)
    targets = load("flood")
    card = Scorecard(targets, say)
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "quick": quick,
        "plan": asdict(plan),
        "machine": server_machine_info(),
    }
    say(f"# flood benchmark ({'quick' if quick else 'full'} mode; targets: {targets.source})")
    for flood in (False, True):
        name = "flood" if flood else "quiet"
        with tempfile.TemporaryDirectory(prefix=f"jijiu-bench-flood-{name}-") as tmp:
            report[name] = run_once(plan, flood, Path(tmp))
    rows = rows_of(plan, report["quiet"], report["flood"], card)
    close_report(report, rows, t_start, say, card)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a judged target is missed, else 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke run)")
    parser.add_argument("--seconds", type=float, help="seconds of calls and flood (default 30)")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, seconds=args.seconds)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
