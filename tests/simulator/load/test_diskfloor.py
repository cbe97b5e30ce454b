"""The disk-floor probe: bare fsync'd SQLite commits in a thread beside the caller's work."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from simulator.load.diskfloor import disk_floor


def test_the_probe_commits_rows_and_times_each_commit(tmp_path: Path) -> None:
    """At 50 commits/s for 0.1 s the block's end waits for the probe: every timed commit is a
    row in the file, and there is at least the first one (the probe commits at once)."""
    path = tmp_path / "probe.db"
    with disk_floor(path, 50.0, 0.1) as samples:
        pass
    assert len(samples) >= 1 and all(s > 0 for s in samples)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM e").fetchone()[0] == len(samples)


def test_a_probe_needs_a_positive_rate(tmp_path: Path) -> None:
    """A rate of 0 commits/s is refused before any thread starts."""
    with pytest.raises(ValueError, match="positive"), disk_floor(tmp_path / "x.db", 0.0, 1.0):
        pass
