"""The console says at once when the event log stops acknowledging writes, and when it heals:
a real redis-server is stopped and started again under a live console page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dispatch.settings import Settings
from tests.support.pages import WAIT_MS, Console
from tests.support.redis_server import DURABLE, RedisServer
from tests.support.server import new_call, start


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A durable redis-server of this test's own, to stop and start again."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir, *DURABLE)
    yield server
    server.stop()


def test_a_store_outage_and_its_end_show_on_the_console_from_the_servers_frames(
    settings: Settings, redis: RedisServer, console: Console
) -> None:
    """/readyz is held at 200 for the page, so only the `store.degraded` frame can raise the
    banner when a call's append fails, and only `store.restored` can clear it after Redis is
    back (the page's own /readyz poll would say nothing)."""
    live = start(replace(settings, store_url=f"{redis.url}?prefix=page:"))
    try:
        page = console.page
        page.route("**/readyz", lambda route: route.fulfill(status=200, json={"status": "ready"}))
        console.open(live, live.tokens["dispatcher"])
        console.ready()
        redis.stop()
        assert new_call(live, "outage-1").status_code == 503
        expect(page.locator("#banner")).to_contain_text(
            "Server degraded (store_unavailable)", timeout=WAIT_MS
        )
        expect(page.locator("#ready")).to_have_text("server store_unavailable")
        redis.restart()
        expect(page.locator("#banner")).to_be_hidden(timeout=15_000)
        expect(page.locator("#ready")).to_have_text("server ready")
        assert new_call(live, "outage-1").status_code == 201
    finally:
        live.stop()
