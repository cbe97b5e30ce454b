"""A unit's in-vehicle video socket, `/ws/video/{unit_id}` (dispatchers and the receiving
hospital): a snapshot and the pictures of its topic. Watchers send no frames (any frame gets a
`read_only` error)."""

from __future__ import annotations

from typing import Literal

from pydantic import with_config
from typing_extensions import TypedDict

from dispatch.service.frames.common import CLOSED


@with_config(CLOSED)
class Picture(TypedDict):
    """One JPEG picture, base64, relayed at Unix time `at_s`."""

    type: Literal["video.frame"]
    unit_id: str
    at_s: float
    jpeg: str


@with_config(CLOSED)
class KeptPicture(TypedDict):
    """The newest picture kept (`video_keep_s`), as it was relayed."""

    type: Literal["video.frame"]
    unit_id: str
    at_s: float
    jpeg: str


@with_config(CLOSED)
class VideoSnapshot(TypedDict):
    """The first frame: the newest kept picture (None when none is kept)."""

    type: Literal["snapshot"]
    last_seq: int
    unit_id: str
    latest: KeptPicture | None


VideoFrame = Picture
