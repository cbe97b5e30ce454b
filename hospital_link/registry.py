"""The hospital registry: who can treat what, and what each hospital last said about itself.

A hospital's capabilities (PCI, thrombectomy, trauma, ...) change rarely and come from a file;
its status (diversion, ED load, ambulance offload wait) changes by the hour and comes from the
hospital. A status is only believed until its expiry: a hospital that goes silent falls back to
a conservative default (no diversion known, offload assumed long), so a stale "all quiet" is
never trusted for ever and a silent hospital ranks below one that reports a short wait.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NewType

from hospital_link.errors import (
    DuplicateHospital,
    InvalidStatus,
    RegistryError,
    RegistryLoadError,
    StatusExpired,
    StatusTooLong,
    UnknownCapability,
    UnknownHospital,
)

HospitalId = NewType("HospitalId", str)


class Capability(StrEnum):
    ED = "ed"  # a 24 h emergency department; ED diversion diverts everything
    PCI = "pci"  # primary PCI (cath lab) for STEMI
    STROKE = "stroke"  # thrombectomy-capable stroke centre
    TRAUMA = "trauma"
    PAEDIATRIC = "paediatric"
    OBSTETRIC = "obstetric"
    BURNS = "burns"


# The bundled CSV's capability columns (0/1 flags) and the capability each one grants.
CSV_CAPABILITY_COLUMNS = {
    "ed": Capability.ED,
    "chest_pain_pci": Capability.PCI,
    "stroke_thrombectomy": Capability.STROKE,
    "trauma": Capability.TRAUMA,
    "pediatric": Capability.PAEDIATRIC,
    "obstetric": Capability.OBSTETRIC,
    "burn": Capability.BURNS,
}
CSV_OTHER_COLUMNS = ("hospital_id", "name_zh", "name_en", "address_zh", "lat", "lon", "ed_beds")


def parse_capability(name: str) -> Capability:
    """A capability from its wire name ("pci"); anything else raises UnknownCapability."""
    try:
        return Capability(name)
    except ValueError:
        raise UnknownCapability(f"unknown capability {name!r}") from None


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Hospital:
    """A receiving hospital: where it is and what it can treat."""

    id: HospitalId
    name_zh: str
    name_en: str
    address: str
    lat: float
    lon: float
    capabilities: frozenset[Capability]
    ed_beds: int

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip():
            raise RegistryError(f"hospital id {self.id!r} is empty or padded with spaces")
        if not (_finite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise RegistryError(f"{self.id}: latitude {self.lat!r} is not in -90..90")
        if not (_finite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise RegistryError(f"{self.id}: longitude {self.lon!r} is not in -180..180")
        if not all(isinstance(c, Capability) for c in self.capabilities):
            raise UnknownCapability(f"{self.id}: capabilities {set(self.capabilities)!r}")
        if not (isinstance(self.ed_beds, int) and self.ed_beds >= 0):
            raise RegistryError(f"{self.id}: ed_beds {self.ed_beds!r} is not a count")


@dataclass(frozen=True)
class HospitalStatus:
    """What a hospital reports about itself, valid from `reported_at_s` to `expires_at_s`.

    `diverted` lists the capabilities it asks ambulances to take elsewhere (a cath lab busy:
    {PCI}); Capability.ED in it means the whole ED is on diversion. `ed_occupancy` is patients
    over staffed ED beds (above 1 means corridor care); `offload_wait_min` is the expected
    wait from arrival to handover (ambulance offload, "wall time"). None means not reported.
    """

    reported_at_s: float
    expires_at_s: float
    diverted: frozenset[Capability] = frozenset()
    ed_occupancy: float | None = None
    offload_wait_min: float | None = None

    def __post_init__(self) -> None:
        for name in ("reported_at_s", "expires_at_s"):
            if not _finite(getattr(self, name)):
                raise InvalidStatus(f"{name} {getattr(self, name)!r} is not a finite number")
        if self.expires_at_s <= self.reported_at_s:
            raise InvalidStatus("a status must expire after it was reported")
        if not all(isinstance(c, Capability) for c in self.diverted):
            raise UnknownCapability(f"diverted {set(self.diverted)!r} holds a non-capability")
        # Occupancy above 5x the beds, or a wait beyond 24 h, is a typing error, not a report.
        for name, top in (("ed_occupancy", 5.0), ("offload_wait_min", 24 * 60.0)):
            v = getattr(self, name)
            if v is not None and not (_finite(v) and 0.0 <= v <= top):
                raise InvalidStatus(f"{name} {v!r} is not a number in 0..{top:g}")

    def diverts(self, capability: Capability) -> bool:
        """True if ambulances needing `capability` are asked to go elsewhere."""
        return capability in self.diverted or Capability.ED in self.diverted


class Freshness(StrEnum):
    REPORTED = "reported"  # a report is held and not yet expired
    EXPIRED = "expired"  # the last report expired: defaults apply
    NEVER = "never_reported"  # no report since the registry started: defaults apply


@dataclass(frozen=True)
class StatusPolicy:
    """How long a report may claim to be valid, and what a silent hospital is assumed to be."""

    # A report may promise at most 4 h: a shift, so a forgotten "open" cannot outlive it.
    max_validity_s: float = 4 * 3600.0
    # NHS England's handover standard: 15 min target, none over 30 min. A silent hospital is
    # assumed to be at that limit, so it ranks below any that reports a normal wait.
    unknown_offload_wait_min: float = 30.0
    # Hospital clocks run a little ahead of ours; a report "from the future" beyond this is bad.
    clock_skew_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("max_validity_s", "unknown_offload_wait_min", "clock_skew_s"):
            v = getattr(self, name)
            if not (_finite(v) and v >= 0.0):
                raise InvalidStatus(f"policy {name} {v!r} must be a finite number >= 0")


@dataclass(frozen=True)
class CurrentStatus:
    """What the core believes about a hospital at a given time: a live report or the defaults."""

    diverted: frozenset[Capability]
    ed_occupancy: float | None
    offload_wait_min: float  # the report's figure, or the policy's conservative default
    offload_assumed: bool  # True when offload_wait_min is the default, not a report
    freshness: Freshness
    reported_at_s: float | None

    def diverts(self, capability: Capability) -> bool:
        return capability in self.diverted or Capability.ED in self.diverted


@dataclass
class Registry:
    """The hospitals and their latest status reports; the only mutable state is the reports."""

    hospitals: tuple[Hospital, ...]
    policy: StatusPolicy = field(default_factory=StatusPolicy)
    _by_id: dict[HospitalId, Hospital] = field(init=False, repr=False)
    _reports: dict[HospitalId, HospitalStatus] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {}
        for h in self.hospitals:
            if h.id in self._by_id:
                raise DuplicateHospital(f"hospital {h.id!r} appears twice")
            self._by_id[h.id] = h
        self._reports = {}

    @classmethod
    def load_csv(cls, path: Path | str, policy: StatusPolicy | None = None) -> Registry:
        """Read a hospitals CSV in the bundled layout (data/hangzhou/hospitals.csv)."""
        try:
            with Path(path).open(encoding="utf-8", newline="") as f:
                hospitals = tuple(read_hospitals(f))
        except OSError as exc:
            raise RegistryLoadError(f"cannot read hospitals file {path}: {exc}") from exc
        if not hospitals:
            raise RegistryLoadError(f"hospitals file {path} holds no hospital")
        return cls(hospitals, policy or StatusPolicy())

    def __len__(self) -> int:
        return len(self.hospitals)

    def __contains__(self, hospital_id: object) -> bool:
        return hospital_id in self._by_id

    def hospital(self, hospital_id: str) -> Hospital:
        try:
            return self._by_id[HospitalId(hospital_id)]
        except KeyError:
            raise UnknownHospital(f"unknown hospital {hospital_id!r}") from None

    def update_status(self, hospital_id: str, status: HospitalStatus, now_s: float) -> bool:
        """Hold `status` as the hospital's latest report; False if an equal or newer one is held.

        Refused (typed errors): an unknown hospital, a report from more than the clock skew in
        the future, one already expired, one valid for longer than the policy allows.
        """
        hid = self.hospital(hospital_id).id
        if not _finite(now_s):
            raise InvalidStatus(f"now_s {now_s!r} is not a finite number")
        if status.reported_at_s > now_s + self.policy.clock_skew_s:
            raise InvalidStatus(
                f"{hid}: reported {status.reported_at_s - now_s:.0f} s in the future"
            )
        if status.expires_at_s <= now_s:
            raise StatusExpired(f"{hid}: status expired {now_s - status.expires_at_s:.0f} s ago")
        if status.expires_at_s - now_s > self.policy.max_validity_s:
            raise StatusTooLong(
                f"{hid}: status valid {status.expires_at_s - now_s:.0f} s ahead, "
                f"more than {self.policy.max_validity_s:.0f} s"
            )
        held = self._reports.get(hid)
        if held is not None and held.reported_at_s >= status.reported_at_s:
            return False  # a late duplicate or an out-of-order older report
        self._reports[hid] = status
        return True

    def status(self, hospital_id: str, now_s: float) -> CurrentStatus:
        """The status to act on at `now_s`: the live report, or the policy defaults."""
        hid = self.hospital(hospital_id).id
        report = self._reports.get(hid)
        if report is None or now_s >= report.expires_at_s:
            return CurrentStatus(
                diverted=frozenset(),
                ed_occupancy=None,
                offload_wait_min=self.policy.unknown_offload_wait_min,
                offload_assumed=True,
                freshness=Freshness.NEVER if report is None else Freshness.EXPIRED,
                reported_at_s=None if report is None else report.reported_at_s,
            )
        wait = report.offload_wait_min
        return CurrentStatus(
            diverted=report.diverted,
            ed_occupancy=report.ed_occupancy,
            offload_wait_min=self.policy.unknown_offload_wait_min if wait is None else wait,
            offload_assumed=wait is None,
            freshness=Freshness.REPORTED,
            reported_at_s=report.reported_at_s,
        )


def read_hospitals(lines: Iterable[str]) -> Iterator[Hospital]:
    """Hospitals from CSV text in the bundled layout; a bad row raises with its line number."""
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in CSV_CAPABILITY_COLUMNS and c not in CSV_OTHER_COLUMNS]
    if unknown:
        raise UnknownCapability(f"unknown hospitals CSV column(s) {unknown}")
    missing = [c for c in (*CSV_OTHER_COLUMNS, *CSV_CAPABILITY_COLUMNS) if c not in header]
    if missing:
        raise RegistryError(f"hospitals CSV lacks column(s) {missing}")
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        try:
            hospital = _hospital_from_row(row)
        except (RegistryError, UnknownCapability) as exc:
            raise type(exc)(f"line {line}: {exc}") from None
        if hospital.id in seen:
            raise DuplicateHospital(f"line {line}: hospital {hospital.id!r} appears twice")
        seen.add(hospital.id)
        yield hospital


def _hospital_from_row(row: dict[str, str | None]) -> Hospital:
    if None in row.values() or None in row:
        raise RegistryError("row has the wrong number of fields")
    text = {k: (v or "").strip() for k, v in row.items() if k is not None}
    caps = set()
    for column, capability in CSV_CAPABILITY_COLUMNS.items():
        if text[column] not in ("0", "1"):
            raise RegistryError(f"{column} must be 0 or 1, not {text[column]!r}")
        if text[column] == "1":
            caps.add(capability)
    try:
        lat, lon = float(text["lat"]), float(text["lon"])
        ed_beds = int(text["ed_beds"])
    except ValueError as exc:
        raise RegistryError(f"lat, lon or ed_beds is not a number: {exc}") from None
    return Hospital(
        id=HospitalId(text["hospital_id"]),
        name_zh=text["name_zh"],
        name_en=text["name_en"],
        address=text["address_zh"],
        lat=lat,
        lon=lon,
        capabilities=frozenset(caps),
        ed_beds=ed_beds,
    )
