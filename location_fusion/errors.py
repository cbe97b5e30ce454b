"""The location-fusion error tree.

    FusionError                        every error location_fusion raises
    ├── InvalidInput (ValueError)      NaN, lat 95, accuracy -3, confidence 140 %, bad cell ids
    │   └── TextTooLong                spoken text beyond MAX_TEXT_CHARS
    └── CellTableError (OSError)       a cell table that is missing or unreadable

"No fix" (a fix at 0,0, or without accuracy), an unknown cell and a phrase that matches
nothing are return values (None or []), not errors: they are ordinary in an emergency call.
"""

from __future__ import annotations

MAX_TEXT_CHARS = 200  # a spoken location longer than this is not a location


class FusionError(Exception):
    """Base of every error raised by location_fusion."""

    reason: str = "fusion_error"


class InvalidInput(FusionError, ValueError):
    """An input value out of range or not a number."""

    reason = "invalid_input"


class TextTooLong(InvalidInput):
    """Spoken text longer than MAX_TEXT_CHARS characters."""

    reason = "text_too_long"


class CellTableError(FusionError, OSError):
    """A cell table file that cannot be read."""

    reason = "cell_table_error"
