"""Crash test: the server is SIGKILLed twenty times under a stream of calls, on each backend.

Each server is a real process on a loopback port, with the Wulin network and four seeded units:
`tests/dispatch/store/crash_server.py --fork` imports the app once and forks one server per cycle
(a new interpreter costs seconds of imports; a fork, milliseconds), and the server that checks
the end state is a new interpreter. Two client threads post calls (and cancel about one in
four of the incidents they opened) until the main thread SIGKILLs the server, a seeded 3-15
acknowledged calls into the cycle, while requests are still in flight. A request that got no
answer was never acknowledged: after the restart the client retries it with the same
Idempotency-Key, as a phone would, and a few acknowledged calls are retried too (same incident,
same caller token). After the twentieth kill the last server must hold every acknowledged call
once, the log must hold one CallReceived per key and nothing the client did not send, and the
console snapshot must list exactly the incidents the log leaves open. No assertion on timing:
the timeouts below only stop a hung test.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from dispatch.store.eventlog import open_log

KILLS = 20  # the number: adjust the calls per cycle, never this
ACKED_BEFORE_KILL = (3, 15)  # acknowledged calls in a cycle before its SIGKILL (seeded)
CLIENTS = 2  # posting threads: while one is answered, the other's request is in flight
CANCEL_ONE_IN = 4  # a client cancels about one in this many of the incidents it opened
RETRIED_PER_RESTART = 3  # acknowledged calls retried after each restart
HANG_GUARD_S = 60.0  # longest wait for anything (a start, a join); never a timing assert
SEED = 20_240_4  # issue 4
LAUNCHER = Path(__file__).with_name("crash_server.py")
REPO = Path(__file__).resolve().parents[3]


def free_port(taken: set[int]) -> int:
    """A loopback port nothing listens on now and no other server of this test was given."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


class Server:
    """One server process on a loopback port; its output (uvicorn's, tracebacks) in a file."""

    def __init__(self, port: int, output: Path) -> None:
        self.port, self.output = port, output

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        raise NotImplementedError

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` and return once the process has ended."""
        raise NotImplementedError

    def wait_ready(self) -> None:
        """Return once /readyz answers 200; fail with the server's output if it died."""
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            try:
                if httpx.get(f"{self.http}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if not self.alive() or time.monotonic() > deadline:
                text = self.output.read_text(errors="replace")[-4000:]
                pytest.fail(f"server :{self.port} never got ready; its output:\n{text}")
            time.sleep(0.02)


class ForkedServer(Server):
    """A child of `crash_server.py --fork`: it answers "EXIT" on `lines` when the child ends."""

    def __init__(self, port: int, output: Path, pid: int, lines: queue.Queue[str]) -> None:
        super().__init__(port, output)
        self.pid, self.lines, self.exit_line = pid, lines, ""

    def alive(self) -> bool:
        if not self.exit_line:
            try:
                self.exit_line = self.lines.get_nowait()
            except queue.Empty:
                return True
        return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():  # not reaped yet, so the pid is still this child's
            os.kill(self.pid, sig)
            self.exit_line = self.lines.get(timeout=HANG_GUARD_S)
        assert self.exit_line.startswith(f"EXIT {self.pid} "), self.exit_line


class FreshServer(Server):
    """`crash_server.py --port P`: a new interpreter that imports everything itself."""

    def __init__(self, port: int, output: Path, proc: subprocess.Popen[str]) -> None:
        super().__init__(port, output)
        self.proc = proc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            self.proc.send_signal(sig)
        self.proc.wait(timeout=HANG_GUARD_S)


class Launcher:
    """Starts servers on one event log and tokens file, forked or fresh; `close` ends them all."""

    def __init__(self, log_url: str, workdir: Path) -> None:
        self.log_url, self.workdir = log_url, workdir
        self.tokens = workdir / "tokens.json"
        self.started: list[Server] = []
        self.ports: set[int] = set()
        self.lines: queue.Queue[str] = queue.Queue()
        self.zygote = self._popen("--fork", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read_lines, daemon=True)
        self.reader.start()
        self._expect("WARM")

    def _popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        store = ["--store", self.log_url, "--tokens", str(self.tokens)]
        return subprocess.Popen(
            [sys.executable, str(LAUNCHER), *store, *args],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": path},  # this tree's dispatch, not an installed one
            text=True,
            **kwargs,
        )

    def _read_lines(self) -> None:
        assert self.zygote.stdout is not None
        for line in self.zygote.stdout:
            self.lines.put(line.strip())

    def _expect(self, prefix: str) -> str:
        try:
            line = self.lines.get(timeout=HANG_GUARD_S)
        except queue.Empty:
            line = f"nothing (exit {self.zygote.poll()})"
        assert line.startswith(prefix), f"crash_server --fork said {line!r}, not {prefix}..."
        return line

    def _next(self) -> tuple[int, int, Path]:
        """HTTP and websocket ports for the next server, both chosen here: a websocket server
        left to pick its own (port 0) could take the HTTP port chosen for it before uvicorn
        binds it, since the app's start-up runs first."""
        port, ws_port = free_port(self.ports), free_port(self.ports)
        return port, ws_port, self.workdir / f"server-{len(self.started):02d}.out"

    def fork(self) -> ForkedServer:
        """A forked server, ready."""
        port, ws_port, output = self._next()
        assert self.zygote.stdin is not None
        self.zygote.stdin.write(f"start {port} {ws_port} {output}\n")
        self.zygote.stdin.flush()
        pid = int(self._expect("PID ").split()[1])
        server = ForkedServer(port, output, pid, self.lines)
        self.started.append(server)
        server.wait_ready()
        return server

    def fresh(self) -> FreshServer:
        """A server in a new interpreter, ready."""
        port, ws_port, output = self._next()
        with output.open("w") as out:
            proc = self._popen(
                "--port",
                str(port),
                "--ws-port",
                str(ws_port),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = FreshServer(port, output, proc)
        self.started.append(server)
        server.wait_ready()
        return server

    def close(self) -> None:
        try:
            for server in self.started:
                server.kill()
            if self.zygote.stdin is not None:
                self.zygote.stdin.close()  # end of commands: it exits
            self.zygote.wait(timeout=HANG_GUARD_S)
        finally:
            if self.zygote.poll() is None:
                self.zygote.kill()
                self.zygote.wait()
            self.reader.join(timeout=HANG_GUARD_S)
            if self.zygote.stdout is not None:
                self.zygote.stdout.close()


@pytest.fixture
def launcher(log_url: str, tmp_path: Path) -> Iterator[Launcher]:
    """Servers on a fresh log (`log_url`: SQLite or Redis); every one is killed after the test."""
    started = Launcher(log_url, tmp_path)
    try:
        yield started
    finally:
        started.close()


@dataclass
class Ledger:
    """What the client knows: answered calls and cancels, and requests that got no answer."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> request body
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> first answer
    unanswered: set[str] = field(default_factory=set)  # call keys
    cancelled: set[str] = field(default_factory=set)  # incident ids, cancel answered
    cancels_unanswered: set[str] = field(default_factory=set)
    wrong: list[str] = field(default_factory=list)  # answers no client should ever get
    acked_this_cycle: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def call_body(rng: random.Random, n: int) -> dict[str, Any]:
    """A tap inside the Wulin box with a 10 m GNSS fix, from a phone of its own (one phone
    calling again would join its open incident)."""
    fix = {
        "lat": round(rng.uniform(30.275, 30.29), 6),
        "lon": round(rng.uniform(120.14, 120.16), 6),
        "accuracy_m": 10,
    }
    return {"phone": f"+86138{n:08d}", "fix": fix, "consent_location": True}


def post_call(client: httpx.Client, key: str, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/v1/calls", json=body, headers={"Idempotency-Key": key})


def post_cancel(client: httpx.Client, dispatcher: str, incident_id: str) -> httpx.Response:
    return client.post(
        f"/api/v1/incidents/{incident_id}/cancel",
        json={"reason": "crash test"},
        headers={"Authorization": f"Bearer {dispatcher}"},
    )


def stream_calls(
    server: Server,
    dispatcher: str,
    ledger: Ledger,
    rng: random.Random,
    numbers: Iterator[int],
    stop: threading.Event,
) -> None:
    """Post new calls, cancelling some, until `stop`; a transport error ends the stream."""
    with httpx.Client(base_url=server.http, timeout=10) as client:
        while not stop.is_set():
            n = next(numbers)
            key, body = f"crash-{n}-{rng.getrandbits(64):016x}", call_body(rng, n)
            with ledger.lock:
                ledger.sent[key] = body
                ledger.unanswered.add(key)
            try:
                r = post_call(client, key, body)
            except httpx.TransportError:
                return  # the server died under it: never acknowledged, retried after restart
            if r.status_code != 201:
                ledger.wrong.append(f"new call {key}: {r.status_code} {r.text}")
                return
            incident_id = r.json()["incident_id"]
            with ledger.lock:
                ledger.answers[key] = r.json()
                ledger.unanswered.discard(key)
                ledger.acked_this_cycle += 1
            if rng.randrange(CANCEL_ONE_IN):
                continue
            with ledger.lock:
                ledger.cancels_unanswered.add(incident_id)
            try:
                c = post_cancel(client, dispatcher, incident_id)
            except httpx.TransportError:
                return
            if c.status_code != 200:
                ledger.wrong.append(f"cancel {incident_id}: {c.status_code} {c.text}")
                return
            with ledger.lock:
                ledger.cancelled.add(incident_id)
                ledger.cancels_unanswered.discard(incident_id)


def retry_after_restart(
    server: Server, dispatcher: str, ledger: Ledger, rng: random.Random, sample: int
) -> None:
    """Retry every request the kill left unanswered, then `sample` answered calls."""
    with httpx.Client(base_url=server.http, timeout=10) as client:
        for key in sorted(ledger.unanswered):
            r = post_call(client, key, ledger.sent[key])
            # 200: it was logged before the kill (the first answer was lost); 201: it was not
            assert r.status_code in (200, 201), f"retry of {key}: {r.status_code} {r.text}"
            ledger.answers[key] = r.json()
        ledger.unanswered.clear()
        for incident_id in sorted(ledger.cancels_unanswered):
            c = post_cancel(client, dispatcher, incident_id)
            # 200: the cancel died with the process; 409: it was logged, the incident is closed
            assert c.status_code in (200, 409), f"cancel {incident_id}: {c.status_code} {c.text}"
            ledger.cancelled.add(incident_id)
        ledger.cancels_unanswered.clear()
        for key in rng.sample(sorted(ledger.answers), min(sample, len(ledger.answers))):
            r = post_call(client, key, ledger.sent[key])
            assert r.status_code == 200, f"retry of acknowledged {key}: {r.status_code} {r.text}"
            first, again = ledger.answers[key], r.json()
            assert again["incident_id"] == first["incident_id"], key
            assert again["caller_token"] == first["caller_token"], key
            assert again["estimate"]["lat"] == first["estimate"]["lat"], key
            assert again["estimate"]["lon"] == first["estimate"]["lon"], key


def run_until_killed(
    server: Server,
    dispatcher: str,
    ledger: Ledger,
    rng: random.Random,
    numbers: Iterator[int],
    acked_before_kill: int,
) -> None:
    """Stream calls from CLIENTS threads; SIGKILL the server after `acked_before_kill` answers."""
    stop = threading.Event()
    ledger.acked_this_cycle = 0
    clients = [
        threading.Thread(
            target=stream_calls,
            args=(server, dispatcher, ledger, random.Random(rng.random()), numbers, stop),
            daemon=True,
        )
        for _ in range(CLIENTS)
    ]
    for t in clients:
        t.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while ledger.acked_this_cycle < acked_before_kill and not ledger.wrong:
        assert time.monotonic() < deadline, "the server stopped answering calls"
        assert any(t.is_alive() for t in clients), "every client stopped before the kill"
        time.sleep(0.001)
    server.kill(signal.SIGKILL)  # while the clients are still posting
    stop.set()
    for t in clients:
        t.join(timeout=HANG_GUARD_S)
        assert not t.is_alive(), "a client hung after the kill"
    assert not ledger.wrong, ledger.wrong


def test_sigkill_twenty_times_under_calls_loses_and_duplicates_nothing(
    launcher: Launcher, log_url: str
) -> None:
    """20 SIGKILLs under calls: each 201 is kept once; the console shows what the log keeps open."""
    rng = random.Random(f"{SEED}-{log_url.partition(':')[0]}")
    ledger = Ledger()
    numbers = itertools.count(1)  # next() on a count is atomic: one number per call
    dispatcher = ""
    for _ in range(KILLS):
        server = launcher.fork()
        if not dispatcher:  # written by the first server, reused by every later one
            dispatcher = json.loads(launcher.tokens.read_text())["dispatcher"]
        retry_after_restart(server, dispatcher, ledger, rng, RETRIED_PER_RESTART)
        run_until_killed(server, dispatcher, ledger, rng, numbers, rng.randint(*ACKED_BEFORE_KILL))

    last = launcher.fresh()  # a new interpreter: nothing in memory from the killed ones
    retry_after_restart(last, dispatcher, ledger, rng, sample=len(ledger.answers))
    known = {a["incident_id"] for a in ledger.answers.values()}
    assert len(known) == len(ledger.answers), "two keys were answered with one incident"
    expected_open = known - ledger.cancelled
    auth = {"Authorization": f"Bearer {dispatcher}"}
    everything = httpx.get(
        f"{last.http}/api/v1/incidents", params={"open_only": "false"}, headers=auth, timeout=10
    ).json()
    assert {i["incident_id"] for i in everything} == known  # every 201 is there, and nothing else
    assert {i["incident_id"] for i in everything if i["open"]} == expected_open
    ws_base = httpx.get(f"{last.http}/api/v1/endpoints", timeout=10).json()["websocket"]
    with connect(f"{ws_base}/ws/console?token={dispatcher}") as console:
        snapshot = json.loads(console.recv(timeout=10))
    assert snapshot["type"] == "snapshot"
    assert len(snapshot["units"]) == 4  # seeded once, not once per restart
    last.kill(signal.SIGTERM)

    log = open_log(log_url)
    try:
        records = list(log.read())
    finally:
        log.close()
    kinds = Counter(r.event["type"] for r in records)
    assert set(kinds) <= {"UnitRegistered", "CallReceived", "IncidentCancelled", "ClockTicked"}
    assert kinds["UnitRegistered"] == 4
    calls = [r for r in records if r.event["type"] == "CallReceived"]
    assert len(calls) == len({r.idem_key for r in calls}) == len(ledger.answers)
    assert None not in {r.idem_key for r in calls}
    logged = {r.event["incident_id"] for r in calls}
    assert logged == known
    closed = {r.event["incident_id"] for r in records if r.event["type"] == "IncidentCancelled"}
    assert closed == ledger.cancelled
    assert {i["incident_id"] for i in snapshot["incidents"]} == logged - closed == expected_open
    places = {r.event["incident_id"]: (r.event["lat"], r.event["lon"]) for r in calls}
    for shown in snapshot["incidents"]:
        assert (shown["place"]["lat"], shown["place"]["lon"]) == places[shown["incident_id"]]
