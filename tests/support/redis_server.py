"""A real `redis-server` process for the event-log tests, on a free loopback port.

`RedisServer` starts one in its own directory with the given options and stops it on `stop`;
`restart` starts it again on the same port with the same directory (an outage that ends);
`DURABLE` are the options production must use (AOF, fsync on every write, no RDB snapshots).
Without redis-server the test skips locally and fails under CI (`require_service`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.support.services import require_service

DURABLE = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process in its own directory; `url` once started."""

    def __init__(self, workdir: Path, *options: str) -> None:
        binary = shutil.which("redis-server")
        require_service("redis-server", binary is not None)
        assert binary is not None
        self.workdir, self.port = workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        args += ["--logfile", str(workdir / "redis.log"), *options]
        self._args = args
        self._launch()

    def restart(self) -> None:
        """Start the stopped server again: same port, same directory, same data."""
        if self.proc.poll() is None:
            raise RuntimeError("redis-server is still running; stop it first")
        self._launch()

    def _launch(self) -> None:
        """Run redis-server with the saved arguments; return once it answers PING."""
        self.proc = subprocess.Popen(
            self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(100):  # up to ~5 s
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if self.proc.poll() is not None:
                        break
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.workdir / 'redis.log'}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
