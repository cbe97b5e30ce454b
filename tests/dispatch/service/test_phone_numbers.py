"""A caller's number as typed, normalised to E.164 (dispatch.service.phone_numbers): Chinese
mobiles and landlines in their usual spellings, international numbers, and the refusals."""

from __future__ import annotations

import pytest

from dispatch.service.phone_numbers import InvalidPhone, normalise


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("13912345678", "+8613912345678"),
        ("139 1234 5678", "+8613912345678"),
        ("139-1234-5678", "+8613912345678"),
        ("+86 139 1234 5678", "+8613912345678"),
        ("0086 13912345678", "+8613912345678"),
        ("0571-87654321", "+8657187654321"),
        ("(0571) 8765 4321", "+8657187654321"),
        ("+86 571 87654321", "+8657187654321"),
        ("010-12345678", "+861012345678"),
        ("021 6543 2100", "+862165432100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("001 212 555 0100", "+12125550100"),
    ],
)
def test_usual_spellings_become_e164(typed: str, e164: str) -> None:
    """Spaces, hyphens and brackets go; 0086/00 become +; a mobile or a landline with its area
    code gets +86 and loses the trunk 0."""
    assert normalise(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "87654321",  # a landline without its area code
        "12345678901",  # 11 digits, but 12x is no mobile prefix
        "+86 12345",  # too short for any Chinese number
        "+0 123 4567",  # no country code starts with 0
        "+1234567890123456",  # longer than E.164's 15 digits
        "120",  # a service number, not a caller
    ],
)
def test_numbers_nobody_could_call_back_are_refused_without_repeating_them(typed: str) -> None:
    """Each is InvalidPhone (a 422), and the message holds none of the digits typed."""
    with pytest.raises(InvalidPhone) as info:
        normalise(typed)
    digits = "".join(c for c in typed if c.isdigit())
    assert digits not in str(info.value)
    assert info.value.reason == "invalid_phone"
