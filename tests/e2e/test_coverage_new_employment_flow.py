"""The new employment groups end to end: the stations service and coverage served on real NATS,
each with its own database. Workers register and check in with a community, a station opens, a
request goes round the loop; coverage's figures for the county follow, and no name or phone
reaches coverage's store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from libs.common.calendar import local_today
from services.coverage.app import definition as coverage_definition
from services.coverage.settings import CoverageSettings
from services.coverage.store.tables import workers
from services.stations.app import definition as stations_definition
from services.stations.settings import StationsSettings
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.stations.helpers import new_station
from tests.stations.test_requests_api import move, office, unit
from tests.stations.test_workers_api import NAME, worker_body

COUNTY = "140212"


async def new_employment(coverage: RunningService) -> dict[str, Any]:
    response = await coverage.client.get(
        f"/v1/coverage/{COUNTY}", headers=coverage.as_region(COUNTY)
    )
    assert response.status_code == 200, response.text
    figures: dict[str, Any] = response.json()["new_employment"]
    return figures


async def test_workers_stations_and_requests_reach_coverage(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    common: dict[str, Any] = {"nats_url": private_nats.url, "outbox_poll_seconds": 0.1}
    stations_settings = StationsSettings(
        database_url=await service_databases.url("stations"), **common
    )
    coverage_settings = CoverageSettings(
        database_url=await service_databases.url("coverage"),
        calendar_day=local_today(),
        **common,
    )
    async with (
        serve(stations_definition(stations_settings)) as stations,
        serve(coverage_definition(coverage_settings)) as coverage,
    ):
        headers = office(stations)
        ids = []
        for n in range(4):
            body = worker_body(phone=f"1391234567{n}")
            response = await stations.client.post("/v1/workers", json=body, headers=headers)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        checked_in = await stations.client.post(
            f"/v1/workers/{ids[0]}/check-ins",
            json={"community_code": "140212101201", "roles": ["grid_member"]},
            headers=headers,
        )
        assert checked_in.status_code in (200, 201), checked_in.text
        await new_station(stations)
        requester = stations.as_region(
            COUNTY, scopes=("stations:request",), subject=f"worker:{ids[1]}"
        )
        placed = await stations.client.post(
            "/v1/requests",
            json={
                "category": "need",
                "title": "电动车充电",
                "description": "驿站需要充电桩",
                "region_code": "140212101",
            },
            headers=requester,
        )
        assert placed.status_code == 201, placed.text
        rid = placed.json()["id"]
        for action, who, move_body in [
            ("dispatch", headers, {"unit": "community"}),
            ("accept", unit(stations, "community"), None),
            ("resolve", unit(stations, "community"), {"note": "已安装"}),
        ]:
            response = await move(stations, rid, action, who, move_body)
            assert response.status_code == 200, (action, response.text)

        # four registered, one checked in (报到率 0.25), one station (250 per 1,000 workers),
        # one request resolved within its service levels
        expected = {
            "workers_registered": 4,
            "workers_checked_in": 1,
            "check_in_rate": 0.25,
            "open_stations": 1,
            "stations_per_thousand_workers": 250.0,
            "requests_resolved": 1,
            "requests_resolved_on_time": 1,
            "on_time_rate": 1.0,
        }
        last: dict[str, Any] = {}

        async def follows() -> bool:
            nonlocal last
            last = await new_employment(coverage)
            return last == expected

        try:
            await wait_for(follows, timeout=30)
        except AssertionError:
            raise AssertionError(f"{last} != {expected}") from None

        async with coverage.runtime.db.read() as session:
            stored = [tuple(row) for row in await session.execute(select(workers))]
        assert len(stored) == 4
        assert not any(NAME in str(row) or "1391234567" in str(row) for row in stored)
