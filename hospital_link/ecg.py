"""A real ECG to stream: the MIT-BIH record reader and a 1-second chunker that loops.

Demos and tests stream MIT-BIH Arrhythmia Database record 100 (data/ecg_mitbih/, ODC-By 1.0,
Moody & Mark 2001; Goldberger et al. 2000) so a hospital sees a real waveform, not a sine. The
WFDB header is parsed here and the format-212 signal file decoded with numpy: the reader is
small, and wfdb (a dev dependency only) cross-checks it in the tests. Physical value in mV is
(digital - baseline) / gain; the header's checksum and initial value catch a corrupt file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hospital_link.errors import EcgRecordError
from hospital_link.vitals import EcgChunk

RECORD_100 = Path(__file__).resolve().parents[1] / "data" / "ecg_mitbih" / "100.hea"
DEFAULT_GAIN = 200.0  # WFDB: a gain of 0 (unspecified) means 200 adu per physical unit
INVALID_212 = -2048  # WFDB's "no sample" value in format 212 (a lead off)
# "gain(baseline)/units", the last two parts optional: "200", "200(1024)/mV".
_GAIN = re.compile(r"^(?P<gain>[-+0-9.eE]+)(?:\((?P<baseline>-?\d+)\))?(?:/(?P<units>\S+))?$")


@dataclass(frozen=True)
class Signal:
    """One signal line of a WFDB header (format 212 records only)."""

    file_name: str
    fmt: str
    gain: float  # adu per physical unit
    baseline: int  # the digital value of 0 physical units
    units: str
    adc_zero: int
    initial_value: int
    checksum: int  # 16-bit signed sum of all the signal's samples
    description: str  # the lead name: "MLII", "V5"


@dataclass(frozen=True)
class Header:
    record: str
    rate_hz: float
    n_samples: int  # per signal
    signals: tuple[Signal, ...]

    def lead_index(self, lead: str) -> int:
        names = [s.description for s in self.signals]
        if lead not in names:
            raise EcgRecordError(f"record {self.record} has leads {names}, not {lead!r}")
        return names.index(lead)


def parse_header(text: str) -> Header:
    """A WFDB header's record and signal lines; comment and blank lines are skipped."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise EcgRecordError("empty WFDB header")
    try:
        rec = lines[0].split()
        name, n_sig = rec[0], int(rec[1])
        rate_hz = float(rec[2].split("/")[0]) if len(rec) > 2 else 250.0  # WFDB default
        n_samples = int(rec[3])
        signals = tuple(_parse_signal(ln) for ln in lines[1 : 1 + n_sig])
    except (IndexError, ValueError) as exc:
        raise EcgRecordError(f"malformed WFDB header: {exc}") from exc
    if len(signals) != n_sig or n_sig < 1 or n_samples < 1 or rate_hz <= 0:
        raise EcgRecordError(f"header declares {n_sig} signals, has {len(signals)}")
    if any(s.fmt != "212" or s.file_name != signals[0].file_name for s in signals):
        raise EcgRecordError("only single-file format 212 records are supported")
    return Header(name, rate_hz, n_samples, signals)


def _parse_signal(line: str) -> Signal:
    f = line.split(maxsplit=8)
    m = _GAIN.match(f[2])
    if m is None:
        raise ValueError(f"bad gain field {f[2]!r}")
    adc_zero = int(f[4])
    gain = float(m["gain"]) or DEFAULT_GAIN
    baseline = int(m["baseline"]) if m["baseline"] is not None else adc_zero
    return Signal(
        file_name=f[0],
        fmt=f[1],
        gain=gain,
        baseline=baseline,
        units=m["units"] or "mV",
        adc_zero=adc_zero,
        initial_value=int(f[5]),
        checksum=int(f[6]),
        description=f[8] if len(f) > 8 else "",
    )


def decode_212(raw: NDArray[np.uint8], n_values: int) -> NDArray[np.int16]:
    """`n_values` 12-bit two's-complement samples packed two per three bytes (format 212).

    Bytes (b0, b1, b2) hold s0 = b0 | (b1 & 0x0F) << 8 and s1 = b2 | (b1 & 0xF0) << 4.
    """
    need = (n_values * 3 + 1) // 2
    if raw.size < need:
        raise EcgRecordError(f"signal file holds {raw.size} bytes, {need} needed")
    flat = np.zeros(((need + 2) // 3) * 3, dtype=np.int32)
    flat[:need] = raw[:need]
    b = flat.reshape(-1, 3)
    out = np.empty(b.shape[0] * 2, dtype=np.int32)
    out[0::2] = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    out[1::2] = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    out[out > 2047] -= 4096
    return out[:n_values].astype(np.int16)


def read_record(hea_path: Path | str = RECORD_100) -> tuple[Header, NDArray[np.int16]]:
    """The header and the digital samples, shape (n_samples, n_signals), checksums verified."""
    hea_path = Path(hea_path)
    try:
        header = parse_header(hea_path.read_text(encoding="ascii"))
        raw = np.fromfile(hea_path.parent / header.signals[0].file_name, dtype=np.uint8)
    except (OSError, UnicodeDecodeError) as exc:
        raise EcgRecordError(f"cannot read WFDB record {hea_path}: {exc}") from exc
    n_sig = len(header.signals)
    digital = decode_212(raw, header.n_samples * n_sig).reshape(header.n_samples, n_sig)
    for i, s in enumerate(header.signals):
        total = int(digital[:, i].astype(np.int64).sum())
        checksum = (total + 2**15) % 2**16 - 2**15  # the low 16 bits, signed
        if checksum != s.checksum or int(digital[0, i]) != s.initial_value:
            raise EcgRecordError(f"{header.record} {s.description}: checksum or first sample off")
    return header, digital


def read_lead_mv(
    hea_path: Path | str = RECORD_100, lead: str = "MLII"
) -> tuple[float, NDArray[np.float64]]:
    """One lead in millivolts, with its sample rate; WFDB's invalid samples become NaN."""
    header, digital = read_record(hea_path)
    i = header.lead_index(lead)
    s = header.signals[i]
    column = digital[:, i]
    mv = (column.astype(np.float64) - s.baseline) / s.gain
    mv[column == INVALID_212] = np.nan
    return header.rate_hz, mv


def ecg_chunks(
    signal_mv: NDArray[np.float64],
    rate_hz: float,
    unit_id: str,
    lead: str,
    start_seq: int = 0,
    start_at_s: float = 0.0,
) -> Iterator[EcgChunk]:
    """Endless 1 s chunks of `signal_mv` in whole µV, wrapping to the start at the end.

    Needs a whole-number rate so each chunk is exactly one second; chunk k has seq
    start_seq + k and starts at start_at_s + k seconds. The signal must be free of NaN.
    """
    n = int(rate_hz)
    if n != rate_hz or n < 1 or signal_mv.ndim != 1 or signal_mv.size == 0:
        raise EcgRecordError("need a 1-D, non-empty signal and a whole-number rate in Hz")
    if not np.isfinite(signal_mv).all():
        raise EcgRecordError("the signal holds NaN or infinite samples")
    uv = np.rint(signal_mv * 1000.0).astype(np.int64)  # mV -> µV; MIT-BIH steps are 5 µV
    pos, k = 0, 0
    while True:
        idx = (pos + np.arange(n)) % uv.size
        samples = tuple(int(v) for v in uv[idx])
        yield EcgChunk(unit_id, start_seq + k, start_at_s + k, lead, float(rate_hz), samples)
        pos, k = (pos + n) % uv.size, k + 1
