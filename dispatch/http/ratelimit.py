"""Rate limits per token for the expensive reads: the cockpit and its CSV export, the audit
trail, the incident lists and the quarantine list.

Each identity a token stands for (role and subject, `DispatchService.identify`) has a token
bucket of `reads_burst` reads refilled at `reads_per_min`; a read past it is answered 429
`rate_limited` with `Retry-After` (whole seconds until a read is back) and never reaches the
route. Requests without a known token pass on to their 401. The bucket arithmetic (`take`) is
pure and handed the time; `ExpensiveReads` is the ASGI middleware around it, and
`document_rate_limits` adds the 429 to those operations in the OpenAPI document.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from dispatch.http.common import error_response

# (method, path) of every expensive read, as the OpenAPI document spells the path.
EXPENSIVE: tuple[tuple[str, str], ...] = (
    ("GET", "/api/v1/cockpit"),
    ("GET", "/api/v1/cockpit.csv"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/agencies/{agency_id}/incidents"),
    ("GET", "/api/v1/quarantine"),
)
_PATTERNS = tuple(
    (method, re.compile("^" + re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(path)) + "$"))
    for method, path in EXPENSIVE
)
MAX_BUCKETS = 10_000  # identities tracked; past it, the full (idle) buckets are forgotten


@dataclass(frozen=True)
class Bucket:
    """Reads left (fractional while refilling) as of `at_s` (monotonic seconds)."""

    reads: float
    at_s: float


@dataclass(frozen=True)
class ReadLimit:
    """`burst` reads at once, refilled at `per_min` a minute."""

    per_min: float = 600.0
    burst: int = 120

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_min) and self.per_min > 0):
            raise ValueError("per_min must be a positive number of reads a minute")
        if self.burst < 1:
            raise ValueError("burst must be at least 1 read")


def take(bucket: Bucket | None, now_s: float, limit: ReadLimit) -> tuple[Bucket, float]:
    """One read from `bucket` (None: a new, full one) at `now_s`: the bucket after, and 0 if
    the read is allowed, else the seconds until one is."""
    rate_per_s = limit.per_min / 60.0
    if bucket is None:
        reads = float(limit.burst)
    else:
        reads = min(float(limit.burst), bucket.reads + (now_s - bucket.at_s) * rate_per_s)
    if reads >= 1.0:
        return Bucket(reads - 1.0, now_s), 0.0
    return Bucket(reads, now_s), (1.0 - reads) / rate_per_s


def expensive(method: str, path: str) -> bool:
    """True for a request to one of the rate-limited reads."""
    return any(method == m and pattern.match(path) for m, pattern in _PATTERNS)


class ExpensiveReads:
    """ASGI middleware: the expensive reads of each identity through its token bucket."""

    def __init__(self, app: ASGIApp, per_min: float, burst: int) -> None:
        self.app = app
        self.limit = ReadLimit(per_min, burst)
        self.buckets: dict[tuple[str, str], Bucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not expensive(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        who = _identity(scope)
        if who is not None:
            now_s = time.monotonic()
            bucket, wait_s = take(self.buckets.get(who), now_s, self.limit)
            self._keep(who, bucket, now_s)
            if wait_s > 0:
                retry_after_s = max(1, math.ceil(wait_s))
                response = error_response(
                    429,
                    "rate_limited",
                    f"too many expensive reads with this token; retry in {retry_after_s} s",
                    {"Retry-After": str(retry_after_s)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _keep(self, who: tuple[str, str], bucket: Bucket, now_s: float) -> None:
        self.buckets[who] = bucket
        if len(self.buckets) > MAX_BUCKETS:  # forget whoever is back to a full bucket
            for key, old in list(self.buckets.items()):
                if take(old, now_s, self.limit)[0].reads >= self.limit.burst - 1:
                    del self.buckets[key]


def _identity(scope: Scope) -> tuple[str, str] | None:
    """(role, subject) of the request's bearer token, or None (no token, unknown, no service)."""
    header = dict(scope.get("headers", [])).get(b"authorization", b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    app = scope.get("app")
    svc = getattr(getattr(app, "state", None), "service", None)
    if svc is None:
        return None
    who = svc.identify(token.strip())
    return None if who is None else (str(who[0]), str(who[1]))


def document_rate_limits(spec: dict[str, Any]) -> dict[str, Any]:
    """Each expensive read's OpenAPI operation lists its 429 `rate_limited` and Retry-After."""
    for method, path in EXPENSIVE:
        operation = spec.get("paths", {}).get(path, {}).get(method.lower())
        if operation is None:
            continue
        operation.setdefault("responses", {})["429"] = {
            "description": "Too many expensive reads with this token (`rate_limited`)",
            "headers": {
                "Retry-After": {
                    "description": "whole seconds until a read is allowed again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
    return spec
