"""The simulated monitor: MIT-BIH at 250 Hz, frames the server accepts, a trace recognisable at
the hospital."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.core.events import AGE_BANDS, SEXES
from hospital_link.ecg import read_lead_mv
from hospital_link.fhir import StreamContext, bundle_second
from hospital_link.vitals import EcgChunk, Numerics
from simulator.live.vitals import (
    ECG_RATE_HZ,
    Monitor,
    draw_patient,
    fingerprint,
    mitbih_uv,
    received_fingerprint,
)


def test_the_trace_is_record_100_resampled_to_250_hz() -> None:
    """650,000 samples at 360 Hz become 451,388 at 250 Hz; sample 0 and the one at 1 s match the
    record at 0 s and 1 s (to the 5 µV step of MIT-BIH)."""
    rate_hz, mv = read_lead_mv()
    uv = mitbih_uv()
    assert rate_hz == 360 and len(uv) == 451_388
    assert uv[0] == pytest.approx(mv[0] * 1000, abs=5)
    assert uv[ECG_RATE_HZ] == pytest.approx(mv[360] * 1000, abs=5)


@pytest.mark.parametrize("complaint", ["cardiac_arrest", "stroke", "trauma", "paediatric", "x"])
def test_every_frame_passes_the_servers_checks(complaint: str) -> None:
    """120 seconds of frames: numerics and the 250-sample chunk are valid `Numerics` and
    `EcgChunk` values (the checks the vitals relay runs), and seq runs on."""
    monitor = Monitor(complaint, np.random.default_rng(3))
    for seq in range(1, 121):
        frame = monitor.frame(seq, 1_700_000_000.0 + seq)
        assert frame["type"] == "vitals" and frame["seq"] == seq
        Numerics("ALS01", seq, frame["at_s"], **frame["numerics"])
        c = frame["ecg"][0]
        chunk = EcgChunk(
            "ALS01", c["seq"], c["at_s"], c["lead"], c["rate_hz"], tuple(c["samples_uv"])
        )
        assert chunk.duration_s == 1.0


def test_the_fingerprint_survives_the_fhir_bundle() -> None:
    """The first samples sent come back out of the hospital's Bundle (`valueSampledData`)."""
    monitor = Monitor("chest_pain", np.random.default_rng(4))
    frame = monitor.frame(7, 1_700_000_000.0)
    c = frame["ecg"][0]
    chunk = EcgChunk("BLS02", 7, c["at_s"], c["lead"], 250.0, tuple(c["samples_uv"]))
    bundle = bundle_second(StreamContext("p1"), "BLS02", 7, frame["at_s"], None, [chunk])
    assert received_fingerprint(bundle) == fingerprint(frame)
    assert received_fingerprint({"entry": []}) is None


def test_patients_fit_their_complaint_and_the_wire() -> None:
    """Obstetric patients are women of 15-44, paediatric ones under 15; every band and sex is
    one the server accepts."""
    rng = np.random.default_rng(6)
    for _ in range(200):
        assert draw_patient(rng, "obstetric") == ("15-44", "female")
        assert draw_patient(rng, "paediatric")[0] in ("0-4", "5-14")
        band, sex = draw_patient(rng, "stroke")
        assert band in AGE_BANDS and sex in SEXES
