"""A simulated receiving hospital: its socket, its acknowledgements, and the vitals it receives.

Each hospital of the tokens file opens `/ws/hospitals/{id}` with its own token (reopening with
`since` after a drop, as the hospital page does) and acknowledges every patient notice it has
not acknowledged yet (`{"type": "ack", "incident_id"}`), as a charge nurse pressing the button.
Every `vitals` frame is matched to the tablet frame it came from by (unit, sample_seq): the
time from the tablet's send to here is a latency sample, and its ECG is checked to be the
MIT-BIH samples the tablet sent (`simulator.live.vitals.received_fingerprint`).
"""

from __future__ import annotations

from simulator.live.context import LiveContext
from simulator.live.link import Frame, Link
from simulator.live.vitals import received_fingerprint


class Hospital:
    """One hospital's screen and the nurse acknowledging on it."""

    def __init__(self, ctx: LiveContext, hospital_id: str, token: str) -> None:
        self.ctx = ctx
        self.hospital_id = hospital_id
        self.token = token
        self.last_seq: int | None = None
        self._acked: set[str] = set()
        self.link = Link(f"hospital {hospital_id}", self._url, self._on_frame, ctx.tally)

    def _url(self) -> str:
        since = f"&since={self.last_seq}" if self.last_seq is not None else ""
        return f"{self.ctx.endpoints.ws}/ws/hospitals/{self.hospital_id}?token={self.token}{since}"

    def _on_frame(self, frame: Frame) -> None:
        seq = frame.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq
        kind = frame.get("type")
        if kind == "snapshot":
            self.last_seq = frame.get("last_seq", self.last_seq)
            for patient in frame.get("inbound", []):
                self._inbound(patient)
        elif kind == "patient.inbound":
            self.ctx.tally.count("notices")
            self._inbound(frame)
        elif kind == "vitals":
            self._vitals(frame)
        elif kind == "patient.closed":
            self.ctx.tally.count(f"patients closed ({frame.get('reason')})")

    def _inbound(self, patient: Frame) -> None:
        iid = str(patient["incident_id"])
        self.ctx.routed(iid, self.hospital_id)
        if patient.get("acknowledged_at_s") is None and iid not in self._acked:
            self._acked.add(iid)
            self.ctx.spawn(self._ack(iid), "hospital")

    async def _ack(self, incident_id: str) -> None:
        answer = await self.link.request({"type": "ack", "incident_id": incident_id})
        if answer is not None:
            self.ctx.tally.count("hospital_acks")

    def _vitals(self, frame: Frame) -> None:
        ctx = self.ctx
        ctx.tally.count("vitals_received")
        sent = ctx.vitals_sent.pop(
            (str(frame.get("unit_id")), int(frame.get("sample_seq", -1))), None
        )
        if sent is None:
            ctx.tally.count("vitals received but not matched to a send")
            return
        fingerprint, sent_at = sent
        ctx.tally.sample("vitals: tablet → hospital", ctx.wall() - sent_at)
        if received_fingerprint(frame.get("bundle", {})) == fingerprint:
            ctx.tally.count("vitals_mitbih")
        else:
            ctx.tally.error("vitals ECG differs from the samples sent")
