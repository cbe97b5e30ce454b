"""People with names against a live server (issue 20 item 4): login and logout, answers that
do not tell an unknown name from a wrong password, the failed-login limit, what a call-taker
may not do, every action attributed to its person and searchable in the audit log, and a
stale edit refused with 409 while nothing is overwritten, also after a restart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatch.settings import Settings
from dispatch.store.eventlog import open_log
from dispatch.users import Rank, UserBook
from tests.support.server import Running, auth, new_call, start

PASSWORD = "correct horse battery"
#: Who works the floor in these tests: two dispatchers, a call-taker and a supervisor.
STAFF = {
    "li.lei": Rank.DISPATCHER,
    "wang.fang": Rank.DISPATCHER,
    "chen.jing": Rank.CALL_TAKER,
    "zhao.min": Rank.SUPERVISOR,
}


@pytest.fixture
def people(live: Running, settings: Settings) -> dict[str, str]:
    """The staff's accounts (added while the server runs, as `jijiu users add` would) and a
    session token for each, by name."""
    book = UserBook(settings.users_path)
    for name, rank in STAFF.items():
        book.add(name, rank, PASSWORD)
    return {name: login(live, name, PASSWORD).json()["token"] for name in STAFF}


def login(live: Running, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{live.http}/api/v1/login", json={"name": name, "password": password})


def open_call(live: Running, key: str) -> str:
    r = new_call(live, key)
    assert r.status_code == 201, r.text
    incident_id: str = r.json()["incident_id"]
    return incident_id


def triage(live: Running, token: str, iid: str, priority: int, **params: Any) -> httpx.Response:
    body = {"priority": priority, "complaint": "chest_pain", "determinant": f"10D0{priority}"}
    headers = {**auth(token), **params.pop("headers", {})}
    url = f"{live.http}/api/v1/incidents/{iid}/triage"
    return httpx.post(url, json=body, headers=headers, params=params)


def test_a_person_logs_in_is_known_by_name_and_logs_out(
    live: Running, people: dict[str, str]
) -> None:
    """The session token reads the incidents and `/me` names its person and rank; after
    logout the same token is 401."""
    token = people["li.lei"]
    assert httpx.get(f"{live.http}/api/v1/incidents", headers=auth(token)).status_code == 200
    me = httpx.get(f"{live.http}/api/v1/me", headers=auth(token)).json()
    assert me == {"role": "dispatcher", "name": "li.lei", "rank": "dispatcher"}
    assert httpx.post(f"{live.http}/api/v1/logout", headers=auth(token)).status_code == 204
    assert httpx.get(f"{live.http}/api/v1/incidents", headers=auth(token)).status_code == 401
    shared = httpx.get(f"{live.http}/api/v1/me", headers=auth(live.tokens["dispatcher"])).json()
    assert shared == {"role": "dispatcher", "name": "", "rank": "service"}


def test_bad_logins_answer_alike_whatever_was_wrong(
    live: Running, people: dict[str, str], settings: Settings
) -> None:
    """A wrong password, an unknown name and a disabled account get the same 401 with the
    same body, byte for byte; the right password gets a token, a role and an expiry."""
    UserBook(settings.users_path).disable("wang.fang")
    wrong = login(live, "li.lei", PASSWORD + "x")
    unknown = login(live, "nobody", PASSWORD)
    disabled = login(live, "wang.fang", PASSWORD)
    assert {r.status_code for r in (wrong, unknown, disabled)} == {401}
    assert wrong.content == unknown.content == disabled.content
    assert wrong.json() == {"reason": "bad_credentials", "detail": "wrong name or password"}
    good = login(live, "zhao.min", PASSWORD).json()
    assert (good["name"], good["role"]) == ("zhao.min", "supervisor") and len(good["token"]) >= 32
    assert (
        httpx.get(f"{live.http}/api/v1/incidents", headers=auth(people["wang.fang"])).status_code
        == 401
    )


def test_five_failed_logins_lock_that_name_from_that_address(
    live: Running, people: dict[str, str]
) -> None:
    """After five wrong passwords for li.lei the sixth try, even with the right password, is
    429 with Retry-After; another name from the same address still logs in."""
    for _ in range(5):
        assert login(live, "li.lei", "wrong password").status_code == 401
    locked = login(live, "li.lei", PASSWORD)
    assert locked.status_code == 429 and locked.json()["reason"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert login(live, "wang.fang", PASSWORD).status_code == 200


def test_a_call_taker_triages_but_may_not_send_a_unit_or_read_the_audit(
    live: Running, people: dict[str, str]
) -> None:
    """chen.jing (call-taker) triages a call (200) and reads it, but sending a unit,
    cancelling and the audit log are 403; a dispatcher may send the unit."""
    iid = open_call(live, "ct-1")
    ct = people["chen.jing"]
    assert triage(live, ct, iid, 1).status_code == 200
    assert httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(ct)).status_code == 200
    url = f"{live.http}/api/v1/incidents/{iid}"
    assert (
        httpx.post(f"{url}/assignment", json={"unit_id": "ALS01"}, headers=auth(ct)).status_code
        == 403
    )
    assert httpx.post(f"{url}/cancel", json={}, headers=auth(ct)).status_code == 403
    assert httpx.get(f"{live.http}/api/v1/audit", headers=auth(ct)).status_code == 403
    sent = httpx.post(
        f"{url}/assignment", json={"unit_id": "ALS01"}, headers=auth(people["li.lei"])
    )
    assert sent.status_code == 201


def test_every_action_is_attributed_and_the_audit_finds_each_persons(
    live: Running, people: dict[str, str], settings: Settings
) -> None:
    """li.lei reads, triages and describes the patient of one call (the last event made by
    the service, not the route), wang.fang sends a unit to it and cancels another:
    the supervisor's `?person=` lists exactly each one's records in order, the logged events
    carry `person`, the shared token's own triage carries none, and a dispatcher may not search
    by person (403)."""
    first, second = open_call(live, "a-1"), open_call(live, "a-2")
    li, wang, boss = people["li.lei"], people["wang.fang"], people["zhao.min"]
    assert httpx.get(f"{live.http}/api/v1/incidents/{first}", headers=auth(li)).status_code == 200
    assert triage(live, li, first, 1).status_code == 200
    url = f"{live.http}/api/v1/incidents"
    described = {"age_band": "65-79", "sex": "female"}  # made by the service, stamped alike
    assert httpx.post(f"{url}/{first}/patient", json=described, headers=auth(li)).status_code == 200
    assert (
        httpx.post(
            f"{url}/{first}/assignment", json={"unit_id": "ALS01"}, headers=auth(wang)
        ).status_code
        == 201
    )
    assert (
        httpx.post(f"{url}/{second}/cancel", json={"reason": "dup"}, headers=auth(wang)).status_code
        == 200
    )
    assert triage(live, live.tokens["dispatcher"], second, 3).status_code == 409  # closed
    assert triage(live, live.tokens["dispatcher"], first, 2).status_code == 200

    def trail(person: str, token: str = boss) -> list[tuple[str, list[str]]]:
        r = httpx.get(f"{live.http}/api/v1/audit", params={"person": person}, headers=auth(token))
        assert r.status_code == 200, r.text
        assert all(rec["role"] == "dispatcher" and rec["subject"] == person for rec in r.json())
        return [(rec["action"], rec["incident_ids"]) for rec in r.json()]

    assert trail("li.lei") == [
        ("incident.read", [first]),
        ("IncidentTriaged", [first]),
        ("PatientDescribed", [first]),
    ]
    assert trail("wang.fang") == [("UnitAssigned", [first]), ("IncidentCancelled", [second])]
    assert trail("wang.fang", live.tokens["dispatcher"]) == trail("wang.fang")  # the service token
    assert trail("zhao.min") == []
    refused = httpx.get(f"{live.http}/api/v1/audit", params={"person": "li.lei"}, headers=auth(li))
    assert refused.status_code == 403
    assigned = httpx.get(
        f"{live.http}/api/v1/audit", params={"person": "wang.fang"}, headers=auth(boss)
    )
    assert assigned.json()[0]["unit_id"] == "ALS01"
    live.stop()
    log = open_log(settings.store_url)
    try:
        events = [r.event for r in log.read()]
    finally:
        log.close()
    kinds = {"IncidentTriaged", "PatientDescribed", "UnitAssigned", "IncidentCancelled"}
    acts = [(e["type"], e.get("person")) for e in events if e["type"] in kinds]
    assert acts == [
        ("IncidentTriaged", "li.lei"),
        ("PatientDescribed", "li.lei"),
        ("UnitAssigned", "wang.fang"),
        ("IncidentCancelled", "wang.fang"),
        ("IncidentTriaged", None),
    ]


def test_the_second_of_two_dispatchers_editing_one_incident_gets_409(
    live: Running, people: dict[str, str], settings: Settings
) -> None:
    """li.lei and wang.fang both open version v; li.lei's triage (If-Match v) lands as v+1;
    wang.fang's (If-Match v) is 409 stale_version with li.lei's values in `current`, and the
    incident keeps them; so is a stale assignment (?version=v), which sends no unit. Resent on
    the current version, wang.fang's triage lands. A restart rebuilds the same version."""
    iid = open_call(live, "v-1")
    li, wang = people["li.lei"], people["wang.fang"]
    seen = httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(li))
    v = seen.json()["version"]
    assert seen.headers["ETag"] == f'"{v}"'
    assert (
        httpx.get(f"{live.http}/api/v1/incidents/{iid}", headers=auth(wang)).json()["version"] == v
    )
    first = triage(live, li, iid, 1, headers={"If-Match": f'"{v}"'})
    assert first.status_code == 200 and first.json()["version"] == v + 1
    second = triage(live, wang, iid, 3, headers={"If-Match": f'"{v}"'})
    assert second.status_code == 409
    body = second.json()
    assert body["reason"] == "stale_version"
    assert (body["current"]["version"], body["current"]["priority"]) == (v + 1, 1)
    url = f"{live.http}/api/v1/incidents/{iid}"
    stale = httpx.post(
        f"{url}/assignment", json={"unit_id": "ALS01"}, params={"version": v}, headers=auth(wang)
    )
    assert stale.status_code == 409 and stale.json()["reason"] == "stale_version"
    now = httpx.get(url, headers=auth(li)).json()
    assert (now["priority"], now["version"], now["unit_id"]) == (1, v + 1, None)
    again = triage(live, wang, iid, 3, headers={"If-Match": f'"{v + 1}"'})
    assert again.status_code == 200 and again.json()["version"] == v + 2
    bad = triage(live, wang, iid, 3, headers={"If-Match": "yesterday"})
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid_version"
    live.stop()
    restarted = start(settings)
    try:
        dispatcher = auth(restarted.tokens["dispatcher"])
        view = httpx.get(f"{restarted.http}/api/v1/incidents/{iid}", headers=dispatcher).json()
        assert (view["version"], view["priority"]) == (v + 2, 3)
        relogin = login(restarted, "li.lei", PASSWORD)
        assert relogin.status_code == 200
        assert httpx.get(f"{restarted.http}/api/v1/me", headers=auth(li)).json()["name"] == "li.lei"
    finally:
        restarted.stop()


def test_a_session_stops_when_its_time_is_up_on_the_servers_clock(
    live: Running, people: dict[str, str]
) -> None:
    """With the server's session clock injected (no sleeping), a login at t answers an expiry
    of t + 12 h; one second before that the token works, at it the token is 401 on every
    route, and a new login works again."""
    sessions = live.server.config.app.state.service.tokens.sessions
    real, now_s = sessions.clock, [1_000_000.0]
    sessions.clock = lambda: now_s[0]
    try:
        answer = login(live, "li.lei", PASSWORD).json()
        token = answer["token"]
        assert answer["expires_at"] == 1_000_000.0 + 12 * 3600.0
        now_s[0] = answer["expires_at"] - 1.0
        assert httpx.get(f"{live.http}/api/v1/me", headers=auth(token)).status_code == 200
        now_s[0] = answer["expires_at"]
        assert httpx.get(f"{live.http}/api/v1/me", headers=auth(token)).status_code == 401
        assert httpx.get(f"{live.http}/api/v1/incidents", headers=auth(token)).status_code == 401
        fresh = login(live, "li.lei", PASSWORD).json()["token"]
        assert httpx.get(f"{live.http}/api/v1/me", headers=auth(fresh)).status_code == 200
    finally:
        sessions.clock = real


def test_a_call_takers_voice_call_is_theirs_and_only_a_dispatcher_reads_the_number(
    live: Running, people: dict[str, str]
) -> None:
    """chen.jing (call-taker) types in a voice call (201): its `CallReceived` is hers in the
    audit; she may not read the caller's number (403) but li.lei may, and that read is his."""
    body = {"phone": "+8613800138000", "complaint": "chest_pain", "spoken": "文三路学院路口"}
    headers = {"Idempotency-Key": "voice-1", **auth(people["chen.jing"])}
    made = httpx.post(f"{live.http}/api/v1/calls/manual", json=body, headers=headers)
    assert made.status_code == 201, made.text
    iid = made.json()["incident_id"]
    number = f"{live.http}/api/v1/incidents/{iid}/caller"
    assert httpx.get(number, headers=auth(people["chen.jing"])).status_code == 403
    assert httpx.get(number, headers=auth(people["li.lei"])).status_code == 200
    boss = auth(people["zhao.min"])

    def trail(person: str) -> list[tuple[str, list[str]]]:
        r = httpx.get(f"{live.http}/api/v1/audit", params={"person": person}, headers=boss)
        return [(rec["action"], rec["incident_ids"]) for rec in r.json()]

    assert trail("chen.jing") == [("CallReceived", [iid])]
    assert trail("li.lei") == [("caller.read", [iid])]
