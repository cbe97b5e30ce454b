"""Console benchmark: the dispatcher's page in headless Chromium with 1000 units moving at 1 Hz.

Target it guards (issue 8; the `target` column, values in `benchmarks/targets.toml` [console]):
the console stays responsive with 1000 units moving at 1 Hz: the page's main thread busy under
50 % of the time while they move, and while the dispatcher pans and zooms the map at the same
time.

Set-up. `jijiu serve` runs in its own process (`simulator.load.servers.jijiu_serve`) on the
bundled Hangzhou network (39,059 nodes) with 1000 seeded units. The system Chromium (Playwright,
`executable_path`, nothing downloaded) opens `/console#token=<dispatcher>` at 1600 x 900, so the
page loads the real base map (`GET /api/v1/map`) and the real snapshot of 1000 units. Its
websocket to `/ws/console` goes through Playwright's `route_web_socket`: the server's frames
pass, and this process adds `units.moved` frames as the server's position flush would send
them, every 0.5 s, each holding the half of the fleet that moved since the last (so each unit
moves once a second), every unit driving along the road network at 8-16 m/s and turning at
random at each node. Why injected rather than 1000 tablets on 1000 sockets (as
`bench_server` drives the server): on a two-core machine their CPU would be counted against the
page; the frames the page reads are the same.

Measured, per phase, on the page's renderer main thread through the DevTools protocol
(`Performance.getMetrics`): the busy share = task time (`TaskDuration`) over wall time (the
judged number), the CPU share (`ThreadTime`), long tasks (> 50 ms, `PerformanceObserver`) and
the input latency: a key pressed every second (`j`/`k`, moving the call selection), from the
event's timestamp to the end of the next frame after it. Phases: `idle` (nothing moves: the
floor), `moving` (1000 units at 1 Hz), `moving + pan/zoom` (also a wheel zoom or a drag every
second, so the base map is moved by CSS and redrawn once each settles).

Peer: none (no map library is vendored, and none may be fetched): the targets are budgets, and
the idle phase of the same run is the floor the others are read against.
`--quick` (CI, < 60 s): the Wulin fixture, 200 units, 3 s phases; its numbers are not judged.
`main` exits 1 when a judged target is missed.
`--screenshot PATH` also writes the README's picture: a fresh page, three calls (one whose
GNSS fix and spoken place disagree), one dispatched with Enter, the conflicting one selected.

    python -m benchmarks.bench_console [--quick] [--json PATH] [--screenshot PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import connect

from benchmarks import targets
from routing.load import load_network
from routing.network import RoadNetwork
from simulator.load.servers import Served, jijiu_serve

BUSY_KEYS = {  # phase -> its target in targets.toml [console]; idle is the floor
    "moving": "moving_busy_share_max",
    "moving + pan/zoom": "moving_pan_zoom_busy_share_max",
}
FLUSH_S = 0.5  # the server's position_flush_s: a units.moved frame this often
SEED = 20260808
CHROMIUM = os.environ.get("JIJIU_CHROMIUM") or shutil.which("chromium")

#: In-page probes: long tasks and the delay from a key press to the end of the next frame.
PROBE = """() => {
  const probe = { long: [], input: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.long.push(e.duration);
  }).observe({ type: "longtask" });
  document.addEventListener("keydown", (event) => {
    const t0 = event.timeStamp;
    requestAnimationFrame(() => setTimeout(() => probe.input.push(performance.now() - t0)));
  }, true);
  window.__consoleProbe = probe;
}"""


@dataclass(frozen=True)
class Setup:
    network: str
    units: int
    phase_s: float
    judged: bool


FULL = Setup("hangzhou", 1000, 10.0, True)
QUICK = Setup("wulin", 200, 3.0, False)


class Fleet:
    """Units driving along a road network: each on an edge at an offset, turning at random."""

    def __init__(self, net: RoadNetwork, unit_ids: list[str], seed: int = SEED) -> None:
        self.net = net
        self.ids = unit_ids
        self.rng = np.random.default_rng(seed)
        n = len(unit_ids)
        self.edge = self.rng.integers(0, net.n_edges, n)
        self.offset_m = self.rng.random(n) * net.length_m[self.edge]
        self.speed_mps = self.rng.uniform(8.0, 16.0, n)

    def drive(self, which: np.ndarray, seconds: float) -> list[list[Any]]:
        """Move the units `which` on by `seconds`; their `[unit id, lat, lon]` rows."""
        net = self.net
        rows: list[list[Any]] = []
        for i in which.tolist():
            e, left = int(self.edge[i]), self.offset_m[i] + self.speed_mps[i] * seconds
            while left > net.length_m[e]:
                left -= net.length_m[e]
                head = int(net.edge_head[e])
                first, last = int(net.fwd_indptr[head]), int(net.fwd_indptr[head + 1])
                if last == first:  # a dead end (none in a strongly connected network): wait
                    left = float(net.length_m[e])
                    break
                e = int(self.rng.integers(first, last))
            self.edge[i], self.offset_m[i] = e, left
            f = left / max(float(net.length_m[e]), 1e-9)
            lon0, lat0 = net.node_lonlat[net.edge_tail[e]]
            lon1, lat1 = net.node_lonlat[net.edge_head[e]]
            lat, lon = lat0 + f * (lat1 - lat0), lon0 + f * (lon1 - lon0)
            rows.append([self.ids[i], round(float(lat), 6), round(float(lon), 6)])
        return rows

    def frames(self) -> Iterator[dict[str, Any]]:
        """`units.moved` frames, one per flush: alternate halves, so each unit moves at 1 Hz."""
        halves = (np.arange(0, len(self.ids), 2), np.arange(1, len(self.ids), 2))
        k = 0
        while True:
            yield {"type": "units.moved", "units": self.drive(halves[k % 2], 2 * FLUSH_S)}
            k += 1


class Feed:
    """The page's console socket, routed through Playwright: server frames pass, ours are added."""

    def __init__(self, page: Any) -> None:
        self.routes: list[Any] = []

        def through(ws: Any) -> None:
            ws.connect_to_server()
            self.routes.append(ws)

        page.route_web_socket(re.compile(r"/ws/console"), through)

    def send(self, frame: dict[str, Any]) -> None:
        self.routes[-1].send(json.dumps(frame, separators=(",", ":")))


def metrics(cdp: Any) -> dict[str, float]:
    answer = cdp.send("Performance.getMetrics")
    return {m["name"]: float(m["value"]) for m in answer["metrics"]}


def phase(
    page: Any, cdp: Any, feed: Feed | None, fleet: Fleet | None, seconds: float, interact: bool
) -> dict[str, Any]:
    """One measured phase: frames sent every FLUSH_S (if a fleet), a key every second, and a
    wheel zoom or a drag every second (if interact); the main thread's shares over it."""
    page.evaluate("() => { __consoleProbe.long.length = 0; __consoleProbe.input.length = 0; }")
    box = page.locator("#map-overlay").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    frames = fleet.frames() if fleet is not None else None
    before = metrics(cdp)
    t0 = time.monotonic()
    tick, sent = 0, 0
    while time.monotonic() < t0 + seconds:
        if frames is not None and feed is not None:
            feed.send(next(frames))
            sent += 1
        if tick % 2 == 0:
            page.keyboard.press("j" if tick % 4 == 0 else "k")
            if interact:
                if tick % 4 == 0:
                    page.mouse.move(cx, cy)
                    page.mouse.wheel(0, -240 if tick % 8 == 0 else 240)
                else:
                    page.mouse.move(cx, cy)
                    page.mouse.down()
                    page.mouse.move(cx + 120, cy + 60, steps=6)
                    page.mouse.up()
        tick += 1
        page.wait_for_timeout(max(0.0, (t0 + tick * FLUSH_S - time.monotonic()) * 1000))
    after = metrics(cdp)
    wall_s = after["Timestamp"] - before["Timestamp"]
    probe = page.evaluate("() => __consoleProbe")
    latency = np.asarray(probe["input"] or [math.nan])
    return {
        "seconds": round(wall_s, 2),
        "frames_sent": sent,
        "busy_share": (after["TaskDuration"] - before["TaskDuration"]) / wall_s,
        "cpu_share": (after["ThreadTime"] - before["ThreadTime"]) / wall_s,
        "long_tasks": len(probe["long"]),
        "long_task_max_ms": max(probe["long"], default=0.0),
        "input_p50_ms": float(np.nanpercentile(latency, 50)),
        "input_max_ms": float(np.nanmax(latency)),
        "keys": int(np.isfinite(latency).sum()),
    }


def open_console(browser: Any, base: str, token: str, feed: bool) -> tuple[Any, Any, Feed | None]:
    """A fresh 1600 x 900 page on /console, connected and with its map drawn."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    routed = Feed(page) if feed else None
    page.goto(f"{base}/console#token={token}&lang=en")  # the English page, as the tests read it
    expect(page.locator("#connection")).to_have_text("connected", timeout=30_000)
    expect(page.locator("#map-status")).to_be_hidden(timeout=60_000)
    page.evaluate(PROBE)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
    return page, cdp, routed


def map_sizes(base: str, token: str) -> dict[str, int]:
    """Bytes of `GET /api/v1/map` as JSON and as sent gzipped."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    with httpx.Client(timeout=60) as client:
        answer = client.send(
            client.build_request("GET", f"{base}/api/v1/map", headers=headers), stream=True
        )
        gzipped = b"".join(answer.iter_raw())
    return {"json": len(gzip.decompress(gzipped)), "gzip": len(gzipped)}


def unit_ids(ws_port: int, token: str) -> list[str]:
    """The fleet as the console's snapshot lists it."""
    with connect(f"ws://127.0.0.1:{ws_port}/ws/console?token={token}", open_timeout=10) as ws:
        snapshot = json.loads(ws.recv(timeout=30))
    return [u["unit_id"] for u in snapshot["units"]]


def measure(
    page: Any, cdp: Any, feed: Feed, fleet: Fleet, seconds: float
) -> dict[str, dict[str, Any]]:
    """The three phases on one page (idle, moving, moving + pan/zoom)."""
    return {
        "idle": phase(page, cdp, None, None, seconds, False),
        "moving": phase(page, cdp, feed, fleet, seconds, False),
        "moving + pan/zoom": phase(page, cdp, feed, fleet, seconds, True),
    }


def screenshot(browser: Any, server: Served, net: RoadNetwork, path: Path) -> None:
    """The README's picture: three calls on a fresh page, one dispatched, the conflicting one
    selected."""
    from playwright.sync_api import expect

    page, _, _ = open_console(browser, server.base, server.tokens["dispatcher"], feed=False)
    calls = [  # (GNSS fix, spoken words, complaint): the last one's words are 1.6 km away
        ((30.2742, 120.1620), None, "stroke"),
        ((30.2560, 120.1850), None, "chest_pain"),
        ((30.2803, 120.1465), "浙江省人民医院", "cardiac_arrest"),
    ]
    for i, ((lat, lon), spoken, complaint) in enumerate(calls):
        if not spoken:  # on the loaded network's nearest node (the Wulin fixture is small)
            lon, lat = net.node_lonlat[np.argmin(np.hypot(*(net.node_lonlat - (lon, lat)).T))]
        body = {
            "phone": f"+86139000000{i:02d}",
            "consent_location": True,
            "complaint": complaint,
            "fix": {"lat": float(lat), "lon": float(lon), "accuracy_m": 10},
        }
        if spoken:
            body["spoken"] = spoken
        r = httpx.post(
            f"{server.base}/api/v1/calls",
            json=body,
            headers={"Idempotency-Key": f"shot-{i}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
    expect(page.locator("#queue li")).to_have_count(3, timeout=10_000)
    page.locator("#queue li", has_text="Chest pain").click()  # dispatched by its top unit
    expect(page.locator("#recs button").first).to_be_visible(timeout=10_000)
    page.keyboard.press("Enter")
    expect(page.locator("#assigned")).to_be_visible(timeout=10_000)
    page.locator("#queue li.conflict").click()
    expect(page.locator("#recs button").first).to_be_visible(timeout=10_000)
    page.keyboard.press("f")
    page.wait_for_timeout(800)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.context.close()


def run(quick: bool = False, shot: Path | None = None) -> dict[str, Any]:
    """Start the server and Chromium, measure the three phases; the report as a dict."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise RuntimeError("no chromium: install Debian's chromium or set JIJIU_CHROMIUM")
    setup = QUICK if quick else FULL
    card = targets.Scorecard(targets.load("console"))
    net, _ = load_network(setup.network)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        workdir = Path(tmp)
        store = f"sqlite:///{workdir / 'events.db'}"
        with jijiu_serve(setup.network, setup.units, store, workdir) as server:
            token = server.tokens["dispatcher"]
            ids = unit_ids(server.ws_port, token)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                t0 = time.monotonic()
                page, cdp, feed = open_console(browser, server.base, token, feed=True)
                load_s = time.monotonic() - t0
                assert feed is not None
                map_bytes = map_sizes(server.base, token)
                phases = measure(page, cdp, feed, Fleet(net, ids), setup.phase_s)
                page.context.close()
                if shot is not None:
                    screenshot(browser, server, net, shot)
            finally:
                browser.close()
    report = {
        "quick": quick,
        "network": setup.network,
        "units": len(ids),
        "load_s": round(load_s, 2),
        "map_bytes": map_bytes,
        "phases": phases,
        "chromium": CHROMIUM,
    }
    unjudged = None if setup.judged else targets.QUICK
    checks = {
        name: card.check(key, phases[name]["busy_share"], unjudged=unjudged)
        for name, key in BUSY_KEYS.items()
    }
    report["targets"] = card.as_dict()
    report["failed"] = card.failed
    report["table"] = table(report, checks)
    return report


def table(report: dict[str, Any], checks: dict[str, targets.Check]) -> str:
    """One row per phase; the moving phases next to their budget (no outside peer)."""
    lines = [
        "| phase | busy | CPU | target | long tasks (max) | key → frame p50 / max | ok |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in report["phases"].items():
        c = checks.get(name)
        target = "floor (no peer: the idle page)" if c is None else f"busy {c.label}"
        ok = {None: "", True: "yes", False: "NO"}[None if c is None else c.passed]
        lines.append(
            f"| {name} | {p['busy_share']:.1%} | {p['cpu_share']:.1%} | {target} | "
            f"{p['long_tasks']} ({p['long_task_max_ms']:.0f} ms) | "
            f"{p['input_p50_ms']:.0f} / {p['input_max_ms']:.0f} ms | {ok} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Wulin, 200 units, 3 s phases")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--screenshot", type=Path, help="write the README picture here")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, shot=args.screenshot)
    print(
        f"console: {report['units']} units on {report['network']}, map "
        f"{report['map_bytes']['json']:,} bytes of JSON ({report['map_bytes']['gzip']:,} gzipped), "
        f"page ready in {report['load_s']} s\n\n{report['table']}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    failed = report["failed"]
    print(f"{len(failed)} target(s) failed" + (f": {failed}" if failed else ""))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
