"""The soak: one server under a steady load for hours, every incident driven through its life,
sampled every minute.

`run` starts `jijiu serve` in its own process with a fresh SQLite log (`servers.jijiu_serve`),
connects the fleet's unit sockets (a position a second each) and the consoles (`Session`),
starts the lifecycle driver (`lifecycle`, its own process), then posts calls at `rate` one
sample period at a time (`Session.step`: open loop, each call timed to every console's
`incident.recommended`). After each period it reads, from /proc and the disk: the server's
RSS and open file descriptors, the log's and its WAL's size, the incidents open now (the
driver's last poll) and the period's call -> console latencies; each becomes a `Sample`, a row
of the CSV (written as it goes, so a long run's figures survive its end) and, at the end, a
plot. Calls not answered 201 are counted by reason (`failures`: a status, or the client's
timeout when the server is too slow to answer). The figures and their verdict are
`benchmarks.bench_soak`'s.
"""

from __future__ import annotations

import asyncio
import csv
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from simulator.load.latency import summarise_calls
from simulator.load.lifecycle import Pace, lifecycle_main
from simulator.load.loadgen import HOST, ask, child
from simulator.load.procfs import PROC, rss_bytes
from simulator.load.servers import jijiu_serve, log_note
from simulator.load.session import Session, Where
from simulator.load.target import Target, discover

MB = 1024 * 1024
DEADLINE_S = 86_400.0  # of every child process: longer than any soak
# Every client of the soak is on loopback, one address: the per-address cap on HTTP
# connections, meant for a centre's many desks, would refuse the load generator's calls.
SERVER_ENV = {"JIJIU_MAX_CONN_PER_IP": "0"}


@dataclass(frozen=True)
class SoakPlan:
    """What one soak runs: where, how many units and consoles, the call rate, how long, how
    often it samples, and the pace of the incidents' lives."""

    network: str = "hangzhou"
    units: int = 200
    consoles: int = 5
    rate: float = 5.0  # calls/s
    duration_s: float = 7200.0
    sample_s: float = 60.0
    pace: Pace = field(default_factory=Pace)
    seed: int = 20261207

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.duration_s > 0 and self.sample_s > 0):
            raise ValueError("rate, duration_s and sample_s are positive")

    @property
    def periods(self) -> int:
        return max(1, math.ceil(self.duration_s / self.sample_s))


@dataclass(frozen=True)
class Sample:
    """One row of the CSV: the server and its log at the end of one sample period."""

    elapsed_s: float  # since the load began
    rss_mb: float
    open_fds: int
    log_mb: float  # the SQLite file
    wal_mb: float  # its -wal file
    open_incidents: int  # the lifecycle driver's last poll
    calls: int  # posted in this period
    errors: int  # of them not answered 201
    missing: int  # console receipts that never came
    console_p99_ms: float  # call -> incident.recommended, every console, this period
    created_p99_ms: float  # POST -> 201, this period
    closed: int  # incidents the driver closed so far
    given_up: int  # jobs the driver gave up so far


COLUMNS = tuple(f.name for f in fields(Sample))


def open_fds(pid: int) -> int:
    """The process's open file descriptors (/proc/<pid>/fd); -1 when /proc does not say."""
    try:
        return len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return -1


def size_mb(path: Path) -> float:
    try:
        return path.stat().st_size / MB
    except OSError:
        return 0.0


def write_csv(path: Path, samples: Sequence[Sample]) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for s in samples:
            out.writerow([round(v, 3) if isinstance(v, float) else v for v in asdict(s).values()])


def read_csv(path: Path) -> list[Sample]:
    """The samples of a soak's CSV (to re-judge or re-plot a run)."""
    kinds = {f.name: f.type for f in fields(Sample)}

    def value(name: str, text: str) -> Any:
        return int(text) if kinds[name] == "int" else float(text)

    with path.open(newline="") as f:
        return [Sample(**{k: value(k, v) for k, v in row.items()}) for row in csv.DictReader(f)]


def plot(path: Path, samples: Sequence[Sample], title: str) -> None:
    """Five panels over the run's minutes: RSS, open fds, log and WAL, open incidents, p99."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.elapsed_s / 60 for s in samples]
    panels: list[tuple[str, list[tuple[str, list[float]]]]] = [
        ("server RSS (MB)", [("RSS", [s.rss_mb for s in samples])]),
        ("open file descriptors", [("fds", [float(s.open_fds) for s in samples])]),
        (
            "event log (MB)",
            [("log", [s.log_mb for s in samples]), ("WAL", [s.wal_mb for s in samples])],
        ),
        ("open incidents", [("open", [float(s.open_incidents) for s in samples])]),
        (
            "latency p99 (ms)",
            [
                ("call -> console", [s.console_p99_ms for s in samples]),
                ("POST -> 201", [s.created_p99_ms for s in samples]),
            ],
        ),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True)
    for ax, (label, lines) in zip(axes, panels, strict=True):
        for name, values in lines:
            ax.plot(minutes, values, marker=".", label=name)
        ax.set_ylabel(label, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("minutes since the load began")
    axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(
    plan: SoakPlan,
    workdir: Path,
    report_dir: Path,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One soak: samples (also in soak.csv as they come), each period's console latencies in
    seconds (for pooled percentiles), the driver's tally, the server's start and log note."""
    report_dir.mkdir(parents=True, exist_ok=True)
    csv_path = report_dir / "soak.csv"
    db = workdir / "ev.db"
    samples: list[Sample] = []
    latencies: list[list[float]] = []
    out: dict[str, Any] = {"plan": asdict(plan)}
    url = f"sqlite:///{db}"
    with jijiu_serve(plan.network, plan.units, url, workdir, 600, extra_env=SERVER_ENV) as srv:
        pid = srv.proc.pid
        token = srv.tokens["dispatcher"]
        _, ws_port, units = asyncio.run(discover(Target(HOST, srv.port, srv.tokens, None), 1000))
        where = Where(HOST, srv.port, HOST, ws_port, token, pid)
        out.update(start_s=srv.start_s, units=len(units))
        say(f"server ready in {srv.start_s:.1f} s; {len(units)} units, {plan.consoles} consoles")
        with (
            Session(where, units, plan.consoles, plan.seed, DEADLINE_S) as session,
            child(lifecycle_main, srv.port, srv.tokens, plan.pace, plan.seed, DEADLINE_S) as driver,
        ):
            out.update(session.connected)
            t0 = time.monotonic()
            tally: dict[str, Any] = {}
            failures: Counter[str] = Counter()
            for k in range(plan.periods):
                seconds = min(plan.sample_s, plan.duration_s - k * plan.sample_s)
                got = session.step(plan.rate, seconds, f"m{k}", plan.seed + k)
                rec = summarise_calls(got["calls"], got["floor"], got["recommended"], plan.consoles)
                _, tally = ask(driver, ("stats",), 30)
                failures.update(got["failures"])
                lat = [
                    t - t0_call
                    for iid, t0_call, _, status in got["calls"]
                    if status == 201 and iid is not None
                    for t in list(got["recommended"].get(iid, ()))[: plan.consoles]
                ]
                sample = Sample(
                    elapsed_s=time.monotonic() - t0,
                    rss_mb=(rss_bytes(pid) or 0) / MB,
                    open_fds=open_fds(pid),
                    log_mb=size_mb(db),
                    wal_mb=size_mb(db.with_name(db.name + "-wal")),
                    open_incidents=int(tally["open_now"]),
                    calls=int(rec["calls"]),
                    errors=int(rec["errors"]),
                    missing=int(rec["missing"]),
                    console_p99_ms=float(rec["recommended"]["p99_ms"]),
                    created_p99_ms=float(rec["created"]["p99_ms"]),
                    closed=sum(tally["closed"].values()),
                    given_up=int(tally["given_up"]),
                )
                samples.append(sample)
                latencies.append(lat)
                write_csv(csv_path, samples)
                say(
                    f"{sample.elapsed_s / 60:5.1f} min  RSS {sample.rss_mb:6.1f} MB  fds "
                    f"{sample.open_fds:4d}  log {sample.log_mb:6.1f} MB  WAL {sample.wal_mb:5.1f} "
                    f"MB  open {sample.open_incidents:4d}  p99 {sample.console_p99_ms:6.1f} ms  "
                    f"closed {sample.closed}  errors {sample.errors}"
                )
            out.update(tally=tally, failures=dict(failures))
    out["server_log_note"] = log_note(srv.log_path.read_text(errors="replace"))
    out["server_log_excerpt"] = srv.log_excerpt
    out["samples"] = [asdict(s) for s in samples]
    out["latencies_s"] = latencies
    title = (
        f"soak: {plan.rate:g} calls/s for {plan.duration_s / 60:g} min on {plan.network}, "
        f"{len(units)} units"
    )
    plot(report_dir / "soak.png", samples, title)
    return out
