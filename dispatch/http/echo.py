"""What an error body may say: never what the client sent (issue 22).

A refusal's text is ours, but it may quote an id, a phone or free text the client sent; the
handlers of `dispatch.http.common` check it against the request's path and query values and
the strings of its JSON body (`sent_by`, `echoes`) and say only the reason when it would repeat
one. A validation error keeps pydantic's `loc`, `msg` and `type` and drops `input` and `ctx`
(`quiet_error`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

ECHO_MIN_CHARS = 2  # a shorter value would be "found" in any sentence
MAX_FIELD_NAME_CHARS = 32  # our longest field name has 20


def _strings(value: Any, depth: int = 0) -> list[str]:
    """Every string in a client's value (keys too), numbers as text; a few levels deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if depth > 8:
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v, depth + 1))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v, depth + 1)]
    return []


def echoes(text: str, sent: list[str]) -> bool:
    """True if `text` repeats any value the client sent (of at least ECHO_MIN_CHARS)."""
    return any(len(s) >= ECHO_MIN_CHARS and s in text for s in sent)


async def sent_by(request: Request) -> list[str]:
    """The path and query values of a request and the strings of its JSON body (at most
    `max_body_bytes`, read once and kept by the request): what an error text must not repeat."""
    sent = [*request.path_params.values(), *request.query_params.values()]
    try:
        body = json.loads(await request.body() or b"null")
    except Exception:  # not JSON, nested past the parser, or the client left: nothing to add
        return sent
    return [*sent, *_strings(body)]


def quiet_error(error: Any, sent: list[str]) -> dict[str, Any]:
    """One pydantic error as loc, msg and type: its `input` and `ctx` dropped, a location
    element that is not a field name (an unknown key is the client's text) shown as "?", a
    msg that repeats a value the client sent replaced by the error's type."""
    loc = [p if isinstance(p, int) or _field_name(str(p)) else "?" for p in error["loc"]]
    msg = str(error.get("msg", ""))
    kind = str(error.get("type", ""))
    mine = [*sent, *_strings(error.get("input"))]
    return {"loc": loc, "msg": kind if echoes(msg, mine) else msg, "type": kind}


def _field_name(text: str) -> bool:
    return text.isascii() and text.isidentifier() and len(text) <= MAX_FIELD_NAME_CHARS
