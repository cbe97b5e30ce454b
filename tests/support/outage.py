"""Real store faults for the outage tests, and callers that retry through them.

`SmallDisk` mounts a size-limited tmpfs (the tests run as root, locally and in CI; a refused
mount skips locally and fails under `CI=true`, as `require_service` does), fills it with a
ballast file until the kernel says ENOSPC, and frees it again. `call_stream` is the caller
app's contract: one key per tap, the same key on every retry, waiting what `Retry-After` says,
until the call is answered. `store_503_problems` checks a 503 says no more than it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import HERE
from tests.support.services import require_service

STORE_REASONS = {"store_unavailable", "store_recovering", "store_diverged", "standby"}
CHUNK_BYTES = 1 << 16


class SmallDisk:
    """A tmpfs of `size` (e.g. "16m") mounted at `path`; `fill`, `free`, then `unmount`."""

    def __init__(self, path: Path, size: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
        require_service(
            f"a size-limited tmpfs (mount: {mounted.stderr!r})", mounted.returncode == 0
        )
        self.path = path
        self.ballast = path / "ballast"

    def fill(self) -> int:
        """Write the ballast until the filesystem is full; the bytes written."""
        written = 0
        with open(self.ballast, "wb", buffering=0) as f:  # unbuffered: no flush fails at close
            for size in (CHUNK_BYTES, 4096, 1):  # big chunks, then the last blocks
                try:
                    while n := f.write(b"\0" * size):
                        written += n
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
            with contextlib.suppress(OSError):  # tmpfs has nothing to sync
                os.fsync(f.fileno())
        return written

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@dataclass
class Answer:
    """One tap and its retries until answered."""

    key: str
    incident_id: str | None = None
    status: int | None = None
    answered_at: float | None = None  # monotonic
    refusals: int = 0  # 503s before the answer
    problems: list[str] = field(default_factory=list)  # 503s that said too much or too little


def call_body(phone: str, complaint: str = "chest_pain") -> dict[str, Any]:
    return {"phone": phone, "consent_location": True, "fix": HERE, "complaint": complaint}


def store_503_problems(response: httpx.Response) -> list[str]:
    """What is wrong with a store 503: a missing Retry-After, an unknown reason, internals."""
    problems = []
    if not response.headers.get("Retry-After", "").isdigit():
        problems.append("no Retry-After")
    body = response.json()
    if body.get("reason") not in STORE_REASONS:
        problems.append(f"reason {body.get('reason')!r}")
    text = response.text.lower()
    for leak in ("127.0.0.1", "redis", "lua", "sqlite", "error", "disk", "traceback"):
        if leak in text:
            problems.append(f"says {leak!r}")
    return problems


async def call_until_answered(
    client: httpx.AsyncClient, http: str, key: str, phone: str, give_up_s: float = 45.0
) -> Answer:
    """Post one call, retrying with the same key after each 503 as Retry-After says."""
    answer = Answer(key)
    deadline = time.monotonic() + give_up_s
    while time.monotonic() < deadline:
        r = await client.post(
            f"{http}/api/v1/calls", json=call_body(phone), headers={"Idempotency-Key": key}
        )
        if r.status_code == 503:
            answer.refusals += 1
            answer.problems += store_503_problems(r)
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        answer.status, answer.answered_at = r.status_code, time.monotonic()
        if r.status_code in (200, 201):
            answer.incident_id = r.json()["incident_id"]
        return answer
    return answer


async def call_stream(http: str, rate_per_s: float, duration_s: float) -> list[Answer]:
    """Taps at `rate_per_s` for `duration_s`, one phone each, each retried until answered."""
    async with httpx.AsyncClient(timeout=30) as client:
        tasks = []
        for i in range(int(rate_per_s * duration_s)):
            phone = f"+86139{i:08d}"
            tasks.append(asyncio.create_task(call_until_answered(client, http, f"tap-{i}", phone)))
            await asyncio.sleep(1.0 / rate_per_s)
        return list(await asyncio.gather(*tasks))
