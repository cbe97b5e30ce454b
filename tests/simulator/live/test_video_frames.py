"""The simulated in-vehicle camera's test pictures (`simulator.live.video_frames`), no I/O."""

from __future__ import annotations

import io
import time

from PIL import Image, ImageChops

from simulator.live.video_frames import HEIGHT, WIDTH, Camera

AT_S = 1_764_849_600.25  # 2025-12-04 12:00:00.25 UTC


def decoded(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def test_a_picture_is_a_small_320x180_jpeg_the_server_takes() -> None:
    """It starts with the JPEG magic the unit socket looks for, decodes as 320x180 RGB and is
    well under the server's 64 KB frame limit."""
    jpeg = Camera("ALS01").picture("I1", 10 * 3600.0, AT_S)
    assert jpeg.startswith(b"\xff\xd8\xff")
    image = decoded(jpeg)
    assert (image.format, image.size, image.mode) == ("JPEG", (WIDTH, HEIGHT), "RGB")
    assert 2_000 < len(jpeg) < 20_000


def test_two_pictures_differ_where_the_bar_is() -> None:
    """Half a second later the bar has moved a quarter of the width: the bottom strip differs,
    and the camera counts its pictures."""
    camera = Camera("BLS02")
    first = decoded(camera.picture("I1", 36_000.0, AT_S))
    later = decoded(camera.picture("I1", 36_000.0, AT_S + 0.5))
    strip = (0, HEIGHT - 24, WIDTH, HEIGHT)
    assert ImageChops.difference(first.crop(strip), later.crop(strip)).getbbox() is not None
    assert camera.taken == 2


def test_a_picture_costs_well_under_ten_milliseconds() -> None:
    """50 pictures take under 0.25 s (5 ms each; about 1 ms is typical): a generous bound on
    the brief's budget, since a tablet draws one a second per unit on a job."""
    camera = Camera("ALS03")
    camera.picture(None, 0.0, AT_S)  # the first one loads the JPEG encoder
    t0 = time.perf_counter()
    for i in range(50):
        camera.picture("I1", 36_000.0 + i, AT_S + i * 0.5)
    assert time.perf_counter() - t0 < 0.25
