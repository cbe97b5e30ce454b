"""The registry: the bundled CSV loads, bad rows are refused, a silent hospital loses trust."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

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
from hospital_link.registry import (
    Capability,
    Freshness,
    HospitalStatus,
    Registry,
    StatusPolicy,
    parse_capability,
    read_hospitals,
)

C = Capability
HEADER = (
    "hospital_id,name_zh,name_en,address_zh,lat,lon,ed,chest_pain_pci,stroke_thrombectomy,"
    "trauma,pediatric,obstetric,burn,ed_beds"
)
GOOD_ROW = "h1,甲医院,Hospital One,某路1号,30.29,120.15,1,1,0,0,0,0,0,20"


def rows(*lines: str, header: str = HEADER) -> list[str]:
    return list(io.StringIO("\n".join((header, *lines)) + "\n"))


def test_bundled_csv_loads_every_row(hospitals_csv: Path) -> None:
    """Every data row of data/hangzhou/hospitals.csv becomes one hospital, flags mapped."""
    with hospitals_csv.open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    registry = Registry.load_csv(hospitals_csv)
    assert len(registry) == len(table) > 0
    for row in table:
        h = registry.hospital(row["hospital_id"])
        assert (C.STROKE in h.capabilities) == (row["stroke_thrombectomy"] == "1")
        assert (C.PAEDIATRIC in h.capabilities) == (row["pediatric"] == "1")
        assert (C.BURNS in h.capabilities) == (row["burn"] == "1")
        assert h.ed_beds == int(row["ed_beds"])
        assert h.lat == float(row["lat"]) and h.lon == float(row["lon"])


def test_one_good_row() -> None:
    """A row with ed=1, chest_pain_pci=1 gives {ED, PCI} and the names and address."""
    (h,) = read_hospitals(rows(GOOD_ROW))
    assert h.capabilities == {C.ED, C.PCI}
    assert (h.name_zh, h.name_en, h.address) == ("甲医院", "Hospital One", "某路1号")


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("h1,甲,One,路,95.0,120.15,1,1,0,0,0,0,0,20", RegistryError),  # latitude 95
        ("h1,甲,One,路,30.2,181.0,1,1,0,0,0,0,0,20", RegistryError),  # longitude 181
        ("h1,甲,One,路,nan,120.15,1,1,0,0,0,0,0,20", RegistryError),  # NaN latitude
        ("h1,甲,One,路,30.2,inf,1,1,0,0,0,0,0,20", RegistryError),  # infinite longitude
        ("h1,甲,One,路,north,120.15,1,1,0,0,0,0,0,20", RegistryError),  # not a number
        ("h1,甲,One,路,30.2,120.15,1,2,0,0,0,0,0,20", RegistryError),  # flag 2
        ("h1,甲,One,路,30.2,120.15,1,1,0,0,0,0,0,-3", RegistryError),  # negative beds
        ("h1,甲,One,路,30.2,120.15,1,1,0,0,0,0,0", RegistryError),  # a field short
        ("h1,甲,One,路,30.2,120.15,1,1,0,0,0,0,0,20,9", RegistryError),  # a field too many
        (",甲,One,路,30.2,120.15,1,1,0,0,0,0,0,20", RegistryError),  # no id
    ],
)
def test_bad_rows_are_refused(row: str, error: type[Exception]) -> None:
    """Out-of-range or NaN positions, non-0/1 flags, ragged rows and empty ids raise."""
    with pytest.raises(error, match="line 2"):
        list(read_hospitals(rows(row)))


def test_duplicate_id_is_refused() -> None:
    """The same hospital_id twice raises DuplicateHospital naming the second line."""
    with pytest.raises(DuplicateHospital, match="line 3") as exc:
        list(read_hospitals(rows(GOOD_ROW, GOOD_ROW)))
    assert exc.value.reason == "duplicate_hospital"


def test_unknown_capability_column_is_refused() -> None:
    """A column the registry does not know (say `helipad`) is an unknown capability."""
    with pytest.raises(UnknownCapability) as exc:
        list(read_hospitals(rows(GOOD_ROW + ",1", header=HEADER + ",helipad")))
    assert exc.value.reason == "unknown_capability"
    with pytest.raises(UnknownCapability):
        parse_capability("helipad")
    assert parse_capability("pci") is C.PCI


def test_missing_column_is_refused() -> None:
    """A file without the `burn` column cannot say whether a hospital treats burns."""
    header = HEADER.replace(",burn", "")
    with pytest.raises(RegistryError, match="burn"):
        list(read_hospitals(rows("h1,甲,One,路,30.2,120.15,1,1,0,0,0,0,20", header=header)))


def test_missing_or_empty_file(tmp_path: Path) -> None:
    """A missing file or one with only a header raises RegistryLoadError (an OSError)."""
    with pytest.raises(RegistryLoadError):
        Registry.load_csv(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(RegistryLoadError) as exc:
        Registry.load_csv(empty)
    assert isinstance(exc.value, OSError)


def test_unknown_hospital(toy: Registry) -> None:
    """Asking for, or updating, a hospital the registry lacks raises UnknownHospital."""
    with pytest.raises(UnknownHospital):
        toy.status("zz", 0.0)
    with pytest.raises(UnknownHospital) as exc:
        toy.update_status("zz", HospitalStatus(0.0, 600.0), 0.0)
    assert exc.value.reason == "unknown_hospital"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"offload_wait_min": math.nan},
        {"offload_wait_min": -1.0},
        {"ed_occupancy": -0.1},
        {"ed_occupancy": math.nan},
        {"ed_occupancy": 9.0},
        {"reported_at_s": math.nan},
        {"expires_at_s": math.inf},
        {"reported_at_s": 600.0, "expires_at_s": 600.0},
        {"diverted": frozenset({"helipad"})},
    ],
)
def test_bad_status_is_refused(kwargs: dict[str, object]) -> None:
    """NaN or negative figures, expiry not after the report, non-capabilities are refused."""
    args: dict[str, object] = {"reported_at_s": 0.0, "expires_at_s": 600.0, **kwargs}
    with pytest.raises((InvalidStatus, UnknownCapability)):
        HospitalStatus(**args)  # type: ignore[arg-type]


def test_status_times_checked_against_now(toy: Registry) -> None:
    """At now=1000: expired at 900, valid for 5 h, or reported 10 min ahead are refused."""
    with pytest.raises(StatusExpired) as expired:
        toy.update_status("a", HospitalStatus(0.0, 900.0), 1000.0)
    assert expired.value.reason == "status_expired"
    with pytest.raises(StatusTooLong):
        toy.update_status("a", HospitalStatus(1000.0, 1000.0 + 5 * 3600), 1000.0)
    with pytest.raises(InvalidStatus):
        toy.update_status("a", HospitalStatus(1600.0, 2000.0), 1000.0)
    assert toy.status("a", 1000.0).freshness is Freshness.NEVER


def test_status_expiry_restores_defaults(toy: Registry) -> None:
    """A PCI diversion with 5 min offload holds until its expiry at 600 s, then defaults apply."""
    report = HospitalStatus(0.0, 600.0, frozenset({C.PCI}), ed_occupancy=1.2, offload_wait_min=5)
    assert toy.update_status("b", report, 10.0)
    live = toy.status("b", 599.0)
    assert live.freshness is Freshness.REPORTED
    assert live.diverts(C.PCI) and not live.diverts(C.TRAUMA)
    assert (live.offload_wait_min, live.offload_assumed, live.ed_occupancy) == (5, False, 1.2)
    stale = toy.status("b", 600.0)
    assert stale.freshness is Freshness.EXPIRED
    assert not stale.diverts(C.PCI)
    assert stale.offload_wait_min == StatusPolicy().unknown_offload_wait_min
    assert stale.offload_assumed and stale.ed_occupancy is None and stale.reported_at_s == 0.0


def test_never_reported_uses_defaults(toy: Registry) -> None:
    """A hospital that never reported: no diversion known, the conservative offload assumed."""
    s = toy.status("c", 0.0)
    assert s.freshness is Freshness.NEVER and s.offload_assumed and s.reported_at_s is None
    assert s.offload_wait_min == 30.0 and s.diverted == frozenset()


def test_report_without_offload_assumes_default(toy: Registry) -> None:
    """A live report that gives no offload wait still gets the default wait, marked assumed."""
    toy.update_status("c", HospitalStatus(0.0, 600.0, ed_occupancy=0.5), 0.0)
    s = toy.status("c", 1.0)
    assert s.freshness is Freshness.REPORTED and s.offload_assumed and s.offload_wait_min == 30.0


def test_older_report_is_ignored(toy: Registry) -> None:
    """An older report than the one held (out of order, replayed) returns False, changes nothing."""
    assert toy.update_status("a", HospitalStatus(100.0, 700.0, offload_wait_min=3), 100.0)
    assert not toy.update_status("a", HospitalStatus(50.0, 700.0, offload_wait_min=40), 110.0)
    assert toy.status("a", 120.0).offload_wait_min == 3


def test_ed_diversion_diverts_everything(toy: Registry) -> None:
    """Capability.ED in `diverted` means the whole ED is closed to ambulances."""
    toy.update_status("a", HospitalStatus(0.0, 600.0, frozenset({C.ED})), 0.0)
    s = toy.status("a", 1.0)
    assert all(s.diverts(c) for c in Capability)


def test_policy_is_validated() -> None:
    """A negative or NaN policy figure is refused."""
    with pytest.raises(InvalidStatus):
        StatusPolicy(unknown_offload_wait_min=-1.0)
    with pytest.raises(InvalidStatus):
        StatusPolicy(max_validity_s=math.nan)
