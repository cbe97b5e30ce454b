"""The purge tombstone in the pure engine (`PersonalDataPurged`): only for a closed incident,
once; it drops the sealed fields the engine held and survives a codec round trip; a
`CallReceived` logged before the voice-call fields existed still decodes, as an app call."""

from __future__ import annotations

import pytest

from dispatch.core import events as ev
from dispatch.core.engine import Engine
from dispatch.core.model import IncidentId
from dispatch.errors import IllegalTransition, InvalidEvent
from dispatch.store import codec
from routing.load import load_network
from routing.router import Router

SEALED = "v1.c2VhbGVk"


@pytest.fixture(scope="module")
def wulin_router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """A router on the Wulin network, for the engine's snapping of the call."""
    net, _ = load_network("wulin", cache=tmp_path_factory.mktemp("cache"))
    return Router(net)


def test_a_tombstone_needs_a_closed_incident_and_comes_once(wulin_router: Router) -> None:
    """Open: refused; cancelled (closed): applied, the sealed text dropped; again: refused."""
    engine = Engine(wulin_router)
    iid = IncidentId("I1")
    engine.receive(ev.CallReceived(iid, 30.2803, 120.1465, 20.0, source="voice",
                                   personal_sealed=SEALED), 1.0)  # fmt: skip
    assert engine.incidents[iid].source == "voice"
    with pytest.raises(IllegalTransition):
        engine.receive(ev.PersonalDataPurged(iid), 2.0)
    engine.receive(ev.IncidentCancelled(iid), 3.0)
    engine.receive(ev.PersonalDataPurged(iid), 4.0)
    inc = engine.incidents[iid]
    assert inc.purged and inc.personal_sealed == ""
    with pytest.raises(IllegalTransition):
        engine.receive(ev.PersonalDataPurged(iid), 5.0)


def test_the_new_fields_round_trip_and_old_records_decode_as_app_calls() -> None:
    """Source, callback flag and sealed text survive the codec; a record without them is an
    app call with callback allowed; clear text in `personal_sealed` is refused."""
    event = ev.CallReceived(IncidentId("I1"), 30.28, 120.14, 20.0, source="voice",
                            callback_allowed=False, personal_sealed=SEALED)  # fmt: skip
    assert codec.from_dict(codec.to_dict(event)) == event
    tomb = ev.PersonalDataPurged(IncidentId("I1"))
    assert codec.from_dict(codec.to_dict(tomb)) == tomb
    old = {"type": "CallReceived", "incident_id": "I1", "lat": 30.28, "lon": 120.14,
           "radius95_m": 20.0}  # fmt: skip
    decoded = codec.from_dict(old)
    assert isinstance(decoded, ev.CallReceived)
    assert (decoded.source, decoded.callback_allowed, decoded.personal_sealed) == ("app", True, "")
    with pytest.raises(InvalidEvent):
        ev.CallReceived(IncidentId("I1"), 30.28, 120.14, 20.0, personal_sealed="+8613912345678")
    with pytest.raises(InvalidEvent):
        ev.CallReceived(IncidentId("I1"), 30.28, 120.14, 20.0, source="fax")
