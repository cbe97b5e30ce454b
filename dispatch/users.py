"""People with names: the accounts of call-takers, dispatchers and supervisors, kept with
their scrypt password hashes in one 0600 JSON file beside the tokens file, never in the log.

    {"users": {"wang.fang": {"rank": "dispatcher", "kdf": "scrypt:16384:8:1",
                             "salt": "<32 hex>", "hash": "<64 hex>", "disabled": false}}}

A password is hashed with `hashlib.scrypt` (n=2**14, r=8, p=1: 16 MiB and ~50 ms a try; a
16-byte salt of its own; 32 bytes out) and compared with `hmac.compare_digest`. `check`
hashes even when the name is unknown or disabled, against a dummy, so neither the answer nor
its time tells those apart from a wrong password.

Ranks nest: a call-taker takes calls and triages; a dispatcher also sends and recalls units
and reads caller numbers; a supervisor also searches the audit log by person. The shared
dispatcher token of the tokens file is the legacy `service` identity (the simulator, scripts),
above them all; it is deprecated for people (docs/security.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from dispatch.tokens import write_private

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
KDF = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt takes any length; a cap keeps a request's work bounded
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


class Rank(StrEnum):
    """What a person may do; each rank may do all the ranks before it may."""

    CALL_TAKER = "call_taker"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    SERVICE = "service"  # the legacy shared dispatcher token: not a person, may do everything


ORDER = (Rank.CALL_TAKER, Rank.DISPATCHER, Rank.SUPERVISOR, Rank.SERVICE)
PEOPLE_RANKS = ORDER[:3]


def at_least(rank: Rank, floor: Rank) -> bool:
    return ORDER.index(rank) >= ORDER.index(floor)


#: The named person whose request is being served (set by the HTTP shell's `who_is` for each
#: request, in that request's own context): every event submitted while serving it that can
#: name a person and names none is stamped with them (`attributed`), however deep in the
#: service it was made.
ACTING: ContextVar[str | None] = ContextVar("jijiu_acting_person", default=None)
_E = TypeVar("_E")


def attributed(event: _E) -> _E:
    """The event with `person` set to the acting person, if it has that field, names no one
    yet, and a person is acting; else the event itself."""
    person = ACTING.get()
    if person is None or getattr(event, "person", "") is not None:
        return event
    return dataclasses.replace(event, person=person)  # type: ignore[type-var]


#: What a call-taker may change (method, route): calls, triage, the place, the patient, notes.
#: Anything else they may only read, and not all of that: see CALL_TAKER_NEVER_READS.
CALL_TAKER_WRITES = frozenset(
    {
        ("POST", "/api/v1/calls/manual"),
        ("POST", "/api/v1/incidents/{incident_id}/triage"),
        ("POST", "/api/v1/incidents/{incident_id}/protocol"),  # triage by the questions
        ("POST", "/api/v1/incidents/{incident_id}/tcpr"),  # coaching CPR on the phone
        ("POST", "/api/v1/incidents/{incident_id}/location"),
        ("POST", "/api/v1/incidents/{incident_id}/patient"),
        ("POST", "/api/v1/incidents/{incident_id}/notes"),
        ("POST", "/api/v1/logout"),
    }
)
#: Reads above a call-taker's rank: callers' numbers and the audit trail.
CALL_TAKER_NEVER_READS = frozenset({"/api/v1/incidents/{incident_id}/caller", "/api/v1/audit"})


def rank_allows(rank: Rank, method: str, route: str) -> bool:
    """May a dispatch-floor identity of `rank` call this route (its path template)? Every
    rank may do what a dispatcher may, except that a call-taker only reads, and changes only
    what CALL_TAKER_WRITES lists (docs/security.md, "Roles")."""
    if at_least(rank, Rank.DISPATCHER):
        return True
    if method in ("GET", "HEAD"):
        return route not in CALL_TAKER_NEVER_READS
    return (method, route) in CALL_TAKER_WRITES


@dataclass(frozen=True)
class User:
    """One account as the server sees it: never its hash."""

    name: str
    rank: Rank
    disabled: bool = False


def scrypt_hex(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )
    return digest.hex()


def check_name(name: str) -> str:
    """The name if it is 1-32 letters, digits, '.', '_' or '-' (a letter or digit first)."""
    if not (isinstance(name, str) and NAME.fullmatch(name)):
        raise ValueError("a name is 1-32 letters, digits, '.', '_' or '-', a letter or digit first")
    return name


#: Hashed against when a name is unknown or disabled: the same work as a real check.
_DUMMY_SALT = bytes(SALT_BYTES)
_DUMMY_HASH = "0" * (2 * HASH_BYTES)


class UserBook:
    """The accounts file: read on open, re-read when it changed on disk (so `jijiu users
    disable` reaches a running server at its next request), written atomically with 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, dict[str, object]] = {}
        self._stamp: tuple[int, int] | None = None
        self._reload()

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._records, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = {str(k): dict(v) for k, v in dict(data["users"]).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"users file {self.path} is unreadable or malformed") from exc
        self._records, self._stamp = records, stamp

    def _save(self) -> None:
        write_private(self.path, json.dumps({"users": self._records}, indent=2, sort_keys=True))
        self._stamp = None  # re-read next time: the file is the truth

    def add(self, name: str, rank: Rank, password: str) -> User:
        """A new account; ValueError for a taken or malformed name or a short password."""
        self._reload()
        check_name(name)
        if name.lower() in {n.lower() for n in self._records}:
            raise ValueError(f"there is a user {name} already")
        if rank not in PEOPLE_RANKS:
            raise ValueError(f"a person's role is one of {', '.join(PEOPLE_RANKS)}")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise ValueError(f"a password is {MIN_PASSWORD}-{MAX_PASSWORD} characters")
        salt = secrets.token_bytes(SALT_BYTES)
        self._records[name] = {
            "rank": rank.value,
            "kdf": KDF,
            "salt": salt.hex(),
            "hash": scrypt_hex(password, salt),
            "disabled": False,
        }
        self._save()
        return User(name, rank)

    def disable(self, name: str) -> User:
        """Disable an account (its sessions stop at their next request); KeyError if none."""
        self._reload()
        if name not in self._records:
            raise KeyError(name)
        self._records[name]["disabled"] = True
        self._save()
        found = self.get(name)
        assert found is not None
        return found

    def get(self, name: str) -> User | None:
        """The account, disabled or not; None if there is none."""
        self._reload()
        record = self._records.get(name)
        if record is None:
            return None
        return User(name, Rank(str(record["rank"])), bool(record.get("disabled", False)))

    def active(self, name: str) -> User | None:
        """The account if it exists and is not disabled."""
        user = self.get(name)
        return user if user is not None and not user.disabled else None

    def all(self) -> list[User]:
        self._reload()
        return [u for u in (self.get(n) for n in sorted(self._records)) if u is not None]

    def check(self, name: str, password: str) -> User | None:
        """The active account if the password is right, else None: one scrypt either way."""
        self._reload()
        record = self._records.get(name) if isinstance(name, str) else None
        usable = (
            record is not None
            and record.get("kdf") == KDF
            and not record.get("disabled", False)
            and isinstance(password, str)
            and len(password) <= MAX_PASSWORD
        )
        salt = bytes.fromhex(str(record["salt"])) if usable and record is not None else _DUMMY_SALT
        want = str(record["hash"]) if usable and record is not None else _DUMMY_HASH
        text = password if isinstance(password, str) else ""
        got = scrypt_hex(text[:MAX_PASSWORD], salt)
        if hmac.compare_digest(got.encode(), want.encode()) and usable:
            return self.active(name)
        return None
