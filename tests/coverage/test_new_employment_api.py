"""The new employment groups' figures beside the two rates, through the API on real NATS and both
stores: the stations service's own event classes published on PB_STATIONS, the figures out as
the test works them out by hand (counted on the projection's day)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from libs.common.events import IntegrationEvent
from services.stations.events import (
    RequestReopenedV1,
    RequestResolvedV1,
    StationChangedV1,
    StationClosedV1,
    StationOpenedV1,
    WorkerCheckedInV1,
    WorkerRegisteredV1,
)
from tests.coverage.feed import ProducerStream
from tests.coverage.test_rates_api import coverage_service, rates
from tests.harness import NatsServer, RunningService, wait_for

D = date(2026, 11, 30)
AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
TOWNSHIP = "140212101"


def worker(n: int, region: str = TOWNSHIP + "001", at: datetime = AT) -> WorkerRegisteredV1:
    return WorkerRegisteredV1(
        worker_id=f"w-{n}",
        region_code=region,
        platform="顺丰",
        occupation="courier",
        registered_at=at,
    )


def checked_in(n: int, on: date, k: int = 0) -> WorkerCheckedInV1:
    return WorkerCheckedInV1(
        worker_id=f"w-{n}",
        check_in_id=f"c-{n}-{k}",
        region_code=TOWNSHIP + "001",
        community_code=TOWNSHIP + "001",
        roles=["volunteer"],
        checked_in_on=on,
    )


def station(n: int, opened_on: date, region: str = TOWNSHIP + "001") -> StationOpenedV1:
    return StationOpenedV1(
        station_id=f"s-{n}",
        name=f"暖新驿站{n}",
        kind="warm_new",
        region_code=region,
        latitude=37.85,
        longitude=113.58,
        operator_kind="office",
        meets_standard=True,
        opened_on=opened_on,
        opened_at=AT,
    )


def resolved(n: int, version: int, on_time: bool, at: datetime = AT) -> RequestResolvedV1:
    return RequestResolvedV1(
        request_id=f"r-{n}",
        version=version,
        region_code=TOWNSHIP + "001",
        category="need",
        state="resolved",
        unit="union",
        at=at,
        on_time=on_time,
        requester_kind="worker",
        requester_id=f"w-{n}",
    )


def events() -> list[IntegrationEvent]:
    opened = station(1, date(2026, 10, 1))
    return [
        *(worker(n) for n in range(8)),
        worker(8, at=datetime(2026, 12, 5, 2, 0, tzinfo=UTC)),  # registers after D
        worker(9, region="140213101001"),  # another county
        checked_in(0, date(2026, 11, 21)),
        checked_in(0, date(2026, 11, 25), k=1),  # a second check-in: still one worker
        checked_in(1, date(2026, 11, 22)),
        checked_in(2, date(2026, 12, 2)),  # after D
        checked_in(9, date(2026, 11, 22)),  # another county
        opened,
        StationChangedV1(
            **{**opened.model_dump(exclude={"opened_at"}), "version": 2},
            changed=["facilities"],
            changed_at=AT,
        ),
        station(2, date(2026, 11, 1)),
        StationClosedV1(
            station_id="s-2",
            version=2,
            region_code=TOWNSHIP + "001",
            closed_on=date(2026, 11, 30),
            reason="moved",
        ),  # not open on D
        station(3, date(2026, 12, 15)),  # opens after D
        resolved(1, 3, on_time=True),
        resolved(2, 3, on_time=False),
        resolved(3, 3, on_time=True),
        RequestReopenedV1(
            request_id="r-3",
            version=4,
            region_code=TOWNSHIP + "001",
            category="need",
            state="placed",
            at=AT,
            reason="not fixed",
        ),
        resolved(4, 5, on_time=True),
        resolved(4, 3, on_time=False),  # an older resolution arriving late changes nothing
    ]


#: Worked out by hand for the county on D: workers 0-7 registered (8 after D, 9 elsewhere);
#: 0 and 1 checked in by D; station 1 open (2 closed on D, 3 opens later); requests 1, 2 and 4
#: resolved (3 reopened), 1 and 4 on time.
EXPECTED: dict[str, Any] = {
    "workers_registered": 8,
    "workers_checked_in": 2,
    "check_in_rate": 0.25,
    "open_stations": 1,
    "stations_per_thousand_workers": 125.0,
    "requests_resolved": 3,
    "requests_resolved_on_time": 2,
    "on_time_rate": 0.6667,
}


async def new_employment_becomes(
    service: RunningService, region: str, expected: dict[str, Any]
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def matches() -> bool:
        nonlocal last
        last = (await rates(service, region))["new_employment"]
        return bool(last == expected)

    try:
        await wait_for(matches, timeout=20)
    except AssertionError:
        raise AssertionError(f"{last} != {expected}") from None
    return last


async def test_new_employment_figures_beside_the_rates(
    private_nats: NatsServer, database_url: str
) -> None:
    async with (
        coverage_service(private_nats, database_url, calendar_day=D) as (service, _),
        ProducerStream.on(private_nats.url, "stations") as stations,
    ):
        await stations.publish(*events())
        await new_employment_becomes(service, "140212", EXPECTED)
        # the township holds them all too; an empty village has no rates (null, not zero)
        await new_employment_becomes(service, TOWNSHIP, EXPECTED)
        empty = (await rates(service, TOWNSHIP + "999"))["new_employment"]
        assert empty["workers_registered"] == 0
        assert empty["check_in_rate"] is None
        assert empty["on_time_rate"] is None
        # the same events again change nothing
        await stations.publish_envelopes(stations.sent, msg_id_suffix="-again")
        await stations.publish(checked_in(3, date(2026, 11, 29)))
        await new_employment_becomes(
            service, "140212", {**EXPECTED, "workers_checked_in": 3, "check_in_rate": 0.375}
        )
