"""Bad input from tablets is refused and never reaches a hospital, over real loopback sockets.

Every test routes ALS01's patient to zjpph (`patient_on_the_way`), connects ALS01's tablet and
zjpph's hospital socket, sends the bad input, then one good frame with `sample_seq` 42 (GOOD),
and checks the first `vitals` frame zjpph receives is that good one: nothing from the bad input
was forwarded before it. A bad frame on an open tablet socket gets an `error` frame and the
socket stays open; a frame over `max_body_bytes` (64 KiB) closes the socket with 1009; a socket
opened with the wrong token closes in the handshake with 4401/4403, and an unknown unit with
4403 (another unit's token) or 4404 (a unit token left from an older log). No timing asserts.

Two kinds of frame once slipped through and are kept here: an ECG-only frame, whose own `seq`
used to be checked only through the numerics (seq "abc" was forwarded), and frames the check
could not read (no `at_s`, a 10**400 integer), once refused as `internal_error`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from dispatch.settings import Settings
from dispatch.tokens import TokenBook
from tests.support.server import Running, closed_with, recv_until, start
from tests.support.tablet import patient_on_the_way

GOOD = 42  # the good frame's seq: the first vitals frame the hospital may see
BAD = 41  # the seq the bad frames carry, when the seq is not what is bad
AT_S = 1_800_000_000.0 + BAD
RAW = "__raw__"  # a placeholder replaced by raw JSON text (NaN, Infinity, 10**400)
DELETE = object()  # remove the key


def body(seq: int = BAD) -> dict[str, Any]:
    """One good second: four numerics and one 360 Hz MLII chunk starting at `at_s`."""
    at_s = 1_800_000_000.0 + seq
    chunk = {
        "seq": seq,
        "at_s": at_s,
        "lead": "MLII",
        "rate_hz": 360,
        "samples_uv": [(i * 37) % 900 - 450 for i in range(360)],
    }
    return {
        "type": "vitals",
        "seq": seq,
        "at_s": at_s,
        "numerics": {"hr": 88, "spo2": 95, "nibp_sys": 128, "nibp_dia": 84},
        "ecg": [chunk],
    }


def changed(path: tuple[str | int, ...], value: Any, raw: str | None = None) -> str:
    """The good body with the value at `path` replaced (or deleted), as JSON text; with `raw`,
    the value is written as that raw text (json.dumps would refuse or quote it)."""
    frame = body()
    *parents, last = path
    node: Any = frame
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = RAW if raw is not None else value
    text = json.dumps(frame)
    return text.replace(f'"{RAW}"', raw) if raw is not None else text


def ecg_only(**frame: Any) -> str:
    """A frame with no numerics: the good ECG chunk, and `frame`'s keys over the header."""
    good = body()
    out = {"type": "vitals", "seq": BAD, "at_s": AT_S, "ecg": good["ecg"], **frame}
    return json.dumps({k: v for k, v in out.items() if v is not DELETE})


def reply(tablet: ClientConnection) -> dict[str, Any]:
    return recv_until(tablet, lambda f: f["type"] in ("accepted", "error"))


@contextmanager
def tablet_and_hospital(live: Running) -> Iterator[tuple[ClientConnection, ClientConnection]]:
    """ALS01's tablet and zjpph's socket, each past its snapshot; ALS01's patient goes to zjpph."""
    patient_on_the_way(live)
    with (
        live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as tablet,
        live.ws("/ws/hospitals/zjpph", live.tokens["hospitals"]["zjpph"]) as hospital,
    ):
        assert json.loads(tablet.recv(timeout=10))["type"] == "snapshot"
        assert json.loads(hospital.recv(timeout=10))["type"] == "snapshot"
        yield tablet, hospital


def good_one_is_first(tablet: ClientConnection, hospital: ClientConnection) -> None:
    """Send the good frame; it is accepted, and it is the first vitals frame the hospital gets."""
    tablet.send(json.dumps(body(GOOD)))
    assert reply(tablet) == {"type": "accepted", "frame": "vitals", "seq": GOOD}
    first = recv_until(hospital, lambda f: f["type"] == "vitals")
    assert (first["unit_id"], first["sample_seq"]) == ("ALS01", GOOD)


def refused(live: Running, frame: str, reason: str = "invalid_vitals") -> None:
    """`frame` gets an error frame with `reason`, the socket stays open, the hospital gets
    nothing of it."""
    with tablet_and_hospital(live) as (tablet, hospital):
        tablet.send(frame)
        got = reply(tablet)
        assert (got["type"], got.get("reason")) == ("error", reason), got
        good_one_is_first(tablet, hospital)


WRONG_TYPES = [
    pytest.param(changed(("numerics", "hr"), "88"), id="hr is a string"),
    pytest.param(changed(("numerics", "hr"), True), id="hr is a bool"),
    pytest.param(changed(("numerics", "spo2"), [95]), id="spo2 is a list"),
    pytest.param(changed(("numerics", "gcs"), 7.5), id="gcs is a fraction"),
    pytest.param(changed(("numerics",), [88, 95]), id="numerics is a list"),
    pytest.param(changed(("numerics",), "hr=88"), id="numerics is a string"),
    pytest.param(changed(("numerics", "pulse"), 80), id="numerics has an unknown field"),
    pytest.param(changed(("ecg",), body()["ecg"][0]), id="ecg is an object, not a list"),
    pytest.param(changed(("ecg",), "MLII"), id="ecg is a string"),
    pytest.param(changed(("ecg", 0), [1, 2, 3]), id="an ecg chunk is a list"),
    pytest.param(changed(("ecg", 0, "samples_uv", 5), "12"), id="samples hold a string"),
    pytest.param(changed(("ecg", 0, "samples_uv", 5), None), id="samples hold null"),
    pytest.param(changed(("ecg", 0, "samples_uv"), "1,2,3"), id="samples is a string"),
    pytest.param(changed(("ecg", 0, "rate_hz"), "360"), id="rate_hz is a string"),
    pytest.param(changed(("ecg", 0, "lead"), 2), id="lead is a number"),
    pytest.param(changed(("ecg", 0, "seq"), "1"), id="chunk seq is a string"),
    pytest.param(changed(("seq",), "41"), id="seq is a string"),
    pytest.param(changed(("seq",), 41.5), id="seq is a fraction"),
    pytest.param(changed(("seq",), True), id="seq is a bool"),
    pytest.param(changed(("seq",), DELETE), id="seq is missing"),
    pytest.param(changed(("at_s",), "now"), id="at_s is a string"),
    pytest.param(ecg_only(seq="abc"), id="ECG-only frame, seq is a string"),
    pytest.param(ecg_only(seq=41.5), id="ECG-only frame, seq is a fraction"),
    pytest.param(ecg_only(seq=True), id="ECG-only frame, seq is a bool"),
    pytest.param(ecg_only(seq=DELETE), id="ECG-only frame, seq is missing"),
]


@pytest.mark.parametrize("frame", WRONG_TYPES)
def test_wrong_types_are_refused_and_never_reach_the_hospital(live: Running, frame: str) -> None:
    """A frame with one field of the wrong type (hr "88", ecg an object, a sample "12", seq
    41.5) gets `invalid_vitals`, and the hospital's first vitals frame is the good one after."""
    refused(live, frame)


NOT_FINITE = [
    pytest.param(changed(("numerics", "hr"), None, "NaN"), id="hr NaN"),
    pytest.param(changed(("numerics", "hr"), None, "Infinity"), id="hr Infinity"),
    pytest.param(changed(("numerics", "spo2"), None, "-Infinity"), id="spo2 -Infinity"),
    pytest.param(changed(("numerics", "nibp_sys"), None, "NaN"), id="nibp_sys NaN"),
    pytest.param(changed(("at_s",), None, "NaN"), id="at_s NaN"),
    pytest.param(changed(("at_s",), None, "Infinity"), id="at_s Infinity"),
    pytest.param(changed(("seq",), None, "NaN"), id="seq NaN"),
    pytest.param(changed(("ecg", 0, "samples_uv", 7), None, "NaN"), id="a sample NaN"),
    pytest.param(changed(("ecg", 0, "samples_uv", 7), None, "-Infinity"), id="a sample -Inf"),
    pytest.param(changed(("ecg", 0, "rate_hz"), None, "NaN"), id="rate_hz NaN"),
    pytest.param(changed(("ecg", 0, "rate_hz"), None, "Infinity"), id="rate_hz Infinity"),
    pytest.param(changed(("ecg", 0, "at_s"), None, "NaN"), id="chunk at_s NaN"),
]


@pytest.mark.parametrize("frame", NOT_FINITE)
def test_nan_and_infinity_are_refused_and_never_reach_the_hospital(
    live: Running, frame: str
) -> None:
    """NaN, Infinity or -Infinity (as raw JSON text, which Python's json accepts) in a
    numeric, a header field, a sample or the ECG rate gets `invalid_vitals`; nothing is
    forwarded."""
    assert "NaN" in frame or "Infinity" in frame
    refused(live, frame)


OUT_OF_RANGE = [
    pytest.param(changed(("numerics", "hr"), 351), id="hr 351 (max 350)"),
    pytest.param(changed(("numerics", "hr"), -1), id="hr -1"),
    pytest.param(changed(("numerics", "spo2"), 100.5), id="spo2 100.5 %"),
    pytest.param(changed(("numerics", "nibp_sys"), 301), id="nibp_sys 301 (max 300)"),
    pytest.param(changed(("numerics", "nibp_dia"), 130), id="diastolic above systolic"),
    pytest.param(changed(("numerics", "nibp_dia"), DELETE), id="systolic without diastolic"),
    pytest.param(changed(("numerics", "rr"), 121), id="rr 121 (max 120)"),
    pytest.param(changed(("numerics", "etco2"), 151), id="etco2 151 (max 150)"),
    pytest.param(changed(("numerics", "temp_c"), 9.9), id="temp_c 9.9 (min 10)"),
    pytest.param(changed(("numerics", "gcs"), 2), id="gcs 2 (min 3)"),
    pytest.param(changed(("numerics", "gcs"), 16), id="gcs 16 (max 15)"),
    pytest.param(changed(("seq",), -1), id="seq -1"),
    pytest.param(changed(("ecg", 0, "samples_uv", 3), 20_001), id="a sample 20001 µV"),
    pytest.param(changed(("ecg", 0, "rate_hz"), 99), id="rate_hz 99 (min 100)"),
    pytest.param(changed(("ecg", 0, "rate_hz"), 1001), id="rate_hz 1001 (max 1000)"),
    pytest.param(changed(("ecg", 0, "samples_uv"), []), id="no samples"),
    pytest.param(changed(("ecg", 0, "samples_uv"), [0] * 721), id="721 samples at 360 Hz"),
    pytest.param(changed(("ecg", 0, "at_s"), AT_S + 1.0), id="chunk in the next second"),
    pytest.param(changed(("ecg",), body()["ecg"] * 13), id="13 ecg chunks (max 12)"),
    pytest.param(ecg_only(seq=-5), id="ECG-only frame, seq -5"),
]


@pytest.mark.parametrize("frame", OUT_OF_RANGE)
def test_out_of_range_values_are_refused_and_never_reach_the_hospital(
    live: Running, frame: str
) -> None:
    """Values no body or monitor can show (hr 351, gcs 16, a 20 mV sample, 721 samples of a
    one-second 360 Hz chunk) get `invalid_vitals`; nothing is forwarded."""
    refused(live, frame)


UNREADABLE = [
    pytest.param(json.dumps({"type": "vitals"}), id="no seq, no at_s, no samples"),
    pytest.param(ecg_only(at_s=DELETE), id="ECG-only frame without at_s"),
    pytest.param(
        json.dumps({"type": "vitals", "seq": BAD, "at_s": "now"}), id="at_s text, no samples"
    ),
    pytest.param(
        json.dumps({"type": "vitals", "seq": BAD, "at_s": 1e300}), id="at_s 1e300, no samples"
    ),
    pytest.param(changed(("numerics", "hr"), None, "1" + "0" * 400), id="hr 10**400"),
    pytest.param(
        changed(("ecg", 0, "samples_uv", 0), None, "1" + "0" * 400), id="a sample 10**400"
    ),
]


@pytest.mark.parametrize("frame", UNREADABLE)
def test_frames_the_check_cannot_read_are_refused_and_never_reach_the_hospital(
    live: Running, frame: str
) -> None:
    """A frame with no header at all, a 1e300 s time or a 401-digit number is the tablet's
    fault: `invalid_vitals` (not `internal_error`), the socket stays open, nothing forwarded."""
    refused(live, frame)


def padded(n_bytes: int) -> str:
    """A good-looking vitals frame padded with a junk field to `n_bytes` of JSON text."""
    text = json.dumps(body())
    pad = n_bytes - len(text) - len(', "pad": ""')
    return text[:-1] + ', "pad": "' + "x" * pad + '"}'


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(padded(5 * 1024 * 1024), id="5 MB frame"),
        pytest.param(padded(64 * 1024 + 1), id="64 KiB + 1 byte"),
        pytest.param(
            [padded(5 * 1024 * 1024)[i : i + 32_768] for i in range(0, 5 * 1024 * 1024, 32_768)],
            id="5 MB in 32 KiB fragments",
        ),
    ],
)
def test_a_frame_over_max_body_bytes_closes_1009_and_never_reaches_the_hospital(
    live: Running, message: str | list[str]
) -> None:
    """A message over the 64 KiB limit, whole or in fragments each under it, closes the
    tablet's socket with 1009; the reconnected tablet's good frame is the hospital's first."""
    with tablet_and_hospital(live) as (tablet, hospital):
        # The server may close while the client is still writing: the send then fails.
        with suppress(ConnectionClosed, OSError):
            tablet.send(iter(message) if isinstance(message, list) else message)
        assert closed_with(tablet) == 1009
        with live.ws("/ws/units/ALS01", live.tokens["units"]["ALS01"]) as again:
            assert json.loads(again.recv(timeout=10))["type"] == "snapshot"
            good_one_is_first(again, hospital)


def token_of(live: Running, who: str) -> str:
    tokens = live.tokens
    by_name: dict[str, str] = {
        "BLS02's tablet": tokens["units"]["BLS02"],
        "zjpph's hospital": tokens["hospitals"]["zjpph"],
        "the dispatcher": tokens["dispatcher"],
        "no token": "",
        "a made-up token": "not-a-token-at-all-123",
    }
    return by_name[who]


def opened_then_sent(live: Running, path: str, token: str) -> int | None:
    """Open `path` with `token`, send one vitals frame at once (before the close can arrive),
    then the close code the server sent."""
    with live.ws(path, token) as ws:
        with suppress(ConnectionClosed, OSError):
            ws.send(json.dumps(body()))
        return closed_with(ws)


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("BLS02's tablet", 4403),
        ("zjpph's hospital", 4403),
        ("the dispatcher", 4403),
        ("no token", 4401),
        ("a made-up token", 4401),
    ],
)
def test_a_token_that_is_not_the_units_own_is_refused(live: Running, who: str, code: int) -> None:
    """ALS01's socket opened with another unit's, a hospital's or the dispatcher's token
    closes 4403, with none or a made-up one 4401; the frame sent at once reaches no one."""
    with tablet_and_hospital(live) as (tablet, hospital):
        assert opened_then_sent(live, "/ws/units/ALS01", token_of(live, who)) == code
        good_one_is_first(tablet, hospital)


@pytest.mark.parametrize(
    ("who", "code"), [("BLS02's tablet", 4403), ("no token", 4401), ("the dispatcher", 4403)]
)
def test_an_unknown_unit_is_refused(live: Running, who: str, code: int) -> None:
    """/ws/units/XYZ99 (no such unit) closes 4403 with a real unit's or the dispatcher's token
    (checked before the unit exists: no unit ids are revealed) and 4401 with none."""
    with tablet_and_hospital(live) as (tablet, hospital):
        assert opened_then_sent(live, "/ws/units/XYZ99", token_of(live, who)) == code
        good_one_is_first(tablet, hospital)


@pytest.fixture
def live_with_a_stale_unit_token(settings: Settings) -> Iterator[tuple[Running, str]]:
    """A server whose tokens file still holds a token for ALS99, a unit from an older event
    log that this server does not have; (server, that token)."""
    book = TokenBook.open(Path(settings.tokens_file))
    stale = "stale-token-of-als99-0123"
    book.units["ALS99"] = stale
    book.save()
    running = start(settings)
    try:
        yield running, stale
    finally:
        running.stop()


def test_a_unit_token_left_from_an_older_log_is_refused_4404(
    live_with_a_stale_unit_token: tuple[Running, str],
) -> None:
    """The token of ALS99, a unit this server does not know, opens nothing: 4404; its frame
    reaches no hospital."""
    live, stale = live_with_a_stale_unit_token
    assert "ALS99" in live.tokens["units"]
    with tablet_and_hospital(live) as (tablet, hospital):
        assert opened_then_sent(live, "/ws/units/ALS99", stale) == 4404
        good_one_is_first(tablet, hospital)


def test_a_burst_of_bad_frames_leaves_the_socket_open_and_the_stream_clean(live: Running) -> None:
    """Twenty bad frames in a row (one of each kind above) each get their error frame; the
    socket stays open and the good frame after them is the hospital's first."""
    frames = [str(p.values[0]) for p in WRONG_TYPES[:8] + NOT_FINITE[:6] + OUT_OF_RANGE[:6]]
    assert len(frames) == 20
    with tablet_and_hospital(live) as (tablet, hospital):
        for frame in frames:
            tablet.send(frame)
        reasons = [reply(tablet)["reason"] for _ in frames]
        assert reasons == ["invalid_vitals"] * 20
        good_one_is_first(tablet, hospital)
