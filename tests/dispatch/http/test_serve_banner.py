"""What `jijiu serve` prints first: every page's URL on its host and port, the cockpit
included, and no websocket URL; with `--certfile --keyfile`, https:// and wss://.

The server is a real `python -m dispatch serve` process on free loopback ports with a temporary
tokens file; its stdout is read once it answers /healthz, and each printed page is fetched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from websockets.sync.client import connect

from tests.support.tls import self_signed

#: The labels `serve` prints a URL for, and the path each ends with (before any fragment).
PAGES = {
    "start page": "/",
    "console": "/console",
    "log in": "/login",
    "cockpit": "/cockpit",
    "hospital": "/hospital",
    "tablet": "/tablet",
    "API docs": "/docs",
}


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(
    tmp_path: Path, repo_root: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[tuple[int, str]]:
    """Run `jijiu serve` (Wulin, a fresh log and tokens file, free ports, `extra` flags, `env`
    added to ours); yield its HTTP port and what it printed on stdout once it answers
    /healthz; stop it after."""
    port, ws_port = free_port(), free_port()
    argv = [sys.executable, "-m", "dispatch", "serve", "--network", "wulin", "--host", "127.0.0.1"]
    argv += ["--store", f"sqlite:///{tmp_path / 'events.db'}", "--tokens", str(tmp_path / "t.json")]
    argv += ["--port", str(port), "--ws-port", str(ws_port), *extra]
    scheme = "https" if "--certfile" in extra else "http"
    server = subprocess.Popen(
        argv,
        cwd=repo_root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server never answered /healthz"
            try:
                if httpx.get(f"{scheme}://127.0.0.1:{port}/healthz", verify=False).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert server.stdout is not None
        printed = []  # serve flushes its lines before uvicorn starts: all are in the pipe
        while not printed or not printed[-1].startswith("API docs"):
            printed.append(server.stdout.readline())
        yield port, "".join(printed)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


def printed_urls(out: str) -> dict[str, str]:
    """The URL printed after each page label (the first word after the label)."""
    found = {}
    for line in out.splitlines():
        for label in PAGES:
            if line.startswith(label + " ") and "://" in line:
                found[label] = line[len(label) :].split()[0]
    return found


def test_serve_prints_every_page_url_and_no_websocket(tmp_path: Path, repo_root: Path) -> None:
    """The console, log-in, cockpit, hospital, tablet, start page and API docs lines read
    http://127.0.0.1:<port>/<page>; nothing printed is a ws:// URL. (With a proxy trusted
    elsewhere, 192.0.2.1, loopback's X-Forwarded-Proto is ignored: pages are told ws://.)"""
    untrusted = {"JIJIU_FORWARDED_ALLOW_IPS": "192.0.2.1"}
    with serving(tmp_path, repo_root, env=untrusted) as (port, out):
        urls = {label: url.split("#")[0] for label, url in printed_urls(out).items()}
        assert urls == {label: f"http://127.0.0.1:{port}{path}" for label, path in PAGES.items()}
        for label, url in urls.items():
            if label != "tablet":  # the crew tablet page is another helper's (issue 21, item 1)
                assert httpx.get(url).status_code == 200, url
        https = {"X-Forwarded-Proto": "https"}
        told = httpx.get(f"http://127.0.0.1:{port}/api/v1/endpoints", headers=https).json()
        assert told["websocket"].startswith("ws://127.0.0.1:")
    assert "ws://" not in out and "wss://" not in out
    assert "tokens file" in out  # where the tokens are, never a token


def test_serve_with_a_certificate_serves_https_and_wss(tmp_path: Path, repo_root: Path) -> None:
    """`serve --certfile --keyfile` prints https:// URLs and answers them with that certificate;
    pages are told wss://, and the console's socket speaks TLS with it too (its snapshot)."""
    cert, key = self_signed(tmp_path)
    flags = ("--certfile", str(cert), "--keyfile", str(key))
    with serving(tmp_path, repo_root, *flags) as (port, out):
        base = f"https://127.0.0.1:{port}"
        assert printed_urls(out)["console"].startswith(f"{base}/console")
        trusted = ssl.create_default_context(cafile=str(cert))  # this certificate, nothing else
        assert httpx.get(f"{base}/console", verify=trusted).status_code == 200
        ws_base = httpx.get(f"{base}/api/v1/endpoints", verify=trusted).json()["websocket"]
        assert ws_base.startswith("wss://127.0.0.1:")
        dispatcher = json.loads((tmp_path / "t.json").read_text())["dispatcher"]
        with connect(f"{ws_base}/ws/console?token={dispatcher}", ssl=trusted) as console:
            assert json.loads(console.recv(timeout=10))["type"] == "snapshot"
    assert "http://" not in out


def test_serve_refuses_a_certificate_it_cannot_read(tmp_path: Path, repo_root: Path) -> None:
    """`serve --certfile missing.pem --keyfile missing.pem` exits 2 with one line naming the
    problem, before it loads a city."""
    missing = str(tmp_path / "missing.pem")
    argv = [sys.executable, "-m", "dispatch", "serve", "--network", "wulin"]
    argv += ["--tokens", str(tmp_path / "t.json"), "--certfile", missing, "--keyfile", missing]
    done = subprocess.run(argv, cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("jijiu serve: cannot use the certificate and key")
    assert "network" not in done.stdout  # refused before the city was loaded
