"""What an error body may say (`dispatch.http.echo`): never a value or unknown key the client
sent, on small hand-made pydantic errors; no server, no loop."""

from __future__ import annotations

from dispatch.http.echo import echoes, quiet_error


def test_echoes_finds_any_sent_value_of_two_characters_or_more() -> None:
    """ "no unit ZZ97" repeats "ZZ97"; a one-character value is never counted as repeated."""
    assert echoes("no unit ZZ97", ["ALS01", "ZZ97"])
    assert not echoes("no unit ALS01", ["ZZ97", "A", "1"])


def test_quiet_error_drops_input_and_ctx_and_masks_unknown_keys() -> None:
    """An unknown key that is a phone becomes "?", a field name stays, an index stays; `input`
    and `ctx` are gone; a msg quoting the input is replaced by the error's type."""
    extra = {
        "type": "extra_forbidden",
        "loc": ("body", "+8613999990000"),
        "msg": "Extra inputs are not permitted",
        "input": 1,
    }
    assert quiet_error(extra, []) == {
        "loc": ["body", "?"],
        "msg": "Extra inputs are not permitted",
        "type": "extra_forbidden",
    }
    tagged = {
        "type": "union_tag_invalid",
        "loc": ("body", "fixes", 0, "source"),
        "msg": "Input tag 'bluetooth' found using 'source' does not match",
        "input": "bluetooth",
        "ctx": {"tag": "bluetooth"},
    }
    assert quiet_error(tagged, []) == {
        "loc": ["body", "fixes", 0, "source"],
        "msg": "union_tag_invalid",
        "type": "union_tag_invalid",
    }
