"""Fixtures for the hospital-link tests: the bundled registry and a four-hospital toy one.

The toy registry is small enough to check every ranking by hand: one comprehensive centre,
one PCI centre, one plain ED and one trauma centre, all with EDs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hospital_link.registry import Capability, Registry
from tests.support.hospitals import hospital

C = Capability


@pytest.fixture
def toy() -> Registry:
    """a: ED + stroke + PCI; b: ED + PCI; c: ED only; d: ED + trauma. No status reported yet."""
    return Registry(
        (
            hospital("a", C.STROKE, C.PCI),
            hospital("b", C.PCI),
            hospital("c"),
            hospital("d", C.TRAUMA),
        )
    )


@pytest.fixture(scope="session")
def hospitals_csv(data_dir: Path) -> Path:
    """The bundled Hangzhou hospitals file."""
    return data_dir / "hangzhou" / "hospitals.csv"


@pytest.fixture(scope="session")
def golden_dir(test_data_dir: Path) -> Path:
    """The official FHIR R4 example Observations the output is compared with."""
    return test_data_dir / "fhir_r4_vitals"
