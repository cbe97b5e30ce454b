"""Schemathesis over every operation of the OpenAPI document (issue 22): a bounded, seeded run
against a live server over loopback, as the dispatcher, a unit and a volunteer would call.

Each operation gets schemathesis's coverage cases (every bound, one past it, wrong types, a
missing or an unknown field: deterministic, ~1,700 in all), then `EXAMPLES` random cases that
fit its schema and `EXAMPLES` that break it (derandomized: the same on every run). Every
answer must be no 5xx, a documented status code and match its documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.support.server import Running, auth, small_server

EXAMPLES = 12  # per operation and mode: ~50 operations, ~1,000 cases
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One small server the fuzzer may fill with calls, jams and volunteers."""
    yield from small_server(tmp_path_factory, "fuzz")


def token_for(server: Running, path: str, volunteer: str) -> str:
    """The role a real client of `path` holds: a unit on /units, a volunteer on /me, the
    dispatcher elsewhere (the traffic feed's own token on /traffic writes)."""
    if path.startswith("/api/v1/units/"):
        return str(next(iter(server.tokens["units"].values())))
    if path.startswith("/api/v1/volunteers/me"):
        return volunteer
    return str(server.tokens["dispatcher"])


def test_no_operation_answers_5xx_or_off_its_schema(server: Running) -> None:
    """Every operation, `EXAMPLES` seeded valid and invalid cases each: no 5xx, documented
    statuses and bodies."""
    spec = httpx.get(f"{server.http}/openapi.json").json()
    volunteer = httpx.post(
        f"{server.http}/api/v1/volunteers",
        json={"phone": "+8613911118888"},
        headers={"Idempotency-Key": "fuzz-volunteer"},
    ).json()["token"]
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    failures: list[str] = []
    for operation in operations:
        headers = auth(token_for(server, operation.path, volunteer))
        coverage = schema.iter_coverage_cases(
            operation,
            generation_modes=list(GenerationMode),
            generation_config=schema.config.generation_for(operation=operation),
        )
        for case in coverage:
            response = case.call(base_url=server.http, headers=headers, timeout=30)
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:
                failures.append(f"coverage {case.method} {case.formatted_path}: {exc}"[:2000])
                break  # one failure per operation says enough
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = fuzz(
                server, operation, mode, auth(token_for(server, operation.path, volunteer))
            )
            if failure is not None:
                failures.append(failure)
    assert failures == [], "\n\n".join(failures)


def fuzz(
    server: Running, operation: Any, mode: GenerationMode, headers: dict[str, str]
) -> str | None:
    """Run one operation's seeded cases of `mode`; the first failure as text, or None."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=server.http, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing to break: no parameter, or only an enum in the path
        return None
    except Exception as exc:  # every operation's failure is collected, then all reported
        return f"{mode.value} {operation.method.upper()} {operation.path}: {exc}"[:2000]
    return None
