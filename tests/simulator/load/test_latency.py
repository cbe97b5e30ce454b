"""The benchmarks' latency bookkeeping, server-log notes and /proc status parsing: pure pieces
of `simulator.load`, on data small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from simulator.load.latency import achieved_rate, overloaded, pcts, summarise_calls
from simulator.load.procfs import status_bytes
from simulator.load.servers import above_info, log_note


def test_pcts_of_seconds_are_milliseconds_with_linear_interpolation() -> None:
    """0.001..0.005 s: p50 3 ms, p95 4.8 ms, p99 4.96 ms, max 5 ms, n 5."""
    got = pcts([0.005, 0.001, 0.003, 0.002, 0.004])
    assert got["n"] == 5
    assert got["p50_ms"] == pytest.approx(3.0)
    assert got["p95_ms"] == pytest.approx(4.8)
    assert got["p99_ms"] == pytest.approx(4.96)
    assert got["max_ms"] == pytest.approx(5.0)


def test_pcts_of_nothing_is_nan_not_an_error() -> None:
    """No samples: n 0 and every percentile NaN."""
    got = pcts([])
    assert got["n"] == 0
    assert all(math.isnan(got[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))


def test_achieved_rate_counts_intervals_between_the_first_and_last_send() -> None:
    """Sends at 0, 0.5, 1.0 and 1.5 s (any order): 3 intervals in 1.5 s = 2 calls/s; one call
    has no rate."""
    calls = [("a", 1.0, 1.1, 201), ("b", 0.0, 0.1, 201), ("c", 1.5, 1.6, 500), ("d", 0.5, 0.6, 201)]
    assert achieved_rate(calls) == pytest.approx(2.0)
    assert achieved_rate(calls[:1]) is None


def test_summarise_calls_joins_each_answered_call_with_every_console_receipt() -> None:
    """Two consoles. Call A (sent at 10 s, 201 at 10.010) reached both at 10.020 and 10.030;
    call B (sent at 11 s) reached one at 11.040; call C failed with a 503. So: 3 calls, 1
    error, 1 missing receipt, 201 latencies 10 and 20 ms, console latencies 20, 30, 40 ms."""
    calls = [("A", 10.0, 10.010, 201), ("B", 11.0, 11.020, 201), (None, 12.0, 12.001, 503)]
    seen = {"A": [10.020, 10.030], "B": [11.040], "Z": [9.0]}
    rec = summarise_calls(calls, [0.001, 0.002], seen, 2, {"503 busy": 1})
    assert (rec["calls"], rec["errors"], rec["missing"]) == (3, 1, 1)
    assert rec["failures"] == {"503 busy": 1}
    assert rec["created"]["n"] == 2 and rec["created"]["max_ms"] == pytest.approx(20.0)
    assert rec["recommended"]["n"] == 3
    assert rec["recommended"]["p50_ms"] == pytest.approx(30.0)
    assert rec["recommended"]["max_ms"] == pytest.approx(40.0)
    assert rec["floor"]["n"] == 2
    assert rec["achieved_rate"] == pytest.approx(1.0)


def test_a_receipt_beyond_the_console_count_is_not_a_sample() -> None:
    """One console, but three receipts of call A (a reconnect replayed it): one sample, none
    missing."""
    rec = summarise_calls([("A", 0.0, 0.01, 201)], [], {"A": [0.02, 0.5, 0.9]}, 1)
    assert rec["recommended"]["n"] == 1 and rec["missing"] == 0


def test_overloaded_when_over_a_tenth_fail_or_the_201_tail_passes_the_limit() -> None:
    """2 of 10 failed: overloaded; 1 of 10 failed with a 201 p99 of 4 s: not; of 6 s: yes."""

    def rec(errors: int, p99_ms: float) -> dict[str, object]:
        return {"calls": 10, "errors": errors, "created": {"p99_ms": p99_ms}}

    assert overloaded(rec(2, 10.0))
    assert not overloaded(rec(1, 4000.0))
    assert overloaded(rec(1, 6000.0))


def test_a_server_log_note_names_the_lines_above_info() -> None:
    """Two uvicorn INFO lines and a blank one are not worth a note; a WARNING twice and a
    Traceback are: 3 lines, the WARNING the most common."""
    quiet = "INFO:     Started server process\n\nINFO:     Uvicorn running\n"
    assert above_info(quiet) == [] and log_note(quiet) is None
    loud = quiet + "WARNING: slow commit\nWARNING: slow commit\nTraceback (most recent)\n"
    assert len(above_info(loud)) == 3
    note = log_note(loud)
    assert note is not None and note.startswith("server log: 3 lines above INFO")
    assert "('WARNING: slow commit', 2)" in note


def test_status_bytes_reads_any_kb_line_of_proc_status() -> None:
    """VmRSS 2048 kB and VmHWM 4096 kB are 2 MiB and 4 MiB; a missing key is None."""
    status = "Name:\tpython\nVmHWM:\t    4096 kB\nVmRSS:\t    2048 kB\n"
    assert status_bytes(status, "VmRSS") == 2 * 2**20
    assert status_bytes(status, "VmHWM") == 4 * 2**20
    assert status_bytes(status, "VmSwap") is None
