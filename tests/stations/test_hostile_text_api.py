"""Hostile strings and loose numbers at the stations service's boundary, on both stores: U+0000
is a 422 naming where (PostgreSQL answered 500), names are refused with the character named,
counts and flags are strict, and a request loop note keeps its line breaks."""

from __future__ import annotations

import pytest

from tests.harness import SQLITE_ONLY, RunningService
from tests.stations.helpers import REGION, new_station, station_body


async def test_nul_in_a_body_query_or_path_is_422(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    station = await new_station(stations, 51)
    calls = [
        stations.client.post(
            "/v1/stations", json=station_body(52, name="驿站\x00"), headers=headers
        ),
        stations.client.post(
            "/v1/stations", json=station_body(53, address="新荣镇\x00"), headers=headers
        ),
        stations.client.post(
            "/v1/stations",
            json=station_body(54, hours={"mon\x00": [["08:00", "20:00"]]}),
            headers=headers,
        ),
        stations.client.get("/v1/stations", params={"cursor": "\x00"}, headers=headers),
        stations.client.get("/v1/requests", params={"unit": "union\x00"}, headers=headers),
        stations.client.get(f"/v1/stations/{station['id']}%00", headers=headers),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 422, response.text
        assert "U+0000" in response.json()["errors"][0]["reason"]
    listed = await stations.client.get("/v1/stations", headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [station["id"]]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("驿站\x07", "contains a control character (U+0007)"),
        ("驿站\x1b", "contains a control character (U+001B)"),
        ("驿站\uffff", "contains a non-character (U+FFFF)"),
        ("\u202e站驿", "contains a bidirectional override (U+202E)"),
        ("\u200b", "has no visible character"),
        ("驿\n站", "contains a line break or tab (U+000A): one line only"),
    ],
)
async def test_a_hostile_station_name_is_refused(
    stations: RunningService, name: str, reason: str
) -> None:
    response = await stations.client.post(
        "/v1/stations", json=station_body(60, name=name), headers=stations.as_region(REGION)
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "name", "reason": reason}]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"open_24h": "true"}, "open_24h"),
        ({"open_24h": 1}, "open_24h"),
        ({"location": {"latitude": "40.2", "longitude": 113.1}}, "location.latitude"),
        ({"standard": {"has_sign": "yes"}}, "standard.has_sign"),
    ],
)
async def test_flags_and_numbers_are_strict(
    stations: RunningService, change: dict[str, object], field: str
) -> None:
    response = await stations.client.post(
        "/v1/stations", json=station_body(61, **change), headers=stations.as_region(REGION)
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


@SQLITE_ONLY
async def test_a_visit_count_must_be_an_integer(stations: RunningService) -> None:
    station = await new_station(stations, 62)
    for count in ("3", True, 3.5):
        response = await stations.client.put(
            f"/v1/stations/{station['id']}/visit-counts/2026-11-23",
            json={"count": count},
            headers=stations.as_region(REGION),
        )
        assert response.status_code == 422, (count, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["count"]
