"""The ambulance tablets of the vitals load: put on calls over HTTP, connected, streaming.

`put_units_on_calls` gives every unit a chest-pain call at its own station (the stations are
spread over the city, so every call is on the road network and every unit reaches it), assigns
it and routes its patient to the hospitals in turn. Each tablet then opens `/ws/units/{id}`,
acknowledges its offer (`open_tablet`) and sends one `vitals` frame a second at its own random
phase (`stream`): six numerics and a one-second, 250-sample MLII chunk of MIT-BIH record 100.
The send times and the server's replies go into a `Ledger`. Loopback only; every wait bounded.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from tqdm import tqdm
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulator.load.loadgen import HOST
from simulator.load.vitals.ledger import Ledger

ECG_RATE_HZ = 250
JITTER_DEG = 0.0003  # ~30 m about the station: on roads
MAX_FRAMES = 600  # a tablet streams 10 min at most


def ecg_uv() -> list[int]:
    """MIT-BIH record 100, lead MLII, in whole µV, linearly resampled from 360 to 250 Hz (the
    simulated tablets' trace: `simulator.live.vitals.mitbih_uv`)."""
    from simulator.live.vitals import mitbih_uv

    return list(mitbih_uv(ECG_RATE_HZ))


@dataclass
class Tablet:
    """One unit on a call: who it is, where its patient goes and its monitor's state (the
    sample seq it last sent: mutable)."""

    unit_id: str
    token: str
    incident_id: str
    hospital_id: str
    numerics: dict[str, int]  # the patient's baseline readings
    ecg_offset: int  # where in the record this patient's ECG starts
    seq: int = 0

    def frame(self, at_s: float, jitter: np.ndarray, ecg: list[int]) -> str:
        """The next second's vitals frame, numbered seq."""
        self.seq += 1
        start = (self.ecg_offset + self.seq * ECG_RATE_HZ) % (len(ecg) - ECG_RATE_HZ)
        numerics = {k: v + int(jitter[i]) for i, (k, v) in enumerate(self.numerics.items())}
        chunk = {
            "seq": self.seq,
            "at_s": at_s,
            "lead": "MLII",
            "rate_hz": ECG_RATE_HZ,
            "samples_uv": ecg[start : start + ECG_RATE_HZ],
        }
        body = {"type": "vitals", "seq": self.seq, "at_s": at_s, "numerics": numerics}
        body["ecg"] = [chunk]
        return json.dumps(body, separators=(",", ":"))


def patient(rng: np.random.Generator) -> dict[str, int]:
    """Plausible numerics of a chest-pain patient (well inside hospital_link.vitals' ranges)."""
    sys_mmhg = int(rng.integers(100, 170))
    return {
        "hr": int(rng.integers(55, 120)),
        "spo2": int(rng.integers(91, 99)),
        "nibp_sys": sys_mmhg,
        "nibp_dia": sys_mmhg - int(rng.integers(30, 60)),
        "rr": int(rng.integers(12, 26)),
        "etco2": int(rng.integers(30, 45)),
    }


def put_units_on_calls(
    base: str, ws_port: int, tokens: dict[str, Any], units: int, hospitals: int, seed: int
) -> list[Tablet]:
    """A call at each of the first `units` units' stations, that unit assigned, its patient
    routed to the first `hospitals` of the tokens file in turn."""
    from websockets.sync.client import connect as connect_sync

    rng = np.random.default_rng(seed)
    dispatcher = tokens["dispatcher"]
    with connect_sync(f"ws://{HOST}:{ws_port}/ws/console?token={dispatcher}") as console:
        snap = json.loads(console.recv(timeout=30))
    fleet = sorted(snap["units"], key=lambda u: u["unit_id"])[:units]
    wards = list(tokens["hospitals"])[:hospitals]
    if len(fleet) < units or len(wards) < hospitals:
        raise RuntimeError(f"the server has {len(fleet)} units and {len(wards)} hospitals")
    head = {"Authorization": f"Bearer {dispatcher}"}
    tablets = []
    jitter = rng.normal(0.0, JITTER_DEG, size=(len(fleet), 2))
    with httpx.Client(base_url=base, timeout=30.0) as client:
        for i, u in enumerate(tqdm(fleet, desc="calls", file=sys.stderr, leave=False)):
            fix = {"lat": u["lat"] + jitter[i, 0], "lon": u["lon"] + jitter[i, 1], "accuracy_m": 15}
            body = {"phone": f"+86138{i:08d}", "consent_location": True, "fix": fix}
            body["complaint"] = "chest_pain"
            r = client.post("/api/v1/calls", json=body, headers={"Idempotency-Key": f"vb-{i}"})
            if r.status_code != 201:
                raise RuntimeError(f"call for {u['unit_id']}: {r.status_code} {r.text[:200]}")
            iid = r.json()["incident_id"]
            hospital = wards[i % len(wards)]
            for path, payload, ok in (
                ("assignment", {"unit_id": u["unit_id"]}, 201),
                ("destination", {"hospital_id": hospital}, 200),
            ):
                r = client.post(f"/api/v1/incidents/{iid}/{path}", json=payload, headers=head)
                if r.status_code != ok:
                    raise RuntimeError(f"{path} of {u['unit_id']}: {r.status_code} {r.text[:200]}")
            token = tokens["units"][u["unit_id"]]
            offset = int(rng.integers(0, 400_000))
            tablets.append(Tablet(u["unit_id"], token, iid, hospital, patient(rng), offset))
    return tablets


async def open_tablet(port: int, t: Tablet) -> ClientConnection:
    """The tablet's socket, its job checked and its offer acknowledged."""
    uri = f"ws://{HOST}:{port}/ws/units/{t.unit_id}?token={t.token}"
    ws = await connect(uri, open_timeout=30, compression=None, max_size=2**24)
    snap = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if snap.get("job", {}).get("incident_id") != t.incident_id:
        raise RuntimeError(f"{t.unit_id} is not on {t.incident_id}: {snap}")
    await ws.send(json.dumps({"type": "ack", "incident_id": t.incident_id, "device": "tablet"}))
    for _ in range(20):  # the reply, past any offer or status frames
        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if reply.get("type") in ("accepted", "error"):
            if reply["type"] == "error":
                raise RuntimeError(f"{t.unit_id}: ack refused: {reply}")
            return ws
    raise RuntimeError(f"{t.unit_id}: no reply to the ack")


async def read_tablet(t: Tablet, ws: ClientConnection, ledger: Ledger) -> None:
    """The tablet's replies: `accepted` timed from the send, `error` counted by reason."""
    try:
        async for raw in ws:
            now = time.monotonic()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "accepted" and frame.get("frame") == "vitals":
                ledger.note_accepted(t.unit_id, frame.get("seq", -1), now)
            elif kind == "error":
                ledger.errors[str(frame.get("reason"))] += 1
    except ConnectionClosed:
        return


async def stream(
    t: Tablet,
    ws: ClientConnection,
    ledger: Ledger,
    stop: asyncio.Event,
    ecg: list[int],
    seed: int,
) -> None:
    """One vitals frame a second at a random phase until `stop`; late seconds are not made up."""
    rng = np.random.default_rng(seed)
    jitter = rng.integers(-2, 3, size=(MAX_FRAMES, len(t.numerics)))  # ±2 per reading
    due = time.monotonic() + float(rng.uniform(0.0, 1.0))
    while not stop.is_set() and t.seq < len(jitter):
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if stop.is_set():
            return
        text = t.frame(time.time(), jitter[t.seq], ecg)
        ledger.note_sent(t.unit_id, t.seq, time.monotonic(), due)
        try:
            await ws.send(text)
        except ConnectionClosed:
            ledger.errors["tablet socket closed"] += 1
            return
        due += 1.0
        if due < time.monotonic():  # the generator fell over a second behind: skip ahead
            due = time.monotonic()
