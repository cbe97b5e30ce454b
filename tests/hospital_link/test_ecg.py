"""The MIT-BIH reader agrees with wfdb sample for sample; the chunker is contiguous and loops."""

from __future__ import annotations

import itertools
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from hospital_link.ecg import (
    RECORD_100,
    decode_212,
    ecg_chunks,
    parse_header,
    read_lead_mv,
    read_record,
)
from hospital_link.errors import EcgRecordError

with warnings.catch_warnings():
    # wfdb 4.3 calls DataFrame.set_index(inplace=True) on import, which newer pandas deprecates;
    # the suite turns warnings into errors, so the import alone is shielded.
    warnings.filterwarnings("ignore", message="The inplace keyword")
    import wfdb  # type: ignore[import-untyped]

FIRST_MINUTES = 5 * 60 * 360  # samples compared with wfdb in physical units


def test_header_of_record_100() -> None:
    """Record 100: two leads (MLII, V5), 360 Hz, 650,000 samples, gain 200, baseline 1024."""
    h = parse_header(RECORD_100.read_text(encoding="ascii"))
    assert (h.record, h.rate_hz, h.n_samples) == ("100", 360.0, 650_000)
    assert [s.description for s in h.signals] == ["MLII", "V5"]
    mlii = h.signals[h.lead_index("MLII")]
    assert (mlii.gain, mlii.baseline, mlii.units, mlii.initial_value) == (200.0, 1024, "mV", 995)


def test_header_gain_forms() -> None:
    """'100(-20)/uV' gives gain 100, baseline -20, µV; gain 0 means WFDB's default 200."""
    h = parse_header("r 2 250 10\nr.dat 212 100(-20)/uV 12 0 5 0 0 I\nr.dat 212 0 12 7 5 0 0 II\n")
    assert (h.signals[0].gain, h.signals[0].baseline, h.signals[0].units) == (100.0, -20, "uV")
    assert (h.signals[1].gain, h.signals[1].baseline) == (200.0, 7)


@pytest.mark.parametrize(
    "text",
    ["", "# only a comment\n", "r 1 250 10\nr.dat 16 200 12 0 0 0 0 I\n",
     "r 2 250 10\nr.dat 212 200 12 0 0 0 0 I\n", "r 1 250 ten\nr.dat 212 200 12 0 0 0 0 I\n"],
)  # fmt: skip
def test_bad_headers_are_refused(text: str) -> None:
    """Empty, format 16, a missing signal line or a non-numeric count raise EcgRecordError."""
    with pytest.raises(EcgRecordError):
        parse_header(text)


def test_decode_212_by_hand() -> None:
    """Bytes 01 23 45 are 0x301 = 769 and 0x245 = 581; FF FF FF is -1, -1 (two's complement)."""
    raw = np.array([0x01, 0x23, 0x45, 0xFF, 0xFF, 0xFF], dtype=np.uint8)
    assert decode_212(raw, 4).tolist() == [769, 581, -1, -1]
    assert decode_212(raw[:2], 1).tolist() == [769]  # an odd count ends on two bytes
    with pytest.raises(EcgRecordError):
        decode_212(raw[:4], 4)


def test_digital_samples_equal_wfdb() -> None:
    """All 1.3 million digital samples equal wfdb's."""
    _, digital = read_record()
    ref = wfdb.rdrecord(str(RECORD_100.with_suffix("")), physical=False)
    np.testing.assert_array_equal(digital, ref.d_signal)


def test_mlii_millivolts_equal_wfdb() -> None:
    """The first 5 minutes of MLII in mV equal wfdb's physical signal sample for sample."""
    rate_hz, mv = read_lead_mv()
    ref = wfdb.rdrecord(str(RECORD_100.with_suffix("")), sampto=FIRST_MINUTES, channels=[0])
    assert rate_hz == ref.fs == 360 and ref.sig_name == ["MLII"]
    np.testing.assert_array_equal(mv[:FIRST_MINUTES], ref.p_signal[:, 0])
    assert mv[0] == pytest.approx((995 - 1024) / 200)  # the header's initial value


def test_corrupt_or_short_record_is_refused(tmp_path: Path) -> None:
    """One flipped byte fails the checksum; a truncated file is too short; a lead may be absent."""
    for name in ("100.hea", "100.dat"):
        shutil.copy(RECORD_100.parent / name, tmp_path / name)
    dat = tmp_path / "100.dat"
    data = bytearray(dat.read_bytes())
    data[1000] ^= 0x01
    dat.write_bytes(bytes(data))
    with pytest.raises(EcgRecordError, match="checksum"):
        read_record(tmp_path / "100.hea")
    dat.write_bytes(bytes(data[:3000]))
    with pytest.raises(EcgRecordError):
        read_record(tmp_path / "100.hea")
    with pytest.raises(EcgRecordError):
        read_record(tmp_path / "missing.hea")
    with pytest.raises(EcgRecordError):
        read_lead_mv(RECORD_100, lead="V2")


def test_chunks_are_contiguous_seconds() -> None:
    """Chunks k = 0..9 have seq 10 + k, start at 100 + k s, and concatenate to the signal in µV."""
    rate_hz, mv = read_lead_mv()
    chunks = list(itertools.islice(ecg_chunks(mv, rate_hz, "A12", "MLII", 10, 100.0), 10))
    assert [c.seq for c in chunks] == list(range(10, 20))
    assert [c.at_s for c in chunks] == [100.0 + k for k in range(10)]
    assert all(len(c.samples_uv) == 360 and c.duration_s == 1.0 for c in chunks)
    joined = np.concatenate([c.samples_uv for c in chunks])
    np.testing.assert_array_equal(joined, np.rint(mv[:3600] * 1000))
    assert set(np.diff(np.unique(joined)) % 5) == {0}  # MIT-BIH steps are 5 µV (1/200 mV)


def test_chunks_wrap_around() -> None:
    """A 500-sample signal at 200 Hz: the third chunk is samples 400-499 then 0-99."""
    signal = np.arange(500, dtype=np.float64) / 1000.0  # 0, 1, 2, ... µV
    chunks = list(itertools.islice(ecg_chunks(signal, 200.0, "A12", "II"), 4))
    assert chunks[2].samples_uv == (*range(400, 500), *range(0, 100))
    assert chunks[3].samples_uv == tuple(range(100, 300))
    assert [c.seq for c in chunks] == [0, 1, 2, 3]


def test_chunker_refuses_what_it_cannot_stream() -> None:
    """A NaN in the signal or a fractional rate cannot be streamed as whole-second chunks."""
    with pytest.raises(EcgRecordError):
        next(ecg_chunks(np.array([0.0, np.nan]), 200.0, "A12", "II"))
    with pytest.raises(EcgRecordError):
        next(ecg_chunks(np.zeros(10), 200.5, "A12", "II"))
