"""The hospital-link error tree.

    HospitalLinkError                  every error hospital_link raises
    ├── InvalidArgument (ValueError)   a bad parameter: priority 4, NaN travel time, bad condition
    ├── UnknownCapability (ValueError) a capability name or CSV column we do not know
    ├── RegistryError (ValueError)     a hospitals CSV row that cannot be trusted (lat 95, NaN)
    │   └── DuplicateHospital          the same hospital_id twice
    ├── RegistryLoadError (OSError)    a hospitals file that is missing, unreadable or empty
    ├── UnknownHospital (KeyError)     a hospital id the registry does not hold
    ├── InvalidStatus (ValueError)     a status report with NaN or negative figures, bad times
    │   ├── StatusExpired              its expiry is already past when it arrives
    │   └── StatusTooLong              its expiry is further ahead than the policy allows
    ├── InvalidVitals (ValueError)     a NaN, out-of-range or malformed vitals sample or ECG chunk
    └── EcgRecordError (OSError)       a WFDB record we cannot read (format, size, checksum)

"No capable hospital" and "no reachable hospital" are return values (a fallback choice, an
empty list), not errors: both happen in real operations. A status report older than the one
already held is ignored (`Registry.update_status` returns False), not refused.
"""

from __future__ import annotations


class HospitalLinkError(Exception):
    """Base of every error raised by hospital_link."""

    reason: str = "hospital_link_error"


class InvalidArgument(HospitalLinkError, ValueError):
    """A parameter outside its allowed range."""

    reason = "invalid_argument"


class UnknownCapability(HospitalLinkError, ValueError):
    """A capability name (or hospitals CSV column) outside `Capability`."""

    reason = "unknown_capability"


class RegistryError(HospitalLinkError, ValueError):
    """A hospitals CSV whose contents cannot be trusted; the message names the line."""

    reason = "invalid_registry"


class DuplicateHospital(RegistryError):
    """The same hospital_id appears twice."""

    reason = "duplicate_hospital"


class RegistryLoadError(HospitalLinkError, OSError):
    """A hospitals file that is missing, unreadable or holds no hospital."""

    reason = "registry_load_error"


class UnknownHospital(HospitalLinkError, KeyError):
    """A hospital id the registry does not hold."""

    reason = "unknown_hospital"

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "unknown hospital"


class InvalidStatus(HospitalLinkError, ValueError):
    """A hospital status report with NaN or negative figures, or inconsistent times."""

    reason = "invalid_status"


class StatusExpired(InvalidStatus):
    """A status report whose expiry is already past when it arrives."""

    reason = "status_expired"


class StatusTooLong(InvalidStatus):
    """A status report that claims validity further ahead than the policy allows."""

    reason = "status_too_long"


class InvalidVitals(HospitalLinkError, ValueError):
    """A vitals sample or ECG chunk that is NaN, out of range or malformed.

    `field` names the offending field (`"hr"`, `"samples_uv"`, ...) for the error frame.
    """

    reason = "invalid_vitals"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class EcgRecordError(HospitalLinkError, OSError):
    """A WFDB record that is missing, in an unsupported format, truncated or corrupt."""

    reason = "ecg_record_error"
