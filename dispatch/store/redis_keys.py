"""Every Redis key jijiu writes, in one place (as `arq/constants.py` does for arq).

All keys share a prefix, "jijiu:" by default; tests give each run its own so they never meet.
The event-log script touches three keys at once, so under Redis Cluster they would need one
hash slot: a prefix like "{jijiu}:" gives them that.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "jijiu:"


@dataclass(frozen=True)
class Keys:
    """The key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix.isprintable() or " " in self.prefix:
            raise ValueError(f"a key prefix is printable with no spaces, not {self.prefix!r}")

    @property
    def events(self) -> str:
        """Stream: one entry per record, entry id "<seq>-0", fields seq, at_s, body, key."""
        return self.prefix + "events"

    @property
    def idem(self) -> str:
        """Hash: idempotency key -> seq of the record written with it."""
        return self.prefix + "idem"

    @property
    def seq(self) -> str:
        """String: the last seq given out (0 or missing for an empty log)."""
        return self.prefix + "seq"

    @property
    def refused(self) -> str:
        """String, only inside one transaction: set when its feed records are refused."""
        return self.prefix + "batch-refused"

    @property
    def lease(self) -> str:
        """String with a TTL: the holder id of the one process allowed to write
        (dispatch.store.lease)."""
        return self.prefix + "lease"

    @property
    def fence(self) -> str:
        """String: the fencing token, one more for every new lease holder; an append carrying
        another token is refused."""
        return self.prefix + "fence"

    @property
    def snapshots(self) -> str:
        """Hash: last seq covered -> a snapshot's bytes (dispatch.store.snapshot), the two
        newest."""
        return self.prefix + "snapshots"

    def feed(self, name: str) -> str:
        """Stream: one feed's records (dispatch.store.eventlog), entry id "<seq>-0", fields at_s,
        body."""
        return self.prefix + "feed:" + name
