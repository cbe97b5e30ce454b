"""Fixtures shared by every test, and the plugins that bring the rest.

Shared helpers live in `tests/support/` and are imported as `tests.support.<module>` (tests run
in pytest's importlib mode from the repository root, so test folders need no `__init__.py`); no
test imports another test module or a conftest (`tests/test_layout.py`). The fixtures of the
live server and of the page tests are plugins in `tests/support/`, registered here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.server_fixtures",  # settings, live
    "tests.support.browser",  # browser, console, artefacts
    "tests.support.frames",  # every websocket frame received is checked against docs/schemas
]

REPO_ROOT = Path(__file__).resolve().parents[1]


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
