"""Hand-made hospitals for the hospital-link tests, small enough to check a ranking by hand."""

from __future__ import annotations

from hospital_link.registry import Capability, Hospital, HospitalId

C = Capability


def hospital(hid: str, *caps: Capability) -> Hospital:
    """A hospital at a dummy position in Hangzhou with an ED and the given capabilities."""
    return Hospital(
        id=HospitalId(hid),
        name_zh=hid,
        name_en=f"Hospital {hid.upper()}",
        address="",
        lat=30.28,
        lon=120.16,
        capabilities=frozenset({C.ED, *caps}),
        ed_beds=20,
    )
