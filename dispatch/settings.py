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
JIJIU_USERS            the people's accounts file (`jijiu users add`; default jijiu-users.json
                       beside the tokens file); their login sessions go beside it,
                       jijiu-sessions.json (both 0600)
JIJIU_SESSION_TTL_S    how long a login lasts, fixed from the login (default 43200: 12 h)
JIJIU_HOST, JIJIU_PORT where uvicorn listens
JIJIU_ACK_TIMEOUT_S    seconds a unit has to acknowledge an offer before escalation
JIJIU_HOSPITAL_ACK_S   seconds a hospital has to acknowledge a pre-arrival notice before the
                       console is alerted
JIJIU_UNIT_STALE_S     a unit position older than this shows the unit as stale on the map and
                       its ranked option says so (default 60)
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
JIJIU_FORWARDED_ALLOW_IPS  proxies trusted to say the client's scheme and address
                       (X-Forwarded-Proto/-For), comma-separated, "*": any (default
                       127.0.0.1); a page reached over HTTPS through one connects with wss://
JIJIU_PUBLIC_WS_URL    where browsers reach the websockets when a proxy maps them to a path
                       or port of its own, e.g. "wss://jijiu.example.org/ws-port" (default "":
                       the host the client reached us by, the ws port beside)
JIJIU_CERTFILE, JIJIU_KEYFILE  a PEM certificate (chain) and its key: serve HTTPS and wss://
                       directly (`jijiu serve --certfile --keyfile`; default "": plain)
JIJIU_REBUILD_COPY_RECORDS  durable records kept in memory to undo a failed append at once
                       (past it, the undo waits for the store; 0: never kept)
JIJIU_SNAPSHOT_EVERY_EVENTS  a snapshot of the state is written to the store after this many
                       records (default 10000; 0: not by count), so a restart replays only
                       what follows it (dispatch.store.snapshot)
JIJIU_SNAPSHOT_EVERY_S  ... or this many seconds after the last one, if anything was logged
                       since (default 600; 0: not by time)
JIJIU_HEADER_TIMEOUT_S an HTTP connection that has not sent a whole request head this long
                       after its first byte (or after connecting) is closed with 408 (default
                       10; `jijiu serve` only, dispatch.http.connections)
JIJIU_BODY_TIMEOUT_S   a request body not received whole this long after its head is cut with
                       408 (default 30)
JIJIU_MAX_CONN_PER_IP  open HTTP connections one address may hold, loopback included; the next
                       is answered 429 `too_many_connections` and closed (default 64; 0: no cap;
                       behind a reverse proxy every connection is the proxy's: raise it)
JIJIU_READS_PER_MIN    expensive reads (cockpit, its CSV export, audit, incident lists,
                       quarantine) one token may make a minute; past the burst, 429
                       `rate_limited` with Retry-After (default 600; dispatch.http.ratelimit)
JIJIU_READS_BURST      how many of those reads a token may make at once (default 120)
JIJIU_DATA_KEY         the master key sealing callers' numbers, base64 of 32 bytes; without
                       it, the key file below (docs/security.md, "data at rest")
JIJIU_DATA_KEY_FILE    the master key file, created 0600 on first start (default
                       jijiu-data.key beside the tokens file; the wrapped per-incident keys
                       are in jijiu-keys.db beside it)
JIJIU_RETENTION_DAYS   days after its close an incident's personal fields are purged (its
                       data key deleted, a tombstone logged); default 90, 0: at the next run
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
    unit_stale_s: float = 60.0  # a unit position older than this is stale (map, ranking)
    # An incident waiting this long for a unit is overdue: loud on the console, counted on the
    # cockpit (per priority, dispatch.core.queue).
    overdue_p1_s: float = 60.0
    overdue_p2_s: float = 180.0
    overdue_p3_s: float = 600.0
    video_keep_s: float = 0.0  # in-vehicle video kept in memory this long (0: not at all)
    hospital_eta_every_s: float = 10.0  # a transporting unit's ETA goes to its hospital this often
    ws_allowed_origins: str = ""  # extra browser origins for the websockets, comma-separated
    forwarded_allow_ips: str = "127.0.0.1"  # proxies trusted for X-Forwarded-Proto/-For
    public_ws_url: str = ""  # the websockets' base URL as browsers reach it ("": derived)
    certfile: str = ""  # PEM certificate: HTTPS and wss:// served directly ("": plain)
    keyfile: str = ""  # its private key (PEM)
    # A snapshot of the state every this many records or seconds (0: not by that measure).
    snapshot_every_events: int = 10_000
    snapshot_every_s: float = 600.0
    # Slow or greedy HTTP clients (dispatch.http.connections): a request head must arrive
    # within header_timeout_s, its body within body_timeout_s; one address holds at most
    # max_conn_per_ip connections (0: no cap).
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_conn_per_ip: int = 64
    # Expensive reads per token (dispatch.http.ratelimit): a bucket of reads_burst refilled at
    # reads_per_min.
    reads_per_min: float = 600.0
    reads_burst: int = 120
    users_file: str = ""  # people's accounts; "": jijiu-users.json beside the tokens file
    session_ttl_s: float = 12 * 3600.0  # a login lasts this long from the login (fixed)
    data_key_file: str = ""  # the master key file; "": jijiu-data.key beside the tokens file
    retention_days: float = 90.0  # personal fields purged this long after the close

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
            ("snapshot_every_events", 0, 100_000_000),
            ("locate_workers", 0, 8),
            ("max_conn_per_ip", 0, 1_000_000),
            ("reads_burst", 1, 1_000_000),
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
            "unit_stale_s",
            "overdue_p1_s",
            "overdue_p2_s",
            "overdue_p3_s",
            "hospital_eta_every_s",
            "header_timeout_s",
            "body_timeout_s",
            "reads_per_min",
            "session_ttl_s",
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
        every_s = self.snapshot_every_s
        if not (isinstance(every_s, int | float) and 0 <= every_s <= 30 * 86_400):
            raise ValueError(f"snapshot_every_s must be 0-2592000 s (0: off), got {every_s!r}")
        ttl = self.lease_ttl_s
        if not (isinstance(ttl, int | float) and 0.3 <= ttl <= 600):
            raise ValueError(f"lease_ttl_s must be 0.3-600 seconds, got {ttl!r}")
        if not (isinstance(self.video_keep_s, int | float) and 0 <= self.video_keep_s <= 3600):
            raise ValueError(f"video_keep_s must be 0-3600 seconds, got {self.video_keep_s!r}")
        days = self.retention_days
        if not (isinstance(days, int | float) and math.isfinite(days) and 0 <= days <= 36_500):
            raise ValueError(f"retention_days must be 0-36500 days, got {days!r}")
        if not isinstance(self.data_key_file, str):
            raise ValueError("data_key_file must be a file path, or empty")
        if not isinstance(self.ws_allowed_origins, str):
            raise ValueError("ws_allowed_origins must be comma-separated origins, or *")
        for name in ("forwarded_allow_ips", "public_ws_url", "certfile", "keyfile"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text")
        if self.public_ws_url and not self.public_ws_url.startswith(("ws://", "wss://")):
            raise ValueError(
                f"public_ws_url must start with ws:// or wss://: {self.public_ws_url!r}"
            )
        if bool(self.certfile) != bool(self.keyfile):
            raise ValueError("give both certfile and keyfile, or neither")
        for flag in ("auto_dispatch_p1", "off_loop"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be a boolean")

    @property
    def users_path(self) -> Path:
        """The accounts file: `users_file`, else jijiu-users.json beside the tokens file."""
        if self.users_file:
            return Path(self.users_file)
        return self.tokens_file.with_name("jijiu-users.json")

    @property
    def sessions_path(self) -> Path:
        """The login sessions file, beside the accounts file."""
        return self.users_path.with_name("jijiu-sessions.json")

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
            "JIJIU_UNIT_STALE_S": "unit_stale_s",
            "JIJIU_OVERDUE_P1_S": "overdue_p1_s",
            "JIJIU_OVERDUE_P2_S": "overdue_p2_s",
            "JIJIU_OVERDUE_P3_S": "overdue_p3_s",
            "JIJIU_AUTO_DISPATCH_P1": "auto_dispatch_p1",
            "JIJIU_SEED_FLEET": "seed_fleet",
            "JIJIU_MAX_BODY_BYTES": "max_body_bytes",
            "JIJIU_REBUILD_COPY_RECORDS": "rebuild_copy_records",
            "JIJIU_SNAPSHOT_EVERY_EVENTS": "snapshot_every_events",
            "JIJIU_SNAPSHOT_EVERY_S": "snapshot_every_s",
            "JIJIU_OFF_LOOP": "off_loop",
            "JIJIU_LOCATE_WORKERS": "locate_workers",
            "JIJIU_LEASE_TTL_S": "lease_ttl_s",
            "JIJIU_REPEAT_WINDOW_S": "repeat_window_s",
            "JIJIU_QUARANTINE_CALLS_PER_MIN": "quarantine_calls_per_min",
            "JIJIU_POSITIONS_PER_SOURCE_PER_S": "positions_per_source_per_s",
            "JIJIU_WS_ALLOWED_ORIGINS": "ws_allowed_origins",
            "JIJIU_FORWARDED_ALLOW_IPS": "forwarded_allow_ips",
            "JIJIU_PUBLIC_WS_URL": "public_ws_url",
            "JIJIU_CERTFILE": "certfile",
            "JIJIU_KEYFILE": "keyfile",
            "JIJIU_HEADER_TIMEOUT_S": "header_timeout_s",
            "JIJIU_BODY_TIMEOUT_S": "body_timeout_s",
            "JIJIU_MAX_CONN_PER_IP": "max_conn_per_ip",
            "JIJIU_READS_PER_MIN": "reads_per_min",
            "JIJIU_READS_BURST": "reads_burst",
            "JIJIU_DATA_KEY_FILE": "data_key_file",
            "JIJIU_RETENTION_DAYS": "retention_days",
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
