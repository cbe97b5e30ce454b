"""Rate limits per token for the expensive reads (issue 22): a token bucket per identity, 429
`rate_limited` with Retry-After past it, documented in the OpenAPI document.

The bucket arithmetic is checked with hand-made times (no clock); then a live server with a
burst of 3 reads and 6 a minute (one every 10 s, so no read comes back during the test).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dispatch.http.ratelimit import EXPENSIVE, Bucket, ReadLimit, expensive, take
from dispatch.settings import Settings
from tests.support.server import Running, auth, start

LIMIT = ReadLimit(per_min=60.0, burst=2)  # one read a second refills


def test_a_full_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    """Burst 2 at 1 read/s: two reads at t=0 pass, the third waits 1 s; at t=0.5 half a read
    is back, so 0.5 s more."""
    bucket, wait = take(None, 0.0, LIMIT)
    assert (bucket, wait) == (Bucket(1.0, 0.0), 0.0)
    bucket, wait = take(bucket, 0.0, LIMIT)
    assert wait == 0.0
    refused, wait = take(bucket, 0.0, LIMIT)
    assert wait == pytest.approx(1.0)
    _, wait = take(refused, 0.5, LIMIT)
    assert wait == pytest.approx(0.5)


def test_a_bucket_refills_to_its_burst_and_no_further() -> None:
    """An hour idle gives back the burst (2 reads), not 3600."""
    bucket = Bucket(0.0, 0.0)
    for _ in range(2):
        bucket, wait = take(bucket, 3600.0, LIMIT)
        assert wait == 0.0
    assert take(bucket, 3600.0, LIMIT)[1] > 0


def test_limits_refuse_nonsense() -> None:
    """No rate, an infinite rate or an empty burst is refused."""
    for bad in ({"per_min": 0.0}, {"per_min": float("inf")}, {"burst": 0}):
        with pytest.raises(ValueError):
            ReadLimit(**bad)  # type: ignore[arg-type]


def test_only_the_expensive_reads_are_limited() -> None:
    """The cockpit, its CSV, audit, the incident lists and quarantine are; one incident, or a
    POST to the list, is not."""
    for path in ("/api/v1/cockpit", "/api/v1/cockpit.csv", "/api/v1/audit", "/api/v1/incidents"):
        assert expensive("GET", path)
    assert expensive("GET", "/api/v1/agencies/police/incidents")
    assert expensive("GET", "/api/v1/quarantine")
    assert not expensive("GET", "/api/v1/incidents/I1")
    assert not expensive("POST", "/api/v1/incidents")
    assert not expensive("GET", "/api/v1/agencies/police/incidents/x")


@pytest.fixture
def limited(settings: Settings, tmp_path: Path) -> Iterator[Running]:
    """A live server whose tokens may make 3 expensive reads at once, then one per 10 s."""
    running = start(replace(settings, reads_per_min=6.0, reads_burst=3))
    yield running
    running.stop()


def test_a_token_past_its_burst_gets_429_with_retry_after(limited: Running) -> None:
    """The dispatcher's 4th audit read in a row is 429 `rate_limited` with Retry-After 1-10;
    the same token still reads a single incident, and a unit's token has a bucket of its own
    (its refusal is the 403 of its role, not a 429)."""
    headers = auth(limited.tokens["dispatcher"])
    url = f"{limited.http}/api/v1/audit"
    assert [httpx.get(url, headers=headers).status_code for _ in range(3)] == [200] * 3
    r = httpx.get(f"{limited.http}/api/v1/cockpit", headers=headers)
    assert r.status_code == 429
    assert r.json()["reason"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 10
    assert httpx.get(f"{limited.http}/api/v1/incidents/nope", headers=headers).status_code == 404
    unit = auth(next(iter(limited.tokens["units"].values())))
    assert httpx.get(url, headers=unit).status_code == 403


def test_an_unknown_token_is_401_not_429(limited: Running) -> None:
    """Ten reads with a made-up token are each 401: no bucket is spent on it."""
    headers = auth("not-a-token")
    codes = {httpx.get(f"{limited.http}/api/v1/audit", headers=headers).status_code}
    codes |= {
        httpx.get(f"{limited.http}/api/v1/audit", headers=headers).status_code for _ in range(9)
    }
    assert codes == {401}


def test_the_openapi_document_lists_the_429(limited: Running) -> None:
    """Each expensive read's operation documents 429 with Retry-After."""
    paths = httpx.get(f"{limited.http}/openapi.json").json()["paths"]
    for method, path in EXPENSIVE:
        answer = paths[path][method.lower()]["responses"]["429"]
        assert "Retry-After" in answer["headers"], path


def test_the_limits_are_read_from_the_environment() -> None:
    """JIJIU_READS_PER_MIN and JIJIU_READS_BURST set the bucket; an empty burst is refused."""
    env = {"JIJIU_READS_PER_MIN": "30", "JIJIU_READS_BURST": "5"}
    s = Settings.from_env(env)
    assert (s.reads_per_min, s.reads_burst) == (30.0, 5)
    assert (Settings().reads_per_min, Settings().reads_burst) == (600.0, 120)
    with pytest.raises(ValueError):
        Settings.from_env({"JIJIU_READS_BURST": "0"})
