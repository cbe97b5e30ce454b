"""Coordinate reference systems of handset fixes: WGS-84 as is, GCJ-02 converted to WGS-84.

Chinese map SDKs (AMap, Tencent) report positions in GCJ-02, WGS-84 shifted by a published
obfuscation of a few hundred metres; everything inside jijiu is WGS-84. `gcj02_to_wgs84` is the
standard inverse: the forward shift (the widely published `wgs2gcj`, Krasovsky ellipsoid) undone
by fixed-point iteration until it reproduces the GCJ-02 input within 1e-9 degrees (about 0.1 mm),
so the result is as good as the forward formula. Outside mainland China (the usual bounding box)
GCJ-02 equals WGS-84 and nothing is shifted. Test vectors: googollee/eviltransform.
"""

from __future__ import annotations

import math

from location_fusion.errors import InvalidInput

CRS = ("wgs84", "gcj02")
_A_M = 6378245.0  # Krasovsky 1940 semi-major axis, as GCJ-02 uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_TOLERANCE_DEG = 1e-9
_MAX_ROUNDS = 30


def out_of_china(lat: float, lon: float) -> bool:
    """Outside the box GCJ-02 shifts (the reference implementations' mainland box)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_deg(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point."""
    x, y = lon - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    wave = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat += wave + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    d_lon += wave + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A_M * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A_M / sqrt_magic * math.cos(rad) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 (lat, lon) of a WGS-84 point (the published forward formula)."""
    if out_of_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _shift_deg(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS-84 (lat, lon) whose GCJ-02 position is this one (iterated inverse)."""
    if out_of_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_MAX_ROUNDS):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lon) < _TOLERANCE_DEG:
            break
    return w_lat, w_lon


def to_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """A point in `crs` ("wgs84" or "gcj02") as WGS-84; InvalidInput for any other name."""
    if crs == "wgs84":
        return lat, lon
    if crs == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    raise InvalidInput(f"crs {crs!r} not one of {CRS}")
