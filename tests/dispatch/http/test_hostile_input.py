"""Hostile HTTP input (issue 22): bounded integers, a `reason` on every refusal, no echo of what
was sent, idempotency keys tied to their first body, and no sign-up oracle.

One live server (Wulin, a SQLite log in a temporary folder) serves the whole module; each test
uses its own phones and keys, so the order of the tests does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from dispatch.http.app import require_idempotency_keys
from dispatch.http.common import store_refusal
from tests.support.server import ELSEWHERE, HERE, Running, auth, new_call, small_server

PHONE = "+8613800000123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One small server for the module: every test here only reads or adds its own calls."""
    yield from small_server(tmp_path_factory, "hostile")


def test_an_audit_cursor_past_64_bits_is_422_not_500(server: Running) -> None:
    """after=2**63 is 422 `invalid_request`; 2**63 - 1, the largest, is an empty page."""
    d = auth(server.tokens["dispatcher"])
    r = httpx.get(f"{server.http}/api/v1/audit", params={"after": str(2**63)}, headers=d)
    assert (r.status_code, r.json()["reason"]) == (422, "invalid_request")
    assert str(2**63) not in r.text
    r = httpx.get(f"{server.http}/api/v1/audit", params={"after": str(2**63 - 1)}, headers=d)
    assert (r.status_code, r.json()) == (200, [])


def test_every_integer_and_number_in_the_openapi_document_is_bounded(server: Running) -> None:
    """No query, path or body integer or number is left without a minimum and a maximum."""
    spec = httpx.get(f"{server.http}/openapi.json").json()
    loose: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("integer", "number"):
                low = "minimum" in node or "exclusiveMinimum" in node
                high = "maximum" in node or "exclusiveMaximum" in node
                if not (low and high):
                    loose.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for p in operation.get("parameters", []):
                walk(p.get("schema", {}), f"{method} {path} {p['name']}")
    for name, schema in spec["components"]["schemas"].items():
        if name.endswith("In"):  # the bodies clients send; answers may be unbounded
            walk(schema, name)
    assert loose == []


def test_body_parse_errors_and_unknown_routes_carry_a_reason(server: Running) -> None:
    """Bytes that are not UTF-8 and a 5,000-deep body are 400 `malformed_body`, an unknown path
    404 `not_found`, a wrong method 405 `method_not_allowed`: never FastAPI's bare detail."""
    url = f"{server.http}/api/v1/calls"
    headers = {"Idempotency-Key": "parse-1", "Content-Type": "application/json"}
    for content in (b'{"phone": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000):
        r = httpx.post(url, content=content, headers=headers)
        assert (r.status_code, r.json()["reason"]) == (400, "malformed_body"), r.text
    r = httpx.get(f"{server.http}/api/v1/nowhere")
    assert (r.status_code, r.json()["reason"]) == (404, "not_found")
    r = httpx.delete(url)
    assert (r.status_code, r.json()["reason"]) == (405, "method_not_allowed")
    assert "POST" in r.headers["allow"]


def test_refusals_never_echo_what_was_sent(server: Running) -> None:
    """A phone in a bad field, a phone as an unknown key, free text where a number goes, an
    id in the path and one in the body: each refused with its reason, none of them echoed."""
    url = f"{server.http}/api/v1/calls"
    key = {"Idempotency-Key": "echo-1"}
    ok = {"phone": PHONE, "consent_location": True, "fix": HERE}
    bodies = [
        {**ok, "phone": "+86138000001239999999"},  # too long: the value is a phone
        {**ok, "+8613999990000": 1},  # a phone as an unknown key
        {**ok, "fix": {**HERE, "lat": "心口疼得厉害"}},  # free text where a number goes
        {**ok, "complaint": "心口疼得厉害"},
    ]
    for body in bodies:
        r = httpx.post(url, json=body, headers=key)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), r.text
        for sent in ("+86138000001239999999", "8613999990000", "心口疼得厉害"):
            assert sent not in r.text, (body, r.text)
        assert all("input" not in e and "ctx" not in e for e in r.json()["detail"])
    d = auth(server.tokens["dispatcher"])
    r = httpx.get(f"{server.http}/api/v1/incidents/I13800000123", headers=d)
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    assert "I13800000123" not in r.text
    iid = new_call(server, "echo-2").json()["incident_id"]
    r = httpx.post(
        f"{server.http}/api/v1/incidents/{iid}/assignment", json={"unit_id": "ZZ97"}, headers=d
    )
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_unit")
    assert "ZZ97" not in r.text


def test_the_503_body_says_store_unavailable_and_nothing_of_the_store() -> None:
    """A store refusal is the reason code, a fixed text and Retry-After; no host or port."""
    r = store_refusal("store_unavailable")
    body = json.loads(bytes(r.body))
    assert body["reason"] == "store_unavailable"
    assert body["detail"].startswith("store unavailable")
    assert set(body) == {"reason", "detail"} and "6379" not in body["detail"]
    assert r.headers["Retry-After"].isdigit()


# --- idempotency ---------------------------------------------------------------------------------
def test_a_key_reused_with_another_body_is_422(server: Running) -> None:
    """Same phone and key: the same body again is the first answer (200); another place or
    complaint is 422 `idempotency_key_reused` and reveals no caller token."""
    phone = "+8613800000456"
    first = new_call(server, "reuse-1", phone=phone)
    assert first.status_code == 201
    again = new_call(server, "reuse-1", phone=phone)
    assert (again.status_code, again.json()["caller_token"]) == (
        200,
        first.json()["caller_token"],
    )
    moved = new_call(server, "reuse-1", fix=ELSEWHERE, phone=phone)
    assert (moved.status_code, moved.json()["reason"]) == (422, "idempotency_key_reused")
    assert first.json()["caller_token"] not in moved.text
    body = {"phone": phone, "consent_location": True, "fix": HERE, "complaint": "stroke"}
    r = httpx.post(f"{server.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "reuse-1"})
    assert (r.status_code, r.json()["reason"]) == (422, "idempotency_key_reused")


def test_openapi_says_the_idempotency_key_is_required(server: Running) -> None:
    """Both keyed routes list `Idempotency-Key` as a required header, as they behave (400)."""
    spec = httpx.get(f"{server.http}/openapi.json").json()
    for path in ("/api/v1/calls", "/api/v1/volunteers"):
        (header,) = [p for p in spec["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert (header["name"], header["required"]) == ("Idempotency-Key", True)
        assert header["schema"]["maxLength"] == 64
    r = httpx.post(f"{server.http}/api/v1/calls", json={"phone": PHONE, "consent_location": True})
    assert (r.status_code, r.json()["reason"]) == (400, "idempotency_key_required")


def test_require_idempotency_keys_leaves_other_parameters_alone() -> None:
    """Only a header named Idempotency-Key is marked required; a query of that name is not."""
    spec = {
        "paths": {
            "/x": {
                "post": {
                    "parameters": [
                        {"in": "header", "name": "Idempotency-Key", "required": False},
                        {"in": "query", "name": "Idempotency-Key", "required": False},
                    ]
                }
            }
        }
    }
    header, query = require_idempotency_keys(spec)["paths"]["/x"]["post"]["parameters"]
    assert (header["required"], query["required"]) == (True, False)


# --- no oracle -----------------------------------------------------------------------------------
def test_sign_up_answers_alike_for_a_new_and_a_known_phone(server: Running) -> None:
    """A known phone under a new key is answered exactly as a new phone is: 201 and the same
    fields, with a token of its own that is not the first registration's."""
    url = f"{server.http}/api/v1/volunteers"
    first = httpx.post(url, json={"phone": "+8613911110001"}, headers={"Idempotency-Key": "s-1"})
    known = httpx.post(url, json={"phone": "+8613911110001"}, headers={"Idempotency-Key": "s-2"})
    fresh = httpx.post(url, json={"phone": "+8613911110002"}, headers={"Idempotency-Key": "s-3"})
    assert (first.status_code, known.status_code, fresh.status_code) == (201, 201, 201)
    assert set(known.json()) == set(fresh.json())
    assert {k: type(v) for k, v in known.json().items()} == {
        k: type(v) for k, v in fresh.json().items()
    }
    assert known.json()["token"] != first.json()["token"]
    assert known.json()["volunteer_id"] != first.json()["volunteer_id"]
    assert known.json()["cpr_verified"] is False
