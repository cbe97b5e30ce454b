"""Regenerate docs/img/cockpit.png: the data cockpit after a short live simulation.

    .venv/bin/python docs/img/make_screenshots.py                  # about 2.5 minutes
    .venv/bin/python docs/img/make_screenshots.py --minutes 3 --out /tmp/cockpit.png

A jijiu server runs in this process (uvicorn in a thread, loopback, a fresh SQLite log in a
temporary folder, the bundled Hangzhou network, 40 units) and the live simulator drives it
(`simulator.live.city.run_live`, x30 from 10:00, 500 calls a day, the demo's speed) for
`--minutes` wall minutes; then a headless Chromium (`/usr/bin/chromium`, or `$JIJIU_CHROMIUM`)
opens `/cockpit` with the dispatcher token, opens the video view of a unit on a job, and the
full page is written as a PNG.

One difference from `make demo`: the server's engine clock runs at the city's speed
(`DispatchService`'s `clock`), so the cockpit's minutes are city minutes, as a real centre
would see them, rather than wall minutes compressed x30. Engine times then run ahead of the
wall clock, so the cockpit shows them through its own "from … to …" period, which covers the
run; its settings' timeouts (offer and hospital acknowledgement) are in city seconds too, which
the simulated crews and hospitals meet in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from dispatch.http.app import create_app
from dispatch.live.hub import Hub
from dispatch.service.service import DispatchService, build_world
from dispatch.settings import Settings
from dispatch.store.eventlog import open_log
from dispatch.tokens import TokenBook
from simulator.live.city import LiveParams, run_live
from simulator.live.context import Endpoints

HERE = Path(__file__).resolve().parent
ZONE = ZoneInfo("Asia/Shanghai")  # the page's clock, as a Hangzhou desk shows it
ON_A_JOB = ("eTimes.06", "eTimes.09", "eTimes.05", "eTimes.11")  # on scene first
FRESH_PICTURE = """() => {
  const at = Number(document.querySelector("#video-frame").dataset.at);
  const age = document.querySelector("#video-age").dataset.ageS;
  return Number.isFinite(at) && Date.now() / 1000 - at < 2 && age !== "" && Number(age) < 2;
}"""


def city_clock(speed: float) -> Any:
    """An opener for `create_app`: the usual service, its engine clock at `speed`."""

    def open_service(settings: Settings, hub: Hub) -> DispatchService:
        router, locator = build_world(settings.network)
        started = time.monotonic()
        return DispatchService(
            settings,
            open_log(settings.store_url),
            hub,
            router,
            locator,
            TokenBook.open(settings.tokens_file),
            clock=lambda: (time.monotonic() - started) * speed,
        )

    return open_service


def serve(settings: Settings, speed: float) -> tuple[uvicorn.Server, threading.Thread, str, str]:
    """Start the server in a thread; (server, thread, http base, websocket base)."""
    app = create_app(settings, city_clock(speed))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sys.exit("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{app.state.ws_port}"


def local(unix_s: float) -> str:
    """A datetime-local input's value in the page's zone."""
    return datetime.fromtimestamp(unix_s, ZONE).strftime("%Y-%m-%dT%H:%M")


def shoot(http: str, token: str, since_s: float, until_s: float, out: Path) -> None:
    """The cockpit for [since, until), with a unit's video open, as a full-page PNG."""
    jobs = httpx.get(f"{http}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    busy = sorted(
        (v for v in jobs.json() if v["unit_id"] and v["step"] in ON_A_JOB),
        key=lambda v: ON_A_JOB.index(v["step"]),
    )
    chromium = os.environ.get("JIJIU_CHROMIUM") or shutil.which("chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1400, "height": 1100}, timezone_id=ZONE.key
        )
        page = context.new_page()
        page.goto(f"{http}/cockpit#token={token}")
        page.select_option("#period", "custom")
        page.fill("#since", local(since_s))
        page.fill("#until", local(until_s))
        page.locator("#until").dispatch_event("change")
        page.wait_for_function("() => document.querySelector('#calls').textContent !== '—'")
        page.wait_for_timeout(1000)  # the charts redraw after the figures
        if busy:
            page.fill("#video-form input[name=unit]", busy[0]["unit_id"])
            page.click("#video-form button")
            page.wait_for_function(FRESH_PICTURE, timeout=15_000)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="wall minutes of simulation")
    parser.add_argument("--out", type=Path, default=HERE / "cockpit.png")
    args = parser.parse_args(argv)
    params = LiveParams(speed=30.0, calls_per_day=500.0, start_hour=10.0, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            network="hangzhou",
            store_url=f"sqlite:///{tmp}/events.db",
            tokens_file=Path(tmp) / "tokens.json",
            port=0,
            ws_port=0,
            seed_fleet=40,
        )
        started_s = time.time()
        server, thread, http, ws = serve(settings, params.speed)
        tokens = json.loads(settings.tokens_file.read_text())
        stop: list[Any] = []  # the city's loop and stop event, once it runs

        async def city() -> None:
            stop.extend([asyncio.get_running_loop(), asyncio.Event()])
            result = await run_live(Endpoints(http, ws, tokens), "hangzhou", params, stop=stop[1])
            print(result.render(), file=sys.stderr)

        sim = threading.Thread(target=asyncio.run, args=(city(),), daemon=True)
        sim.start()
        time.sleep(args.minutes * 60)
        until_s = started_s + (time.time() - started_s) * params.speed + 3600
        try:
            shoot(http, tokens["dispatcher"], started_s - 60, until_s, args.out)
        finally:
            stop[0].call_soon_threadsafe(stop[1].set)
            sim.join(timeout=60)
            server.should_exit = True
            thread.join(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
