"""The writer's lease: one process at a time appends to a shared event log, fenced.

Two `jijiu serve` processes on one Redis would otherwise both take calls and send the same
ambulance to two incidents. The lease is a Redis key set with `SET NX PX` (free, or expired)
holding the holder's id; taking it also increments the fencing token, and every append batch
carries the token and is refused atomically (`FENCE_LUA`, in the batch's transaction) when a
newer one exists. So a leader that was paused past its lease (SIGSTOP, a long GC, a cut network)
and wakes up cannot write a single record after a standby took over: its next batch fails with
`Fenced` and it turns standby itself.

`Lease.try_acquire` takes it (blocking, StoreError while Redis is down); a daemon thread renews
it every third of its lifetime and calls `on_lost` (from that thread) once a newer writer holds
it. While Redis does not answer the renewals wait: our appends fail then too, and one that
reaches Redis after another process took over is fenced off. A lease that expired during a Redis
outage with nobody taking it is simply renewed (the token is still ours: nobody else wrote).
`release` gives it up at a clean stop. A backend without leases (SQLite, one local file) does
not use this module.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Protocol

from dispatch.errors import StoreError


class Leasable(Protocol):
    """An event log with a writer's lease (dispatch.store.redis_log.RedisLog)."""

    def acquire(self, holder: str, ttl_ms: int) -> int | None: ...

    def renew(self, holder: str, ttl_ms: int) -> bool: ...

    def release(self, holder: str) -> None: ...


def leasable(log: object) -> bool:
    """True for a log that is shared between processes and so needs the lease."""
    return all(callable(getattr(log, name, None)) for name in ("acquire", "renew", "release"))


class Lease:
    """This process's claim to be the one writer."""

    def __init__(self, log: Leasable, ttl_s: float, on_lost: Callable[[str], None]) -> None:
        if not 0.3 <= ttl_s <= 600:
            raise ValueError(f"a lease lives 0.3-600 s, not {ttl_s!r}")
        self.log = log
        self.ttl_s = ttl_s
        self.on_lost = on_lost
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.token: int | None = None
        self.held = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ttl_ms(self) -> int:
        return round(self.ttl_s * 1000)

    def try_acquire(self) -> bool:
        """Take the lease if it is free (True), and keep renewing it; False when another
        process holds it. StoreError while the log cannot be reached."""
        if self.held:
            return True
        token = self.log.acquire(self.holder, self.ttl_ms)
        if token is None:
            return False
        self.token, self.held = token, True
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name="jijiu-lease", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                ours = self.log.renew(self.holder, self.ttl_ms)
            except StoreError:
                ours = None  # unknown: Redis did not answer
            if ours is None:
                # Redis does not answer: nor do our appends, and nobody else can take the
                # lease there either. Keep trying; the fence guards the log if one did.
                continue
            if ours:
                continue
            self.held = False
            if not self._stop.is_set():
                self.on_lost("lease_lost")
            return

    def release(self) -> None:
        """Stop renewing and give the lease up (a standby may take over at once)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        if self.held:
            self.held = False
            self.log.release(self.holder)
