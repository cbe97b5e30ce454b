"""The rule for tests that need an outside service (redis-server, Chromium, ...).

A test that needs a service calls `require_service`: on a developer's machine a missing service
skips the test, but under CI (`CI=true`) it fails, so a green CI run cannot hide a service that
was never installed or started.
"""

from __future__ import annotations

import os

import pytest


def require_service(name: str, available: bool) -> None:
    """Skip the calling test if service `name` is not available, or fail it under CI."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{name} is not available")
