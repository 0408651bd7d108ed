"""A target whose due date passed with the region below it is announced once as overdue."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.coverage.service.targets import judge_due_targets
from services.coverage.store.uow import CoverageUnitOfWork
from tests.coverage.feed import Ledger, ProducerStream, formed, registered
from tests.coverage.test_rates_api import running, settled
from tests.factories import outbox_data
from tests.harness import RunningService

__all__ = ["running"]  # the fixture, shared with the rates tests

OVERDUE = "pb.coverage.target.overdue.v1"
TODAY = date(2026, 11, 23)


async def overdue_events(service: RunningService) -> list[dict[str, Any]]:
    return await outbox_data(service.runtime, OVERDUE)


async def judge(service: RunningService, today: date) -> int:
    async with CoverageUnitOfWork(service.runtime.db) as uow:
        return await judge_due_targets(uow, today)


async def test_a_passed_due_date_below_target_is_announced_once(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=1) for n in range(4)]
    branch = formed("b-1", "standalone", "org-0")
    ledger.apply(*orgs, branch)
    await stream.publish(*orgs, branch)
    await settled(service, ledger, "140212")  # 1 of 4 covered: 0.25

    headers = service.as_region("140212")
    for due_on, rate in (("2026-10-31", 0.5), ("2026-11-01", 0.2), ("2026-12-31", 0.5)):
        put = await service.client.put(
            "/v1/targets/140212",
            json={"metric": "organization", "rate": rate, "due_on": due_on},
            headers=headers,
        )
        assert put.status_code in (200, 201), put.text

    assert await judge(service, TODAY) == 2  # the two past due dates; the December one waits
    [event] = await overdue_events(service)
    assert (event["due_on"], event["target_rate"], event["rate"]) == ("2026-10-31", 0.5, 0.25)
    assert (event["covered"], event["in_scope"], event["judged_on"]) == (1, 4, TODAY.isoformat())

    assert await judge(service, TODAY) == 0  # judged once
    assert len(await overdue_events(service)) == 1

    # Set again (a new rate for the same due date): it is judged again.
    again = await service.client.put(
        "/v1/targets/140212",
        json={"metric": "organization", "rate": 0.6, "due_on": "2026-10-31"},
        headers=headers,
    )
    assert again.status_code in (200, 201), again.text
    assert await judge(service, TODAY) == 1
    assert [e["target_rate"] for e in await overdue_events(service)] == [0.5, 0.6]
