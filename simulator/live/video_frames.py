"""The simulated in-vehicle camera: timestamped test pictures, one small JPEG each.

A picture is 320x180 (16:9) and says what it is at a glance: the unit, the incident, the city
clock (the run's compressed time of day) and the wall clock (UTC, tenths of a second, the
time the picture was taken), with a bar that sweeps across once every two wall seconds and a
frame counter, so two pictures always differ. No clock is read here: the caller passes both
times. The background and the font are made once per camera; a picture then costs about a
millisecond (drawing a few lines of text, a JPEG at quality 60, 6-10 KB), far under the
10 ms budget (`tests/simulator/live/test_video_frames.py` checks the size and that it decodes).
"""

from __future__ import annotations

import io
import time

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 320, 180
QUALITY = 60  # JPEG quality: small frames (the relay takes at most 4 a second)
SWEEP_S = 2.0  # wall seconds for the bar to cross the picture once
_BACKGROUND = (22, 27, 34)
_GRID = (48, 54, 61)
_TEXT = (230, 237, 243)
_DIM = (139, 148, 158)
_BAR = (248, 81, 73)


class Camera:
    """One unit's camera: `picture(...)` is one JPEG."""

    def __init__(self, unit_id: str) -> None:
        self.unit_id = unit_id
        self.taken = 0
        self._font = ImageFont.load_default(size=18)
        self._small = ImageFont.load_default(size=13)
        self._background = _test_card()

    def picture(self, incident_id: str | None, city_s: float, at_s: float) -> bytes:
        """The JPEG taken at wall time `at_s` (epoch seconds) and city time `city_s` (seconds
        since the run's midnight), on the job `incident_id` (None: between jobs)."""
        self.taken += 1
        image = self._background.copy()
        draw = ImageDraw.Draw(image)
        x = int((at_s % SWEEP_S) / SWEEP_S * WIDTH)
        draw.rectangle((x, HEIGHT - 22, min(x + 24, WIDTH), HEIGHT - 6), fill=_BAR)
        draw.text((12, 10), f"{self.unit_id}  in-vehicle camera", font=self._font, fill=_TEXT)
        draw.text((12, 36), incident_id or "no job", font=self._small, fill=_DIM)
        draw.text(
            (12, 70), f"city  {_clock(city_s % 86_400, tenths=False)}", font=self._font, fill=_TEXT
        )
        wall = time.gmtime(at_s)
        wall_s = wall.tm_hour * 3600 + wall.tm_min * 60 + wall.tm_sec + at_s % 1.0
        draw.text(
            (12, 100), f"wall  {_clock(wall_s, tenths=True)} UTC", font=self._font, fill=_TEXT
        )
        draw.text((12, 132), f"frame {self.taken}  SIMULATED", font=self._small, fill=_DIM)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=QUALITY)
        return out.getvalue()


def _test_card() -> Image.Image:
    """The fixed part: a dark card with a 40-pixel grid."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    for x in range(0, WIDTH, 40):
        draw.line((x, 0, x, HEIGHT), fill=_GRID)
    for y in range(0, HEIGHT, 40):
        draw.line((0, y, WIDTH, y), fill=_GRID)
    return image


def _clock(seconds: float, *, tenths: bool) -> str:
    """hh:mm:ss (or hh:mm:ss.t) of seconds since midnight."""
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{text}.{int(seconds * 10) % 10}" if tenths else text
