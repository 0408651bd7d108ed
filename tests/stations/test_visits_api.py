"""Visits over real HTTP on both stores: scanned check-ins and entered counts, daily averages
(日均) and busiest hours, and the daily visits.counted announcement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from libs.common.calendar import SHANGHAI
from libs.common.tables import utcnow
from services.stations.service.visits import announce_counted_days
from services.stations.store.tables import worker_marks
from services.stations.store.uow import StationsUnitOfWork
from tests import pages
from tests.factories import outbox_data
from tests.harness import RunningService, wait_for
from tests.stations.helpers import REGION, new_station


def local(days_ago: int, hour: int) -> str:
    today = utcnow().astimezone(SHANGHAI).date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, hour, 15, tzinfo=SHANGHAI).isoformat()


async def test_figures_and_the_daily_announcement(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    today = utcnow().astimezone(SHANGHAI).date()
    yesterday = (today - timedelta(days=1)).isoformat()

    async def marked() -> Any:
        async with stations.runtime.db.read() as session:
            return (await session.execute(select(worker_marks.c.day))).scalar_one_or_none()

    # the daily worker's first round, at start: nothing to announce, the mark set to yesterday
    assert (await wait_for(marked)).isoformat() == yesterday
    station = await new_station(stations, opened_on=(today - timedelta(days=2)).isoformat())
    sid = station["id"]
    for days_ago, hour in [(2, 8), (2, 8), (2, 12), (1, 18)]:
        response = await stations.client.post(
            f"/v1/stations/{sid}/visits", json={"at": local(days_ago, hour)}, headers=headers
        )
        assert response.status_code == 201, response.text
    before_opening = await stations.client.post(
        f"/v1/stations/{sid}/visits", json={"at": local(5, 9)}, headers=headers
    )
    assert before_opening.json()["rule"] == "station_open"
    stranger = await stations.client.post(
        f"/v1/stations/{sid}/visits", json={"worker_id": "nobody"}, headers=headers
    )
    assert stranger.json()["errors"][0]["field"] == "worker_id"
    listed = await pages.walk(stations.client, f"/v1/stations/{sid}/visits", headers, limit=3)
    assert len(listed) == 4
    assert [v["at"] for v in listed] == sorted((v["at"] for v in listed), reverse=True)
    two_days_ago = (today - timedelta(days=2)).isoformat()
    that_day = await pages.walk(
        stations.client,
        f"/v1/stations/{sid}/visits",
        headers,
        **{"from": two_days_ago, "to": two_days_ago},
    )
    assert len(that_day) == 3

    counted = await stations.client.put(
        f"/v1/stations/{sid}/visit-counts/{yesterday}", json={"count": 40}, headers=headers
    )
    assert counted.status_code == 200, counted.text
    future = await stations.client.put(
        f"/v1/stations/{sid}/visit-counts/{(today + timedelta(days=1)).isoformat()}",
        json={"count": 1},
        headers=headers,
    )
    assert future.json()["rule"] == "count_day"

    params = {"from": (today - timedelta(days=2)).isoformat(), "to": yesterday}
    stats = (
        await stations.client.get(f"/v1/stations/{sid}/stats", params=params, headers=headers)
    ).json()
    assert [(d["visits"], d["scanned"], d["entered"]) for d in stats["by_day"]] == [
        (3, 3, None),
        (40, 1, 40),
    ]
    assert (stats["total"], stats["open_days"], stats["daily_average"]) == (43, 2, 21.5)
    assert stats["busiest_hours"] == [
        {"hour": 8, "visits": 2},
        {"hour": 12, "visits": 1},
        {"hour": 18, "visits": 1},
    ]
    longer = {"from": (today - timedelta(days=9)).isoformat(), "to": yesterday}
    before = await stations.client.get(f"/v1/stations/{sid}/stats", params=longer, headers=headers)
    assert (before.json()["open_days"], before.json()["daily_average"]) == (2, 21.5)
    region = await stations.client.get("/v1/stations/visit-stats", params=params, headers=headers)
    assert (region.json()["total"], region.json()["stations"], region.json()["daily_average"]) == (
        43,
        1,
        21.5,
    )
    backwards = await stations.client.get(
        "/v1/stations/visit-stats",
        params={"from": yesterday, "to": params["from"]},
        headers=headers,
    )
    assert backwards.json()["errors"][0]["field"] == "to"

    # a corrected count of an announced day is announced again; the next day is announced once
    [corrected] = await outbox_data(stations.runtime, "pb.stations.visits.counted.v1")
    assert (corrected["day"], corrected["visits"], corrected["scanned"]) == (yesterday, 40, 1)
    for _ in range(2):
        await stations.client.post(f"/v1/stations/{sid}/visits", json={}, headers=headers)
    tomorrow = utcnow() + timedelta(days=1)
    for _ in range(2):
        async with StationsUnitOfWork(stations.runtime.db) as uow:
            await announce_counted_days(uow, now=tomorrow)
    events = await outbox_data(stations.runtime, "pb.stations.visits.counted.v1")
    assert [(e["day"], e["visits"], e["entered"]) for e in events[1:]] == [
        (today.isoformat(), 2, None)
    ]
