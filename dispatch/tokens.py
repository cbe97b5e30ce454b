"""Role tokens: who holds which bearer token, kept in one 0600 JSON file, never logged.

    {"secret": "...", "dispatcher": "...", "traffic": "...", "units": {"ALS01": "...", ...}}

Every token is `secrets.token_urlsafe(16)` (128 random bits), created on first start. A lookup
compares the presented token with every candidate by `hmac.compare_digest`, so the time taken
does not depend on how much of a token matched.

People log in (dispatch.users, dispatch.sessions): a live session's token stands for
(dispatcher, the person's name); the shared dispatcher token is the legacy `service` identity.

A unit's devices (the driver's phone, the doctor's tablet) each get a token of their own
(`add_device`): only its SHA-256 is kept, under "devices": {unit: {device: sha256}}, and it
stands for (unit, the unit's id) like the unit's token, which itself stays the device
"default". `device_of` names the device a token belongs to; `ack_device` decides the device an
acknowledgement is recorded under.

Caller tokens are not in the file: each is derived from the incident id with the file's
`secret` (HMAC-SHA256, 128 bits kept), so a retried call (same idempotency key, even after a
restart) gets the same token back; only its SHA-256 goes into the `CallReceived` event, and that
hash is what grants access to the incident, so access survives a restart by replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.errors import DispatchError

if TYPE_CHECKING:
    from dispatch.sessions import SessionBook
    from dispatch.users import Rank


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    TRAFFIC = "traffic"
    UNIT = "unit"
    HOSPITAL = "hospital"
    AGENCY = "agency"  # a partner agency's feed: police, fire, traffic police
    VOLUNTEER = "volunteer"  # a registered CPR volunteer (derived token, like a caller's)
    CALLER = "caller"


class Unauthenticated(DispatchError, PermissionError):
    """401: no bearer token, or one nobody was given."""

    reason = "unauthenticated"


class Forbidden(DispatchError, PermissionError):
    """403: a known token whose role or subject may not do this."""

    reason = "forbidden"


#: The device name of a unit's shared token (the one every unit has had from the start).
DEFAULT_DEVICE = "default"


def ack_device(token_device: str, claimed: object, unit_devices: Iterable[str]) -> str:
    """The device an acknowledgement is recorded under: a device token's own name (claiming
    another is Forbidden); with the shared token, the device named (one of the unit's, or
    DEFAULT_DEVICE when none is), as before per-device tokens."""
    if token_device != DEFAULT_DEVICE:
        if claimed not in (None, token_device):
            raise Forbidden(f"this token is device {token_device!r}'s")
        return token_device
    if claimed is None:
        return DEFAULT_DEVICE
    if claimed != DEFAULT_DEVICE and claimed not in tuple(unit_devices):
        raise Forbidden(f"the unit's token may ack as its devices only, not {claimed!r}")
    return str(claimed)


def new_token() -> str:
    return secrets.token_urlsafe(16)


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two tokens (or two hashes)."""
    return hmac.compare_digest(a.encode(), b.encode())


def write_private(path: Path, body: str) -> None:
    """Write `body` to `path` atomically (temp file, fsync, rename) with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by umask and ignored for an old file
    os.replace(tmp, path)


@dataclass
class TokenBook:
    """The tokens of one server; `save` writes them to `path` with mode 0600."""

    path: Path
    secret: str
    dispatcher: str
    traffic: str
    units: dict[str, str] = field(default_factory=dict)
    hospitals: dict[str, str] = field(default_factory=dict)
    agencies: dict[str, str] = field(default_factory=dict)
    #: Per-device tokens, by unit then device name: the token's SHA-256 only (hex).
    devices: dict[str, dict[str, str]] = field(default_factory=dict)
    #: People's login sessions (dispatch.sessions), attached by the app; a live session's token
    #: is (DISPATCHER, the person's name), the shared dispatcher token (DISPATCHER, "").
    sessions: SessionBook | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, path: Path) -> TokenBook:
        """Read the file, or create it (0600) with fresh tokens when it does not exist."""
        if not path.exists():
            book = cls(path, new_token(), new_token(), new_token())
            book.save()
            return book
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            book = cls(
                path,
                str(data["secret"]),
                str(data["dispatcher"]),
                str(data["traffic"]),
                {str(k): str(v) for k, v in dict(data.get("units", {})).items()},
                {str(k): str(v) for k, v in dict(data.get("hospitals", {})).items()},
                {str(k): str(v) for k, v in dict(data.get("agencies", {})).items()},
                {
                    str(u): {str(d): str(h) for d, h in dict(named).items()}
                    for u, named in dict(data.get("devices", {})).items()
                },
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # The message names the file, never its content.
            raise ValueError(f"tokens file {path} is unreadable or malformed") from exc
        if any(
            len(t) < 16
            for t in (
                book.secret,
                book.dispatcher,
                book.traffic,
                *book.units.values(),
                *book.hospitals.values(),
                *book.agencies.values(),
            )
        ):
            raise ValueError(f"tokens file {path} holds a token shorter than 16 characters")
        return book

    def save(self) -> None:
        """Write atomically (temp file, fsync, rename) with mode 0600."""
        body = json.dumps(
            {
                "secret": self.secret,
                "dispatcher": self.dispatcher,
                "traffic": self.traffic,
                "units": self.units,
                "hospitals": self.hospitals,
                "agencies": self.agencies,
                "devices": self.devices,
            },
            indent=2,
        )
        write_private(self.path, body)

    def ensure_units(self, unit_ids: Iterable[str]) -> bool:
        """Give every unit without a token a fresh one and save; True if any was added."""
        return self._ensure(self.units, unit_ids)

    def ensure_hospitals(self, hospital_ids: Iterable[str]) -> bool:
        """Give every hospital without a token a fresh one and save; True if any was added."""
        return self._ensure(self.hospitals, hospital_ids)

    def ensure_agencies(self, agency_ids: Iterable[str]) -> bool:
        """Give every partner agency without a token a fresh one and save; True if any was."""
        return self._ensure(self.agencies, agency_ids)

    def add_device(self, unit_id: str, device: str) -> str:
        """A fresh token for one device of a unit (a new one replaces the device's old token);
        saved hashed, so this is the only time it is seen."""
        if unit_id not in self.units:
            raise KeyError(unit_id)
        if not (0 < len(device) <= 64 and device.isprintable()) or device == DEFAULT_DEVICE:
            raise ValueError(f"a device name is 1-64 printable characters, not {DEFAULT_DEVICE!r}")
        token = new_token()
        self.devices.setdefault(unit_id, {})[device] = sha256_hex(token)
        self.save()
        return token

    def device_of(self, token: str) -> str | None:
        """The device a unit's token belongs to: its name, DEFAULT_DEVICE for the unit's shared
        token, None for any other token."""
        found: str | None = None
        if any(same(token, t) for t in self.units.values()):
            found = DEFAULT_DEVICE
        digest = sha256_hex(token)
        for named in self.devices.values():
            for device, hashed in named.items():
                if same(digest, hashed):
                    found = device
        return found

    def _ensure(self, book: dict[str, str], ids: Iterable[str]) -> bool:
        missing = [i for i in ids if i not in book]
        for i in missing:
            book[i] = new_token()
        if missing:
            self.save()
        return bool(missing)

    def role_of(self, token: str) -> tuple[Role, str] | None:
        """(role, subject) of a staff token (subject: the unit id, or ""); None if unknown.

        Every candidate is compared, whatever matched, in constant time each.
        """
        found: tuple[Role, str] | None = None
        if same(token, self.dispatcher):
            found = (Role.DISPATCHER, "")
        if same(token, self.traffic):
            found = (Role.TRAFFIC, "")
        for unit_id, unit_token in self.units.items():
            if same(token, unit_token):
                found = (Role.UNIT, unit_id)
        digest = sha256_hex(token)
        for unit_id, named in self.devices.items():
            for hashed in named.values():
                if same(digest, hashed) and unit_id in self.units:
                    found = (Role.UNIT, unit_id)
        for hospital_id, hospital_token in self.hospitals.items():
            if same(token, hospital_token):
                found = (Role.HOSPITAL, hospital_id)
        for agency_id, agency_token in self.agencies.items():
            if same(token, agency_token):
                found = (Role.AGENCY, agency_id)
        if found is None and self.sessions is not None:
            person = self.sessions.user_of(token)  # looked up by the token's SHA-256
            if person is not None:
                found = (Role.DISPATCHER, person.name)
        return found

    def rank_of(self, who: tuple[Role, str]) -> Rank | None:
        """What a dispatch-floor identity may do: `service` for the shared dispatcher token,
        the account's rank for a person; None for any other role or a gone account."""
        from dispatch.users import Rank

        if who[0] is not Role.DISPATCHER:
            return None
        if who[1] == "":
            return Rank.SERVICE
        user = self.sessions.users.active(who[1]) if self.sessions is not None else None
        return user.rank if user is not None else None

    def caller_token(self, incident_id: str) -> str:
        """The caller token of an incident: HMAC(secret, incident id), 128 bits, url-safe."""
        mac = hmac.new(self.secret.encode(), b"caller:" + incident_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()

    def volunteer_token(self, volunteer_id: str) -> str:
        """A volunteer's token: HMAC(secret, volunteer id), so re-registering gives it back."""
        mac = hmac.new(self.secret.encode(), b"volunteer:" + volunteer_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()

    def keyed_hash(self, *parts: str) -> str:
        """HMAC(secret, parts): a stable name for private values (a phone) that leaks nothing."""
        mac = hmac.new(self.secret.encode(), "\x00".join(parts).encode(), hashlib.sha256)
        return mac.hexdigest()
