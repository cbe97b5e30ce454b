"""Mass-casualty mode on a live server: the plan respects every hospital's capacity and
capability (checked against the registry and the statuses the hospitals reported), dispatch
makes one child incident per patient with offers to distinct units, the board follows the
units' statuses, bad input is a 4xx with a reason, and plan and children survive a restart.

Wulin holds seven hospitals' doors; zjpph is the only trauma centre among them. With no
report an ED is assumed full and takes 20 % of its staffed beds: zjpph (40 beds) 8, of them
4 reds.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import httpx

from dispatch.settings import Settings
from hospital_link.registry import Capability, Registry
from routing.load import data_dir
from tests.support.agencies import Feed, agency_ws, flag, plain_call
from tests.support.server import Running, auth, recv_until, start

REGISTRY = Registry.load_csv(data_dir() / "hangzhou" / "hospitals.csv")


def declare(live: Running, iid: str, **counts: Any) -> httpx.Response:
    return httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/mci",
        json=counts,
        headers=auth(live.tokens["dispatcher"]),
    )


def send(live: Running, iid: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{live.http}/api/v1/incidents/{iid}/mci/dispatch",
        json=body,
        headers=auth(live.tokens["dispatcher"]),
        timeout=30,
    )


def mci(live: Running, iid: str) -> dict[str, Any]:
    r = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/mci", headers=auth(live.tokens["dispatcher"])
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def report(live: Running, hospital_id: str, **status: Any) -> None:
    r = httpx.post(
        f"{live.http}/api/v1/hospitals/{hospital_id}/status",
        json={"expires_in_s": 3600, **status},
        headers=auth(live.tokens["hospitals"][hospital_id]),
    )
    assert r.status_code == 200, r.text


def step(live: Running, unit: str, child: str, *statuses: str) -> None:
    """The crew acknowledges (if it has not) and presses each status button in turn."""
    headers = auth(live.tokens["units"][unit])
    base = f"{live.http}/api/v1/units/{unit}"
    httpx.post(f"{base}/ack", json={"incident_id": child, "device": "tablet"}, headers=headers)
    for status in statuses:
        r = httpx.post(f"{base}/status", json={"status": status}, headers=headers)
        assert r.status_code == 200, r.text


def row(board: dict[str, Any], hospital_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(h for h in board["hospitals"] if h["hospital_id"] == hospital_id)
    return found


# --- the plan ---------------------------------------------------------------------------------
def test_the_plan_respects_capacity_and_capability(live: Running) -> None:
    """zjpph reports 0.9 (12 places, 4 red), zcmu3 1.3 (full), hznormal diverts its ED. 3 red,
    6 yellow, 8 green: reds only where the registry has trauma care, nothing to the diverted
    or the full hospital, no hospital above its places, every patient placed, no overflow;
    each line explained, and the console hears `mci.plan`."""
    report(live, "zjpph", ed_occupancy=0.9)
    report(live, "zcmu3", ed_occupancy=1.3)
    report(live, "hznormal", diverted=["ed"])
    iid = plain_call(live, "mci-plan")
    with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
        json.loads(console.recv(timeout=10))
        r = declare(live, iid, red=3, yellow=6, green=8, black=1)
        assert r.status_code == 200, r.text
        heard = recv_until(console, lambda f: f["type"] == "mci.plan")
    answer = r.json()
    assert heard["plan"] == answer["plan"]
    plan, caps = answer["plan"], {c["hospital_id"]: c for c in answer["capacities"]}
    assert (caps["zjpph"]["total"], caps["zjpph"]["red"]) == (12, 4)
    assert caps["zcmu3"]["total"] == 0 and not caps["hznormal"]["ed"]
    assert caps["srrsh"]["eta_s"] is None  # off the Wulin network
    assert plan["overflow"] is False and plan["unplaced"] == {} and plan["not_transported"] == 1
    assert sum(line["count"] for line in plan["lines"]) == 17
    for line in plan["lines"]:
        assert line["overflow"] == 0 and line["explanation"].startswith(f"{line['count']} ")
        capabilities = REGISTRY.hospital(line["hospital_id"]).capabilities
        assert Capability.ED in capabilities
        if line["colour"] == "red":
            assert Capability.TRAUMA in capabilities
        assert line["hospital_id"] not in ("hznormal", "zcmu3", "srrsh")
    for hospital_id, cap in caps.items():
        mine = [line for line in plan["lines"] if line["hospital_id"] == hospital_id]
        assert sum(line["count"] for line in mine) <= cap["total"]
        assert sum(line["count"] for line in mine if line["colour"] == "red") <= cap["red"]
    by_colour = {
        c: sum(x["count"] for x in plan["lines"] if x["colour"] == c)
        for c in ("red", "yellow", "green")
    }
    assert by_colour == {"red": 3, "yellow": 6, "green": 8}


def test_reds_beyond_trauma_capacity_are_flagged_not_sent_elsewhere(live: Running) -> None:
    """6 reds, zjpph has 4 red places: all 6 go there, 2 flagged over capacity, explained."""
    iid = plain_call(live, "mci-over")
    plan = declare(live, iid, red=6).json()["plan"]
    assert [(x["colour"], x["hospital_id"], x["count"], x["overflow"]) for x in plan["lines"]] == [
        ("red", "zjpph", 6, 2)
    ]
    assert plan["overflow"] is True and "OVER CAPACITY by 2" in plan["lines"][0]["explanation"]


# --- dispatch and the board -------------------------------------------------------------------
def test_dispatch_makes_children_with_offers_to_distinct_units(live: Running) -> None:
    """2 red, 1 yellow, 2 green; 3 units sent: the two reds and the yellow become child
    incidents with offers to three distinct units (ALS for the reds), routed to their planned
    hospitals. The board follows a red's unit to transporting and arrived; a busy unit is
    refused; a second dispatch sends the greens with the last free unit and the red's, clearing
    at the hospital; then every planned patient has a unit."""
    iid = plain_call(live, "mci-go")
    plan = declare(live, iid, red=2, yellow=1, green=2).json()["plan"]
    planned = {(x["colour"], x["hospital_id"]) for x in plan["lines"]}
    units = ["ALS01", "BLS02", "BLS03", "ALS04"]
    with ExitStack() as stack:
        tablets = {
            u: stack.enter_context(live.ws(f"/ws/units/{u}", live.tokens["units"][u]))
            for u in units
        }
        for tablet in tablets.values():
            json.loads(tablet.recv(timeout=10))
        with live.ws("/ws/console", live.tokens["dispatcher"]) as console:
            json.loads(console.recv(timeout=10))
            r = send(live, iid, units=3)
            assert r.status_code == 200, r.text
            children = r.json()["children"]
            assert [c["colour"] for c in children] == ["red", "red", "yellow"]
            assert len({c["unit_id"] for c in children}) == 3
            assert {c["unit_id"] for c in children if c["colour"] == "red"} == {"ALS01", "ALS04"}
            assert all(c["incident_id"].startswith(f"{iid}.") for c in children)
            assert all((c["colour"], c["hospital_id"]) in planned for c in children)
            for c in children:
                offer = recv_until(tablets[c["unit_id"]], lambda f: f["type"] == "offer.sent")
                assert (offer["incident_id"], offer["by"]) == (c["incident_id"], "mci")
                assert offer["priority"] == {"red": 1, "yellow": 2}[c["colour"]]
            board = recv_until(console, lambda f: f["type"] == "mci.board")
            assert board["pending"] == {"red": 0, "yellow": 0, "green": 2}
            assert row(board, "zjpph")["dispatched"]["red"] == 2

            red = children[0]
            step(live, red["unit_id"], red["incident_id"], "en_route", "on_scene", "transporting")
            moving = recv_until(
                console, lambda f: f["type"] == "mci.board" and row(f, "zjpph")["transported"]
            )
            assert row(moving, "zjpph")["transporting"]["red"] == 1
            step(live, red["unit_id"], red["incident_id"], "at_hospital")
            arrived = recv_until(
                console, lambda f: f["type"] == "mci.board" and row(f, "zjpph")["arrived"]["red"]
            )
            assert row(arrived, "zjpph")["dispatched"]["red"] == 1
            assert row(arrived, "zjpph")["transported"] == 1

        r = send(live, iid, unit_ids=[children[1]["unit_id"]])  # busy with its patient
        assert (r.status_code, r.json()["reason"]) == (409, "unit_unavailable")
        r = send(live, iid, units=1)  # the red's crew is at hospital, not yet handed over
        first_green = r.json()["children"]
        assert [c["unit_id"] for c in first_green] == [
            u for u in units if u not in {c["unit_id"] for c in children}
        ]  # only the fourth unit
        handover = f"{live.http}/api/v1/incidents/{red['incident_id']}/handover"
        assert httpx.post(handover, headers=auth(live.tokens["dispatcher"])).status_code == 200
        r = send(live, iid, units=5)  # and now the red's, clearing at hospital
        assert r.status_code == 200, r.text
        more = first_green + r.json()["children"]
        assert [c["colour"] for c in more] == ["green", "green"]
        assert {c["unit_id"] for c in more} == set(units) - {c["unit_id"] for c in children[1:]}
        r = send(live, iid, units=1)
        assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")
        view = mci(live, iid)
        assert view["board"]["pending"] == {"red": 0, "yellow": 0, "green": 0}
        assert [c["incident_id"] for c in view["children"]] == [
            c["incident_id"] for c in children + more
        ]
        assert view["children"][0]["stage"] == "arrived"


def test_bad_mci_requests_are_4xx_with_reasons(live: Running) -> None:
    iid = plain_call(live, "mci-bad")
    d = auth(live.tokens["dispatcher"])
    assert mci_status(live, "Inope") == (404, "unknown_incident")
    assert mci_status(live, iid) == (404, "unknown_mci")
    r = send(live, iid, units=1)
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_mci")
    for counts in (
        {"red": -1},
        {"red": 201},
        {},
        {"black": 3},
        {"red": 1, "purple": 2},
        {"red": "3"},
        {"red": 1.5},
        {"red": 200, "yellow": 101},
    ):
        r = declare(live, iid, **counts)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), counts
    r = declare(live, "Inope", red=1)
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_incident")
    assert declare(live, iid, red=1, green=1).status_code == 200
    bodies: list[dict[str, Any]] = [
        {},
        {"units": 0},
        {"units": 51},
        {"units": 2, "unit_ids": ["ALS01"]},
        {"unit_ids": ["ALS01", "ALS01"]},
        {"unit_ids": []},
    ]
    for body in bodies:
        r = send(live, iid, **body)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request"), body
    r = send(live, iid, unit_ids=["NOPE9"])
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_unit")
    unit = auth(live.tokens["units"]["ALS01"])
    r = httpx.post(f"{live.http}/api/v1/incidents/{iid}/mci", json={"red": 1}, headers=unit)
    assert r.status_code == 403
    assert httpx.get(f"{live.http}/api/v1/incidents/{iid}/mci").status_code == 401
    (child,) = send(live, iid, units=1).json()["children"]
    r = declare(live, child["incident_id"], red=1)
    assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")
    assert send(live, iid, units=1).status_code == 200  # the green: every patient has a unit
    r = send(live, iid, units=1)
    assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")
    httpx.post(f"{live.http}/api/v1/incidents/{iid}/cancel", json={}, headers=d)
    r = declare(live, iid, red=1)
    assert (r.status_code, r.json()["reason"]) == (409, "illegal_transition")


def mci_status(live: Running, iid: str) -> tuple[int, str]:
    r = httpx.get(
        f"{live.http}/api/v1/incidents/{iid}/mci", headers=auth(live.tokens["dispatcher"])
    )
    return r.status_code, r.json().get("reason", "")


# --- with agencies, and across a restart --------------------------------------------------------
def test_an_mci_flagged_for_fire_lists_its_patients_units(live: Running) -> None:
    """Fire, flagged on the MCI, sees the children's units in the MCI's document as they are
    dispatched and move; never a child's colour or hospital."""
    iid = plain_call(live, "mci-fire")
    assert declare(live, iid, red=1, yellow=1).status_code == 200
    assert flag(live, iid, "fire", incident_type="mass_casualty").status_code == 200
    with agency_ws(live, "fire") as f:
        fire = Feed(f)
        fire.next()
        children = send(live, iid, units=2).json()["children"]
        doc = fire.until(
            lambda fr: (
                fr["type"] == "incident.eido" and len(fr["eido"]["emergencyResourceComponent"]) == 2
            )
        )["eido"]
        names = {u["emergencyResourceName"] for u in doc["emergencyResourceComponent"]}
        assert names == {c["unit_id"] for c in children}
        assert doc["incidentComponent"]["incidentTypeCommonRegistryText"] == "MassCasualty"
        step(live, children[0]["unit_id"], children[0]["incident_id"], "en_route")
        fire.until(
            lambda fr: (
                fr["type"] == "incident.eido"
                and "Enroute"
                in [
                    u["primaryUnitStatusRegistryText"]
                    for u in fr["eido"]["emergencyResourceComponent"]
                ]
            )
        )
    text = json.dumps(fire.seen)
    assert "zjpph" not in text and "yellow" not in text and "complaint" not in text


def test_plan_children_and_board_survive_a_restart(settings: Settings) -> None:
    """Declared and one patient sent before a restart: after it the same plan, the same
    child and a board that still follows its unit."""
    first = start(settings)
    try:
        iid = plain_call(first, "mci-restart")
        assert declare(first, iid, red=1, green=2).status_code == 200
        (child,) = send(first, iid, units=1).json()["children"]
        before = mci(first, iid)
    finally:
        first.stop()
    second = start(settings)
    try:
        after = mci(second, iid)
        assert after == before
        step(second, child["unit_id"], child["incident_id"], "en_route", "on_scene", "transporting")
        board = mci(second, iid)["board"]
        assert row(board, child["hospital_id"])["transporting"]["red"] == 1
        (more,) = send(second, iid, units=1).json()["children"]
        assert more["incident_id"] == f"{iid}.02" and more["colour"] == "green"
    finally:
        second.stop()
