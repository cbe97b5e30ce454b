"""Vitals samples: plausible readings pass, NaN and impossible ones are refused by field."""

from __future__ import annotations

import math

import pytest

from hospital_link.errors import InvalidVitals
from hospital_link.vitals import EcgChunk, Numerics


def test_full_sample() -> None:
    """A sample with every reading lists them all, in field order."""
    n = Numerics(
        "A1",
        7,
        12.0,
        hr=80,
        spo2=97,
        nibp_sys=120,
        nibp_dia=80,
        rr=16,
        etco2=38,
        temp_c=36.8,
        gcs=15,
    )
    assert n.present == ("hr", "spo2", "nibp_sys", "nibp_dia", "rr", "etco2", "temp_c", "gcs")
    assert Numerics("A1", 0, 0.0).present == ()


def test_extremes_of_illness_pass() -> None:
    """Asystole (HR 0), SpO2 0, GCS 3 and 28 °C are real readings, not faults."""
    n = Numerics("A1", 0, 0.0, hr=0, spo2=0, gcs=3, temp_c=28.0)
    assert n.present == ("hr", "spo2", "temp_c", "gcs")


@pytest.mark.parametrize(
    ("field", "value"),
    [("hr", math.nan), ("hr", 900), ("hr", -1), ("spo2", 140), ("spo2", math.inf),
     ("nibp_sys", 400), ("rr", 200), ("etco2", -5), ("temp_c", 50), ("temp_c", 5),
     ("gcs", 2), ("gcs", 16), ("gcs", 12.5), ("hr", True), ("spo2", "97")],
)  # fmt: skip
def test_bad_readings_name_their_field(field: str, value: object) -> None:
    """NaN, HR 900, SpO2 140 %, GCS 2 or 12.5, a bool or a string raise InvalidVitals(field)."""
    extra = {"nibp_dia": 80} if field == "nibp_sys" else {}
    with pytest.raises(InvalidVitals) as exc:
        Numerics("A1", 0, 0.0, **{field: value, **extra})  # type: ignore[arg-type]
    assert exc.value.field == field and exc.value.reason == "invalid_vitals"


def test_blood_pressure_consistency() -> None:
    """A cuff reading needs both numbers, and diastolic may not exceed systolic."""
    with pytest.raises(InvalidVitals):
        Numerics("A1", 0, 0.0, nibp_sys=120)
    with pytest.raises(InvalidVitals) as exc:
        Numerics("A1", 0, 0.0, nibp_sys=80, nibp_dia=90)
    assert exc.value.field == "nibp_dia"


@pytest.mark.parametrize(
    ("unit_id", "seq", "at_s", "field"),
    [("", 0, 0.0, "unit_id"), (" A1", 0, 0.0, "unit_id"), ("A1", -1, 0.0, "seq"),
     ("A1", 1.5, 0.0, "seq"), ("A1", 0, math.nan, "at_s")],
)  # fmt: skip
def test_bad_headers(unit_id: str, seq: int, at_s: float, field: str) -> None:
    """An empty or padded unit id, a negative or fractional seq, a NaN time are refused."""
    with pytest.raises(InvalidVitals) as exc:
        Numerics(unit_id, seq, at_s)
    assert exc.value.field == field


def test_ecg_chunk() -> None:
    """360 samples at 360 Hz is one second; ints and floats are both accepted."""
    c = EcgChunk("A1", 0, 0.0, "MLII", 360.0, tuple([0, -145, 12.5] * 120))
    assert c.duration_s == 1.0


@pytest.mark.parametrize(
    ("rate", "samples", "field"),
    [(360.0, (), "samples_uv"), (360.0, (0,) * 721, "samples_uv"),
     (360.0, (0, math.nan), "samples_uv"), (360.0, (0, 25_000), "samples_uv"),
     (50.0, (0,), "rate_hz"), (360.0, [0, 1], "samples_uv")],
)  # fmt: skip
def test_bad_ecg_chunks(rate: float, samples: object, field: str) -> None:
    """Empty, over 2 s, NaN, 25 mV, 50 Hz or a list instead of a tuple are refused."""
    with pytest.raises(InvalidVitals) as exc:
        EcgChunk("A1", 0, 0.0, "II", rate, samples)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_ecg_chunk_needs_a_lead() -> None:
    """A chunk without a lead name cannot be drawn on the right trace."""
    with pytest.raises(InvalidVitals):
        EcgChunk("A1", 0, 0.0, " ", 250.0, (0,))
