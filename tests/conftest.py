"""Fixtures shared by every test, and the rule for tests that need an outside service.

A test that needs a service (say `redis-server`) calls `require_service`: on a developer's
machine a missing service skips the test, but under CI (`CI=true`) it fails, so a green CI run
cannot hide a service that was never installed or started. Import it in a test module as
`from tests.conftest import require_service` (tests run in pytest's importlib mode, so test
folders need no `__init__.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def require_service(name: str, available: bool) -> None:
    """Skip the calling test if service `name` is not available, or fail it under CI."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{name} is not available")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root, so tests can find data/ and tests/data/ without relying on cwd."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_dir(repo_root: Path) -> Path:
    """The shipped run-time data (the Hangzhou network and hospitals)."""
    return repo_root / "data"


@pytest.fixture(scope="session")
def test_data_dir(repo_root: Path) -> Path:
    """Files that exist only for tests (the West Oakland OSM extract)."""
    return repo_root / "tests" / "data"
