"""The nearest AEDs for an incident, served: GET /api/v1/incidents/{id}/aeds over loopback.

The walking search is tested in tests/aed_map/; here the server answers dispatchers only,
nearest first, with directions and open-state, and validates its parameters.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.server import (
    HERE,
    Running,
    auth,
    new_call,
    recv_until,
)


def test_dispatcher_gets_the_nearest_open_aeds_with_directions(live: Running) -> None:
    made = new_call(live, "aed-1").json()
    url = f"{live.http}/api/v1/incidents/{made['incident_id']}/aeds"
    r = httpx.get(url, params={"k": 3, "max_walk_s": 900}, headers=auth(live.tokens["dispatcher"]))
    assert r.status_code == 200, r.text
    options = r.json()
    assert 1 <= len(options) <= 3, "the bundled synthetic registry has AEDs near Wulin"
    walks = [o["walk_s"] for o in options]
    assert walks == sorted(walks) and all(0 < w <= 900 for w in walks)
    assert all(o["round_trip_s"] == pytest.approx(2 * o["walk_s"], abs=1) for o in options)
    assert all(o["state"] in ("open", "unknown") and o["directions"] for o in options)
    assert {o["source"] for o in options} == {"synthetic"}
    fewer = httpx.get(url, params={"k": 1}, headers=auth(live.tokens["dispatcher"])).json()
    assert [o["aed_id"] for o in fewer] == [options[0]["aed_id"]]


def test_aeds_are_for_dispatchers_and_parameters_are_checked(live: Running) -> None:
    made = new_call(live, "aed-2").json()
    url = f"{live.http}/api/v1/incidents/{made['incident_id']}/aeds"
    assert httpx.get(url, headers=auth(made["caller_token"])).status_code == 403
    assert httpx.get(url, headers=auth(live.tokens["units"]["ALS01"])).status_code == 403
    assert httpx.get(url).status_code == 401
    dispatcher = auth(live.tokens["dispatcher"])
    for params in ({"k": 0}, {"k": 11}, {"max_walk_s": -5}, {"max_walk_s": "nan"}):
        r = httpx.get(url, params=params, headers=dispatcher)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), params
    r = httpx.get(f"{live.http}/api/v1/incidents/Inope/aeds", headers=dispatcher)
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")


def test_a_cardiac_arrest_puts_the_nearest_aeds_on_the_console(live: Running) -> None:
    """No click needed: the console hears `incident.aeds` with the call; other calls do not."""
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        other = new_call(live, "aed-3").json()["incident_id"]  # chest pain: none
        body = {
            "phone": "+8613800000099",
            "consent_location": True,
            "fix": HERE,
            "complaint": "cardiac_arrest",
        }
        r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "a4"})
        arrest = r.json()["incident_id"]
        shown = recv_until(console, lambda f: f["type"] == "incident.aeds")
    assert shown["incident_id"] == arrest != other
    walks = [a["walk_s"] for a in shown["aeds"]]
    assert 1 <= len(walks) <= 3 and walks == sorted(walks)
    assert all(a["directions"] for a in shown["aeds"])
