"""Data at rest (issue 22): the event log, its WAL and SHM, the tokens file and the folders the
server makes for them are readable by the server's user only, whatever the umask it starts with.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dispatch.store.sqlite_log import SqliteLog


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The process's umask set to `mask` for the block (the usual 022 lets anyone read)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_log_its_wal_shm_and_folder_are_private(tmp_path: Path) -> None:
    """Under umask 022 a log in a missing folder: folder 0700, database, -wal and -shm 0600."""
    path = tmp_path / "new" / "events.db"
    with umask(0o022):
        log = SqliteLog(path)
        try:
            log.append(1.0, {"type": "probe"})
            made = [path, path.with_name("events.db-wal"), path.with_name("events.db-shm")]
            assert {p.name: mode_of(p) for p in made} == {p.name: 0o600 for p in made}
            assert mode_of(path.parent) == 0o700
        finally:
            log.close()


def test_an_existing_log_keeps_its_mode(tmp_path: Path) -> None:
    """A database the operator made 0640 stays 0640: only what the log creates is tightened."""
    path = tmp_path / "events.db"
    SqliteLog(path).close()
    os.chmod(path, 0o640)
    log = SqliteLog(path)
    log.close()
    assert mode_of(path) == 0o640


def test_jijiu_serve_creates_its_files_private(tmp_path: Path, repo_root: Path) -> None:
    """`jijiu serve` started under umask 022 makes its tokens folder 0700, the tokens file, the
    event log and its WAL 0600 (its own umask is 077)."""
    db = tmp_path / "data" / "events.db"
    tokens = tmp_path / "keys" / "tokens.json"
    (tmp_path / "data").mkdir()
    argv = [sys.executable, "-m", "dispatch", "serve", "--network", "wulin"]
    argv += ["--store", f"sqlite:///{db}", "--tokens", str(tokens), "--port", "0"]
    argv += ["--ws-port", "0"]
    with umask(0o022):
        server = subprocess.Popen(
            argv, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    try:
        wal = db.with_name("events.db-wal")
        deadline = time.monotonic() + 120
        while not (tokens.exists() and wal.exists() and wal.stat().st_size > 0):
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server made no files"
            time.sleep(0.1)
        made = (tokens, db, wal)  # while it runs: a clean stop folds the WAL away
        assert {p.name: mode_of(p) for p in made} == {p.name: 0o600 for p in made}
        assert mode_of(tokens.parent) == 0o700
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
