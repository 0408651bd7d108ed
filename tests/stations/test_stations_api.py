"""Stations over real HTTP on both stores: enter, read, change with If-Match, close, search."""

from __future__ import annotations

from services.stations.domain.coordinates import Point, haversine_m, wgs84_to_gcj02
from tests import pages
from tests.factories import outbox_data
from tests.harness import RunningService
from tests.stations.helpers import HERE, REGION, new_station, station_body


async def test_enter_read_change_close(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    body = station_body(
        1,
        open_24h=False,
        hours={"mon": [["08:00", "20:00"]], "sat": [["22:00", "06:00"]]},
        standard={"has_sign": True, "has_space": True},
    )
    created = await stations.client.post("/v1/stations", json=body, headers=headers)
    assert created.status_code == 201, created.text
    station = created.json()
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/v1/stations/{station['id']}"
    assert station["standard"]["met"] is False
    assert station["hours"] == {"mon": [["08:00", "20:00"]], "sat": [["22:00", "06:00"]]}
    assert station["facilities"] == ["charging", "rest", "water"]
    [opened] = await outbox_data(stations.runtime, "pb.stations.station.opened.v1")
    assert (opened["station_id"], opened["meets_standard"]) == (station["id"], False)

    path = f"/v1/stations/{station['id']}"
    read = await stations.client.get(path, headers=headers)
    assert read.json() == station
    assert (
        await stations.client.get(path, headers=stations.as_region("140211"))
    ).status_code == 404

    no_match = await stations.client.patch(path, json={"name": "x"}, headers=headers)
    assert no_match.status_code == 428
    changed = await stations.client.patch(
        path,
        json={"standard": {"has_sign": True, "has_space": True, "has_equipment": True}},
        headers={**headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["standard"]["met"], changed.headers["ETag"]) == (True, '"2"')
    stale = await stations.client.patch(
        path, json={"name": "x"}, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    [event] = await outbox_data(stations.runtime, "pb.stations.station.changed.v1")
    assert (event["changed"], event["meets_standard"], event["version"]) == (
        ["has_equipment"],
        True,
        2,
    )
    cleared = await stations.client.patch(
        path, json={"name": None}, headers={**headers, "If-Match": "*"}
    )
    assert cleared.status_code == 422
    assert cleared.json()["errors"] == [{"field": "name", "reason": "must not be null"}]

    early = await stations.client.post(
        f"{path}/close",
        json={"reason": "搬迁", "on": "2020-01-01"},
        headers={**headers, "If-Match": '"2"'},
    )
    assert (early.status_code, early.json()["rule"]) == (422, "closing_date")
    done = await stations.client.post(
        f"{path}/close", json={"reason": "搬迁"}, headers={**headers, "If-Match": '"2"'}
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["version"]) == ("closed", 3)
    [closed] = await outbox_data(stations.runtime, "pb.stations.station.closed.v1")
    assert closed["reason"] == "搬迁"
    again = await stations.client.patch(
        path, json={"name": "新"}, headers={**headers, "If-Match": '"3"'}
    )
    assert (again.status_code, again.json()["rule"]) == (422, "station_open")


async def test_gcj02_is_converted_and_both_forms_are_returned(stations: RunningService) -> None:
    wgs = Point(*HERE)
    gcj = wgs84_to_gcj02(wgs)
    station = await new_station(
        stations,
        location={
            "latitude": gcj.latitude,
            "longitude": gcj.longitude,
            "coordinate_system": "gcj02",
        },
    )
    stored = Point(station["latitude"], station["longitude"])
    assert haversine_m(stored, wgs) < 1.0
    assert haversine_m(Point(station["gcj02_latitude"], station["gcj02_longitude"]), gcj) < 1.0


async def test_bad_input_names_the_field(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    cases = {
        "region_code": station_body(region_code="14021"),
        "kind": station_body(kind="hotel"),
        "facilities.0": station_body(facilities=["sauna"]),
        "hours.mon.0": station_body(open_24h=False, hours={"mon": [["08:00", "08:00"]]}),
        "operator.id": station_body(operator={"kind": "organization"}),
        "location.latitude": station_body(location={"latitude": 95, "longitude": 113}),
    }
    for field, body in cases.items():
        response = await stations.client.post("/v1/stations", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.json())
    unknown = await stations.client.post(
        "/v1/stations",
        json=station_body(operator={"kind": "organization", "id": "nobody"}),
        headers=headers,
    )
    assert unknown.json()["errors"][0]["field"] == "operator.id"
    outside = await stations.client.post(
        "/v1/stations", json=station_body(region_code="140211"), headers=headers
    )
    assert outside.status_code == 403
    assert await outbox_data(stations.runtime, "pb.stations.station.opened.v1") == []


async def test_nearest_with_distances_facility_and_open_now(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    near = await new_station(stations, 1)  # ~111 m north
    far = await new_station(stations, 20, facilities=["water"])  # ~2.2 km north
    never_open = await new_station(stations, 5, open_24h=False, hours={})
    closed = await new_station(stations, 2)
    await stations.client.post(
        f"/v1/stations/{closed['id']}/close",
        json={"reason": "x"},
        headers={**headers, "If-Match": "*"},
    )
    query = {"lat": HERE[0], "lon": HERE[1], "k": 10}
    found = (
        await stations.client.get("/v1/stations/nearest", params=query, headers=headers)
    ).json()
    assert [s["id"] for s in found["items"]] == [near["id"], never_open["id"], far["id"]]
    for item in found["items"]:
        expected = haversine_m(Point(*HERE), Point(item["latitude"], item["longitude"]))
        assert abs(item["distance_m"] - expected) < 0.1
    charging = await stations.client.get(
        "/v1/stations/nearest", params={**query, "facility": "charging"}, headers=headers
    )
    assert [s["id"] for s in charging.json()["items"]] == [near["id"], never_open["id"]]
    open_now = await stations.client.get(
        "/v1/stations/nearest", params={**query, "open_now": "true", "k": 1}, headers=headers
    )
    assert [s["id"] for s in open_now.json()["items"]] == [near["id"]]
    bounded = await stations.client.get(
        "/v1/stations/nearest", params={**query, "max_distance_m": 1000}, headers=headers
    )
    assert far["id"] not in [s["id"] for s in bounded.json()["items"]]
    elsewhere = await stations.client.get(
        "/v1/stations/nearest", params=query, headers=stations.as_region("140211")
    )
    assert elsewhere.json()["items"] == []
    too_many = await stations.client.get(
        "/v1/stations/nearest", params={**query, "k": 400}, headers=headers
    )
    assert too_many.json()["errors"][0]["field"] == "k"


async def test_list_with_filters_and_cursor(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    made = [await new_station(stations, n, kind="rider" if n % 2 else "courier") for n in range(5)]
    seen = [s["id"] for s in await pages.walk(stations.client, "/v1/stations", headers, limit=2)]
    assert sorted(seen) == sorted(s["id"] for s in made)
    riders = await pages.walk(stations.client, "/v1/stations", headers, limit=1, kind="rider")
    assert [s["id"] for s in riders] == sorted(s["id"] for s in made if s["kind"] == "rider")
    elsewhere = await stations.client.get(
        "/v1/stations", params={"region_code": "140211"}, headers=headers
    )
    assert elsewhere.status_code == 403
    none = await stations.client.get("/v1/stations", params={"facility": "meals"}, headers=headers)
    assert none.json()["items"] == []


async def test_weekly_hours_replace_24_hours(stations: RunningService) -> None:
    station = await new_station(stations)  # open 24 hours
    changed = await stations.client.patch(
        f"/v1/stations/{station['id']}",
        json={"hours": {"sun": [["10:00", "16:00"]]}},
        headers={**stations.as_region(REGION), "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["open_24h"], changed.json()["hours"]) == (
        False,
        {"sun": [["10:00", "16:00"]]},
    )
    [event] = await outbox_data(stations.runtime, "pb.stations.station.changed.v1")
    assert event["changed"] == ["hours", "open_24h"]
