"""The shipped question sets (dispatch/core/protocols/*.json): each validates against its own
JSON Schema (schema.json, draft 2020-12) and parses; every path through each reaches a
determinant; the arrest and stroke paths of the issue give what the guidance says; every text is
in Chinese and English; and the T-CPR script validates and keeps the rate in 100-120/min."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from dispatch.core.model import Complaint, Priority
from dispatch.core.protocol import Determined, ProtocolSet, evaluate, parse_set, paths

FOLDER = resources.files("dispatch.core.protocols")
NOT_SETS = {"schema.json", "tcpr.json"}
SET_NAMES = sorted(
    e.name for e in FOLDER.iterdir() if e.name.endswith(".json") and e.name not in NOT_SETS
)
#: One set per complaint family the issue names.
FAMILIES = {
    "arrest", "breathing", "chest_pain", "stroke", "trauma", "bleeding", "overdose",
    "childbirth", "seizure", "other",
}  # fmt: skip


def read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FOLDER.joinpath(name).read_text(encoding="utf-8"))
    return data


def shipped(name: str) -> ProtocolSet:
    data = read(name)
    data.pop("$schema")
    return parse_set(data)


SCHEMA = read("schema.json")


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    """schema.json itself passes the meta-schema."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_there_is_one_set_per_family() -> None:
    """Ten sets, one per family, each file named after its id."""
    assert {name.removesuffix(".json") for name in SET_NAMES} == FAMILIES
    assert all(read(name)["id"] == name.removesuffix(".json") for name in SET_NAMES)


@pytest.mark.parametrize("name", SET_NAMES)
def test_each_set_validates_against_the_schema_and_is_versioned(name: str) -> None:
    """No schema error; version 2026.1; at least one cited source."""
    data = read(name)
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    assert errors == []
    assert data["version"] == "2026.1" and data["source"]


def test_the_schema_refuses_a_set_missing_english() -> None:
    """A question with only zh-CN text fails the schema: the check can fail."""
    data = read("arrest.json")
    del data["questions"][0]["text"]["en"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_answer_path_reaches_a_determinant(name: str) -> None:
    """Walk every path of the set: each ends Determined with a code, P1-P3 and reasons in both
    languages; T-CPR only for a cardiac arrest; every outcome is some path's end."""
    pset = shipped(name)
    found = set()
    all_paths = list(paths(pset))
    assert len(all_paths) >= 3
    for path in all_paths:
        done = evaluate(pset, path)
        assert isinstance(done, Determined), path
        o = done.outcome
        assert o.determinant and o.priority in (Priority.P1, Priority.P2, Priority.P3)
        assert not o.tcpr or o.complaint is Complaint.CARDIAC_ARREST
        assert all(r.zh and r.en for r in done.reasons)
        found.add(o.outcome_id)
    assert found == set(pset.outcomes)


def test_the_arrest_path_is_the_ahas_two_questions() -> None:
    """arrest: awake no, breathing no -> ARR-E1, P1, cardiac arrest, T-CPR; gasping
    ("not sure") counts as not breathing normally."""
    pset = shipped("arrest.json")
    for breathing in ("no", "unsure"):
        done = evaluate(pset, [("awake", "no"), ("breathing", breathing)])
        assert isinstance(done, Determined)
        o = done.outcome
        assert (o.determinant, o.priority, o.complaint, o.tcpr) == (
            "ARR-E1",
            Priority.P1,
            Complaint.CARDIAC_ARREST,
            True,
        )
    breathing = evaluate(pset, [("awake", "no"), ("breathing", "yes")])
    assert isinstance(breathing, Determined) and not breathing.outcome.tcpr


def test_the_stroke_path_is_fast_then_the_time_last_seen_well() -> None:
    """stroke: awake, face droops, seen well < 24 h -> STR-D2 P1; no face, arm or speech
    sign -> STR-C2 P2, and the time is not asked."""
    pset = shipped("stroke.json")
    fast = evaluate(pset, [("awake", "yes"), ("face", "yes"), ("time", "yes")])
    assert isinstance(fast, Determined)
    assert (fast.outcome.determinant, fast.outcome.priority) == ("STR-D2", Priority.P1)
    assert fast.outcome.complaint is Complaint.STROKE
    assert "face droops" in [r.en for r in fast.reasons]
    none = evaluate(pset, [("awake", "yes"), ("face", "no"), ("arm", "no"), ("speech", "no")])
    assert isinstance(none, Determined)
    assert (none.outcome.determinant, none.outcome.priority) == ("STR-C2", Priority.P2)


def test_every_unconscious_not_breathing_path_leads_to_telephone_cpr() -> None:
    """In every set that asks the two questions, awake=no and breathing=no ends in T-CPR."""
    asked = 0
    for name in SET_NAMES:
        pset = shipped(name)
        if pset.start != "awake":
            continue
        asked += 1
        done = evaluate(pset, [("awake", "no"), ("breathing", "no")])
        assert isinstance(done, Determined) and done.outcome.tcpr, name
    assert asked >= 8


def test_the_tcpr_script_validates_and_keeps_the_rate_in_range() -> None:
    """tcpr.json passes the schema's `script`; 110/min; every step in both languages."""
    script = read("tcpr.json")
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/$defs/script", "$defs": SCHEMA["$defs"]}
    )
    assert list(validator.iter_errors(script)) == []
    assert 100 <= script["rate_per_min"] <= 120
    assert all(s["zh-CN"] and s["en"] for s in script["steps"])
