"""Vitals samples from a unit's monitor: numerics once a second and ECG in short chunks.

What a monitor sends is checked here, once, before it reaches a hospital: a NaN, a heart rate
of 900 or an SpO2 of 140 % is a sensor or typing fault, and forwarding it would put a false
number in front of a receiving team. The ranges are wide on purpose (what a body can show, not
what is normal): they refuse garbage, never a sick patient. Each sample carries its unit and a
per-unit sequence number so the stream can be de-duplicated and resumed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from hospital_link.errors import InvalidVitals

# Plausible physiological limits (inclusive). Zero heart rate and zero SpO2 are real readings
# (asystole, no pleth); 10 °C core is below the lowest recorded survival (13.7 °C).
NUMERIC_RANGES: Mapping[str, tuple[float, float]] = {
    "hr": (0.0, 350.0),  # beats/min
    "spo2": (0.0, 100.0),  # %
    "nibp_sys": (0.0, 300.0),  # mmHg
    "nibp_dia": (0.0, 250.0),  # mmHg
    "rr": (0.0, 120.0),  # breaths/min (neonates reach 60-80)
    "etco2": (0.0, 150.0),  # mmHg
    "temp_c": (10.0, 45.0),  # °C
    "gcs": (3.0, 15.0),  # Glasgow coma score, integer
}
ECG_RATE_RANGE_HZ = (100.0, 1000.0)  # monitors stream 125-500 Hz; MIT-BIH is 360 Hz
ECG_MAX_CHUNK_S = 2.0  # a chunk longer than this would delay the first samples too much
ECG_MAX_ABS_UV = 20_000.0  # +-20 mV: well beyond any surface ECG, so only faults are refused


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_header(unit_id: object, seq: object, at_s: object) -> None:
    if not (isinstance(unit_id, str) and unit_id.strip() and unit_id == unit_id.strip()):
        raise InvalidVitals("unit_id", f"{unit_id!r} is not a non-empty id")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0):
        raise InvalidVitals("seq", f"{seq!r} is not an integer >= 0")
    if not (_is_number(at_s) and math.isfinite(at_s)):  # type: ignore[arg-type]
        raise InvalidVitals("at_s", f"{at_s!r} is not a finite number")


@dataclass(frozen=True)
class Numerics:
    """One second of monitor numerics; a field is None when the monitor has no reading."""

    unit_id: str
    seq: int  # per unit, increasing by one per sample
    at_s: float
    hr: float | None = None  # beats/min
    spo2: float | None = None  # %, pulse oximetry
    nibp_sys: float | None = None  # mmHg, non-invasive cuff; with nibp_dia or not at all
    nibp_dia: float | None = None  # mmHg
    rr: float | None = None  # breaths/min
    etco2: float | None = None  # mmHg, end-tidal CO2 partial pressure
    temp_c: float | None = None  # °C
    gcs: int | None = None  # 3..15

    def __post_init__(self) -> None:
        _check_header(self.unit_id, self.seq, self.at_s)
        for name, (low, high) in NUMERIC_RANGES.items():
            v = getattr(self, name)
            if v is None:
                continue
            if not _is_number(v) or math.isnan(v):
                raise InvalidVitals(name, f"{v!r} is not a number")
            if not low <= v <= high:
                raise InvalidVitals(name, f"{v!r} is outside the plausible {low:g}..{high:g}")
        if self.gcs is not None and not isinstance(self.gcs, int):
            raise InvalidVitals("gcs", f"{self.gcs!r} is not a whole score")
        if (self.nibp_sys is None) != (self.nibp_dia is None):
            raise InvalidVitals("nibp_sys", "a cuff reading has both systolic and diastolic")
        if (
            self.nibp_sys is not None
            and self.nibp_dia is not None
            and self.nibp_dia > self.nibp_sys
        ):
            raise InvalidVitals("nibp_dia", "diastolic above systolic")

    @property
    def present(self) -> tuple[str, ...]:
        """The names of the readings this sample holds, in field order."""
        return tuple(
            f.name
            for f in fields(self)
            if f.name in NUMERIC_RANGES and getattr(self, f.name) is not None
        )


@dataclass(frozen=True)
class EcgChunk:
    """Consecutive samples of one ECG lead, in microvolts, starting at `at_s`."""

    unit_id: str
    seq: int  # per unit and lead, increasing by one per chunk
    at_s: float  # time of the first sample
    lead: str  # "I", "II", "V5", "MLII" (MIT-BIH's modified lead II), ...
    rate_hz: float
    samples_uv: tuple[float, ...]  # ints from a monitor's ADC; floats allowed

    def __post_init__(self) -> None:
        _check_header(self.unit_id, self.seq, self.at_s)
        if not (isinstance(self.lead, str) and self.lead.strip()):
            raise InvalidVitals("lead", f"{self.lead!r} is not a lead name")
        low, high = ECG_RATE_RANGE_HZ
        if not (_is_number(self.rate_hz) and low <= self.rate_hz <= high):
            raise InvalidVitals("rate_hz", f"{self.rate_hz!r} is not in {low:g}..{high:g} Hz")
        if not isinstance(self.samples_uv, tuple):
            raise InvalidVitals("samples_uv", "must be a tuple")
        n = len(self.samples_uv)
        if not 0 < n <= ECG_MAX_CHUNK_S * self.rate_hz:
            raise InvalidVitals("samples_uv", f"{n} samples; expected 1..{ECG_MAX_CHUNK_S:g} s")
        for i, v in enumerate(self.samples_uv):
            if not (_is_number(v) and math.isfinite(v) and abs(v) <= ECG_MAX_ABS_UV):
                raise InvalidVitals("samples_uv", f"sample {i} is {v!r}, not a finite µV value")

    @property
    def duration_s(self) -> float:
        return len(self.samples_uv) / self.rate_hz
