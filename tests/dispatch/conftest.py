"""Fixtures for the event-log tests: a real redis-server, and one log URL per backend.

`redis_url` starts one `redis-server` for the session on a free loopback port, configured as
production must be (AOF, fsync on every write, no RDB snapshots). Tests that need to stop a
server or misconfigure one start their own throwaway `RedisServer`. Without redis-server the
Redis half skips locally and fails under CI (`tests.conftest.require_service`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from dispatch.settings import Settings
from tests.conftest import require_service
from tests.dispatch.test_server import Running, start

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # the `browser` fixture skips, or fails under CI=true
    sync_playwright = None  # type: ignore[assignment]

#: The system Chromium the page tests drive (nothing is downloaded).
CHROMIUM = os.environ.get("JIJIU_CHROMIUM") or shutil.which("chromium")

DURABLE = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process in its own directory; `url` once started."""

    def __init__(self, workdir: Path, *options: str) -> None:
        binary = shutil.which("redis-server")
        require_service("redis-server", binary is not None)
        assert binary is not None
        self.workdir, self.port = workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        args += ["--logfile", str(workdir / "redis.log"), *options]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(100):  # up to ~5 s
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if self.proc.poll() is not None:
                        break
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not start; see {workdir / 'redis.log'}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared durable redis-server's URL (database 0); stopped at the end of the session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), *DURABLE)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start extra servers, to stop or misconfigure; no options means the durable ones.

    Every server started is stopped after the test.
    """
    started: list[RedisServer] = []

    def start(*options: str) -> RedisServer:
        workdir = tmp_path / f"redis-{len(started)}"
        workdir.mkdir()
        started.append(RedisServer(workdir, *(options or DURABLE)))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty event log URL: a file in tmp_path, or a key prefix of its own in Redis."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"  # tmp_path is absolute: sqlite:////tmp/...
    url: str = request.getfixturevalue("redis_url")
    return f"{url}?prefix=t{uuid.uuid4().hex[:12]}:"


# --- a live dispatch server (the server tests) -------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Wulin, a fresh SQLite log and tokens file, four units; offers never time out in a test."""
    return Settings(
        network="wulin",
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        tokens_file=tmp_path / "tokens.json",
        port=0,
        ws_port=0,
        seed_fleet=4,
        ack_timeout_s=3600.0,
        tick_s=0.2,
    )


@pytest.fixture
def live(settings: Settings) -> Iterator[Running]:
    """A started server, stopped after the test."""
    running = start(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless system Chromium per test module (the page tests); each test opens its own
    context. Without Chromium or Playwright: a skip locally, a failure under CI=true."""
    require_service("playwright (pip)", sync_playwright is not None)
    require_service("chromium", CHROMIUM is not None)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()
