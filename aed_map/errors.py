"""The AED-map error tree.

    AedMapError                          every error aed_map raises
    ├── InvalidArgument (ValueError)     a bad parameter: speed 0, k < 1, NaN ETA, negative count
    ├── RegistryError (ValueError)       an AED row or feature that cannot be trusted (lat 95, NaN)
    │   ├── DuplicateAed                 the same AED id twice
    │   └── RegistryTooLarge             a file or collection above the size limits (HTTP 413)
    ├── RegistryLoadError (OSError)      an AED file that is missing, unreadable or empty
    ├── UnknownAed (KeyError)            an AED id the registry does not hold
    └── IllegalTransition (ValueError)   a volunteer alert asked to move where it cannot (HTTP 409)

An incident too far from any road, or with an impossible position, raises the routing core's
`OutsideNetwork` / `InvalidCoordinate` (both ValueError) from `aed_map.walking`.

Not errors, because they happen in real operations: an `opening_hours` string we cannot read
(an `Unparsed` value: open state unknown), no AED within walking range (an empty list), no AED
that would arrive before the ambulance (a role plan where nobody fetches), more casualties than
beds (a plan with flagged overflow lines).
"""

from __future__ import annotations


class AedMapError(Exception):
    """Base of every error raised by aed_map."""

    reason: str = "aed_map_error"


class InvalidArgument(AedMapError, ValueError):
    """A parameter outside its allowed range."""

    reason = "invalid_argument"


class RegistryError(AedMapError, ValueError):
    """An AED registry whose contents cannot be trusted; the message names the row or feature."""

    reason = "invalid_registry"


class DuplicateAed(RegistryError):
    """The same AED id appears twice."""

    reason = "duplicate_aed"


class RegistryTooLarge(RegistryError):
    """A registry file or collection larger than the limits the loader accepts."""

    reason = "registry_too_large"


class RegistryLoadError(AedMapError, OSError):
    """An AED file that is missing, unreadable or holds no AED."""

    reason = "registry_load_error"


class UnknownAed(AedMapError, KeyError):
    """An AED id the registry does not hold."""

    reason = "unknown_aed"

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "unknown AED"


class IllegalTransition(AedMapError, ValueError):
    """A volunteer alert moved to a status its current status does not lead to."""

    reason = "illegal_transition"
