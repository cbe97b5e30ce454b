"""What an ambulance's tablet brings to a test: a patient on the way, vitals and pictures.

`patient_on_the_way` makes the usual case (a chest-pain call, ALS01 assigned, the patient routed
to zjpph) on a live server; `vitals` and `picture` are the frames a tablet sends, `reply` and
`send_picture` wait for the server's answer to one.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
from PIL import Image
from websockets.sync.client import ClientConnection

from tests.support.server import HERE, Running, auth, recv_until


def vitals(seq: int, **numerics: Any) -> str:
    """A vitals frame numbered `seq`: one second of MLII ECG at 360 Hz and the given numerics."""
    at_s = 1_800_000_000.0 + seq
    chunk = {
        "seq": seq,
        "at_s": at_s,
        "lead": "MLII",
        "rate_hz": 360,
        "samples_uv": [(i * 37) % 900 - 450 for i in range(360)],
    }
    body = {
        "type": "vitals",
        "seq": seq,
        "at_s": at_s,
        "numerics": numerics or {"hr": 88, "spo2": 95, "nibp_sys": 128, "nibp_dia": 84},
        "ecg": [chunk],
    }
    return json.dumps(body)


def reply(tablet: ClientConnection) -> dict[str, Any]:
    """The server's next answer to the tablet: an "accepted" or an "error" frame."""
    return recv_until(tablet, lambda f: f["type"] in ("accepted", "error"))


def patient_on_the_way(live: Running) -> str:
    """A chest-pain call, ALS01 assigned, routed to zjpph; the incident id."""
    body = {
        "phone": "+8613800000077",
        "consent_location": True,
        "fix": HERE,
        "complaint": "chest_pain",
    }
    r = httpx.post(f"{live.http}/api/v1/calls", json=body, headers={"Idempotency-Key": "v-1"})
    iid: str = r.json()["incident_id"]
    dispatcher = auth(live.tokens["dispatcher"])
    base = f"{live.http}/api/v1/incidents/{iid}"
    assert (
        httpx.post(f"{base}/assignment", json={"unit_id": "ALS01"}, headers=dispatcher).status_code
        == 201
    )
    assert (
        httpx.post(
            f"{base}/destination", json={"hospital_id": "zjpph"}, headers=dispatcher
        ).status_code
        == 200
    )
    return iid


def picture(shade: int) -> bytes:
    """A 64x48 JPEG of one colour, its red channel `shade`, as the vehicle camera sends."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 40, 40)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def send_picture(tablet: ClientConnection, shade: int) -> dict[str, object]:
    """Send `picture(shade)` from the tablet and return the server's reply to it."""
    time.sleep(0.3)  # the relay takes at most 4 pictures a second from a tablet
    tablet.send(picture(shade))
    return reply(tablet)
