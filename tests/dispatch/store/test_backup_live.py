"""`jijiu backup` under load and `jijiu restore` into a fresh folder, against real servers on
loopback, from a SQLite and from a Redis log: the restored server serves every call acknowledged
before the backup began, with the same incident id, and no incident nobody was answered for.
No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dispatch.settings import Settings
from tests.support.server import Running, auth, new_call, start

ROOT = Path(__file__).resolve().parents[3]
CALL_EVERY_S = 0.05  # the steady rate calls are posted at: 20 a second


def jijiu(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m dispatch ARGS` from the source tree, as a person would run `jijiu`."""
    return subprocess.run(
        [sys.executable, "-m", "dispatch", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Caller(threading.Thread):
    """Posts one call every CALL_EVERY_S until stopped; keeps (key, incident id, answered at)
    of every call answered 201."""

    def __init__(self, live: Running) -> None:
        super().__init__(daemon=True)
        self.live, self.stop = live, threading.Event()
        self.answered: list[tuple[str, str, float]] = []
        self.failed = 0

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            key = f"backup-{n}"
            answer = new_call(self.live, key)
            if answer.status_code == 201:
                self.answered.append((key, answer.json()["incident_id"], time.monotonic()))
            else:
                self.failed += 1
            n += 1
            self.stop.wait(CALL_EVERY_S)

    def until(self, calls: int) -> None:
        """Wait until at least `calls` calls were answered (bounded)."""
        for _ in range(600):
            if len(self.answered) >= calls:
                return
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.answered)} calls answered")


@pytest.fixture(params=["sqlite", "redis"])
def served(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The small server's settings on a SQLite log, or on a Redis log under a prefix of its
    own (restored below into SQLite: a backup's format is the same from either)."""
    if request.param == "sqlite":
        return settings
    url: str = request.getfixturevalue("redis_url")
    return replace(settings, store_url=f"{url}?prefix=bl{uuid.uuid4().hex[:10]}:")


def test_a_backup_under_load_restores_every_acknowledged_call(
    served: Settings, tmp_path: Path
) -> None:
    """Calls at 20/s before, during and after `jijiu backup`; restored into a fresh folder, a
    new server lists every incident acknowledged before the backup began (same ids), only
    incidents some call was answered for, the same tokens, and a retried key's incident."""
    settings = served
    live = start(settings)
    caller = Caller(live)
    caller.start()
    try:
        caller.until(20)
        began = time.monotonic()
        done = jijiu(
            "backup",
            str(tmp_path / "backup"),
            "--store",
            settings.store_url,
            "--tokens",
            str(settings.tokens_file),
        )
        assert done.returncode == 0, done.stderr
        seen = len(caller.answered)
        caller.until(seen + 10)  # calls go on being answered after the backup too
    finally:
        caller.stop.set()
        caller.join(timeout=30)
        live.stop()
    assert caller.failed == 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["side_files"]["tokens"] == "tokens.json"
    for name, file in (("data_key", "jijiu-data.key"), ("key_ring", "jijiu-keys.db")):
        if (settings.tokens_file.parent / file).exists():  # the server seals callers' numbers
            assert manifest["side_files"][name] == file

    fresh = tmp_path / "fresh"
    restored = replace(
        settings, store_url=f"sqlite:///{fresh / 'events.db'}", tokens_file=fresh / "tokens.json"
    )
    args = ["--store", restored.store_url, "--tokens", str(restored.tokens_file)]
    done = jijiu("restore", str(tmp_path / "backup"), *args)
    assert done.returncode == 0, done.stderr
    again = jijiu("restore", str(tmp_path / "backup"), *args)
    assert again.returncode == 2 and "--force" in again.stderr  # a store with records is kept

    live = start(restored)
    try:
        assert live.tokens == json.loads(settings.tokens_file.read_text())
        token = live.tokens["dispatcher"]
        listed = httpx.get(
            f"{live.http}/api/v1/incidents", params={"open_only": "false"}, headers=auth(token)
        ).json()
        ids = {i["incident_id"] for i in listed}
        before = {iid for _, iid, at in caller.answered if at < began}
        assert before and before <= ids
        assert ids <= {iid for _, iid, _ in caller.answered}
        key, iid, _ = caller.answered[0]
        retried = new_call(live, key)
        assert retried.json()["incident_id"] == iid
    finally:
        live.stop()
