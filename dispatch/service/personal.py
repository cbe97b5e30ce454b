"""Personal fields at rest: a caller's number (and a call-taker's notes), sealed per incident.

Envelope encryption with AES-256-GCM (`cryptography`). Each incident's fields are sealed under
a data key of its own and logged only as ciphertext (`CallReceived.personal_sealed`); the data
key is wrapped by the master key and kept outside the log, in the key ring
(`dispatch.service.keyring`). Purging an incident deletes its wrapped key: the log, its backups
and its replicas keep ciphertext that nobody can open any more (crypto-shredding), and a
tombstone event (`PersonalDataPurged`) says when.

The master key is JIJIU_DATA_KEY (base64 of 32 bytes), else the key file (JIJIU_DATA_KEY_FILE,
by default jijiu-data.key beside the tokens file), created 0600 on first start. Its id (the first
8 bytes of its SHA-256, in hex) is stored with every wrapped key, so a server started with
another master key is refused at once rather than at the first read. The incident id is the
associated data of both the wrapped key and the sealed fields: one incident's ciphertext copied
into another's record does not open. Nothing here logs or raises with a number in it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dispatch.errors import DispatchError
from dispatch.service.keyring import KeyRing

if TYPE_CHECKING:
    from dispatch.core.engine import Incident
    from dispatch.settings import Settings

logger = logging.getLogger("jijiu.dispatch")

SEALED_PREFIX = "v1."  # the sealing's version: AES-256-GCM, 12-byte nonce, incident id as AAD
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256
KEY_FILE = "jijiu-data.key"  # beside the tokens file, unless JIJIU_DATA_KEY_FILE says where
RING_FILE = "jijiu-keys.db"  # beside the master key file


class DataKeyError(DispatchError, ValueError):
    """The master key is malformed, or not the one the key ring was written with (at start)."""

    reason = "data_key_invalid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_file_of(settings: Settings) -> Path:
    """Where the master key file is: the setting, else beside the tokens file."""
    if settings.data_key_file:
        return Path(settings.data_key_file)
    return settings.tokens_file.with_name(KEY_FILE)


def master_key(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """JIJIU_DATA_KEY, else the key file's, else a new key written to the key file (0600)."""
    env = os.environ if environ is None else environ
    text = env.get("JIJIU_DATA_KEY")
    where = "JIJIU_DATA_KEY"
    if text is None:
        path = key_file_of(settings)
        if not path.exists():
            _write_private(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        text, where = path.read_text(encoding="ascii", errors="replace"), f"key file {path}"
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:  # the message names the source, never the content
        raise DataKeyError(f"{where} must be base64 of {KEY_BYTES} bytes")
    return key


def _write_private(path: Path, body: bytes) -> None:
    """Create `path` 0600 (its new folder 0700) with `body`, fsynced, whatever the umask."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def key_id(key: bytes) -> str:
    """A master key's id: the first 8 bytes of its SHA-256, hex (it reveals nothing of it)."""
    return hashlib.sha256(b"jijiu-data-key-id:" + key).hexdigest()[:16]


def seal(data_key: bytes, incident_id: str, fields: Mapping[str, str]) -> str:
    """`fields` as JSON, sealed under `data_key` and bound to the incident: "v1." + base64."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    plain = json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":")).encode()
    sealed = AESGCM(data_key).encrypt(nonce, plain, b"jijiu-personal:" + incident_id.encode())
    return SEALED_PREFIX + _b64(nonce + sealed)


def unseal(data_key: bytes, incident_id: str, sealed: str) -> dict[str, str]:
    """The fields `seal` sealed; InvalidTag if the key, the incident or the text is wrong."""
    raw = _unb64(sealed.removeprefix(SEALED_PREFIX))
    aad = b"jijiu-personal:" + incident_id.encode()
    plain = AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    fields = json.loads(plain)
    return {str(k): str(v) for k, v in fields.items()}


class Personal:
    """Seal an incident's personal fields, read them back, shred them (`svc.personal`)."""

    def __init__(self, master: bytes, ring: KeyRing) -> None:
        self._master = AESGCM(master)
        self.kid = key_id(master)
        self.ring = ring
        others = ring.kids() - {self.kid}
        if others:
            ring.close()
            raise DataKeyError(
                f"the key ring {ring.path} was written with another master key: start with "
                "the data key it was made with (JIJIU_DATA_KEY or the key file)"
            )
        self._last: Future[None] | None = None  # the newest key's write

    @classmethod
    def open(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> Personal:
        """The master key (made on first start) and the key ring beside its file."""
        key = master_key(settings, environ)
        return cls(key, KeyRing(key_file_of(settings).with_name(RING_FILE)))

    def seal(self, incident_id: str, fields: Mapping[str, str]) -> str:
        """A new data key for the incident, wrapped into the key ring (durable once `saved`);
        the fields sealed under it, for the incident's `CallReceived`."""
        data_key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = b"jijiu-data-key:" + incident_id.encode()
        wrapped = nonce + self._master.encrypt(nonce, data_key, aad)
        self._last = self.ring.put(incident_id, self.kid, wrapped)
        return seal(data_key, incident_id, fields)

    async def saved(self) -> None:
        """Wait until the keys made so far are on disk. A failed write is logged, not
        raised: the call is open and its key stays in memory (a restart loses it)."""
        last = self._last
        if last is None or (last.done() and last.exception() is None):
            return
        try:
            await asyncio.wrap_future(last)
        except Exception as exc:  # the key ring's disk: the call still stands
            logger.error("key ring write failed: %s", type(exc).__name__)

    def forget(self, incident_id: str) -> None:
        """The incident a key was made for was refused: drop its key."""
        self.ring.forget(incident_id)

    def state(self, inc: Incident) -> str:
        """ "purged", "none" (no sealed fields: an old record, or none was taken), "lost" (its
        key never reached the disk) or "kept"."""
        if inc.purged:
            return "purged"
        if not inc.personal_sealed:
            return "none"
        return "kept" if self.ring.get(inc.incident_id) is not None else "lost"

    def read(self, inc: Incident) -> dict[str, str] | None:
        """The incident's personal fields, or None when `state` is not "kept" (blocking: a
        key ring read; call it off the loop)."""
        row = self.ring.get(inc.incident_id) if inc.personal_sealed and not inc.purged else None
        if row is None:
            return None
        raw = row[1]
        aad = b"jijiu-data-key:" + inc.incident_id.encode()
        try:
            data_key = self._master.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
            return unseal(data_key, inc.incident_id, inc.personal_sealed)
        except (InvalidTag, ValueError):  # a tampered row or record: as if lost
            logger.error("incident %s: its sealed fields do not open", inc.incident_id)
            return None

    def shred(self, incident_ids: Iterable[str]) -> int:
        """Delete these incidents' keys (blocking: off the loop); how many there were."""
        return self.ring.shred(incident_ids)

    def close(self) -> None:
        self.ring.close()
