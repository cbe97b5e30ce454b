"""Rules across fields of a request body (issue 22): each broken rule is a 422 with a reason
whose error `type` names the rule, and the OpenAPI document says the rule.

The models are checked directly (no server: the rules are the models'), then one live server
shows the 422 on the wire and the rules in `/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from dispatch.http.agencies import FlagIn
from dispatch.http.cockpit import BadPeriod, period
from dispatch.http.volunteers import DutyIn
from dispatch.http.wire import MAX_CLOCK_SKEW_S, CallIn, FixIn, HospitalStatusIn
from tests.support.server import HERE, Running, auth, phone_of, small_server

POINT = {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12}
NO_POINT = {"lat": 0, "lon": 0, "accuracy_m": 12}


def rule_broken(model: type[BaseModel], body: dict[str, Any]) -> str:
    """The error type of the one rule `body` breaks (the test fails if it validates)."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return str(errors[0]["type"])


def iso_in(seconds: float) -> str:
    """An ISO-8601 UTC time `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_a_fix_stamped_beyond_the_clock_skew_is_refused() -> None:
    """A fix 10 minutes ahead is `fix_in_future`; 1 minute ahead (a phone's drift) passes."""
    assert rule_broken(FixIn, POINT | {"observed_at": iso_in(600)}) == "fix_in_future"
    assert MAX_CLOCK_SKEW_S >= 60
    assert FixIn.model_validate(POINT | {"observed_at": iso_in(60)}).observed_at is not None


def test_no_point_takes_no_confidence_time_or_crs() -> None:
    """0,0 is "no fix": with a confidence, an age, a time or GCJ-02 it is
    `details_without_point`; bare 0,0 with its accuracy still passes."""
    for extra in (
        {"confidence": 0.95},
        {"age_s": 5},
        {"observed_at": iso_in(-5)},
        {"crs": "gcj02"},
    ):
        assert rule_broken(FixIn, NO_POINT | extra) == "details_without_point", extra
    assert FixIn.model_validate(NO_POINT).to_fix(0.0) is None


def test_a_radius_or_confidence_without_a_point_is_refused() -> None:
    """An accuracy or a confidence with no lat/lon, or a confidence with no radius, is 422:
    the schema requires the point and the radius (`missing`)."""
    for body in (
        {"accuracy_m": 12},
        {"accuracy_m": 12, "confidence": 0.68},
        {"lat": 30.28, "lon": 120.14, "confidence": 0.68},
    ):
        with pytest.raises(ValidationError) as info:
            FixIn.model_validate(body)
        assert {e["type"] for e in info.value.errors()} == {"missing"}, body


def test_a_time_given_twice_is_refused() -> None:
    """Both `observed_at` and `age_s` is `time_given_twice`."""
    assert rule_broken(FixIn, POINT | {"age_s": 3, "observed_at": iso_in(-3)}) == (
        "time_given_twice"
    )


def test_a_list_naming_one_thing_twice_is_refused() -> None:
    """A capability diverted twice or an agency flagged twice is `duplicate_entries`."""
    status = {"diverted": ["pci", "pci"], "expires_in_s": 600}
    assert rule_broken(HospitalStatusIn, status) == "duplicate_entries"
    assert rule_broken(FlagIn, {"agencies": ["police", "police"]}) == "duplicate_entries"
    assert FlagIn.model_validate({"agencies": ["police", "fire"]}).agencies == ["police", "fire"]


def test_going_off_duty_with_a_consent_is_refused() -> None:
    """Off duty with `consent_expires_in_s` is `consent_without_duty`; off duty bare passes."""
    body = {"on_duty": False, "consent_expires_in_s": 600}
    assert rule_broken(DutyIn, body) == "consent_without_duty"
    assert DutyIn.model_validate({"on_duty": False}).on_duty is False


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    """The cockpit's `since` at or after its `until` is `bad_period` (a 422)."""
    with pytest.raises(BadPeriod):
        period(24.0, 2000.0, 1000.0)
    assert period(24.0, 1000.0, 2000.0) == (1000.0, 2000.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One small server for the rules on the wire."""
    yield from small_server(tmp_path_factory, "cross")


def test_a_broken_rule_is_a_422_with_reason_and_rule(server: Running) -> None:
    """A call whose fix is an hour in the future: 422 `invalid_request`, the error's type
    `fix_in_future`, and the time sent is not echoed."""
    stamp = iso_in(3600)
    body = {
        "phone": phone_of("cross-1"),
        "consent_location": True,
        "fix": HERE | {"observed_at": stamp},
    }
    r = httpx.post(f"{server.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "cross-1"})
    assert r.status_code == 422
    assert r.json()["reason"] == "invalid_request"
    assert [e["type"] for e in r.json()["detail"]] == ["fix_in_future"]
    assert stamp not in r.text


def test_the_cockpit_refuses_a_backwards_period_on_the_wire(server: Running) -> None:
    """GET /cockpit with since after until: 422 `bad_period`."""
    r = httpx.get(
        f"{server.http}/api/v1/cockpit",
        params={"since": 2000, "until": 1000},
        headers=auth(server.tokens["dispatcher"]),
    )
    assert (r.status_code, r.json()["reason"]) == (422, "bad_period")


def test_the_openapi_document_states_the_rules(server: Running) -> None:
    """Each rule's name is in its model's description in /openapi.json."""
    models = httpx.get(f"{server.http}/openapi.json").json()["components"]["schemas"]
    said = {
        "FixIn": ("fix_in_future", "details_without_point", "time_given_twice"),
        "HospitalStatusIn": ("duplicate_entries",),
        "FlagIn": ("duplicate_entries",),
        "DutyIn": ("consent_without_duty",),
    }
    for model, rules in said.items():
        for rule in rules:
            assert rule in models[model].get("description", ""), (model, rule)
    assert CallIn.model_json_schema()["properties"]["fix"]
