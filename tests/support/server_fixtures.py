"""Fixtures for tests against a live dispatch server (a pytest plugin, see tests/conftest.py).

`settings` is the small Wulin server every server test starts from; `live` is that server
started, and stopped after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch.settings import Settings
from tests.support.server import Running, start


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
