"""A jijiu server in this process, for the demo: `create_app` under uvicorn in a thread.

The same app `jijiu serve` runs, on loopback only, with its own event loop in its own thread
(the simulated city runs on the main thread's loop). Its log lines go to a file, not the
terminal (the demo's status line is there), and every ERROR record, ours or uvicorn's, is
counted, so the summary can say the server logged none.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from dispatch.http.app import create_app
from dispatch.settings import Settings

LOOPBACK = "127.0.0.1"


class ErrorLogCounter(logging.Handler):
    """Counts the records at ERROR or above it sees; keeps the first few messages."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: list[str] = []
        self._last: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record is self._last:  # the same record, heard again on its way up to the root
            return
        self._last = record
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{record.name}: {record.getMessage()}")

    def attach(self) -> None:
        """Hear the root logger and uvicorn's (which does not propagate to the root)."""
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)

    def detach(self) -> None:
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).removeHandler(self)


def port_or_any(port: int) -> int:
    """`port` when it is free on loopback, else 0 (the kernel picks one)."""
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return 0
    return port


class LocalServer:
    """`start()` loads the city and listens; `http`, `ws` and `tokens` then say where and how."""

    def __init__(self, settings: Settings, log_file: Path | None = None) -> None:
        if settings.host != LOOPBACK:
            raise ValueError("the in-process server listens on loopback only")
        self.settings = settings
        self.log_file = log_file
        self.errors = ErrorLogCounter()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.http = self.ws = ""
        self.tokens: dict[str, Any] = {}
        self._file: logging.FileHandler | None = None
        self._root_level = logging.WARNING

    def start(self, timeout_s: float = 600.0) -> None:
        """Start and wait until both ports listen (the first load of a city compiles it)."""
        self._log_to_file()
        self.errors.attach()
        app = create_app(self.settings)
        config = uvicorn.Config(
            app,
            host=LOOPBACK,
            port=self.settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="jijiu-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {self.log_file or 'the log'}")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        self.http = f"http://{LOOPBACK}:{port}"
        self.ws = f"ws://{LOOPBACK}:{app.state.ws_port}"
        self.tokens = json.loads(self.settings.tokens_file.read_text())

    def _log_to_file(self) -> None:
        if self.log_file is None:
            return
        root = logging.getLogger()
        self._root_level = root.level
        root.setLevel(logging.INFO)
        self._file = logging.FileHandler(self.log_file, encoding="utf-8")
        self._file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(self._file)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop serving (the lifespan closes the event log), then put the logging back."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self.errors.detach()
        if self._file is not None:
            root = logging.getLogger()
            root.removeHandler(self._file)
            root.setLevel(self._root_level)
            self._file.close()
            self._file = None
