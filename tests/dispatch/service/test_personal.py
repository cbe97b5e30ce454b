"""Personal fields at rest (dispatch.service.personal, dispatch.service.keyring): sealed per
incident under a data key wrapped by the master key; the master key from the environment or a
0600 file; another master key refused at start; a shredded key leaves nothing to open and no
copy in the key ring's files."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from dispatch.core.engine import Incident
from dispatch.core.model import Complaint, IncidentId, Priority
from dispatch.service.personal import DataKeyError, Personal, key_file_of, seal, unseal
from dispatch.settings import Settings

NUMBER = "+8613912345678"


def settings_in(folder: Path) -> Settings:
    """Settings whose tokens file (and so the key files beside it) is in `folder`."""
    return Settings(tokens_file=folder / "tokens.json")


def incident(incident_id: str, sealed: str = "") -> Incident:
    """A bare incident record holding `sealed` as its personal fields."""
    return Incident(
        IncidentId(incident_id), 30.28, 120.14, 20.0, None, Priority.P2, Complaint.OTHER,
        personal_sealed=sealed,
    )  # fmt: skip


def test_sealed_fields_open_only_with_their_key_and_incident() -> None:
    """A round trip gives the fields back; another key or another incident id fails the tag."""
    key, other = os.urandom(32), os.urandom(32)
    sealed = seal(key, "I1", {"phone": NUMBER, "notes": "三楼"})
    assert sealed.startswith("v1.") and NUMBER not in sealed
    assert unseal(key, "I1", sealed) == {"phone": NUMBER, "notes": "三楼"}
    with pytest.raises(InvalidTag):
        unseal(other, "I1", sealed)
    with pytest.raises(InvalidTag):
        unseal(key, "I2", sealed)


def test_the_master_key_file_is_made_0600_once_and_kept(tmp_path: Path) -> None:
    """First open writes 32 random bytes (base64) to jijiu-data.key, mode 0600 under umask
    022; a second open reads the same key, so what the first sealed still opens."""
    settings = settings_in(tmp_path)
    old = os.umask(0o022)
    try:
        first = Personal.open(settings, environ={})
    finally:
        os.umask(old)
    sealed = first.seal("I1", {"phone": NUMBER})
    first.close()
    path = key_file_of(settings)
    assert path.name == "jijiu-data.key" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text())) == 32
    assert stat.S_IMODE((tmp_path / "jijiu-keys.db").stat().st_mode) == 0o600
    again = Personal.open(settings, environ={})
    try:
        assert again.read(incident("I1", sealed)) == {"phone": NUMBER}
    finally:
        again.close()


def test_a_key_from_the_environment_wins_and_another_one_is_refused(tmp_path: Path) -> None:
    """JIJIU_DATA_KEY is used without a key file; the key ring it wrote refuses to open under
    another master key; a malformed key is refused naming the variable, not its value."""
    settings = settings_in(tmp_path)
    key = base64.b64encode(os.urandom(32)).decode()
    personal = Personal.open(settings, environ={"JIJIU_DATA_KEY": key})
    personal.seal("I1", {"phone": NUMBER})
    personal.close()
    assert not key_file_of(settings).exists()
    other = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(DataKeyError, match="another master key"):
        Personal.open(settings, environ={"JIJIU_DATA_KEY": other})
    with pytest.raises(DataKeyError) as info:
        Personal.open(settings, environ={"JIJIU_DATA_KEY": "c2hvcnQ="})
    assert "JIJIU_DATA_KEY" in str(info.value) and "c2hvcnQ=" not in str(info.value)


def test_a_shredded_key_leaves_nothing_to_open_and_no_copy_in_the_files(tmp_path: Path) -> None:
    """After `shred`, the incident's state is "lost" (no tombstone in this bare record), its
    read is None, and the wrapped key's bytes are in neither the key ring nor its WAL; the
    other incident still opens."""
    personal = Personal.open(settings_in(tmp_path), environ={})
    try:
        gone = incident("Igone", personal.seal("Igone", {"phone": NUMBER}))
        kept = incident("Ikept", personal.seal("Ikept", {"phone": "+8613800000000"}))
        personal.ring.put("Iflush", personal.kid, b"x").result()  # both rows are on disk now
        wrapped = personal.ring.get("Igone")
        assert wrapped is not None
        assert personal.shred(["Igone"]) == 1
        assert personal.state(gone) == "lost" and personal.read(gone) is None
        assert personal.read(kept) == {"phone": "+8613800000000"}
        files = [p.read_bytes() for p in tmp_path.glob("jijiu-keys.db*")]
        assert not [f for f in files if wrapped[1] in f or b"Igone" in f]
    finally:
        personal.close()


def test_state_says_why_there_is_no_number(tmp_path: Path) -> None:
    """An incident never sealed is "none", a purged one "purged" even with its key still in
    the ring (a crash before the shred), a sealed one with its key "kept"."""
    personal = Personal.open(settings_in(tmp_path), environ={})
    try:
        sealed = personal.seal("I2", {"phone": NUMBER})
        purged = incident("I2", sealed)
        purged.purged = True
        assert personal.state(incident("I1")) == "none"
        assert personal.state(purged) == "purged" and personal.read(purged) is None
        assert personal.state(incident("I2", sealed)) == "kept"
    finally:
        personal.close()
