"""Fixtures for the event-log tests: a real redis-server, and one log URL per backend.

`redis_url` starts one `redis-server` for the session on a free loopback port, configured as
production must be (`DURABLE`). Tests that need to stop a server or misconfigure one start their
own throwaway `RedisServer`. Without redis-server the Redis half skips locally and fails under
CI (`tests.support.services.require_service`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import DURABLE, RedisServer


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
