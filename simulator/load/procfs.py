"""What Linux's /proc says about the server under load: its memory, its CPU, its pid by port.

The parsers (`vmrss_bytes`, `listening_inodes`) take text and are pure; the readers return
None where /proc is missing or not readable (another user's process, another OS), so a report
says "n/a" instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def status_bytes(status_text: str, key: str) -> int | None:
    """A kB line of /proc/<pid>/status ("VmRSS:   123456 kB" for key "VmRSS") in bytes."""
    for line in status_text.splitlines():
        if line.startswith(f"{key}:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


def vmrss_bytes(status_text: str) -> int | None:
    """The VmRSS line of /proc/<pid>/status (resident memory now) in bytes."""
    return status_bytes(status_text, "VmRSS")


def listening_inodes(net_tcp_text: str, port: int) -> set[int]:
    """Socket inodes of the LISTEN rows of /proc/net/tcp (or tcp6) bound to `port`."""
    found: set[int] = set()
    for line in net_tcp_text.splitlines()[1:]:  # the first line is the header
        cols = line.split()
        if len(cols) < 10 or cols[3] != LISTEN:
            continue
        local = cols[1]  # hex address:hex port
        try:
            if int(local.rsplit(":", 1)[1], 16) == port:
                found.add(int(cols[9]))
        except (IndexError, ValueError):
            continue
    return found


def rss_bytes(pid: int, key: str = "VmRSS") -> int | None:
    """A process's resident memory now (VmRSS) or at its peak (key "VmHWM"), in bytes."""
    try:
        return status_bytes((PROC / str(pid) / "status").read_text(), key)
    except OSError:
        return None


def stat_cpu_ticks(stat_text: str) -> int:
    """User + system clock ticks from a /proc/<pid>/stat (or task) line; ValueError if torn."""
    try:
        fields = stat_text.rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except IndexError:
        raise ValueError("not a /proc stat line") from None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, None when /proc does not say."""
    try:
        return stat_cpu_ticks((PROC / str(pid) / "stat").read_text()) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None


def cpu_split(pid: int) -> tuple[float, float, float] | None:
    """Where a server's CPU seconds went: its main thread (the event loop), its other threads,
    and its child processes (workers) — each user + system, None when /proc does not say."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        whole = stat_cpu_ticks((PROC / str(pid) / "stat").read_text())
        main = stat_cpu_ticks((PROC / str(pid) / "task" / str(pid) / "stat").read_text())
        tasks = os.listdir(PROC / str(pid) / "task")
    except (OSError, ValueError):
        return None
    kids: set[str] = set()  # each thread lists the children it started
    for task in tasks:
        try:
            kids.update((PROC / str(pid) / "task" / task / "children").read_text().split())
        except OSError:  # the thread ended, or the kernel keeps no list
            continue
    workers = 0
    for kid in kids:
        try:
            workers += stat_cpu_ticks((PROC / kid / "stat").read_text())
        except (OSError, ValueError):  # gone meanwhile
            continue
    return main / tick, (whole - main) / tick, workers / tick


def pid_listening_on(port: int, max_pids: int = 100_000) -> int | None:
    """The pid of a process holding a socket that listens on `port`, if we may see it."""
    inodes: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            inodes |= listening_inodes((PROC / "net" / name).read_text(), port)
        except OSError:
            continue
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    try:
        pids = [p for p in os.listdir(PROC) if p.isdigit()][:max_pids]
    except OSError:
        return None
    for pid in pids:
        fd_dir = PROC / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) in wanted:
                    return int(pid)
            except OSError:
                continue
    return None
