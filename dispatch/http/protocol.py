"""The call-taking protocol over HTTP: the question sets, a set's answers applied as a triage,
and telephone-CPR coaching started and stopped (docs/protocols.md).

The sets are data (`dispatch/core/protocols/*.json`), read once; `dispatch.core.protocol`
walks them. Answers are applied through the same event as a hand triage (`IncidentTriaged`,
with the set, its version and the answers), so every console re-sorts its queue as before.
A set's version is sent with the answers: answers made on another version are 409
`protocol_version`, since the questions they answer may have changed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends

from dispatch.core import events as ev
from dispatch.core.model import IncidentId
from dispatch.core.protocol import Asked, ProtocolSet, Words, evaluate, parse_set
from dispatch.http.common import ERRORS, Svc, Who, dispatcher_only, error_response, person_of
from dispatch.http.incidents import IfMatch, Version, check_version, versioned
from dispatch.http.wire import ProtocolIn, TcprIn

router = APIRouter(tags=["protocol"], responses=ERRORS)
dispatcher = [Depends(dispatcher_only)]
PACKAGE = "dispatch.core.protocols"
NOT_SETS = frozenset({"schema.json", "tcpr.json"})  # the schema and the T-CPR script


@dataclass(frozen=True)
class Bundle:
    """The shipped sets, parsed and as written (what GET shows), and the T-CPR script."""

    sets: dict[str, ProtocolSet]
    plain: tuple[dict[str, Any], ...]
    tcpr: dict[str, Any]


@functools.cache
def bundled() -> Bundle:
    """The sets shipped in `dispatch/core/protocols`, read and checked once (a broken set is
    a bug in the data: InvalidProtocol at the first request, and in the tests)."""
    folder = resources.files(PACKAGE)
    sets: dict[str, ProtocolSet] = {}
    plain = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json") or entry.name in NOT_SETS:
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        data.pop("$schema", None)
        pset = parse_set(data)
        sets[pset.set_id] = pset
        plain.append(data)
    tcpr = json.loads(folder.joinpath("tcpr.json").read_text(encoding="utf-8"))
    tcpr.pop("$schema", None)
    return Bundle(sets, tuple(plain), tcpr)


def _words(w: Words) -> dict[str, str]:
    return {"zh-CN": w.zh, "en": w.en}


@router.get("/api/v1/protocols", dependencies=dispatcher)
async def protocols() -> dict[str, Any]:
    """Every question set (id, version, sources, questions, outcomes; zh-CN and en) and the
    telephone-CPR script with its compression rate."""
    found = bundled()
    return {"sets": list(found.plain), "tcpr": found.tcpr}


@router.post(
    "/api/v1/incidents/{incident_id}/protocol", response_model=None, dependencies=dispatcher
)
async def apply_protocol(
    incident_id: str,
    body: ProtocolIn,
    svc: Svc,
    who: Who,
    if_match: IfMatch = None,
    version: Version = None,
) -> Any:
    """Apply a set's answers: the determinant, priority and complaint they lead to become the
    incident's triage (with the set, version and answers in the event); the answer says what
    was determined, why, and whether telephone CPR follows. 404 `unknown_protocol`, 409
    `protocol_version` (the current one in `detail`), 422 `invalid_answers` or
    `answers_incomplete` (the next question in `detail`), 409 `stale_version` as for triage."""
    check_version(svc, incident_id, if_match, version)
    pset = bundled().sets.get(body.set_id)
    if pset is None:
        return error_response(404, "unknown_protocol", "no question set of that id")
    if body.version != pset.version:
        return error_response(409, "protocol_version", {"current": pset.version})
    result = evaluate(pset, [(a.question, a.answer) for a in body.answers])
    if isinstance(result, Asked):
        return error_response(422, "answers_incomplete", {"next": result.question.question_id})
    out = result.outcome
    answers = tuple(f"{q}={a}" for q, a in result.path)
    iid = IncidentId(incident_id)
    triaged = ev.IncidentTriaged(iid, out.priority, out.complaint, out.determinant)
    svc.submit(
        replace(
            triaged,
            person=person_of(who),
            protocol_id=pset.set_id,
            protocol_version=pset.version,
            answers=answers,
        )
    )
    await svc.settled()
    determined = {
        "set_id": pset.set_id,
        "version": pset.version,
        "determinant": out.determinant,
        "priority": int(out.priority),
        "complaint": out.complaint.value,
        "tcpr": out.tcpr,
        "reasons": [_words(r) for r in result.reasons],
    }
    return {"incident": versioned(svc, incident_id), "determined": determined}


@router.post("/api/v1/incidents/{incident_id}/tcpr", dependencies=dispatcher)
async def tcpr(incident_id: str, body: TcprIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Telephone CPR: `start` when the call-taker starts coaching (a cardiac arrest only,
    else 409), `stop` when it ends; each is an event in the log with the time and the person.
    The answer has both times (engine seconds) so far."""
    iid, person = IncidentId(incident_id), person_of(who)
    if body.action == "start":
        svc.submit(ev.TcprStarted(iid, person))
    else:
        svc.submit(ev.TcprStopped(iid, body.reason, person))
    await svc.settled()
    inc = svc.engine.incident(iid)
    return {
        "incident_id": incident_id,
        "coaching": inc.tcpr_started_at_s is not None and inc.tcpr_stopped_at_s is None,
        "started_at_s": inc.tcpr_started_at_s,
        "stopped_at_s": inc.tcpr_stopped_at_s,
    }
