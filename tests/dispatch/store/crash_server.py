"""Run the real dispatch server in a process of its own, for the crash test to SIGKILL.

    python tests/dispatch/store/crash_server.py --store URL --tokens PATH --port P --ws-port W
    python tests/dispatch/store/crash_server.py --store URL --tokens PATH --fork

The first serves `create_app(Settings(network="wulin", store_url=URL, tokens_file=PATH,
port=P, ws_port=W, seed_fleet=4))` with uvicorn on 127.0.0.1:P (the websockets on W) and
prints "READY P" once it listens.

The second imports everything once, prints "WARM", then reads commands on stdin, one a line:
"start PORT WSPORT OUTFILE" forks a child that serves as above, its output in OUTFILE, and
answers "PID n"; when that child ends (the test SIGKILLs it) it answers "EXIT n CODE" and reads
the next command. End of stdin ends it. A fork costs milliseconds where a new interpreter
costs seconds of imports, so twenty restarts fit in a test; the child opens the event log,
the tokens file and its socket itself, after the fork, so it shares no state with the process
it replaces. The parent forks while it has one thread (OPENBLAS_NUM_THREADS=1, in both modes:
no BLAS pool), and parent and child die with their own parent (Linux), so a killed test leaves
no server behind.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: fork one thread only

import argparse
import ctypes
import signal
import socket
import sys
import traceback
from pathlib import Path

import uvicorn

from dispatch.http.app import create_app
from dispatch.settings import Settings

PR_SET_PDEATHSIG = 1


class Server(uvicorn.Server):
    """uvicorn's server, saying when it listens."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"READY {self.config.port}", flush=True)


def serve(store: str, tokens: str, port: int, ws_port: int) -> None:
    """The server, in this process, until it is killed."""
    settings = Settings(
        network="wulin",
        store_url=store,
        tokens_file=Path(tokens),
        port=port,
        ws_port=ws_port,
        seed_fleet=4,
    )
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=settings.port,
        ws_max_size=settings.max_body_bytes,
        log_level="warning",
    )
    Server(config).run()


def die_with_parent() -> None:
    """Ask Linux for a SIGKILL when the parent process ends (elsewhere: nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def fork_server(store: str, tokens: str) -> None:
    """Fork one server per "start PORT WSPORT OUTFILE" line on stdin; report pid and end."""
    die_with_parent()
    print("WARM", flush=True)
    for line in sys.stdin:
        command, port, ws_port, outfile = line.split()
        assert command == "start", command
        threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
        assert threads == 1, f"{threads} threads: a fork could copy a held lock"
        pid = os.fork()
        if pid == 0:  # the child: a server of its own, never back into this loop
            code = 1
            try:
                die_with_parent()
                out = os.open(outfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(out, 1)
                os.dup2(out, 2)
                serve(store, tokens, int(port), int(ws_port))
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"PID {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"EXIT {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve jijiu for the crash test.")
    parser.add_argument("--store", required=True, help="event log URL")
    parser.add_argument("--tokens", required=True, help="role tokens file")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--port", type=int, help="serve on this loopback port")
    parser.add_argument("--ws-port", type=int, default=0, help="websockets on this port")
    mode.add_argument("--fork", action="store_true", help="fork servers on commands from stdin")
    args = parser.parse_args(argv)
    if args.fork:
        fork_server(args.store, args.tokens)
    else:
        serve(args.store, args.tokens, args.port, args.ws_port)


if __name__ == "__main__":
    main()
