"""The servers a run drives, each in its own process on loopback: `jijiu serve` and a private
`redis-server`.

Shared by the load test (`simulator.load.target.serve`) and the server and vitals benchmarks.
Their own processes, so the server's RSS and CPU are its own and the GIL is not shared with the
load generator. Every wait is bounded; a server is Ctrl-C'd (then killed) when its block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.load.loadgen import stop_server

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
LOG_EXCERPT_LINES = 60  # lines above INFO kept from a server's log when it stops


class RunFailed(RuntimeError):
    """The run could not start or went wrong outside what the report measures."""


@dataclass(frozen=True)
class Served:
    """A `jijiu serve` process we started: where it listens, its tokens, its work dir and log."""

    proc: subprocess.Popen[bytes]
    port: int
    ws_port: int
    tokens: dict[str, Any]
    start_s: float  # from the spawn to /readyz answering 200
    workdir: Path
    host: str = LOOPBACK
    # Filled when it stops: its log's lines above INFO (the first LOG_EXCERPT_LINES).
    log_excerpt: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def above_info(log_text: str) -> list[str]:
    """The non-blank lines of a server log that are not uvicorn's `INFO:` lines."""
    return [ln for ln in log_text.splitlines() if ln.strip() and not ln.startswith("INFO:")]


def log_note(log_text: str) -> str | None:
    """What a server's log warned about, in one line (its three most common kinds); None
    when nothing above INFO."""
    lines = above_info(log_text)
    if not lines:
        return None
    kinds = Counter(line[:60] for line in lines).most_common(3)
    return f"server log: {len(lines)} lines above INFO, most common: {kinds}"


@contextmanager
def event_log(backend: str, workdir: Path) -> Iterator[str]:
    """The store URL of a fresh event log in `workdir`: "sqlite" (a file) or "redis" (a
    private redis-server, stopped afterwards)."""
    if backend == "redis":
        with redis_server(workdir) as url:
            yield url
    elif backend == "sqlite":
        yield f"sqlite:///{workdir}/ev.db"
    else:
        raise ValueError(f"an event-log backend is sqlite or redis, not {backend!r}")


@contextmanager
def jijiu_serve(
    network: str,
    units: int,
    store_url: str,
    workdir: Path,
    ready_s: float = 600.0,
    root: Path = ROOT,
    extra_env: Mapping[str, str] | None = None,
    probe: str = "/readyz",
) -> Iterator[Served]:
    """`python -m dispatch serve` on `network` with `units` seeded, its tokens file and log in
    `workdir`; yields once /readyz answers 200, stops it on the way out. `root` is the source
    tree it runs (another checkout: an earlier version to compare with); `extra_env` adds
    JIJIU_* settings; `probe` "/healthz" yields once it answers at all (a standby, which is
    alive but not ready)."""
    port, ws_port = free_port(), free_port()
    while ws_port == port:
        ws_port = free_port()
    tokens = workdir / "tokens.json"
    env = {
        **os.environ,
        **(extra_env or {}),
        "JIJIU_SEED_FLEET": str(units),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "dispatch", "serve", "--network", network]
    cmd += ["--store", store_url, "--tokens", str(tokens), "--host", LOOPBACK]
    cmd += ["--port", str(port), "--ws-port", str(ws_port)]
    log_path = workdir / "server.log"
    t0 = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        served: Served | None = None
        try:
            wait_ready(proc, port, ready_s, log_path, probe)
            ready = time.monotonic() - t0
            served = Served(proc, port, ws_port, json.loads(tokens.read_text()), ready, workdir)
            yield served
        finally:
            stop_server(proc)
    if served is not None:
        served.log_excerpt.extend(
            above_info(log_path.read_text(errors="replace"))[:LOG_EXCERPT_LINES]
        )


def wait_ready(
    proc: subprocess.Popen[bytes], port: int, ready_s: float, log: Path, probe: str = "/readyz"
) -> None:
    """Poll GET `probe` until 200; RunFailed if the process exits or `ready_s` passes."""
    deadline = time.monotonic() + ready_s
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise RunFailed(f"the server exited with {proc.returncode} at start:\n{tail}")
        if time.monotonic() > deadline:
            raise RunFailed(f"the server was not ready within {ready_s:.0f} s")
        url = f"http://{LOOPBACK}:{port}{probe}"
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server (appendonly, fsync always) on a free loopback port; its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RunFailed("redis-server is not installed")
    port = free_port()
    args = ["--port", str(port), "--bind", LOOPBACK, "--dir", str(workdir)]
    args += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"]
    with (workdir / "redis.log").open("w") as log:
        proc = subprocess.Popen([exe, *args], stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_redis(proc, port)
            yield f"redis://{LOOPBACK}:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_redis(proc: subprocess.Popen[bytes], port: int) -> None:
    """Wait (at most 10 s) until the redis-server answers PING."""
    for _ in range(100):
        if proc.poll() is not None:
            raise RunFailed("redis-server exited at start")
        with suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            if conn.recv(64).startswith(b"+PONG"):
                return
        time.sleep(0.1)
    raise RunFailed("redis-server did not answer within 10 s")
