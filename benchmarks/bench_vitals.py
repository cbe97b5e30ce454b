"""Vitals benchmark: tablets' vitals to the receiving hospitals over loopback, and a slow hospital.

Budget it guards (the acceptance criterion of the vitals relay; the `target` column):

    100 ambulances streaming 1 Hz numerics plus 250 Hz ECG to 10 hospitals: device-to-hospital
    latency p99 <= 100 ms on loopback, and the server's CPU share; the same with one hospital
    client that reads slowly: the others unaffected, the server's memory bounded.

Set-up. `jijiu serve` runs in its own process (`benchmarks.bench_server.jijiu_server`: the
bundled Hangzhou network, a fresh SQLite event log in a temp dir) with `JIJIU_SEED_FLEET` units.
Over the HTTP API every unit gets a chest-pain call placed at its own station (the stations are
spread over the city, so every call is on the road network and every unit reaches it), is
assigned to it and routed to one of the registry's 10 hospitals in turn (10 units a hospital).
Each tablet connects to `/ws/units/{id}` and acknowledges its offer; each hospital connects to
`/ws/hospitals/{id}` with its own token from the tokens file.

Load, from this process (asyncio + the `websockets` client, every queue bounded): each tablet
sends one `vitals` frame a second, at its own random phase: six numerics and a one-second,
250-sample MLII chunk of MIT-BIH record 100 (`hospital_link.ecg`, resampled 360 -> 250 Hz).
The send time (`time.monotonic()`, taken just before the frame is written) is kept per
(unit, seq); a hospital's `vitals` frame is matched on (unit_id, sample_seq) and its receipt time
taken as soon as `recv()` returns. Latency = receipt - send; a sample a hospital never gets is
lost, one it gets twice is duplicated, one at the wrong hospital misrouted. The tablet's
`accepted` reply is timed too but only reported: it is sent once the sample is durable, and
nothing here depends on its order relative to the hospital frame.

1. All reading (`phase_s`): every hospital reads as fast as it can. Judged: p99 <= 100 ms over
   every sample, none lost, duplicated or misrouted, no error reply. Reported: p50/p95/p99/max,
   per-hospital counts, the server's CPU share (user + system seconds from /proc/<pid>/stat over
   wall seconds; 100 % = one core) and RSS (/proc/<pid>/status).
2. One slow (`slow_phase_s`): the first hospital reads one frame a second (`--slow 1hz`, the
   default; it is sent ten) or stops reading (`--slow stall`), on a socket with a 64 KiB receive
   buffer and no keepalive of its own, so the backlog piles up in the server rather than in
   this process's kernel buffers and only the server's policies can end the connection.
   Judged: the other nine hospitals' p99 <= 100 ms with none lost (their p99 next to their own
   phase-1 p99: ratio = phase 1 p99 / phase 2 p99, above 1 = not slower), and the server's RSS
   growth over the phase within what the design explains: the hub's per-topic history filling up
   (1024 frames per hospital topic, each the measured mean frame size) plus one full client queue
   (256 frames) plus 32 MB of allocator slack. Reported: whether and when the server dropped the
   slow hospital (the time its log first says a hospital socket ended, or that the slow one "fell
   behind": the 1013 policy), what the hospital received, and what a reconnect with
   `?since=<last seq>` recovers.

Peer: this benchmark has no outside contender; phase 2 is judged against phase 1 of the same run.
`--quick` (CI, < 40 s): 20 units (2 a hospital), 6 s + 8 s; its numbers are not judged.

Loopback only; every loop is bounded in count and time, and the server is stopped at the end.

    python -m benchmarks.bench_vitals [--quick] [--slow 1hz|stall]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from collections import Counter
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tqdm import tqdm
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from benchmarks import bench_server
from benchmarks.bench_server import HOST, Jijiu, cpu_s, jijiu_server, say
from benchmarks.timing import Row, close_report, fmt_ms

SEED = 20240611
TARGET_P99_MS = 100.0
ECG_RATE_HZ = 250
SLOW_RCVBUF = 64 * 1024  # bytes: the slow hospital's socket receive buffer
HUB_HISTORY = 1024  # frames per topic the server's hub keeps (dispatch.live.hub.Hub default)
HUB_QUEUE = 256  # frames one subscriber may have queued (dispatch.live.hub.Hub default)
RSS_SLACK_MB = 32.0
QUICK_NOTE = "judged in full runs"


@dataclass(frozen=True)
class Plan:
    network: str
    units: int  # JIJIU_SEED_FLEET: every unit streams
    hospitals: int  # taken from the server's registry, in the tokens file's order
    warmup_s: float  # sent and received but not counted
    phase_s: float  # phase 1: all hospitals read
    slow_phase_s: float  # phase 2: one hospital slow
    judged: bool

    def __post_init__(self) -> None:
        if self.units < self.hospitals or self.hospitals < 2:
            raise ValueError("need at least two hospitals and a unit for each")
        if min(self.warmup_s, self.phase_s, self.slow_phase_s) <= 0:
            raise ValueError("phases last a positive number of seconds")


FULL = Plan("hangzhou", 100, 10, 3.0, 50.0, 80.0, True)
QUICK = Plan("hangzhou", 20, 10, 2.0, 6.0, 8.0, False)
PHASES = ("warm-up", "all reading", "one slow", "after")


# --- what is sent --------------------------------------------------------------------------------
def ecg_uv() -> list[int]:
    """MIT-BIH record 100, lead MLII, in whole µV, linearly resampled from 360 to 250 Hz (the
    simulated tablets' trace: `simulator.live.vitals.mitbih_uv`)."""
    from simulator.live.vitals import mitbih_uv

    return list(mitbih_uv(ECG_RATE_HZ))


@dataclass
class Tablet:
    """One unit on a call: its socket, where its patient goes and its monitor's state."""

    unit_id: str
    token: str
    incident_id: str
    hospital_id: str
    numerics: dict[str, int]  # the patient's baseline readings
    ecg_offset: int  # where in the record this patient's ECG starts
    seq: int = 0

    def frame(self, at_s: float, jitter: np.ndarray, ecg: list[int]) -> str:
        """The next second's vitals frame, numbered seq."""
        self.seq += 1
        start = (self.ecg_offset + self.seq * ECG_RATE_HZ) % (len(ecg) - ECG_RATE_HZ)
        numerics = {k: v + int(jitter[i]) for i, (k, v) in enumerate(self.numerics.items())}
        chunk = {
            "seq": self.seq,
            "at_s": at_s,
            "lead": "MLII",
            "rate_hz": ECG_RATE_HZ,
            "samples_uv": ecg[start : start + ECG_RATE_HZ],
        }
        body = {
            "type": "vitals",
            "seq": self.seq,
            "at_s": at_s,
            "numerics": numerics,
            "ecg": [chunk],
        }
        return json.dumps(body, separators=(",", ":"))


def patient(rng: np.random.Generator) -> dict[str, int]:
    """Plausible numerics of a chest-pain patient (well inside hospital_link.vitals' ranges)."""
    sys_mmhg = int(rng.integers(100, 170))
    return {
        "hr": int(rng.integers(55, 120)),
        "spo2": int(rng.integers(91, 99)),
        "nibp_sys": sys_mmhg,
        "nibp_dia": sys_mmhg - int(rng.integers(30, 60)),
        "rr": int(rng.integers(12, 26)),
        "etco2": int(rng.integers(30, 45)),
    }


# --- set-up over HTTP ----------------------------------------------------------------------------
def put_units_on_calls(base: str, tokens: dict[str, Any], plan: Plan, ws_port: int) -> list[Tablet]:
    """A call at every unit's station, that unit assigned, its patient routed to a hospital."""
    from websockets.sync.client import connect as connect_sync

    rng = np.random.default_rng(SEED)
    dispatcher = tokens["dispatcher"]
    with connect_sync(f"ws://{HOST}:{ws_port}/ws/console?token={dispatcher}") as console:
        snap = json.loads(console.recv(timeout=30))
    units = sorted(snap["units"], key=lambda u: u["unit_id"])[: plan.units]
    hospitals = list(tokens["hospitals"])[: plan.hospitals]
    if len(units) < plan.units or len(hospitals) < plan.hospitals:
        raise RuntimeError(f"the server has {len(units)} units and {len(hospitals)} hospitals")
    head = {"Authorization": f"Bearer {dispatcher}"}
    tablets = []
    jitter = rng.normal(0.0, 0.0003, size=(len(units), 2))  # ~30 m about the station: on roads
    with httpx.Client(base_url=base, timeout=30.0) as client:
        bar = tqdm(units, desc="calls", file=sys.stderr, leave=False)
        for i, u in enumerate(bar):
            fix = {"lat": u["lat"] + jitter[i, 0], "lon": u["lon"] + jitter[i, 1], "accuracy_m": 15}
            body = {
                "phone": f"+86138{i:08d}",
                "consent_location": True,
                "fix": fix,
                "complaint": "chest_pain",
            }
            r = client.post("/api/v1/calls", json=body, headers={"Idempotency-Key": f"vb-{i}"})
            if r.status_code != 201:
                raise RuntimeError(f"call for {u['unit_id']}: {r.status_code} {r.text[:200]}")
            iid = r.json()["incident_id"]
            hospital = hospitals[i % len(hospitals)]
            for path, payload, ok in (
                ("assignment", {"unit_id": u["unit_id"]}, 201),
                ("destination", {"hospital_id": hospital}, 200),
            ):
                r = client.post(f"/api/v1/incidents/{iid}/{path}", json=payload, headers=head)
                if r.status_code != ok:
                    raise RuntimeError(f"{path} of {u['unit_id']}: {r.status_code} {r.text[:200]}")
            tablets.append(
                Tablet(
                    u["unit_id"],
                    tokens["units"][u["unit_id"]],
                    iid,
                    hospital,
                    patient(rng),
                    int(rng.integers(0, 400_000)),
                )
            )
    return tablets


# --- the load ------------------------------------------------------------------------------------
@dataclass
class HospitalClient:
    hospital_id: str
    slow: bool
    ws: ClientConnection | None = None
    got: list[tuple[str, int, float]] = field(default_factory=list)  # unit, sample_seq, recv
    frame_bytes: int = 0
    frames: int = 0  # vitals frames
    last_seq: int = 0  # the topic seq of the last frame: where a resume starts
    close_code: int | None = None
    close_reason: str | None = None
    close_sent: int | None = None  # the code this client sent, when it closed first
    closed_at: float | None = None
    cut_at: float | None = None  # when the server's log said it dropped this socket
    cut_line: str | None = None  # that log line
    live_n: int | None = None  # len(got) when a reconnect began: the receipts before it


@dataclass
class Load:
    """Everything the load generator records; bounded by units x seconds."""

    phase: int = 0
    sent: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)  # time, phase
    late_sends: list[float] = field(default_factory=list)  # s behind each send's schedule
    accepted: list[tuple[float, int]] = field(default_factory=list)  # latency, phase
    errors: Counter[str] = field(default_factory=Counter)
    marks: list[dict[str, float]] = field(default_factory=list)  # at each phase start and end


def slow_socket() -> socket.socket:
    """A connected TCP socket with a small receive buffer (set before connecting)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
    return sock


async def open_hospital(port: int, h: HospitalClient, token: str) -> None:
    uri = f"ws://{HOST}:{port}/ws/hospitals/{h.hospital_id}?token={token}"
    extra: dict[str, Any] = {}
    if h.slow:
        sock = slow_socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
        # No keepalive of its own: a client that does not read cannot see a pong, and its own
        # ping timeout would end the connection before the server's policies do.
        extra = {"sock": sock, "max_queue": 4, "ping_interval": None}
    h.ws = await connect(uri, open_timeout=30, compression=None, max_size=2**24, **extra)
    snap = json.loads(await asyncio.wait_for(h.ws.recv(), 30))
    if snap.get("type") != "snapshot":
        raise RuntimeError(f"{h.hospital_id}: first frame is {snap.get('type')}")
    h.last_seq = int(snap.get("last_seq", 0))


def note_frame(h: HospitalClient, raw: bytes, t: float) -> None:
    frame = json.loads(raw)
    h.last_seq = int(frame.get("seq", h.last_seq))
    if frame.get("type") == "vitals":  # patient.inbound and other frames are not samples
        h.got.append((frame["unit_id"], frame["sample_seq"], t))
        h.frames += 1
        h.frame_bytes += len(raw)


async def read_hospital(h: HospitalClient, slow_mode: str, slow_on: asyncio.Event) -> None:
    """Read until the socket closes; the slow hospital lags while `slow_on` is set."""
    assert h.ws is not None
    try:
        while True:
            if h.slow and slow_on.is_set() and slow_mode == "stall":
                while slow_on.is_set():
                    await asyncio.sleep(0.05)
            raw = await h.ws.recv(decode=False)
            t = time.monotonic()
            note_frame(h, raw, t)
            if h.slow and slow_on.is_set() and slow_mode == "1hz":
                await asyncio.sleep(1.0)
    except ConnectionClosed as exc:
        h.close_code = exc.rcvd.code if exc.rcvd else None
        h.close_reason = exc.rcvd.reason if exc.rcvd else None
        h.close_sent = exc.sent.code if exc.sent else None
        h.closed_at = time.monotonic()


async def watch_log(path: Path, h: HospitalClient, since: int) -> None:
    """Note when the server's log first says a hospital socket ended or the slow hospital fell
    behind (read from byte `since` on): during phase 2 only the slow one can end, so this is
    when the server dropped it, however long the client takes to read up to the close."""
    marks = ("websocket hospital ended", f"hospital:{h.hospital_id} (seq")
    while h.cut_at is None:
        with suppress(OSError), path.open("rb") as f:
            f.seek(since)
            for line in f.read().decode(errors="replace").splitlines():
                if any(m in line for m in marks) or ("behind" in line and "hospital:" in line):
                    h.cut_at, h.cut_line = time.monotonic(), line.strip()
                    return
        await asyncio.sleep(0.25)


async def open_tablet(port: int, t: Tablet) -> ClientConnection:
    uri = f"ws://{HOST}:{port}/ws/units/{t.unit_id}?token={t.token}"
    ws = await connect(uri, open_timeout=30, compression=None, max_size=2**24)
    snap = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if snap.get("job", {}).get("incident_id") != t.incident_id:
        raise RuntimeError(f"{t.unit_id} is not on {t.incident_id}: {snap}")
    await ws.send(json.dumps({"type": "ack", "incident_id": t.incident_id, "device": "tablet"}))
    for _ in range(20):  # the reply, past any offer or status frames
        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if reply.get("type") in ("accepted", "error"):
            if reply["type"] == "error":
                raise RuntimeError(f"{t.unit_id}: ack refused: {reply}")
            return ws
    raise RuntimeError(f"{t.unit_id}: no reply to the ack")


async def read_tablet(t: Tablet, ws: ClientConnection, load: Load) -> None:
    """The tablet's replies: `accepted` timed from the send, `error` counted by reason."""
    try:
        async for raw in ws:
            now = time.monotonic()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "accepted" and frame.get("frame") == "vitals":
                sent = load.sent.get((t.unit_id, frame.get("seq", -1)))
                if sent is not None:
                    load.accepted.append((now - sent[0], sent[1]))
            elif kind == "error":
                load.errors[str(frame.get("reason"))] += 1
    except ConnectionClosed:
        return


async def stream(
    t: Tablet, ws: ClientConnection, load: Load, stop: asyncio.Event, ecg: list[int], seed: int
) -> None:
    """One vitals frame a second at a random phase until `stop`; late seconds are not made up."""
    rng = np.random.default_rng(seed)
    jitter = rng.integers(-2, 3, size=(600, len(t.numerics)))  # ±2 per reading, 10 min at most
    due = time.monotonic() + float(rng.uniform(0.0, 1.0))
    while not stop.is_set() and t.seq < len(jitter):
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if stop.is_set():
            return
        text = t.frame(time.time(), jitter[t.seq], ecg)
        now = time.monotonic()
        load.late_sends.append(now - due)
        load.sent[(t.unit_id, t.seq)] = (now, load.phase)
        try:
            await ws.send(text)
        except ConnectionClosed:
            load.errors["tablet socket closed"] += 1
            return
        due += 1.0
        if due < time.monotonic():  # the generator fell over a second behind: skip ahead
            due = time.monotonic()


def process_stats(pid: int) -> dict[str, float]:
    """The server's CPU seconds and resident memory (MB, now and peak) from /proc."""
    rss = hwm = float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    cpu = cpu_s(pid)
    return {
        "t": time.monotonic(),
        "cpu_s": float("nan") if cpu is None else cpu,
        "rss_mb": rss,
        "peak_rss_mb": hwm,
        "gen_cpu_s": time.process_time(),
    }


async def wait_phase(
    load: Load, name: str, seconds: float, pid: int, hs: list[HospitalClient]
) -> None:
    """Let a phase run `seconds`, with a progress bar; server stats at both ends."""
    start = time.monotonic()
    end = start + seconds
    total = round(seconds)
    with tqdm(total=total, desc=name, unit="s", file=sys.stderr, leave=False) as bar:
        while (now := time.monotonic()) < end:
            await asyncio.sleep(min(1.0, end - now))
            bar.n = min(round(time.monotonic() - start), total)
            bar.set_postfix(received=sum(h.frames for h in hs), refresh=False)
            bar.refresh()
    load.marks.append(process_stats(pid))


async def drive(
    plan: Plan, srv: Jijiu, tablets: list[Tablet], slow_mode: str
) -> tuple[Load, list[HospitalClient], dict[str, Any]]:
    """Connect everyone, run warm-up, phase 1 and phase 2, drain; what was recorded."""
    port, pid, tokens = srv.ws_port, srv.proc.pid, srv.tokens["hospitals"]
    server_log = srv.workdir / "server.log"
    load = Load()
    ecg = ecg_uv()
    hospitals = list(dict.fromkeys(t.hospital_id for t in tablets))
    hs = [HospitalClient(hid, slow=(i == 0)) for i, hid in enumerate(hospitals)]
    await asyncio.wait_for(
        asyncio.gather(*(open_hospital(port, h, tokens[h.hospital_id]) for h in hs)), 60
    )
    gate = asyncio.Semaphore(32)

    async def one(t: Tablet) -> ClientConnection:
        async with gate:
            return await open_tablet(port, t)

    sockets = await asyncio.wait_for(asyncio.gather(*(one(t) for t in tablets)), 120)
    say(f"{len(sockets)} tablets connected and acknowledged; {len(hs)} hospitals connected")
    slow_on, stop = asyncio.Event(), asyncio.Event()
    readers = [asyncio.create_task(read_hospital(h, slow_mode, slow_on)) for h in hs]
    pairs = list(zip(tablets, sockets, strict=True))
    readers += [asyncio.create_task(read_tablet(t, ws, load)) for t, ws in pairs]
    senders = [
        asyncio.create_task(stream(t, ws, load, stop, ecg, SEED + i))
        for i, (t, ws) in enumerate(pairs)
    ]
    extra: dict[str, Any] = {}
    try:
        load.marks.append(process_stats(pid))
        await wait_phase(load, PHASES[0], plan.warmup_s, pid, hs)
        load.phase = 1
        await wait_phase(load, PHASES[1], plan.phase_s, pid, hs)
        load.phase = 2
        slow_on.set()
        log_size = server_log.stat().st_size
        readers.append(asyncio.create_task(watch_log(server_log, hs[0], log_size)))
        await wait_phase(load, PHASES[2], plan.slow_phase_s, pid, hs)
        load.phase = 3
        stop.set()
        await asyncio.wait(senders, timeout=5)
        await asyncio.sleep(2.0)  # the last frames reach the hospitals that keep up
        extra["slow"] = await release_slow(hs[0], slow_on, load.marks[2]["t"])
        extra["resume"] = await resume(port, hs[0], tokens[hs[0].hospital_id])
        load.marks.append(process_stats(pid))
    finally:
        stop.set()
        for task in senders:
            task.cancel()
        closing = [ws.close() for ws in sockets] + [h.ws.close() for h in hs if h.ws is not None]
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 20)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, *senders, return_exceptions=True)
    return load, hs, extra


async def release_slow(h: HospitalClient, slow_on: asyncio.Event, t2: float) -> dict[str, Any]:
    """Let the slow hospital read its backlog at full speed until the server's close or 2 s of
    silence (at most 30 s); whether and when (s into phase 2, which began at `t2`) the server
    closed it. Read before this process closes anything, so a close seen here is the server's."""
    assert h.ws is not None
    open_when_released = h.closed_at is None
    slow_on.clear()
    count = h.frames
    deadline = time.monotonic() + 30
    while h.closed_at is None and time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        if h.frames == count:
            break
        count = h.frames
    return {
        "open_when_released": open_when_released,
        "close_code": h.close_code,
        "close_reason": h.close_reason,
        "close_sent": h.close_sent,
        "closed_s_into_phase2": None if h.closed_at is None else h.closed_at - t2,
        "server_dropped_s_into_phase2": None if h.cut_at is None else h.cut_at - t2,
        "server_log_line": h.cut_line,
    }


async def resume(port: int, h: HospitalClient, token: str) -> dict[str, Any]:
    """After a drop, reconnect with since=<last seq seen> and read what the history replays."""
    if h.closed_at is None:
        return {"resumed": False}
    uri = f"ws://{HOST}:{port}/ws/hospitals/{h.hospital_id}?token={token}&since={h.last_seq}"
    before = h.frames
    h.live_n = len(h.got)
    snapshot = False
    async with connect(uri, open_timeout=30, compression=None, max_size=2**24) as ws:
        for _ in range(5000):
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 2.0)
            except TimeoutError:
                break
            if raw.startswith(b'{"type":"snapshot"'):
                snapshot = True
                continue
            note_frame(h, raw, time.monotonic())
    return {
        "resumed": True,
        "since": h.last_seq,
        "replayed": h.frames - before,
        "snapshot": snapshot,
    }


# --- the numbers ----------------------------------------------------------------------------------
def pcts(samples_s: list[float]) -> dict[str, float]:
    """n, p50, p95, p99, max (ms) of samples in seconds; NaN when empty."""
    a = np.asarray(samples_s, dtype=float) * 1e3
    if a.size == 0:
        nan = float("nan")
        return {"n": 0, "p50_ms": nan, "p95_ms": nan, "p99_ms": nan, "max_ms": nan}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "n": int(a.size),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(a.max()),
    }


def text(p: dict[str, float]) -> str:
    return f"{fmt_ms(p['p50_ms'])} / {fmt_ms(p['p99_ms'])}" if p["n"] else "no samples"


def tally(
    load: Load, hs: list[HospitalClient], tablets: list[Tablet], phase: int
) -> dict[str, dict[str, Any]]:
    """Per hospital, the samples sent in `phase`: sent, received, lost, duplicated, misrouted,
    out of order, and the latencies of the first receipts."""
    dest = {t.unit_id: t.hospital_id for t in tablets}
    out: dict[str, dict[str, Any]] = {}
    for h in hs:
        expected = {
            k for k, (_, p) in load.sent.items() if p == phase and dest[k[0]] == h.hospital_id
        }
        seen: set[tuple[str, int]] = set()
        lat: list[float] = []
        dup = misrouted = reordered = 0
        last: dict[str, int] = {}
        for unit, seq, t in h.got:
            key = (unit, seq)
            sent = load.sent.get(key)
            if sent is None or sent[1] != phase:
                continue
            if dest.get(unit) != h.hospital_id:
                misrouted += 1
            elif key in seen:
                dup += 1
            else:
                seen.add(key)
                lat.append(t - sent[0])
                reordered += seq < last.get(unit, -1)
                last[unit] = seq
        out[h.hospital_id] = {
            "slow": h.slow,
            "sent": len(expected),
            "received": len(seen & expected),
            "lost": len(expected - seen),
            "duplicated": dup,
            "misrouted": misrouted,
            "out_of_order": reordered,
            "latency_s": lat,
        }
    return out


def merged(per: dict[str, dict[str, Any]], which: list[str]) -> dict[str, Any]:
    rows = [per[h] for h in which]
    counts = ("sent", "received", "lost", "duplicated", "misrouted", "out_of_order")
    out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in counts}
    out["latency"] = pcts([x for r in rows for x in r["latency_s"]])
    return out


def clean(m: dict[str, Any]) -> bool:
    return bool(m["sent"]) and not (m["lost"] or m["duplicated"] or m["misrouted"])


def history_growth_mb(
    load: Load, tablets: list[Tablet], hs: list[HospitalClient], mean_frame: float
) -> tuple[float, float]:
    """MB the hub's history should grow by in phase 1 and in phase 2: frames kept in each
    hospital topic (up to HUB_HISTORY) times the mean frame size."""
    dest = {t.unit_id: t.hospital_id for t in tablets}
    by_phase = Counter((dest[u], p) for (u, _), (_, p) in load.sent.items())
    grow = [0.0, 0.0]
    for h in hs:
        # the patient.inbound frames sit in the topic too: one per patient, before the warm-up
        before = sum(1 for t in tablets if t.hospital_id == h.hospital_id)
        kept = min(HUB_HISTORY, before)
        for i, phase in enumerate((0, 1, 2)):
            now = min(HUB_HISTORY, kept + by_phase[(h.hospital_id, phase)])
            if i:  # phase 0 (warm-up) only moves the starting point
                grow[i - 1] += (now - kept) * mean_frame
            kept = now
    return grow[0] / 2**20, grow[1] / 2**20


def summarise(
    plan: Plan,
    load: Load,
    hs: list[HospitalClient],
    tablets: list[Tablet],
    extra: dict[str, Any],
    slow_mode: str,
) -> tuple[dict[str, Any], list[Row]]:
    marks = load.marks  # start, after warm-up, after phase 1, after phase 2, after the drain
    p1, p2 = tally(load, hs, tablets, 1), tally(load, hs, tablets, 2)
    everyone = [h.hospital_id for h in hs]
    slow_id = hs[0].hospital_id
    others = [h for h in everyone if h != slow_id]
    m1_all, m1_others = merged(p1, everyone), merged(p1, others)
    m2_others, m2_slow = merged(p2, others), merged(p2, [slow_id])

    def cpu_share(a: dict[str, float], b: dict[str, float], key: str) -> float:
        return (b[key] - a[key]) / (b["t"] - a["t"])

    cpu1, cpu2 = cpu_share(marks[1], marks[2], "cpu_s"), cpu_share(marks[2], marks[3], "cpu_s")
    gen1, gen2 = (
        cpu_share(marks[1], marks[2], "gen_cpu_s"),
        cpu_share(marks[2], marks[3], "gen_cpu_s"),
    )
    frames = sum(h.frames for h in hs)
    mean_frame = sum(h.frame_bytes for h in hs) / frames if frames else 0.0
    hist1, hist2 = history_growth_mb(load, tablets, hs, mean_frame)
    queue_mb = HUB_QUEUE * mean_frame / 2**20
    grew1 = marks[2]["rss_mb"] - marks[1]["rss_mb"]
    grew2 = marks[3]["rss_mb"] - marks[2]["rss_mb"]
    bound2 = hist2 + queue_mb + RSS_SLACK_MB
    peak = marks[-1]["peak_rss_mb"]
    slow = hs[0]
    slow_units = {t.unit_id for t in tablets if t.hospital_id == slow_id}
    late = pcts(load.late_sends)
    acc1 = pcts([x for x, p in load.accepted if p == 1])
    acc2 = pcts([x for x, p in load.accepted if p == 2])
    fate_of_slow = extra.get("slow", {})
    # When the server dropped it: after the last sample it still got was sent (a later one
    # never reached it). Its own close is seen later, once it has read its backlog.
    live_got = slow.got[: slow.live_n]  # before any reconnect
    last_slow_send = max(
        (
            load.sent[(u, s)][0]
            for u, s, _ in live_got
            if (u, s) in load.sent and load.sent[(u, s)][1] == 2
        ),
        default=None,
    )
    last_slow_s = None if last_slow_send is None else last_slow_send - marks[2]["t"]
    report: dict[str, Any] = {
        "units": len(tablets),
        "hospitals": everyone,
        "slow_hospital": slow_id,
        "slow_mode": slow_mode,
        "mean_frame_bytes": mean_frame,
        "phase1": {
            "all": m1_all,
            "others": m1_others,
            "server_cpu_share": cpu1,
            "generator_cpu_share": gen1,
            "accepted_reply": acc1,
            "per_hospital": {
                h: {k: v for k, v in r.items() if k != "latency_s"} for h, r in p1.items()
            },
        },
        "phase2": {
            "others": m2_others,
            "slow": m2_slow,
            "server_cpu_share": cpu2,
            "generator_cpu_share": gen2,
            "accepted_reply": acc2,
            "per_hospital": {
                h: {k: v for k, v in r.items() if k != "latency_s"} for h, r in p2.items()
            },
        },
        "rss_mb": [m["rss_mb"] for m in marks],
        "peak_rss_mb": marks[-1]["peak_rss_mb"],
        "rss_growth_mb": {"phase1": grew1, "phase2": grew2},
        "rss_expected_mb": {
            "history_phase1": hist1,
            "history_phase2": hist2,
            "queue": queue_mb,
            "bound_phase2": bound2,
        },
        "slow_client": {
            **fate_of_slow,
            "last_sample_sent_s_into_phase2": last_slow_s,
            "resume": extra.get("resume"),
            "server_log": extra.get("server_log"),
        },
        "tablet_errors": dict(load.errors),
        "late_sends": late,
    }
    say_tables(report, p1, p2)
    judged = plan.judged
    note = "" if judged else f" ({QUICK_NOTE})"
    target = f"p99 <= {TARGET_P99_MS:.0f} ms, none lost{note}"
    no_errors = not load.errors

    def verdict(m: dict[str, Any]) -> bool | None:
        if not judged:
            return None
        return clean(m) and no_errors and m["latency"]["p99_ms"] <= TARGET_P99_MS

    def losses(m: dict[str, Any]) -> str:
        bad = [f"{m[k]} {k}" for k in ("lost", "duplicated", "misrouted") if m[k]]
        return f" ({', '.join(bad)})" if bad else ""

    n = len(tablets)
    r1, r2 = m1_others["latency"]["p99_ms"], m2_others["latency"]["p99_ms"]
    fate = slow_fate(fate_of_slow, extra.get("server_log") or {})
    live_keys = {(u, q) for u, q, _ in live_got}
    live = sum(
        1
        for (u, q), (_, p) in load.sent.items()
        if p == 2 and u in slow_units and (u, q) in live_keys
    )
    report["slow_client"]["received_live"] = live
    got_slow = f"got {live} of {m2_slow['sent']}"
    resumed = extra.get("resume") or {}
    if resumed.get("resumed"):
        got_slow += f" live, {m2_slow['received'] - live} more on reconnecting with since="
        got_slow += " (after a snapshot)" if resumed["snapshot"] else ""
    rows = [
        Row(
            f"phase 1: device -> hospital, {n} units at 1 Hz -> {len(hs)} hospitals",
            text(m1_all["latency"]) + losses(m1_all),
            "—",
            "—",
            None,
            target,
            verdict(m1_all),
        ),
        Row(
            f"phase 2: the other {len(others)} hospitals, {slow_id} slow ({slow_mode})",
            text(m2_others["latency"]) + losses(m2_others),
            f"same {len(others)}, phase 1",
            text(m1_others["latency"]),
            r1 / r2 if r2 else None,
            target,
            verdict(m2_others),
        ),
        Row(
            f"phase 2: the slow hospital {slow_id}",
            f"{got_slow}; {fate}",
            "—",
            "—",
            None,
            "reported (policy: 1013 when behind)",
            None,
        ),
        Row(
            "phase 2: server RSS growth",
            f"{grew2:+.1f} MB (peak {peak:.0f} MB)",
            "history fill + a full queue",
            f"{hist2 + queue_mb:.1f} MB",
            None,
            f"<= that + {RSS_SLACK_MB:.0f} MB{note}",
            (grew2 <= bound2) if judged else None,
        ),
        Row(
            "server CPU share (of one core)",
            f"{100 * cpu1:.0f} %; {100 * cpu2:.0f} %",
            "load generator (this process)",
            f"{100 * gen1:.0f} %; {100 * gen2:.0f} %",
            None,
            "reported (phase 1; phase 2)",
            None,
        ),
        Row(
            "tablet: vitals -> accepted reply",
            f"{text(acc1)}; {text(acc2)}",
            "—",
            "—",
            None,
            "reported (phase 1; phase 2)",
            None,
        ),
    ]
    return report, rows


def slow_fate(slow: dict[str, Any], log: dict[str, list[str]]) -> str:
    """How the slow hospital's connection ended, in a few words for the table."""
    cut_s = slow.get("server_dropped_s_into_phase2")
    closed_s = slow.get("closed_s_into_phase2")
    if cut_s is None and closed_s is None:
        return "never dropped"
    if log.get("lagging"):
        why = "fell behind its queue (1013)"
    elif slow.get("close_code") is not None:
        why = f"closed {slow['close_code']} {slow.get('close_reason') or ''!r}"
    else:
        why = "socket ended, no 'fell behind' logged"
    when = "" if cut_s is None else f" at {cut_s:.0f} s"
    return f"dropped{when}: {why}"


def say_tables(report: dict[str, Any], p1: dict[str, Any], p2: dict[str, Any]) -> None:
    """Per hospital, both phases: counts and p50/p99."""
    say(
        "\nper hospital (samples sent in the phase; * = the slow one in phase 2, its receipts "
        "include those on reconnecting):"
    )
    say(
        f"{'hospital':<12} | {'phase 1: sent recv lost dup   p50 / p99':<42} | "
        f"{'phase 2: sent recv lost dup   p50 / p99':<42}"
    )
    for h in p1:
        cells = []
        for per in (p1, p2):
            r = per[h]
            lat = pcts(r["latency_s"])
            cells.append(
                f"{r['sent']:>13} {r['received']:>4} {r['lost']:>4} {r['duplicated']:>3}"
                f"  {text(lat):>17}"
            )
        mark = "*" if p2[h]["slow"] else " "
        say(f"{h:<11}{mark} | {cells[0]:<42} | {cells[1]:<42}")
    rss = ", ".join(f"{x:.0f}" for x in report["rss_mb"])
    exp = report["rss_expected_mb"]
    say(
        f"server RSS at start, after warm-up, phase 1, phase 2, drain: {rss} MB "
        f"(peak {report['peak_rss_mb']:.0f} MB); expected from the hub history "
        f"+{exp['history_phase1']:.1f} MB in phase 1, +{exp['history_phase2']:.1f} MB in phase 2"
    )
    sc = report["slow_client"]
    log = sc.get("server_log") or {}

    def secs(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f} s"

    say(
        f"slow hospital {report['slow_hospital']} ({report['slow_mode']}): {slow_fate(sc, log)}."
        f" The last sample it got live was sent {secs(sc['last_sample_sent_s_into_phase2'])} "
        "into phase 2;"
        f" the server's log line ({secs(sc.get('server_dropped_s_into_phase2'))}): "
        f"{sc.get('server_log_line')!r}; 'fell behind' warnings: {len(log.get('lagging', []))}."
        f" The client, released at the end, read its backlog and saw the end "
        f"{secs(sc.get('closed_s_into_phase2'))} into phase 2 (close frame received: "
        f"{sc.get('close_code')}). Reconnect with since: {sc.get('resume')}"
    )
    late = report["late_sends"]
    say(
        f"sends behind schedule (load generator health): p99 {fmt_ms(late['p99_ms'])}, "
        f"max {fmt_ms(late['max_ms'])}; tablet error replies: {report['tablet_errors'] or 'none'}; "
        f"mean hospital frame {report['mean_frame_bytes'] / 1024:.1f} KiB"
    )


def slow_hospital_log(path: Path, hospital_id: str) -> dict[str, list[str]]:
    """What the server logged about dropping hospital sockets: the hub's "fell behind"
    warnings for the slow hospital's topic, and the ends of hospital sockets (jijiu.ws, INFO)."""
    lines = path.read_text(errors="replace").splitlines()
    return {
        "lagging": [ln for ln in lines if f"hospital:{hospital_id}" in ln and "behind" in ln],
        "ended": [ln for ln in lines if "websocket hospital ended" in ln],
    }


# --- the run ------------------------------------------------------------------------------------
def run(quick: bool = False, slow_mode: str = "1hz") -> dict[str, Any]:
    """Start the server, put the units on calls, run both phases; print and return the report."""
    plan = QUICK if quick else FULL
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "quick": quick,
        "plan": asdict(plan),
        "machine": bench_server.machine(),
    }
    say(f"# vitals benchmark ({'quick' if quick else 'full'} mode)")
    server_plan = replace(bench_server.QUICK, network=plan.network, units=plan.units)
    with tempfile.TemporaryDirectory(prefix="jijiu-bench-vitals-") as tmp:
        workdir = Path(tmp)
        with jijiu_server(server_plan, f"sqlite:///{workdir}/ev.db", workdir) as srv:
            say(
                f"jijiu serve on {plan.network}, {plan.units} seeded units, ready in "
                f"{srv.start_s:.1f} s (pid {srv.proc.pid})"
            )
            tablets = put_units_on_calls(srv.base, srv.tokens, plan, srv.ws_port)
            say(
                f"{len(tablets)} units on calls, routed to {plan.hospitals} hospitals "
                f"({len(tablets) // plan.hospitals} each); warm-up {plan.warmup_s:g} s, "
                f"phase 1 {plan.phase_s:g} s, phase 2 {plan.slow_phase_s:g} s"
            )
            load, hs, extra = asyncio.run(drive(plan, srv, tablets, slow_mode))
        extra["server_log"] = slow_hospital_log(workdir / "server.log", hs[0].hospital_id)
    result, rows = summarise(plan, load, hs, tablets, extra, slow_mode)
    report.update(result)
    close_report(report, rows, t_start, say)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke run)")
    parser.add_argument(
        "--slow",
        choices=("1hz", "stall"),
        default="1hz",
        help="the slow hospital reads one frame a second (default), or stops reading",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, slow_mode=args.slow)
    return 1 if args.strict and report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
