"""A simulated patient monitor: one tablet `vitals` frame a second, with a real ECG trace.

Pure and seeded. The ECG is MIT-BIH Arrhythmia Database record 100, lead MLII (data/ecg_mitbih/,
read by `hospital_link.ecg`), resampled 360 -> 250 Hz and sent in one-second, 250-sample chunks
in whole µV, looping; each patient starts at its own offset in the 30-minute record. So the
hospital sees a real human trace. It is the same recording (normal sinus rhythm, ~75 beats/min)
for every patient; the numerics are SYNTHETIC, drawn per complaint around the values below and
drifting a little each second, so the heart rate shown need not match the trace's.

The frame is the wire's `vitals` frame (docs/wire-protocol.md), the shape
`benchmarks/bench_vitals.py` sends too. The patient the crew describes (`draw_patient`: an age
band and sex per complaint, older patients dominating most kinds) is SYNTHETIC as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from routing.network import F64

ECG_RATE_HZ = 250
LEAD = "MLII"
FINGERPRINT = 8  # samples that identify a chunk at the receiving end

# Baseline numerics per complaint: hr, spo2, nibp_sys, nibp_dia, rr, etco2, temp_c, gcs.
# Plausible values for a patient of that kind on the way in (SYNTHETIC), not norms.
_BASELINE: Mapping[str, tuple[float, float, float, float, float, float, float, int]] = {
    "cardiac_arrest": (112, 91, 92, 55, 14, 28, 35.8, 5),  # after return of circulation
    "chest_pain": (96, 96, 152, 92, 18, 36, 36.8, 15),
    "stroke": (84, 96, 178, 98, 16, 37, 36.9, 11),
    "breathing": (108, 88, 138, 84, 28, 46, 37.4, 15),
    "trauma": (112, 95, 108, 68, 22, 33, 36.3, 14),
    "obstetric": (102, 98, 124, 78, 20, 34, 37.1, 15),
    "paediatric": (128, 97, 98, 58, 28, 35, 37.9, 15),
    "other": (88, 97, 132, 80, 17, 37, 37.0, 15),
}
_NAMES = ("hr", "spo2", "nibp_sys", "nibp_dia", "rr", "etco2", "temp_c", "gcs")
_SPREAD = (8.0, 1.5, 12.0, 8.0, 2.5, 3.0, 0.3, 0.0)  # between patients (one σ)
_DRIFT = (1.0, 0.3, 1.5, 1.0, 0.4, 0.4, 0.01, 0.0)  # per second (one σ of a random walk)
_LIMITS = ((20, 220), (50, 100), (50, 240), (25, 150), (4, 60), (5, 90), (30.0, 42.0), (3, 15))
_AGE_BANDS = ("0-4", "5-14", "15-44", "45-64", "65-79", "80+")  # dispatch.core.events.AGE_BANDS
_AGE_MIX: Mapping[str, tuple[float, ...]] = {  # shares in _AGE_BANDS order
    "paediatric": (0.55, 0.45, 0.0, 0.0, 0.0, 0.0),
    "obstetric": (0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
    "trauma": (0.04, 0.08, 0.4, 0.25, 0.13, 0.1),
    "other": (0.0, 0.02, 0.18, 0.28, 0.32, 0.2),
}


def draw_patient(rng: np.random.Generator, complaint: str) -> tuple[str, str]:
    """(age band, sex) of the patient of a call with this complaint."""
    shares = np.array(_AGE_MIX.get(complaint, _AGE_MIX["other"]))
    band = _AGE_BANDS[int(rng.choice(len(shares), p=shares / shares.sum()))]
    if complaint == "obstetric":
        return band, "female"
    return band, ("male" if rng.random() < 0.52 else "female")


@lru_cache(maxsize=2)
def mitbih_uv(rate_hz: int = ECG_RATE_HZ) -> tuple[int, ...]:
    """MIT-BIH record 100, lead MLII, in whole µV, linearly resampled from 360 Hz to rate_hz."""
    from hospital_link.ecg import read_lead_mv

    source_hz, mv = read_lead_mv()
    mv = mv[np.isfinite(mv)]
    t_old = np.arange(mv.size) / source_hz
    t_new = np.arange(int(mv.size * rate_hz / source_hz)) / rate_hz
    return tuple(int(v) for v in np.rint(np.interp(t_new, t_old, mv) * 1000.0))


@dataclass
class Monitor:
    """One patient's monitor: baseline numerics, their drift, and where in the ECG it is."""

    complaint: str
    rng: np.random.Generator
    ecg_offset: int = -1  # -1: drawn on first use
    values: F64 = field(init=False)

    def __post_init__(self) -> None:
        base = np.array(_BASELINE.get(self.complaint, _BASELINE["other"]), dtype=np.float64)
        self.values = base + self.rng.normal(0.0, 1.0, len(_NAMES)) * np.array(_SPREAD)
        self._clip()
        if self.ecg_offset < 0:
            self.ecg_offset = int(self.rng.integers(0, len(mitbih_uv()) - ECG_RATE_HZ))

    def _clip(self) -> None:
        lo, hi = np.array(_LIMITS, dtype=np.float64).T
        self.values = np.clip(self.values, lo, hi)
        sys_i, dia_i = _NAMES.index("nibp_sys"), _NAMES.index("nibp_dia")
        self.values[dia_i] = min(self.values[dia_i], self.values[sys_i] - 15.0)

    def numerics(self) -> dict[str, float | int]:
        """This second's readings, after one step of drift."""
        self.values = self.values + self.rng.normal(0.0, 1.0, len(_NAMES)) * np.array(_DRIFT)
        self._clip()
        out: dict[str, float | int] = {}
        for name, v in zip(_NAMES, self.values.tolist(), strict=True):
            out[name] = round(v, 1) if name == "temp_c" else round(v)
        return out

    def frame(self, seq: int, at_s: float) -> dict[str, Any]:
        """The tablet's `vitals` frame for second `seq` (per unit), sampled at Unix `at_s`."""
        ecg = mitbih_uv()
        start = (self.ecg_offset + seq * ECG_RATE_HZ) % (len(ecg) - ECG_RATE_HZ)
        chunk = {
            "seq": seq,
            "at_s": at_s,
            "lead": LEAD,
            "rate_hz": ECG_RATE_HZ,
            "samples_uv": list(ecg[start : start + ECG_RATE_HZ]),
        }
        return {
            "type": "vitals",
            "seq": seq,
            "at_s": at_s,
            "numerics": self.numerics(),
            "ecg": [chunk],
        }


def fingerprint(frame: Mapping[str, Any]) -> tuple[int, ...]:
    """The first samples of a vitals frame's ECG chunk: enough to recognise it on arrival."""
    return tuple(frame["ecg"][0]["samples_uv"][:FINGERPRINT])


def received_fingerprint(bundle: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The first ECG samples in a hospital's FHIR Bundle (`valueSampledData.data`), if any."""
    for entry in bundle.get("entry", ()):
        resource = entry.get("resource", {}) if isinstance(entry, dict) else {}
        for part in resource.get("component", ()) or ():
            data = part.get("valueSampledData", {}).get("data") if isinstance(part, dict) else None
            if isinstance(data, str):
                try:
                    return tuple(int(float(v)) for v in data.split()[:FINGERPRINT])
                except ValueError:
                    return None
    return None
