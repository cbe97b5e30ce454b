"""A caller's number as a call-taker types it (the ANI the phone shows), normalised to E.164.

Accepted, with spaces, hyphens, dots and brackets ignored:

    +8613812345678, 008613812345678, 13812345678   a Chinese mobile      -> +8613812345678
    0571-8765 4321, +86 571 87654321               a Chinese landline    -> +8657187654321
    010-12345678                                   Beijing (2-digit area) -> +861012345678
    +44 20 7946 0958                               any E.164 number      -> +442079460958

A Chinese number must be a mobile (1, then 3-9, then 9 digits) or an area code (2-3 digits
after the trunk 0) with a 7-8 digit local number; a local number without its area code is
refused, since nobody could call it back from another district. Pure: no I/O, and the
refusal never repeats the number (error bodies and logs must not carry it).
"""

from __future__ import annotations

import re

from dispatch.errors import DispatchError

_IGNORED = re.compile(r"[\s\-.()]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes: 10 and 2x (2 digits), else 3 digits starting 3-9; local numbers 7-8 digits.
_LANDLINE = re.compile(r"(?:10|2\d|[3-9]\d{2})\d{7,8}")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class InvalidPhone(DispatchError, ValueError):
    """422: not a number anyone could call back (the message never repeats it)."""

    reason = "invalid_phone"


def normalise(text: str) -> str:
    """The number in E.164 (`+` and digits); InvalidPhone if it is none of the forms above."""
    digits = _IGNORED.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+86"):
        national = digits[3:]
        if _MOBILE.fullmatch(national) or _LANDLINE.fullmatch(national):
            return digits
        raise InvalidPhone("not a Chinese mobile or landline number with its area code")
    if digits.startswith("+"):
        if _E164.fullmatch(digits):
            return digits
        raise InvalidPhone("an international number is + and 7-15 digits")
    if _MOBILE.fullmatch(digits):
        return "+86" + digits
    if digits.startswith("0") and _LANDLINE.fullmatch(digits[1:]):
        return "+86" + digits[1:]
    raise InvalidPhone(
        "give a mobile (11 digits), a landline with its area code (0 and 2-3 digits, then "
        "7-8 digits) or + and the country code"
    )
