"""The live engine against a real server: a 20-second city on the Wulin network, then `jijiu demo`.

The server is the one the dispatch tests run (`tests.support.server.start`: uvicorn in a
thread, a fresh SQLite log in tmp_path, real loopback sockets), with six seeded units and
time compressed x180 (20 s = one city hour from 10:00, ~15 calls of the shared demand model)
so whole jobs (call, drive, scene, transport, handover) fit in the run.
No assertion is about timing: every call must end in a state the server and the simulator
agree on, nothing may go wrong on either side, and transported patients' vitals must reach
their hospital with the MIT-BIH samples the tablet sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch.cli import main
from dispatch.settings import Settings
from simulator.live.city import LiveParams, LiveResult, run_live
from simulator.live.context import Endpoints
from simulator.live.local_server import ErrorLogCounter
from simulator.live.summary import PHASES
from tests.support.server import start


@pytest.fixture
def error_logs() -> Iterator[ErrorLogCounter]:
    """Counts every ERROR record the server logs (ours and uvicorn's) during the test."""
    counter = ErrorLogCounter()
    counter.attach()
    yield counter
    counter.detach()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveResult, int]]:
    """One 20 s live run against a fresh Wulin server with 6 units (shared by the tests)."""
    tmp = tmp_path_factory.mktemp("live")
    settings = Settings(
        network="wulin",
        store_url=f"sqlite:///{tmp / 'events.db'}",
        tokens_file=tmp / "tokens.json",
        port=0,
        ws_port=0,
        seed_fleet=6,
        tick_s=0.2,
    )
    counter = ErrorLogCounter()
    counter.attach()
    running = start(settings)
    try:
        endpoints = Endpoints(running.http, f"ws://127.0.0.1:{running.ws_port}", running.tokens)
        params = LiveParams(speed=180.0, calls_per_day=300.0, duration_s=20.0, seed=7)
        result = asyncio.run(run_live(endpoints, "wulin", params))
    finally:
        running.stop()
        counter.detach()
    yield result, counter.count


def test_every_call_ends_in_a_state_server_and_simulator_agree_on(
    city: tuple[LiveResult, int],
) -> None:
    """Each call got its 201 and is back in service (closed on the server) or open in the very
    step the simulator last had confirmed, with the same unit."""
    result, _ = city
    assert len(result.records) >= 5
    assert all(r.incident_id is not None for r in result.records)
    assert all(r.phase in PHASES for r in result.records)
    assert result.check.checked == len(result.records)
    assert result.check.mismatches == ()
    assert result.units == 6 and result.hospitals == 10


def test_nothing_went_wrong_on_either_side(city: tuple[LiveResult, int]) -> None:
    """No 5xx, no unexpected 4xx, no error or internal_error frame, no dropped socket, and no
    ERROR line in the server's log."""
    result, server_errors = city
    assert dict(result.tally.errors) == {}
    assert server_errors == 0


def test_hospitals_receive_the_mitbih_trace_the_tablets_send(city: tuple[LiveResult, int]) -> None:
    """Transported patients were announced and acknowledged, and every vitals frame a hospital
    received carried the MIT-BIH samples its tablet sent (matched by unit and seq)."""
    result, _ = city
    c = result.tally.counts
    assert any("transporting" in r.at for r in result.records)
    assert c["notices"] >= 1 and c["hospital_acks"] >= 1
    assert c["vitals_received"] >= 1
    assert c["vitals_mitbih"] == c["vitals_received"] <= c["vitals_sent"]


def test_the_summary_names_every_part(city: tuple[LiveResult, int]) -> None:
    """The table has the call counts, the step and latency tables, hospitals and errors."""
    text = city[0].render(server_error_logs=city[1])
    for part in (
        "calls",
        "check    server and simulator agree",
        "call → on scene (response)",
        "POST /calls → 201",
        "call → console call.received",
        "hospitals",
        "errors     none",
    ):
        assert part in text, part


def test_jijiu_demo_runs_and_prints_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], error_logs: ErrorLogCounter
) -> None:
    """`jijiu demo --minutes 0.1` on Wulin starts its own server in a fresh folder, says where
    to look (hospital page with a token, API docs, tokens file) and prints the summary."""
    folder = tmp_path / "demo"
    argv = [
        "demo",
        "--network",
        "wulin",
        "--units",
        "4",
        "--minutes",
        "0.1",
        "--speed",
        "60",
        "--dir",
        str(folder),
        "--port",
        "0",
        "--ws-port",
        "0",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "/hospital#hospital=zjpph&token=" in out and "/docs" in out
    assert str(folder / "tokens.json") in out
    assert "live city:" in out and "errors     none" in out
    assert error_logs.count == 0
