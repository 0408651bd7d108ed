"""Coordinates: WGS-84 (GPS, what we store) and GCJ-02 (what Chinese map apps give), distances.

GCJ-02 is WGS-84 shifted by a published obfuscation formula inside mainland China (the well-known
`eviltransform` forward transform); outside China both are the same. Its inverse has no closed
form: `gcj02_to_wgs84` iterates the forward transform until the round trip is within 1 cm
(well under the 1 m the stations need).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from libs.common.refusals import Invalid

CoordinateSystem = Literal["wgs84", "gcj02"]

#: Mean Earth radius (m), for haversine distances.
EARTH_RADIUS_M = 6_371_008.8
#: Krasovsky 1940 ellipsoid, which the GCJ-02 formula uses.
_A = 6378245.0
_EE = 0.00669342162296594323


@dataclass(frozen=True)
class Point:
    """A WGS-84 point (degrees)."""

    latitude: float
    longitude: float


class InvalidCoordinates(Invalid):
    """A latitude or longitude outside its range."""


def check_point(latitude: float, longitude: float) -> Point:
    if not -90.0 <= latitude <= 90.0:
        raise InvalidCoordinates("latitude", "must be between -90 and 90")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidCoordinates("longitude", "must be between -180 and 180")
    return Point(latitude, longitude)


def outside_china(latitude: float, longitude: float) -> bool:
    """Outside the rough box where GCJ-02 differs from WGS-84."""
    return not (72.004 <= longitude <= 137.8347 and 0.8293 <= latitude <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _delta(latitude: float, longitude: float) -> tuple[float, float]:
    d_lat = _transform_lat(longitude - 105.0, latitude - 35.0)
    d_lon = _transform_lon(longitude - 105.0, latitude - 35.0)
    rad_lat = latitude / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(point: Point) -> Point:
    """The forward transform (WGS-84 → GCJ-02)."""
    if outside_china(point.latitude, point.longitude):
        return point
    d_lat, d_lon = _delta(point.latitude, point.longitude)
    return Point(point.latitude + d_lat, point.longitude + d_lon)


def gcj02_to_wgs84(point: Point, *, tolerance_m: float = 0.01) -> Point:
    """The inverse: the WGS-84 point whose forward transform is `point`, to within
    `tolerance_m` (fixed-point iteration; it converges in a handful of steps)."""
    if outside_china(point.latitude, point.longitude):
        return point
    guess = point
    for _ in range(30):
        forward = wgs84_to_gcj02(guess)
        error_lat = forward.latitude - point.latitude
        error_lon = forward.longitude - point.longitude
        guess = Point(guess.latitude - error_lat, guess.longitude - error_lon)
        if haversine_m(forward, point) < tolerance_m:
            break
    return guess


def to_wgs84(latitude: float, longitude: float, system: CoordinateSystem) -> Point:
    """A point given in `system`, checked and in WGS-84."""
    point = check_point(latitude, longitude)
    return gcj02_to_wgs84(point) if system == "gcj02" else point


def haversine_m(a: Point, b: Point) -> float:
    """The great-circle distance between two points, in metres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    d_lat = lat2 - lat1
    d_lon = math.radians(b.longitude - a.longitude)
    h = math.sin(d_lat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(d_lon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
