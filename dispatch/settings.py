"""The server's settings: one frozen value, from defaults, `JIJIU_*` variables or the CLI.

JIJIU_CITY             a city folder with its city.toml (docs/city.md); "" is the bundled
                       Hangzhou
JIJIU_NETWORK          bundled network name ("hangzhou", "wulin") or an OSM file path, for the
                       bundled city only (a city folder names its own network)
JIJIU_STORE            event log URL: sqlite:///relative.db, sqlite:////abs.db, redis://...,
                       or redis+sentinel://h1:p1,h2:p2,h3:p3/master?wait=1 (a primary the
                       Sentinels name, followed after a failover; acknowledged once `wait`
                       replicas hold each batch)
JIJIU_TOKENS           the role tokens file (created 0600 on first start)
JIJIU_HOST, JIJIU_PORT where uvicorn listens
JIJIU_ACK_TIMEOUT_S    seconds a unit has to acknowledge an offer before escalation
JIJIU_HOSPITAL_ACK_S   seconds a hospital has to acknowledge a pre-arrival notice before the
                       console is alerted
JIJIU_AUTO_DISPATCH_P1 1/true: a P1 call is offered to the best unit without a click
JIJIU_SEED_FLEET       demo units registered when the event log is empty (0: none)
JIJIU_MAX_BODY_BYTES   request bodies above this are refused with 413
JIJIU_REPEAT_WINDOW_S  a phone calling again this soon after its last call, while its incident
                       is open, is counted on that incident ("called again"), not a new one
                       (0: off)
JIJIU_QUARANTINE_CALLS_PER_MIN  above this many calls a minute a phone is quarantined: its
                       calls are logged and answered (202) but open no incident
JIJIU_POSITIONS_PER_SOURCE_PER_S  positions a second each unit and each volunteer may send;
                       above it the newest is held until the limit allows and the rest are
                       dropped, counted on the cockpit (default 5; a tablet sends 1)
JIJIU_OFF_LOOP         1: rank units on a worker thread, off the event loop (default 0: on
                       the loop; on 2 cores the thread costs more than it saves, see
                       docs/benchmarks.md "capacity")
JIJIU_LEASE_TTL_S      with a Redis log, the writer's lease lifetime: a standby process takes
                       over this long after the writer stops (default 3; 0.3-600)
JIJIU_LOCATE_WORKERS   worker processes that locate callers (default 0: on the loop; each
                       holds its own copy of the city, ~300 MB for Hangzhou)
JIJIU_WS_ALLOWED_ORIGINS  browser origins allowed on the websockets besides the host the
                       client reached us by (and loopback from loopback), comma-separated,
                       e.g. "https://console.example.org"; "*": any (default "": none)
JIJIU_REBUILD_COPY_RECORDS  durable records kept in memory to undo a failed append at once
                       (past it, the undo waits for the store; 0: never kept)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    city: str = ""  # a city folder (routing.city); "": the bundled Hangzhou
    network: str = "hangzhou"
    store_url: str = "sqlite:///jijiu-events.db"
    tokens_file: Path = Path("jijiu-tokens.json")
    host: str = "127.0.0.1"
    port: int = 8000  # HTTP; 0: any free port (tests)
    ws_port: int = 8001  # the websockets (console, tablets, callers); 0: any free port
    ack_timeout_s: float = 30.0
    auto_dispatch_p1: bool = False
    seed_fleet: int = 20  # units
    max_body_bytes: int = 64 * 1024
    tick_s: float = 1.0  # how often the clock ticks the engine (offer escalation)
    calls_per_phone_per_min: int = 5  # above this a phone's calls are flagged, never dropped
    # A call this soon after the phone's last joins its open incident (0: every call opens one).
    repeat_window_s: float = 600.0
    quarantine_calls_per_min: int = 20  # a rate no person produces: the phone is quarantined
    # Positions a second one unit or volunteer may send (a tablet sends 1); above it the newest
    # is held until the limit allows, the rest are dropped and counted (core/position_gate.py).
    positions_per_source_per_s: float = 5.0
    # Kernel send buffer per websocket (0: the kernel's autotuning, up to MBs per client).
    # Smaller bounds the memory a stalled client can pin and makes it lag out sooner.
    ws_send_buffer_bytes: int = 0
    position_flush_s: float = 0.5  # units' positions go to consoles and callers this often
    position_log_s: float = 30.0  # a unit's position is written to the event log this often
    # Durable records kept in memory so a failed append can be undone at once (about 0.5 KB
    # each: 200,000 is ~100 MB). Past this the copy is dropped and a failed append is undone
    # from the log itself when the store is back (dispatch.service.outage).
    rebuild_copy_records: int = 200_000
    off_loop: bool = False  # ranking on a worker thread
    locate_workers: int = 0  # processes that fuse callers' locations (0: on the loop)
    # The writer's lease on a shared (Redis) log: a standby takes over this long after the
    # writer stops renewing it (dispatch.store.lease).
    lease_ttl_s: float = 3.0
    hospital_ack_s: float = 60.0  # a hospital silent this long after a notice: console alert
    video_keep_s: float = 0.0  # in-vehicle video kept in memory this long (0: not at all)
    hospital_eta_every_s: float = 10.0  # a transporting unit's ETA goes to its hospital this often
    ws_allowed_origins: str = ""  # extra browser origins for the websockets, comma-separated

    def __post_init__(self) -> None:
        if not (isinstance(self.network, str) and self.network):
            raise ValueError("network must be a bundled name or a file path")
        if not isinstance(self.city, str):
            raise ValueError("city must be a folder path, or empty for the bundled city")
        if self.city and self.network != "hangzhou":
            raise ValueError("give a city folder or a network, not both: a city names its network")
        if "://" not in self.store_url:
            raise ValueError(
                f"store_url {self.store_url!r} needs a scheme (sqlite:/// or redis://)"
            )
        object.__setattr__(self, "tokens_file", Path(self.tokens_file))  # a str from a caller
        if not (isinstance(self.host, str) and self.host):
            raise ValueError("host must not be empty")
        for name, low, high in (
            ("port", 0, 65535),
            ("ws_port", 0, 65535),
            ("ws_send_buffer_bytes", 0, 64 * 1024 * 1024),
            ("seed_fleet", 0, 1000),
            ("max_body_bytes", 1024, 16 * 1024 * 1024),
            ("calls_per_phone_per_min", 1, 10_000),
            ("quarantine_calls_per_min", 2, 100_000),
            ("rebuild_copy_records", 0, 100_000_000),
            ("locate_workers", 0, 8),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
        if self.port == self.ws_port != 0:
            raise ValueError(f"port and ws_port must differ, both are {self.port}")
        for name in (
            "ack_timeout_s",
            "tick_s",
            "position_flush_s",
            "position_log_s",
            "hospital_ack_s",
            "hospital_eta_every_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        rate = self.positions_per_source_per_s
        if not (isinstance(rate, int | float) and math.isfinite(rate) and 0 < rate <= 1000):
            raise ValueError(f"positions_per_source_per_s must be in (0, 1000], got {rate!r}")
        window = self.repeat_window_s
        if not (isinstance(window, int | float) and 0 <= window <= 86_400):
            raise ValueError(f"repeat_window_s must be 0-86400 seconds (0: off), got {window!r}")
        ttl = self.lease_ttl_s
        if not (isinstance(ttl, int | float) and 0.3 <= ttl <= 600):
            raise ValueError(f"lease_ttl_s must be 0.3-600 seconds, got {ttl!r}")
        if not (isinstance(self.video_keep_s, int | float) and 0 <= self.video_keep_s <= 3600):
            raise ValueError(f"video_keep_s must be 0-3600 seconds, got {self.video_keep_s!r}")
        if not isinstance(self.ws_allowed_origins, str):
            raise ValueError("ws_allowed_origins must be comma-separated origins, or *")
        for flag in ("auto_dispatch_p1", "off_loop"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be a boolean")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults overridden by the JIJIU_* variables; ValueError names a malformed one."""
        env = os.environ if environ is None else environ
        names = {
            "JIJIU_CITY": "city",
            "JIJIU_NETWORK": "network",
            "JIJIU_STORE": "store_url",
            "JIJIU_TOKENS": "tokens_file",
            "JIJIU_HOST": "host",
            "JIJIU_PORT": "port",
            "JIJIU_WS_PORT": "ws_port",
            "JIJIU_ACK_TIMEOUT_S": "ack_timeout_s",
            "JIJIU_HOSPITAL_ACK_S": "hospital_ack_s",
            "JIJIU_AUTO_DISPATCH_P1": "auto_dispatch_p1",
            "JIJIU_SEED_FLEET": "seed_fleet",
            "JIJIU_MAX_BODY_BYTES": "max_body_bytes",
            "JIJIU_REBUILD_COPY_RECORDS": "rebuild_copy_records",
            "JIJIU_OFF_LOOP": "off_loop",
            "JIJIU_LOCATE_WORKERS": "locate_workers",
            "JIJIU_LEASE_TTL_S": "lease_ttl_s",
            "JIJIU_REPEAT_WINDOW_S": "repeat_window_s",
            "JIJIU_QUARANTINE_CALLS_PER_MIN": "quarantine_calls_per_min",
            "JIJIU_POSITIONS_PER_SOURCE_PER_S": "positions_per_source_per_s",
            "JIJIU_WS_ALLOWED_ORIGINS": "ws_allowed_origins",
        }
        return cls().with_text({field: env[var] for var, field in names.items() if var in env})

    def with_text(self, values: Mapping[str, str]) -> Settings:
        """A copy with fields given as text (env, CLI), each parsed to its field's type."""
        kinds = {f.name: f.default for f in fields(self)}
        parsed: dict[str, Any] = {}
        for name, text in values.items():
            kind = kinds[name]
            try:
                if isinstance(kind, bool):
                    low = text.strip().lower()
                    if low not in _TRUE | _FALSE:
                        raise ValueError(text)
                    parsed[name] = low in _TRUE
                elif isinstance(kind, int):
                    parsed[name] = int(text)
                elif isinstance(kind, float):
                    parsed[name] = float(text)
                elif isinstance(kind, Path):
                    parsed[name] = Path(text)
                else:
                    parsed[name] = text
            except ValueError:
                raise ValueError(f"setting {name}: cannot read {text!r}") from None
        return replace(self, **parsed)
