"""`jijiu loadtest`: a real short run against a real server, its refusals, and its pure report.

The real run starts `jijiu serve` on the small Wulin network in its own process (`--serve`:
20 seeded units at 1 Hz, 2 consoles, 2 calls/s for 3 s, about 12 s in all) and checks what
the report says happened, never how fast: every call answered 201, every console showed
both frames of every call, the server's RSS was read, and every row of the table is there.
"""

from __future__ import annotations

import io
import json
import math
import socket
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from dispatch.cli import main as jijiu
from simulator.errors import InvalidArgument
from simulator.load.fleet import frame_kind
from simulator.load.loadtest import main
from simulator.load.procfs import listening_inodes, stat_cpu_ticks, vmrss_bytes
from simulator.load.report import (
    CREATED,
    FRAMES,
    HEALTHZ,
    KINDS,
    POSITIONS,
    RECEIVED,
    RECOMMENDED,
    Plan,
    Step,
    Traffic,
    highest_passing,
    parse_rates,
    per_call_ms,
    percentiles,
    render_step,
    summarise_step,
    verdict_line,
)
from simulator.load.target import loopback_url


# --- a real run ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    """One `--serve` run on Wulin (exit code, stdout, the --json file), shared by the tests."""
    out = tmp_path_factory.mktemp("loadtest") / "raw.json"
    argv = [
        "--serve",
        "--network",
        "wulin",
        "--units",
        "20",
        "--consoles",
        "2",
        "--calls-per-s",
        "2",
        "--duration",
        "3",
        "--seed",
        "3",
        "--json",
        str(out),
    ]
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(argv)
    return code, printed.getvalue(), json.loads(out.read_text())


def _row(raw: dict[str, Any], kind: str) -> dict[str, Any]:
    rows = raw["steps"][0]["rows"]
    found: dict[str, Any] = next(r for r in rows if r["kind"] == kind)
    return found


def test_every_call_gets_its_201_and_reaches_every_console(
    short_run: tuple[int, str, dict[str, Any]],
) -> None:
    """6 calls (2/s for 3 s), all 201; each shown by both consoles as call.received and as
    incident.recommended (12 samples each, none missing); 20 units and 2 consoles connected."""
    code, _, raw = short_run
    assert code == 0
    assert raw["units_connected"] == 20 and raw["consoles_connected"] == 2
    created = _row(raw, CREATED)
    assert created["n"] == 6 and created["errors"] == 0
    for kind in (RECEIVED, RECOMMENDED):
        row = _row(raw, kind)
        assert (row["n"], row["errors"]) == (12, 0), kind
        assert row["latency"]["p99_ms"] > 0
    assert _row(raw, HEALTHZ)["n"] == 6
    assert _row(raw, POSITIONS)["n"] >= 20 and _row(raw, POSITIONS)["errors"] == 0
    assert _row(raw, FRAMES)["n"] >= 24  # both frames of 6 calls on 2 consoles, and more


def test_the_report_has_every_kind_the_server_rss_and_the_verdict(
    short_run: tuple[int, str, dict[str, Any]],
) -> None:
    """The Markdown table names every kind, the server's RSS is read from /proc (> 0) and
    the last line is the verdict."""
    _, printed, raw = short_run
    for kind in KINDS:
        assert f"| {kind} |" in printed, kind
    assert raw["steps"][0]["rss_bytes"] > 0
    assert "server RSS: n/a" not in printed
    loop, threads, workers = raw["steps"][0]["cpu_ms_per_call"]
    assert loop > 0 and threads >= 0 and workers >= 0  # the event loop did the calls' work
    assert "server CPU per call: loop thread" in printed
    assert printed.rstrip().splitlines()[-1].startswith("highest rate with call -> console p99")


# --- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--url", "http://10.1.2.3:8000", "--tokens", "t.json"], "not a loopback address"),
        (["--url", "http://example.com:8000", "--tokens", "t.json"], "not a loopback address"),
        (["--url", "https://127.0.0.1:8000", "--tokens", "t.json"], "must be http://"),
        (["--serve", "--rates", "10,fifty"], "not a comma-separated list"),
        (["--serve", "--rates", "10,0"], "a rate must be"),
        (["--serve", "--calls-per-s", "nan"], "a rate must be"),
        (["--serve", "--calls-per-s", "-1"], "a rate must be"),
        (["--serve", "--units", "1001"], "--units must be in 1..1000"),
        (["--serve", "--units", "-3"], "--units must be in 1..1000"),
        (["--serve", "--duration", "nan"], "--duration must be"),
        (["--serve", "--duration", "-5"], "--duration must be"),
        (["--serve", "--consoles", "0"], "--consoles must be"),
        (["--serve", "--url", "http://127.0.0.1:8000"], "not both"),
        (["--units", "10"], "give --url and --tokens"),
        (["--serve", "--calls-per-s", "5", "--rates", "5,10"], "not allowed with"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad argument ends the run before anything starts, with exit code 2 and a reason."""
    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 2
    assert says in capsys.readouterr().err


def test_the_jijiu_command_routes_to_the_load_test(capsys: pytest.CaptureFixture[str]) -> None:
    """`jijiu loadtest` with a non-loopback URL: the load test's refusal, exit code 2."""
    with pytest.raises(SystemExit) as ended:
        jijiu(["loadtest", "--url", "http://192.168.0.7:8000", "--tokens", "t.json"])
    assert ended.value.code == 2
    assert "jijiu loadtest: error:" in capsys.readouterr().err


def test_a_tokens_file_that_is_not_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON file without a dispatcher token and unit tokens: exit code 2, named."""
    bad = tmp_path / "tokens.json"
    bad.write_text('{"secret": "s"}')
    with pytest.raises(SystemExit) as ended:
        main(["--url", "http://127.0.0.1:8000", "--tokens", str(bad)])
    assert ended.value.code == 2
    assert "is not a jijiu tokens file" in capsys.readouterr().err


def test_no_server_at_the_url_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A loopback port nobody listens on: the run fails cleanly (exit 1), saying so."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"dispatcher": "d", "units": {"U1": "u"}}')
    code = main(["--url", f"http://127.0.0.1:{port}", "--tokens", str(tokens), "--duration", "1"])
    assert code == 1
    assert "no answer from" in capsys.readouterr().err


def test_loopback_urls_are_accepted_with_their_port() -> None:
    """127.0.0.0/8, localhost (as 127.0.0.1) and ::1 are loopback; the port is kept."""
    assert loopback_url("http://127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert loopback_url("http://127.3.2.1:81/") == ("127.3.2.1", 81)
    assert loopback_url("http://localhost:9000") == ("127.0.0.1", 9000)
    assert loopback_url("http://[::1]:8000") == ("::1", 8000)
    with pytest.raises(ValueError, match="loopback"):
        loopback_url("http://0.0.0.0:8000")


# --- the pure report -----------------------------------------------------------------------------
def test_percentiles_of_1_to_100_ms() -> None:
    """Samples 1..100 ms: p50 50.5, p95 95.05, p99 99.01 (linear interpolation); none: NaN."""
    p = percentiles([k / 1000 for k in range(1, 101)])
    assert p.n == 100
    assert p.p50_ms == pytest.approx(50.5)
    assert p.p95_ms == pytest.approx(95.05)
    assert p.p99_ms == pytest.approx(99.01)
    empty = percentiles([])
    assert empty.n == 0 and math.isnan(empty.p99_ms)


def test_a_step_joins_calls_with_console_receipts() -> None:
    """3 calls at t=0,1,2 s (one 503), 2 consoles: A seen by both, B by one -> 3 samples of
    call.received and 1 missing; a 201 takes 10 ms; 40 positions counted over 2 s: 20/s."""
    calls = [("A", 0.0, 0.010, 201), ("B", 1.0, 1.010, 201), (None, 2.0, 2.010, 503)]
    received = {"A": [0.020, 0.030], "B": [1.040]}
    recommended = {"A": [0.050, 0.060], "B": [1.050, 1.070]}
    traffic = Traffic(40, 1, 90, 0, span_s=2.0, generator_cpu_s=0.5)
    failures = {"503 store_unavailable": 1}
    step = summarise_step(
        2.0, 2.0, calls, [0.002, 0.004], received, recommended, 2, traffic, failures
    )
    created, got, rec = step.row(CREATED), step.row(RECEIVED), step.row(RECOMMENDED)
    assert created is not None and got is not None and rec is not None
    assert (created.n, created.errors, created.per_s) == (3, 1, 1.5)
    assert created.latency is not None and created.latency.p50_ms == pytest.approx(10.0)
    assert (got.n, got.errors) == (3, 1)
    assert got.latency is not None and got.latency.p50_ms == pytest.approx(30.0)
    assert (rec.n, rec.errors) == (4, 0)
    assert step.achieved_rate == pytest.approx(1.0)  # 3 starts over 2 s
    positions = step.row(POSITIONS)
    assert positions is not None and (positions.n, positions.errors, positions.per_s) == (40, 1, 20)
    assert step.generator_cpu_share == pytest.approx(0.25)  # 0.5 CPU s over 2 s


def _step(rate: float, p99_ms: float, missing: int = 0) -> Step:
    """A step whose console rows have the given p99 (its p50 and p95 the same)."""
    s = p99_ms / 1000
    calls = [(f"I{k}", float(k), float(k) + 0.01, 201) for k in range(3)]
    seen = {f"I{k}": [float(k) + s] for k in range(3 - missing)}
    return summarise_step(rate, 3.0, calls, [], seen, seen, 1, Traffic(0, 0, 0, 0, 3.0))


def test_the_verdict_is_the_highest_rate_below_which_every_rate_passed() -> None:
    """p99 of 20, 80, 150, 50 ms at 10, 50, 100, 200 calls/s: 50 calls/s (200 passing again
    after 100 failed does not count); a frame never shown fails a rate; none passing: none."""
    steps = [_step(10, 20), _step(50, 80), _step(100, 150), _step(200, 50)]
    assert highest_passing(steps) == 50
    assert verdict_line(steps) == "highest rate with call -> console p99 < 100 ms: 50 calls/s"
    assert highest_passing([_step(10, 20), _step(50, 20, missing=1)]) == 10
    assert highest_passing([_step(10, 100)]) is None  # "under 100 ms" is strict
    assert verdict_line([]).endswith(": none")
    skipped = Step(50, 3.0, skipped="overloaded at 10 calls/s")
    assert highest_passing([_step(10, 20), skipped]) == 10


def test_the_table_has_a_row_per_kind_and_says_why_a_rate_did_not_run() -> None:
    """The Markdown table: a header, then the six kinds in order with n and msgs/s; a skipped
    rate says why instead."""
    text = render_step(_step(10, 20))
    lines = text.splitlines()
    assert lines[0] == "### 10 calls/s for 3 s (achieved 1.0 calls/s)"
    assert lines[2] == "| kind | n | p50 | p95 | p99 | errors | msgs/s |"
    assert [line.split(" | ")[0].removeprefix("| ") for line in lines[4:10]] == list(KINDS)
    assert (
        lines[5]
        == "| call -> call.received on consoles | 3 | 20.0 ms | 20.0 ms | 20.0 ms | 0 | 1.0 |"
    )
    assert "| GET /healthz (HTTP floor) | 0 | — | — | — | 0 | 0.0 |" in lines
    assert "server RSS: n/a" in text
    skipped = render_step(Step(100, 3.0, skipped="overloaded at 50 calls/s"))
    assert skipped.endswith("not run: overloaded at 50 calls/s")


def test_rates_are_sorted_deduplicated_and_the_plan_is_checked() -> None:
    """'100, 10,50,10' -> (10, 50, 100); a plan refuses unsorted rates or 1001 units."""
    assert parse_rates("100, 10,50,10") == (10.0, 50.0, 100.0)
    with pytest.raises(InvalidArgument):
        Plan((50.0, 10.0))
    with pytest.raises(InvalidArgument):
        Plan((10.0,), units=1001)
    assert Plan((10.0, 50.0), duration_s=30).planned_s == 60


def test_proc_parsers_read_rss_and_listening_sockets() -> None:
    """VmRSS 2048 kB is 2 MiB; of three /proc/net/tcp rows only the LISTEN one on port 8000
    (0x1F40) gives its inode."""
    assert vmrss_bytes("Name:\tpython\nVmRSS:\t    2048 kB\nThreads:\t4\n") == 2048 * 1024
    assert vmrss_bytes("Name:\tkthread\n") is None
    tcp = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 "
        "0 4242 1\n"
        "   1: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 "
        "0 4343 1\n"
        "   2: 0100007F:1F40 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000 "
        "0 4444 1\n"
    )
    assert listening_inodes(tcp, 8000) == {4242}
    assert listening_inodes(tcp, 9000) == set()


def test_cpu_ticks_are_read_past_a_command_with_spaces_and_split_per_call() -> None:
    """utime 70 + stime 30 ticks from a stat line whose command holds ") (" and spaces; the CPU
    between two readings is spread over the calls in ms each."""
    line = "4242 (jijiu (serve) x) R 1 4242 4242 0 -1 4194304 10 0 0 0 70 30 0 0 20 0 5 0 9"
    assert stat_cpu_ticks(line) == 100
    with pytest.raises(ValueError):
        stat_cpu_ticks("4242 (truncated")
    assert per_call_ms((1.0, 0.5, 0.0), (3.0, 1.0, 0.2), 100) == pytest.approx((20, 5, 2))
    assert per_call_ms(None, (3.0, 1.0, 0.2), 100) is None
    assert per_call_ms((1.0, 0.5, 0.0), (3.0, 1.0, 0.2), 0) is None


def test_console_frames_are_classified_without_a_full_parse() -> None:
    """call.received and incident.recommended give their incident id; other frames none."""
    got = b'{"seq":3,"topic":"console","type":"call.received","incident_id":"I7","estimate":{}}'
    assert frame_kind(got) == (b"call.received", "I7")
    rec = b'{"seq":4,"topic":"console","type":"incident.recommended","incident_id":"I7"}'
    assert frame_kind(rec) == (b"incident.recommended", "I7")
    assert frame_kind(b'{"seq":5,"topic":"console","type":"units.moved","units":[]}') == (
        b"units.moved",
        None,
    )
