"""Login sessions: a bearer token per login that expires, and the counter of failed logins.

A session token is `secrets.token_urlsafe(24)` (192 random bits) handed out once; only its
SHA-256 is kept, with the person's name and when it expires, in a 0600 JSON file beside the
tokens file, so a restart keeps everyone logged in and a copy of the file opens nothing.

    {"sessions": {"<sha256 of the token>": {"name": "wang.fang", "expires_at_s": 1765...}}}

Expiry is fixed: `ttl_s` (JIJIU_SESSION_TTL_S, default 12 h) after the login, however busy the
session is, so a shift's login ends with the shift. Every use re-checks the account: a
disabled one's sessions stop at their next request. The clock is injected (tests move it).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.tokens import sha256_hex, write_private
from dispatch.users import User, UserBook

DEFAULT_TTL_S = 12 * 3600.0


class SessionBook:
    """The live sessions of one server, by the SHA-256 of their token."""

    def __init__(
        self,
        path: Path,
        users: UserBook,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl_s > 0:
            raise ValueError("a session's ttl_s must be positive")
        self.path = path
        self.users = users
        self.ttl_s = ttl_s
        self.clock = clock
        self._by_hash: dict[str, tuple[str, float]] = {}
        self._stamp: tuple[int, int] | None = None
        self._reload()

    def _reload(self) -> None:
        """Read the file if it changed (a standby that took over reads its writer's logins)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._by_hash = {
                str(h): (str(v["name"]), float(v["expires_at_s"]))
                for h, v in dict(data["sessions"]).items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"sessions file {self.path} is unreadable or malformed") from exc
        self._stamp = stamp

    def _save(self) -> None:
        now = self.clock()
        live = {h: s for h, s in self._by_hash.items() if s[1] > now}  # the expired go
        self._by_hash = live
        body = {"sessions": {h: {"name": n, "expires_at_s": t} for h, (n, t) in live.items()}}
        write_private(self.path, json.dumps(body, indent=1, sort_keys=True))
        self._stamp = None

    def issue(self, name: str) -> tuple[str, float]:
        """A new session for `name`: (its token, when it expires, Unix seconds)."""
        self._reload()
        token = secrets.token_urlsafe(24)
        expires_at_s = self.clock() + self.ttl_s
        self._by_hash[sha256_hex(token)] = (name, expires_at_s)
        self._save()
        return token, expires_at_s

    def user_of(self, token: str) -> User | None:
        """The active account a live session token belongs to; None for anything else."""
        key = sha256_hex(token)
        found = self._by_hash.get(key)
        if found is None:
            self._reload()
            found = self._by_hash.get(key)
        if found is None:
            return None
        name, expires_at_s = found
        if self.clock() >= expires_at_s:
            return None
        return self.users.active(name)

    def expires_at_s(self, token: str) -> float | None:
        found = self._by_hash.get(sha256_hex(token))
        return found[1] if found is not None else None

    def revoke(self, token: str) -> bool:
        """End a session (logout); False if it was not one."""
        self._reload()
        if self._by_hash.pop(sha256_hex(token), None) is None:
            return False
        self._save()
        return True


@dataclass
class LoginThrottle:
    """Failed logins per (name, client address): after `max_failures` within `window_s`,
    further tries are refused unhashed until the window since the first failure passes."""

    max_failures: int = 5
    window_s: float = 900.0
    clock: Callable[[], float] = time.time
    max_keys: int = 100_000  # a flood of made-up names cannot grow it without bound
    _failures: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    def retry_after_s(self, key: tuple[str, str]) -> float | None:
        """Seconds until `key` may try again, or None if it may now."""
        found = self._failures.get(key)
        if found is None:
            return None
        count, since_s = found
        left_s = since_s + self.window_s - self.clock()
        if left_s <= 0:
            del self._failures[key]
            return None
        return left_s if count >= self.max_failures else None

    def failed(self, key: tuple[str, str]) -> None:
        now = self.clock()
        count, since_s = self._failures.get(key, (0, now))
        if now - since_s >= self.window_s:
            count, since_s = 0, now
        if len(self._failures) >= self.max_keys and key not in self._failures:
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] < self.window_s}
        self._failures[key] = (count + 1, since_s)

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)
