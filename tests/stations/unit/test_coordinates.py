"""WGS-84 ⇄ GCJ-02 and distances, without a store."""

from __future__ import annotations

import random

import pytest

from libs.common.refusals import Invalid
from services.stations.domain.coordinates import (
    Point,
    gcj02_to_wgs84,
    haversine_m,
    to_wgs84,
    wgs84_to_gcj02,
)

#: (WGS-84, GCJ-02) pairs from eviltransform's own tests: Shanghai, Shenzhen, Beijing.
REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_forward_transform_matches_the_reference(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert haversine_m(wgs84_to_gcj02(Point(*wgs)), Point(*gcj)) < 0.001


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_inverse_is_within_a_metre(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    assert haversine_m(gcj02_to_wgs84(Point(*gcj)), Point(*wgs)) < 1.0


def test_round_trip_across_china_is_within_a_metre() -> None:
    rng = random.Random(7)
    for _ in range(500):
        wgs = Point(rng.uniform(18.0, 53.0), rng.uniform(74.0, 134.0))
        gcj = wgs84_to_gcj02(wgs)
        assert 1.0 < haversine_m(wgs, gcj) < 1500.0  # the shift is real, and bounded
        assert haversine_m(gcj02_to_wgs84(gcj), wgs) < 1.0


def test_outside_china_nothing_moves() -> None:
    paris = Point(48.8566, 2.3522)
    assert wgs84_to_gcj02(paris) == paris == gcj02_to_wgs84(paris)


def test_to_wgs84_converts_only_gcj02() -> None:
    lat, lon = REFERENCE[0][1]
    assert to_wgs84(lat, lon, "wgs84") == Point(lat, lon)
    assert haversine_m(to_wgs84(lat, lon, "gcj02"), Point(*REFERENCE[0][0])) < 1.0


def test_coordinates_out_of_range_are_refused_by_field() -> None:
    with pytest.raises(Invalid) as refused:
        to_wgs84(91.0, 100.0, "wgs84")
    assert refused.value.field == "latitude"
    with pytest.raises(Invalid) as refused:
        to_wgs84(30.0, 181.0, "gcj02")
    assert refused.value.field == "longitude"


def test_haversine_of_a_degree_of_latitude() -> None:
    assert haversine_m(Point(30.0, 110.0), Point(31.0, 110.0)) == pytest.approx(111_195, rel=1e-3)
